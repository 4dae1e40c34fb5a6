"""The pure reducer: (state, AMI event, now) -> (new state, changes).

No I/O and no clock: ``now`` comes from the caller, so every rule can be
tested without sleeping. Unknown events and events with missing fields are
ignored and reported as EventIgnored, never raised.

How outcomes map to Asterisk's own queue_log:
- QueueCallerJoin                         -> ENTERQUEUE      -> CallOffered
- AgentConnect                            -> CONNECT         -> CallAnswered
- QueueCallerAbandon, then the hang-up    -> ABANDON         -> CallAbandoned
- QueueCallerAbandon, then Queue() returns
  with QUEUESTATUS=TIMEOUT (UserEvent)    -> EXITWITHTIMEOUT -> CallExited
Asterisk fires QueueCallerAbandon for timeouts too, so the abandon is held
until the rendered dialplan says which of the two it was.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from vaxeld import contract
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallClosed,
    CallCompleted,
    CallEntered,
    CallExited,
    CallOffered,
    CallOutcomeUnknown,
    CallOverflowed,
    Change,
    CrisisAnnounced,
    EventIgnored,
    LanguageChosen,
    MemberChanged,
    MenuAbandoned,
    MenuAttempt,
    Resynced,
    RingNoAnswer,
)
from vaxeld.state.event import AmiEvent
from vaxeld.state.model import Call, Member, MemberKey, SwitchboardState

Result = tuple[SwitchboardState, list[Change]]

# The UserEvents the rendered dialplan sends (vaxeld.contract names them for both sides).
USER_ENTRY, USER_LANGUAGE = contract.ENTRY.name, contract.LANGUAGE.name
USER_QUEUE_RESULT, USER_HANGUP = contract.QUEUE_RESULT.name, contract.HANGUP.name
USER_CLOSED, USER_OVERFLOW = contract.CLOSED.name, contract.OVERFLOW.name
USER_CRISIS, USER_MENU, USER_EXTENSION = (
    contract.CRISIS.name,
    contract.MENU.name,
    contract.EXTENSION.name,
)


def _int(msg: AmiEvent, key: str, default: int = 0) -> int:
    try:
        return int(msg.get(key) or default)
    except ValueError:
        return default


def _float(msg: AmiEvent, key: str) -> float:
    try:
        return float(msg.get(key) or 0)
    except ValueError:
        return 0.0


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes")


def _with_call(state: SwitchboardState, call: Call) -> SwitchboardState:
    calls = {**state.calls, call.uniqueid: call}
    return SwitchboardState(state.pbx, calls, state.members, state.synced)


def _without_call(state: SwitchboardState, uniqueid: str) -> SwitchboardState:
    calls = dict(state.calls)
    calls.pop(uniqueid, None)
    return SwitchboardState(state.pbx, calls, state.members, state.synced)


def _call(state: SwitchboardState, msg: AmiEvent) -> Call:
    uid = msg.get("Uniqueid")
    return state.calls.get(uid) or Call(uniqueid=uid, linkedid=msg.get("Linkedid"))


# -- queue caller events -------------------------------------------------------------


def _caller_join(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    call = _call(state, msg)
    queue = msg.get("Queue")
    call = call._replace(
        queue=queue,
        position=_int(msg, "Position"),
        joined_at=now,
        waiting=True,
        answered_by="",
        abandon_pending=False,
        queues_entered=call.queues_entered + 1,
        routed=True,
    )
    change = CallOffered(
        queue, call.uniqueid, call.position, call.entry, first=call.queues_entered == 1
    )
    return _with_call(state, call), [change]


def _agent_connect(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    call = _call(state, msg)
    if call.answered_by:
        return state, []
    member = msg.get("MemberName") or msg.get("Interface")
    call = call._replace(
        queue=msg.get("Queue") or call.queue, waiting=False, answered_by=member or "?"
    )
    change = CallAnswered(
        call.queue,
        call.uniqueid,
        member,
        float(_int(msg, "HoldTime")),
        call.entry,
        direct=call.queues_entered <= 1,
    )
    return _with_call(state, call), [change]


def _caller_abandon(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    call = _call(state, msg)
    call = call._replace(
        queue=msg.get("Queue") or call.queue,
        waiting=False,
        abandon_pending=True,
        abandon_wait=float(_int(msg, "HoldTime")),
    )
    return _with_call(state, call), []


def _agent_complete(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    member = msg.get("MemberName") or msg.get("Interface")
    change = CallCompleted(
        msg.get("Queue"),
        msg.get("Uniqueid"),
        member,
        float(_int(msg, "TalkTime")),
        msg.get("Reason"),
    )
    return state, [change]


def _ring_no_answer(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    member = msg.get("MemberName") or msg.get("Interface")
    # RingTime is in milliseconds on this event (HoldTime fields are in seconds).
    return state, [RingNoAnswer(msg.get("Queue"), member, _int(msg, "RingTime") / 1000.0)]


def _caller_leave(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    call = state.calls.get(msg.get("Uniqueid"))
    if call is None:
        return state, []
    return _with_call(state, call._replace(waiting=False)), []


# -- the dialplan's own UserEvents --------------------------------------------------


def _user_event(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    kind = msg.get("UserEvent")
    uid = msg.get("Uniqueid")
    if kind == USER_ENTRY:
        call = _call(state, msg)._replace(entry=msg.get("Entry"))
        return _with_call(state, call), [CallEntered(uid, call.entry)]
    if kind == USER_LANGUAGE:
        call = _call(state, msg)._replace(language=msg.get("Language"), routed=True)
        change = LanguageChosen(uid, call.language, msg.get("Digit"), msg.get("Reason"))
        return _with_call(state, call), [change]
    if kind == USER_QUEUE_RESULT:
        return _queue_result(state, msg)
    if kind == USER_EXTENSION or (kind == USER_CRISIS and msg.get("Mode") == "announce_only"):
        # Dialled a staff extension, or heard an announcement-only message: not a menu abandon.
        call = _call(state, msg)._replace(routed=True)
        state = _with_call(state, call)
    if kind in _SIMPLE_USER_EVENTS:
        call = _call(state, msg)
        if kind in _ROUTING_USER_EVENTS:
            call = call._replace(routed=True)
        return _with_call(state, call), [_SIMPLE_USER_EVENTS[kind](call, msg)]
    if kind == USER_HANGUP:
        return _hangup(state, uid)
    return state, []  # VaxeldExtension (handled above) and user events of others


_SIMPLE_USER_EVENTS: dict[str, Callable[[Call, AmiEvent], Change]] = {
    USER_CLOSED: lambda c, m: CallClosed(c.uniqueid, c.entry, m.get("Queue"), m.get("Reason")),
    USER_OVERFLOW: lambda c, m: CallOverflowed(
        c.uniqueid, c.entry, m.get("From"), m.get("To"), m.get("Status").lower()
    ),
    USER_CRISIS: lambda c, m: CrisisAnnounced(c.uniqueid, c.entry, m.get("Mode"), m.get("Message")),
    USER_MENU: lambda c, m: MenuAttempt(c.uniqueid, m.get("Result"), m.get("Digit")),
}


# After these the caller has left the menu: a hang-up is no longer a menu abandon.
_ROUTING_USER_EVENTS = frozenset({USER_CLOSED, USER_OVERFLOW})

# Every UserEvent of the contract that the reducer acts on (a test holds it to the contract).
HANDLED_USER_EVENTS = frozenset(
    {USER_ENTRY, USER_LANGUAGE, USER_QUEUE_RESULT, USER_HANGUP, USER_EXTENSION}
    | set(_SIMPLE_USER_EVENTS)
)


def _queue_result(state: SwitchboardState, msg: AmiEvent) -> Result:
    call = state.calls.get(msg.get("Uniqueid"))
    status = msg.get("Status").strip().lower()
    if call is None or not call.abandon_pending:
        return state, []
    # Queue() returned with the caller still on the line: not a hang-up.
    change = CallExited(
        call.queue, call.uniqueid, status or "unknown", call.abandon_wait, call.entry
    )
    call = call._replace(abandon_pending=False, waiting=False)
    return _with_call(state, call), [change]


def _hangup(state: SwitchboardState, uid: str) -> Result:
    call = state.calls.get(uid)
    if call is None:
        return state, []
    changes: list[Change] = []
    if call.abandon_pending:
        changes.append(CallAbandoned(call.queue, uid, call.abandon_wait, call.entry))
    elif call.entry and not call.routed and call.queues_entered == 0:
        changes.append(MenuAbandoned(uid, call.entry))
    return _without_call(state, uid), changes


# -- members -------------------------------------------------------------------------


def _member_from(msg: AmiEvent, old: Member | None) -> Member:
    queue = msg.get("Queue")
    interface = msg.get("Interface") or msg.get("Location")
    return Member(
        queue=queue,
        interface=interface,
        name=msg.get("MemberName") or msg.get("Name") or (old.name if old else interface),
        status=_int(msg, "Status", old.status if old else 0),
        paused=_flag(msg.get("Paused")) if "Paused" in msg else (old.paused if old else False),
        in_call=_flag(msg.get("InCall")) if "InCall" in msg else (old.in_call if old else False),
    )


def _member_update(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    key: MemberKey = (msg.get("Queue"), msg.get("Interface") or msg.get("Location"))
    if not all(key):
        return state, [EventIgnored(msg.event, "missing Queue or Interface")]
    members = {**state.members, key: _member_from(msg, state.members.get(key))}
    return SwitchboardState(state.pbx, state.calls, members, state.synced), [MemberChanged(*key)]


def _member_removed(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    key: MemberKey = (msg.get("Queue"), msg.get("Interface"))
    members = dict(state.members)
    if members.pop(key, None) is None:
        return state, []
    return SwitchboardState(state.pbx, state.calls, members, state.synced), [MemberChanged(*key)]


_HANDLERS: dict[str, Callable[[SwitchboardState, AmiEvent, float], Result]] = {
    "QueueCallerJoin": _caller_join,
    "AgentConnect": _agent_connect,
    "AgentComplete": _agent_complete,
    "AgentRingNoAnswer": _ring_no_answer,
    "QueueCallerAbandon": _caller_abandon,
    "QueueCallerLeave": _caller_leave,
    "UserEvent": _user_event,
    "QueueMemberStatus": _member_update,
    "QueueMemberAdded": _member_update,
    "QueueMemberPause": _member_update,
    "QueueMemberPaused": _member_update,
    "QueueMemberRemoved": _member_removed,
}

# Events that must name the caller's channel to be of any use.
_NEEDS_UNIQUEID = frozenset(
    {"QueueCallerJoin", "AgentConnect", "QueueCallerAbandon", "QueueCallerLeave", "UserEvent"}
)

_NEEDS_QUEUE = frozenset(e for e in _HANDLERS if e.startswith("Queue") and e != "QueueCallerLeave")


def apply(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    """Apply one AMI event. Events vaxeld does not use return the state unchanged."""
    event = msg.event
    handler = _HANDLERS.get(event)
    if handler is None:
        return state, []
    if event in _NEEDS_UNIQUEID and not msg.get("Uniqueid"):
        return state, [EventIgnored(event, "missing Uniqueid")]
    if event in _NEEDS_QUEUE and not msg.get("Queue"):
        return state, [EventIgnored(event, "missing Queue")]
    return handler(state, msg, now)


def resync(
    state: SwitchboardState,
    status: Iterable[AmiEvent],
    now: float,
    keep: Collection[str] = (),
) -> Result:
    """Rebuild waiting callers and members from a QueueStatus reply after a (re)connect.

    Callers vaxeld was following that are no longer in any queue ended while it was
    not listening: each is reported as CallOutcomeUnknown rather than guessed.
    Callers in ``keep`` have events that arrived while QueueStatus was running; they
    are kept as they are, and those events are applied next.
    """
    members: dict[MemberKey, Member] = {}
    entries: dict[str, AmiEvent] = {}
    for msg in status:
        if msg.event == "QueueMember":
            member = _member_from(msg, None)
            if member.queue and member.interface:
                members[(member.queue, member.interface)] = member
        elif msg.event == "QueueEntry" and msg.get("Uniqueid"):
            entries[msg.get("Uniqueid")] = msg
    calls: dict[str, Call] = {}
    changes: list[Change] = []
    for uid, entry in entries.items():
        old = state.calls.get(uid)
        base = old or Call(uniqueid=uid, linkedid=entry.get("Linkedid"))
        calls[uid] = base._replace(
            queue=entry.get("Queue"),
            position=_int(entry, "Position"),
            waiting=True,
            joined_at=now - _float(entry, "Wait"),
            abandon_pending=False,
        )
    for uid, old in state.calls.items():
        if uid in calls:
            continue
        if uid in keep:
            calls[uid] = old
            continue
        # Callers not in a queue now are dropped: their hang-up may have been missed, and
        # keeping them could grow the state without bound. A later event re-creates them.
        if old.waiting or old.abandon_pending:
            changes.append(CallOutcomeUnknown(old.queue, uid, old.entry))
    changes.append(Resynced(waiting=len(entries), members=len(members)))
    return SwitchboardState(state.pbx, calls, members, synced=True), changes
