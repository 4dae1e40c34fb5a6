"""What the core needs of an AMI event: the port the AMI adapter's messages fit.

The core does not import the AMI client; any object with these members will do
(``vaxeld.ami.codec.Message`` is the one the daemon hands in).
"""

from __future__ import annotations

from typing import Protocol


class AmiEvent(Protocol):
    @property
    def event(self) -> str:
        """The Event header ("" for a response)."""
        ...

    def get(self, key: str, default: str = "") -> str:
        """The first value of a header (case-insensitive), or ``default``."""
        ...

    def __contains__(self, key: object) -> bool: ...
