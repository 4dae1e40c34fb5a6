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
