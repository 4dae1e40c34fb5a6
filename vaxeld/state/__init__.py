"""Pure state: AMI events in, new snapshots and changes out."""

from vaxeld.state.model import Call, Member, SwitchboardState
from vaxeld.state.reducer import apply, resync

__all__ = ["Call", "Member", "SwitchboardState", "apply", "resync"]
