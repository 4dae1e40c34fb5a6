"""queue_log's member lines as the presence report and the staffing plan read them."""

from __future__ import annotations

from dataclasses import dataclass

MEMBER_EVENTS = ("ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE")


@dataclass(frozen=True, slots=True)
class MemberLine:
    time: int
    pbx: str
    queue: str
    agent: str  # an interface (ADDMEMBER, REMOVEMEMBER) or a member name (PAUSE, UNPAUSE)
    event: str


def covered(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end) covered by the union of the spans."""
    total, reach = 0.0, start
    for lo, hi in sorted(spans):
        lo, hi = max(lo, reach), min(hi, end)
        if hi > lo:
            total += hi - lo
            reach = hi
    return total
