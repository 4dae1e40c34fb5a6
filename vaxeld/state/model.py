"""Immutable snapshots of what a switchboard looks like right now.

A snapshot is replaced, never mutated: the reducer returns a new one and the
adapters (metrics, MQTT) may read an old one from another thread safely.
Finished calls leave the snapshot when they finish, so its size is bounded by
the number of live calls and queue members.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import immutables

# Asterisk device states (QueueMemberStatus.Status).
DEVICE_UNKNOWN, DEVICE_NOT_INUSE, DEVICE_INUSE, DEVICE_BUSY = 0, 1, 2, 3
DEVICE_INVALID, DEVICE_UNAVAILABLE, DEVICE_RINGING = 4, 5, 6
_FREE_STATES = frozenset({DEVICE_UNKNOWN, DEVICE_NOT_INUSE})

EMPTY: Mapping[str, object] = MappingProxyType({})


class Phase(enum.Enum):
    """Where a caller is. The reducer moves a caller only along TRANSITIONS."""

    MENU = "menu"  # reached an entry number; nothing decided yet (a hang-up: menu abandon)
    ROUTED = "routed"  # past the menu (language, closed, extension ...), in no queue now
    WAITING = "waiting"  # in `queue`
    LEAVING = "leaving"  # left `queue` unanswered: hang-up (abandoned) or Queue() returning
    #                      (exited, e.g. timeout) decides which
    LEFT = "left"  # left `queue` with neither answer nor abandon (leavewhenempty): Queue()
    #                returning says why
    ANSWERED = "answered"  # connected to a member
    TRANSFERRED = "transferred"  # an agent passed the caller on: no longer with the member
    ENDED = "ended"  # hung up: leaves the state


class Trigger(enum.Enum):
    """What happened to a caller, from AMI: the events that can move a phase."""

    JOIN = "QueueCallerJoin"
    CONNECT = "AgentConnect"
    ABANDON = "QueueCallerAbandon"  # also sent for a queue timeout: LEAVING decides
    LEAVE = "QueueCallerLeave"
    ROUTE = "routed by the dialplan"  # language, closed, overflow, extension, crisis-only
    QUEUE_RESULT = "VaxeldQueueResult"
    HANGUP = "VaxeldHangup"
    TRANSFER = "BlindTransfer or AttendedTransfer"


_P, _T = Phase, Trigger
# Phase -> trigger -> next phase, as h11 writes its state machines. A trigger missing for
# a phase does not apply to a caller in that phase: the event is ignored for that caller.
TRANSITIONS: Mapping[Phase, Mapping[Trigger, Phase]] = MappingProxyType(
    {
        _P.MENU: {
            _T.JOIN: _P.WAITING,
            _T.CONNECT: _P.ANSWERED,
            _T.ABANDON: _P.LEAVING,
            _T.ROUTE: _P.ROUTED,
            _T.HANGUP: _P.ENDED,
        },
        _P.ROUTED: {
            _T.JOIN: _P.WAITING,
            _T.CONNECT: _P.ANSWERED,
            _T.ABANDON: _P.LEAVING,
            _T.ROUTE: _P.ROUTED,
            _T.HANGUP: _P.ENDED,
        },
        _P.WAITING: {
            _T.JOIN: _P.WAITING,  # a QueueCallerJoin seen twice, or missed leave events
            _T.CONNECT: _P.ANSWERED,
            _T.ABANDON: _P.LEAVING,
            _T.LEAVE: _P.LEFT,  # left without an answer or abandon: e.g. leavewhenempty
            _T.ROUTE: _P.WAITING,
            _T.HANGUP: _P.ENDED,
        },
        _P.LEAVING: {
            _T.JOIN: _P.WAITING,
            _T.CONNECT: _P.ANSWERED,
            _T.ABANDON: _P.LEAVING,
            _T.QUEUE_RESULT: _P.ROUTED,  # still on the line: exited, not abandoned
            _T.ROUTE: _P.LEAVING,
            _T.HANGUP: _P.ENDED,  # hung up: abandoned
        },
        _P.LEFT: {
            _T.JOIN: _P.WAITING,
            _T.CONNECT: _P.ANSWERED,
            _T.ABANDON: _P.LEAVING,
            _T.QUEUE_RESULT: _P.ROUTED,  # exited: leaveempty, leaveunavail, withdraw ...
            _T.ROUTE: _P.LEFT,
            _T.HANGUP: _P.ENDED,
        },
        _P.ANSWERED: {
            _T.JOIN: _P.WAITING,  # transferred into a queue again
            _T.ROUTE: _P.ANSWERED,
            _T.TRANSFER: _P.TRANSFERRED,
            _T.HANGUP: _P.ENDED,
        },
        _P.TRANSFERRED: {
            _T.JOIN: _P.WAITING,  # into a queue: a blind transfer's join can come first
            _T.ROUTE: _P.TRANSFERRED,
            _T.HANGUP: _P.ENDED,
        },
        _P.ENDED: {},
    }
)


class Call(NamedTuple):
    """One caller, keyed by the Uniqueid of the channel that dialled the entry number.

    A NamedTuple rather than a frozen dataclass: the reducer makes a changed copy for
    most events, and ``_replace`` measured 3.5 times faster than ``dataclasses.replace``.
    """

    uniqueid: str
    linkedid: str = ""
    entry: str = ""
    language: str = ""
    queue: str = ""  # the queue the caller is in, or was in last
    position: int = 0
    joined_at: float | None = None  # the reducer's clock when the caller joined `queue`
    phase: Phase = Phase.MENU
    answered_by: str = ""  # the member, once ANSWERED
    abandon_wait: float = 0.0  # HoldTime when the caller left `queue` unanswered
    queues_entered: int = 0  # 1 for the first queue; more after overflow
    transfer_target: str = ""  # the last number an agent dialled for this caller
    last_answer: tuple[str, str] | None = None  # (queue, member) of its latest answer

    @property
    def waiting(self) -> bool:
        """In `queue` now."""
        return self.phase is Phase.WAITING


class Member(NamedTuple):
    """One queue member (an agent's interface in one queue)."""

    queue: str
    interface: str
    name: str
    status: int = DEVICE_UNKNOWN
    paused: bool = False
    in_call: bool = False

    @property
    def available(self) -> bool:
        """Could take a call now: not paused, not on a call, device free or unknown."""
        return not self.paused and not self.in_call and self.status in _FREE_STATES

    @property
    def reachable(self) -> bool:
        return self.status not in (DEVICE_INVALID, DEVICE_UNAVAILABLE)


MemberKey = tuple[str, str]  # (queue, interface)


# Callers followed at once per PBX. A large national centre has a few thousand; beyond
# this, a caller first heard of is not followed (counted), so a flood of joins that never
# leave cannot grow the state without end.
MAX_LIVE_CALLS = 20_000


class Journal(NamedTuple):
    """What one step of the state changed (a call, a member, or both), linked to the
    step before. A reader holding an older snapshot learns what changed since by
    walking back to that snapshot's journal: the cost of the changes, not of every
    live call compared. Cut after JOURNAL_STEPS steps, and by a rebuild (resync): a
    reader that cannot walk back to its snapshot compares in full."""

    before: Journal | None = None
    steps: int = 0
    call: str | None = None
    member: MemberKey | None = None


JOURNAL_STEPS = 1024


def noted(journal: Journal, call: str | None = None, member: MemberKey | None = None) -> Journal:
    """``journal`` with one more step: ``call`` and/or ``member`` changed."""
    if journal.steps >= JOURNAL_STEPS:
        return Journal(None, 0, call, member)
    return Journal(journal, journal.steps + 1, call, member)


@dataclass(frozen=True, slots=True)
class SwitchboardState:
    """Live picture of one PBX.

    Calls and members are persistent maps (a HAMT, from ``immutables``): a changed copy
    shares all but a few nodes with the old one, so an event costs the same with 10 or
    10,000 callers live, and an old snapshot stays valid for whoever still reads it."""

    pbx: str = "main"
    calls: immutables.Map[str, Call] = field(default_factory=immutables.Map)
    members: immutables.Map[MemberKey, Member] = field(default_factory=immutables.Map)
    synced: bool = False  # rebuilt from Asterisk since the last (re)connect
    # How this snapshot came from earlier ones (see Journal); not part of what it shows.
    journal: Journal = field(default_factory=Journal, compare=False, repr=False)

    def waiting_in(self, queue: str) -> list[Call]:
        """The callers waiting in ``queue``, first in line first."""
        waiting = [c for c in self.calls.values() if c.waiting and c.queue == queue]
        return sorted(waiting, key=lambda c: c.position)

    def members_of(self, queue: str) -> list[Member]:
        return [m for m in self.members.values() if m.queue == queue]

    # Grouped in one pass, for readers that go through every queue or agent: a scan per
    # queue and per agent made each MQTT update and scrape O(queues x members).
    def waiting_by_queue(self) -> dict[str, list[Call]]:
        out: dict[str, list[Call]] = {}
        for c in self.calls.values():
            if c.waiting:
                out.setdefault(c.queue, []).append(c)
        return out

    def members_by_queue(self) -> dict[str, list[Member]]:
        out: dict[str, list[Member]] = {}
        for m in self.members.values():
            out.setdefault(m.queue, []).append(m)
        return out

    def members_by_name(self) -> dict[str, list[Member]]:
        out: dict[str, list[Member]] = {}
        for m in self.members.values():
            out.setdefault(m.name, []).append(m)
        return out

    def queues_seen(self) -> set[str]:
        names = {m.queue for m in self.members.values()}
        names.update(c.queue for c in self.calls.values() if c.queue)
        return names


def changed_since(
    old: SwitchboardState, new: SwitchboardState
) -> tuple[set[str], set[MemberKey]] | None:
    """The uniqueids of calls and the keys of members that may differ between ``old``
    and ``new`` (an earlier snapshot of the same PBX), from ``new``'s journal; None
    when it does not reach back to ``old`` (cut, rebuilt, or not an earlier one)."""
    calls: set[str] = set()
    members: set[MemberKey] = set()
    mark = old.journal
    step: Journal | None = new.journal
    while step is not mark:
        if step is None:
            return None
        if step.call is not None:
            calls.add(step.call)
        if step.member is not None:
            members.add(step.member)
        step = step.before
    return calls, members
