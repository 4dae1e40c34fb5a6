"""The read model of one PBX: what metrics, MQTT and the wallboard may know of it.

A view is a value: the latest immutable snapshot of the switchboard, the AMI link's
health as it was when the view was taken, and what was polled from Asterisk. Readers
never hold a reference to anything the event loop goes on changing.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaxeld.state.model import (
    DEVICE_BUSY,
    DEVICE_INUSE,
    DEVICE_RINGING,
    Member,
    SwitchboardState,
)

AGENT_STATES = ("available", "busy", "paused", "unavailable", "logged_out")
# Device states that mean "on a call": in use, busy, ringing, ring+in use (7), on hold (8).
BUSY_STATES = frozenset({DEVICE_INUSE, DEVICE_BUSY, DEVICE_RINGING, 7, 8})


def agent_state_of(memberships: list[Member]) -> str:
    """One agent's state across the queues they are a member of."""
    if not memberships:
        return "logged_out"
    if any(m.paused for m in memberships):
        return "paused"
    if not any(m.reachable for m in memberships):
        return "unavailable"
    if any(m.in_call or m.status in BUSY_STATES for m in memberships):
        return "busy"
    return "available"


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """The AMI connection's health at one moment (times: monotonic unless noted)."""

    connected: bool = False
    connects: int = 0
    reconnects: int = 0
    events: int = 0
    decode_errors: int = 0
    handler_errors: int = 0
    bytes_received: int = 0
    reads: int = 0  # socket reads; events per read shows how bursty the stream is
    auth_failures: int = 0
    outage_seconds: float = 0.0  # finished outages; an ongoing one runs from down_since
    down_since: float | None = None  # when the connection was lost
    last_event_at: float = 0.0  # wall-clock time of the last event

    def outage_until(self, now: float) -> float:
        """Seconds without a working connection, the ongoing outage included."""
        if self.down_since is None:
            return self.outage_seconds
        return self.outage_seconds + max(0.0, now - self.down_since)


@dataclass(frozen=True, slots=True)
class PbxView:
    """What a reader needs of one PBX, taken at one moment."""

    name: str
    state: SwitchboardState
    link: LinkHealth
    crisis_active: bool | None = None  # None until AstDB was read
    calendar_end: float | None = None  # Unix time the rendered calendar runs out
    queue_log_configured: bool = False
    recovered: int = 0  # outcomes counted from queue_log because AMI missed them
    duplicates: int = 0  # outcomes both sources reported, counted once
    # How far back repeat callers are known (None: not followed, no caller key).
    repeat_known_seconds: float | None = None
