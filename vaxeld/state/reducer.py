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
- QueueCallerAbandon, then the hang-up
  with QUEUESTATUS=TIMEOUT (no result)    -> EXITWITHTIMEOUT -> CallExited
Asterisk fires QueueCallerAbandon for timeouts too, so the abandon is held
until the rendered dialplan says which of the two it was.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import immutables

from vaxeld import contract
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallClosed,
    CallCompleted,
    CallEntered,
    CallExited,
    CallNotFollowed,
    CallOffered,
    CallOutcomeUnknown,
    CallOverflowed,
    CallTransferred,
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
from vaxeld.state.model import (
    MAX_LIVE_CALLS,
    TRANSITIONS,
    Call,
    Member,
    MemberKey,
    Phase,
    SwitchboardState,
    Trigger,
    noted,
)

Result = tuple[SwitchboardState, list[Change]]

# The UserEvents the rendered dialplan sends (vaxeld.contract names them for both sides).
USER_ENTRY, USER_LANGUAGE = contract.ENTRY.name, contract.LANGUAGE.name
USER_QUEUE_RESULT, USER_HANGUP = contract.QUEUE_RESULT.name, contract.HANGUP.name
USER_CLOSED, USER_OVERFLOW = contract.CLOSED.name, contract.OVERFLOW.name
USER_TRANSFER_TARGET = contract.TRANSFER_TARGET.name
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
    calls = state.calls.set(call.uniqueid, call)
    journal = noted(state.journal, call=call.uniqueid)
    return SwitchboardState(state.pbx, calls, state.members, state.synced, journal)


def _without_call(state: SwitchboardState, uniqueid: str) -> SwitchboardState:
    if uniqueid not in state.calls:
        return state
    journal = noted(state.journal, call=uniqueid)
    calls = state.calls.delete(uniqueid)
    return SwitchboardState(state.pbx, calls, state.members, state.synced, journal)


def _call(state: SwitchboardState, msg: AmiEvent) -> Call:
    uid = msg.get("Uniqueid")
    return state.calls.get(uid) or Call(uniqueid=uid, linkedid=msg.get("Linkedid"))


def _moved(call: Call, trigger: Trigger) -> Call | None:
    """``call`` in the phase ``trigger`` takes it to, or None when the trigger does not
    apply to a caller in its phase (TRANSITIONS has no such move)."""
    phase = TRANSITIONS[call.phase].get(trigger)
    return None if phase is None else call._replace(phase=phase)


# -- queue caller events -------------------------------------------------------------


