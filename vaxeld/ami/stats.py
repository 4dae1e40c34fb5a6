"""The AMI session's running counts, and the immutable LinkHealth readers get of them.

The session changes these on the event loop; metrics, MQTT and the wallboard only
ever see a ``snapshot()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaxeld.state.view import LinkHealth


@dataclass
class SessionStats:
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
    down_since: float | None = None  # monotonic time the connection was lost
    last_event_at: float = 0.0  # wall-clock time of the last event

    def snapshot(self) -> LinkHealth:
        return LinkHealth(**vars(self))  # dataclasses.asdict deep-copies: 10x slower