def _caller_join(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    call = _moved(_call(state, msg), Trigger.JOIN)
    if call is None:
        return state, []
    queue = msg.get("Queue")
    call = call._replace(
        queue=queue,
        position=_int(msg, "Position"),
        joined_at=now,
        answered_by="",
        queues_entered=call.queues_entered + 1,
    )
    change = CallOffered(
        queue,
        call.uniqueid,
        call.position,
        call.entry,
        first=call.queues_entered == 1,
        number=msg.get("CallerIDNum"),
    )
    return _with_call(state, call), [change]


def _agent_connect(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    call = _moved(_call(state, msg), Trigger.CONNECT)
    if call is None:  # answered already: counted once
        return state, []
    member = msg.get("MemberName") or msg.get("Interface")
    call = call._replace(queue=msg.get("Queue") or call.queue, answered_by=member or "?")
    call = call._replace(last_answer=(call.queue, call.answered_by))
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
    call = _moved(_call(state, msg), Trigger.ABANDON)
    if call is None:
        return state, []
    call = call._replace(
        queue=msg.get("Queue") or call.queue, abandon_wait=float(_int(msg, "HoldTime"))
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
    moved = None if call is None else _moved(call, Trigger.LEAVE)
    if moved is None:  # unknown, or not waiting (answered and abandoned callers leave too)
        return state, []
    return _with_call(state, moved), []


# -- the dialplan's own UserEvents --------------------------------------------------


def _user_event(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    kind = msg.get("UserEvent")
    uid = msg.get("Uniqueid")
    if kind == USER_ENTRY:
        call = _call(state, msg)._replace(entry=msg.get("Entry"))
        return _with_call(state, call), [CallEntered(uid, call.entry)]
    if kind == USER_QUEUE_RESULT:
        return _queue_result(state, msg, now)
    if kind == USER_HANGUP:
        return _hangup(state, uid, msg.get("Status"))
    if kind == USER_TRANSFER_TARGET:
        return _transfer_target(state, msg)
    if kind not in _CALLER_USER_EVENTS:
        return state, []  # user events of others
    call = _call(state, msg)
    # Past the menu: a hang-up from now on is not a menu abandon.
    if kind in _ROUTING_USER_EVENTS or (kind == USER_CRISIS and msg.get("Mode") == "announce_only"):
        call = _moved(call, Trigger.ROUTE) or call
    if kind == USER_EXTENSION:
        return _with_call(state, call), []
    if kind == USER_LANGUAGE:
        call = call._replace(language=msg.get("Language"))
        change: Change = LanguageChosen(uid, call.language, msg.get("Digit"), msg.get("Reason"))
    else:
        change = _SIMPLE_USER_EVENTS[kind](call, msg)
    return _with_call(state, call), [change]


_SIMPLE_USER_EVENTS: dict[str, Callable[[Call, AmiEvent], Change]] = {
    USER_CLOSED: lambda c, m: CallClosed(c.uniqueid, c.entry, m.get("Queue"), m.get("Reason")),
    USER_OVERFLOW: lambda c, m: CallOverflowed(
        c.uniqueid, c.entry, m.get("From"), m.get("To"), m.get("Status").lower()
    ),
    USER_CRISIS: lambda c, m: CrisisAnnounced(c.uniqueid, c.entry, m.get("Mode"), m.get("Message")),
    USER_MENU: lambda c, m: MenuAttempt(c.uniqueid, m.get("Result"), m.get("Digit")),
}
_CALLER_USER_EVENTS = frozenset({USER_LANGUAGE, USER_EXTENSION, *_SIMPLE_USER_EVENTS})
# These take the caller past the menu (Trigger.ROUTE); so does an announce-only crisis.
_ROUTING_USER_EVENTS = frozenset({USER_LANGUAGE, USER_EXTENSION, USER_CLOSED, USER_OVERFLOW})

# Every UserEvent of the contract that the reducer acts on (a test holds it to the contract).
HANDLED_USER_EVENTS = frozenset(
    {USER_ENTRY, USER_QUEUE_RESULT, USER_HANGUP, USER_TRANSFER_TARGET} | _CALLER_USER_EVENTS
)


# -- transfers -------------------------------------------------------------------------


def _transfer_target(state: SwitchboardState, msg: AmiEvent) -> Result:
    """An agent dialled a number in vaxeld-transfer for a caller (blind, or the
    consultation call of an attended transfer): remembered as the caller's target."""
    call = state.calls.get(msg.get("Caller"))
    if call is None:
        return state, []
    return _with_call(state, call._replace(transfer_target=msg.get("Target"))), []


def _transfer(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    """An agent passed an answered caller on. The target is classified by the core's
    transfer rules (PbxCore), which know the config; here it is only named."""
    if msg.get("Result") != "Success":
        return state, []
    call = state.calls.get(msg.get("TransfereeUniqueid"))
    if call is None or call.last_answer is None:
        return state, []  # not a caller answered by one of the centre's queues
    queue, member = call.last_answer
    if msg.event == "BlindTransfer":
        how, target = "blind", msg.get("Extension")
    else:  # queue_log has no target for these: the one vaxeld-transfer saw, for both
        how, target = "attended", call.transfer_target
    change = CallTransferred(queue, call.uniqueid, member, how, target, "", "", call.entry)
    # No longer with the member (an attended transfer left it looking ongoing); a blind
    # transfer into a queue may have joined it already, and stays there.
    moved = _moved(call, Trigger.TRANSFER)
    call = (moved or call)._replace(last_answer=None, transfer_target="")
    if moved is not None:
        call = call._replace(answered_by="")
    return _with_call(state, call), [change]


def _queue_result(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    call = state.calls.get(msg.get("Uniqueid"))
    moved = None if call is None else _moved(call, Trigger.QUEUE_RESULT)
    if call is None or moved is None:
        return state, []  # only a caller who left unanswered is decided by Queue() returning
    # Queue() returned with the caller still on the line: not a hang-up.
    status = _exit_reason(msg.get("Status"))
    if call.phase is Phase.LEAVING:
        wait = call.abandon_wait
    else:  # left with no abandon event to say how long it waited
        wait = max(0.0, now - call.joined_at) if call.joined_at is not None else 0.0
    change = CallExited(call.queue, call.uniqueid, status or "unknown", wait, call.entry)
    return _with_call(state, moved), [change]


def _exit_reason(queuestatus: str) -> str:
    status = queuestatus.strip().lower()
    # queue_log writes EXITEMPTY for both: one outcome, whichever source counts it.
    return {"leaveunavail": "leaveempty"}.get(status, status)


# QUEUESTATUS values for a caller who left a queue unanswered while still on the line.
_LEFT_ON_THE_LINE = frozenset({"timeout", "leaveempty"})


def _hangup(state: SwitchboardState, uid: str, queuestatus: str = "") -> Result:
    call = state.calls.get(uid)
    if call is None:
        return state, []
    changes: list[Change] = []
    reason = _exit_reason(queuestatus)
    if call.phase is Phase.LEAVING and reason in _LEFT_ON_THE_LINE:
        # Queue() timed out and the caller hung up before the dialplan could say so (or
        # Asterisk hung everyone up then): queue_log has EXITWITHTIMEOUT, not ABANDON.
        changes.append(CallExited(call.queue, uid, reason, call.abandon_wait, call.entry))
    elif call.phase is Phase.LEAVING:
        changes.append(CallAbandoned(call.queue, uid, call.abandon_wait, call.entry))
    elif call.phase is Phase.MENU and call.entry:
        changes.append(MenuAbandoned(uid, call.entry))
    return _without_call(state, uid), changes  # Phase.ENDED: gone from the state


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
    members = state.members.set(key, _member_from(msg, state.members.get(key)))
    return _with_members(state, members, key)


def _member_removed(state: SwitchboardState, msg: AmiEvent, now: float) -> Result:
    key: MemberKey = (msg.get("Queue"), msg.get("Interface"))
    if key not in state.members:
        return state, []
    return _with_members(state, state.members.delete(key), key)


def _with_members(
    state: SwitchboardState, members: immutables.Map[MemberKey, Member], key: MemberKey
) -> Result:
    """``state`` with ``members``, in which the member ``key`` changed."""
    journal = noted(state.journal, member=key)
    new = SwitchboardState(state.pbx, state.calls, members, state.synced, journal)
    return new, [MemberChanged(*key)]


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
    "BlindTransfer": _transfer,
    "AttendedTransfer": _transfer,
}

HANDLED_EVENTS = frozenset(_HANDLERS)

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
    if len(state.calls) >= MAX_LIVE_CALLS and _would_add_a_caller(state, msg):
        return state, [CallNotFollowed(msg.get("Uniqueid"), event)]
    return handler(state, msg, now)


def _would_add_a_caller(state: SwitchboardState, msg: AmiEvent) -> bool:
    if msg.get("Uniqueid") in state.calls:
        return False
    if msg.event == "UserEvent":
        return msg.get("UserEvent") in _CALLER_USER_EVENTS or msg.get("UserEvent") == USER_ENTRY
    return msg.event in ("QueueCallerJoin", "AgentConnect", "QueueCallerAbandon")


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
            phase=Phase.WAITING,
            joined_at=now - _float(entry, "Wait"),
            # In a queue, so in at least one: an overflow join seen next is not its first.
            queues_entered=max(base.queues_entered, 1),
        )
    for uid, old in state.calls.items():
        if uid in calls:
            continue
        if uid in keep:
            calls[uid] = old
            continue
        # Callers not in a queue now are dropped: their hang-up may have been missed, and
        # keeping them could grow the state without bound. A later event re-creates them.
        if old.phase in (Phase.WAITING, Phase.LEAVING, Phase.LEFT):
            changes.append(CallOutcomeUnknown(old.queue, uid, old.entry))
    changes.append(Resynced(waiting=len(entries), members=len(members)))
    rebuilt = SwitchboardState(state.pbx, immutables.Map(calls), immutables.Map(members), True)
    return rebuilt, changes
