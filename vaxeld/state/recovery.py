"""Turn queue_log lines into the same changes AMI events give, and drop finished
callers from the live state. Pure: no files, no clock.

Asterisk's own lines: ENTERQUEUE -> CallOffered, CONNECT -> CallAnswered, ABANDON ->
CallAbandoned, EXITWITHTIMEOUT -> CallExited(timeout), EXITEMPTY -> CallExited(leaveempty);
COMPLETECALLER/COMPLETEAGENT after a transfer only AMI reported -> TransferNotLogged.
vaxeld's own lines (vaxeld.contract's QueueLog() lines, under the queue name "vaxeld"):
the entry number, language, menu attempts, closed hours, the crisis switch, overflow and
menu abandons. A queue_log without them (written before vaxeld) still gives overflow:
a caller who left a queue unanswered and then entered another one moved there.
The Ledger decides which of the changes still need counting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from vaxeld import contract
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallCarriedIn,
    CallClosed,
    CallEntered,
    CallExited,
    CallOffered,
    CallOverflowed,
    CallTransferred,
    Change,
    CrisisAnnounced,
    LanguageChosen,
    MenuAbandoned,
    MenuAttempt,
)
from vaxeld.state.ledger import Ledger
from vaxeld.state.model import SwitchboardState, noted
from vaxeld.state.queuelog_lines import QueueLogEntry

_ENDS = frozenset(contract.QUEUE_LOG_OUTCOMES)
# The outcomes that are exits (CallExited, by reason): all but answered and abandoned.
_EXIT_REASONS = {
    event: outcome
    for event, outcome in contract.QUEUE_LOG_OUTCOMES.items()
    if outcome not in ("answered", "abandoned")
}

# An answer's end without a transfer: a transfer AMI saw in between was not logged.
_ANSWER_ENDS = frozenset({"COMPLETECALLER", "COMPLETEAGENT"})
# vaxeld's own lines: event -> the change, from (line, caller's entry number).
_VAXELD_LINES: dict[str, Callable[[QueueLogEntry, str], Change]] = {
    contract.LOG_ENTRY.event: lambda e, _: CallEntered(e.uniqueid, e.field(1)),
    contract.LOG_LANGUAGE.event: lambda e, _: LanguageChosen(
        e.uniqueid, e.field(1), e.field(2), e.field(3)
    ),
    contract.LOG_MENU.event: lambda e, _: MenuAttempt(e.uniqueid, e.field(1), e.field(2)),
    contract.LOG_CLOSED.event: lambda e, entry: CallClosed(
        e.uniqueid, entry, e.field(2), e.field(1)
    ),
    contract.LOG_CRISIS.event: lambda e, entry: CrisisAnnounced(
        e.uniqueid, entry, e.field(1), e.field(2)
    ),
    contract.LOG_OVERFLOW.event: lambda e, entry: CallOverflowed(
        e.uniqueid, entry, e.field(1), e.field(2), e.field(3).lower()
    ),
    contract.LOG_MENU_ABANDON.event: lambda e, entry: MenuAbandoned(
        e.uniqueid, e.field(1) or entry
    ),
}
# Every line of vaxeld's own that recovery reads (a test holds it to the contract).
READ_VAXELD_LINES = frozenset({*_VAXELD_LINES, contract.LOG_TRANSFER_TARGET.event})


def change_for(
    entry: QueueLogEntry, caller_entry: str, offered_before: int, target: str = ""
) -> Change | None:
    """The change one queue_log line stands for (None for lines vaxeld does not count).
    ``target``: the caller's last transfer target line, for an ATTENDEDTRANSFER."""
    uid, queue = entry.uniqueid, entry.queue
    if queue == contract.QUEUE_LOG_QUEUE:
        build = _VAXELD_LINES.get(entry.event)
        return None if build is None else build(entry, caller_entry)
    if entry.event == "ENTERQUEUE":
        return CallOffered(
            queue,
            uid,
            entry.int_field(3),
            caller_entry,
            first=offered_before == 0,
            number=entry.field(2),
        )
    how = contract.QUEUE_LOG_TRANSFERS.get(entry.event)
    if how is not None:
        named = entry.field(1) if how == "blind" else target
        return CallTransferred(queue, uid, entry.agent, how, named, "", "", caller_entry)
    if entry.event == "CONNECT":
        return CallAnswered(
            queue,
            uid,
            entry.agent,
            float(entry.int_field(1)),
            caller_entry,
            direct=offered_before <= 1,
        )
    if entry.event == "ABANDON":
        return CallAbandoned(queue, uid, float(entry.int_field(3)), caller_entry)
    if entry.event in _EXIT_REASONS:
        return CallExited(
            queue, uid, _EXIT_REASONS[entry.event], float(entry.int_field(3)), caller_entry
        )
    return None


def recover(
    state: SwitchboardState, entries: Iterable[QueueLogEntry], ledger: Ledger, now: float
) -> tuple[SwitchboardState, list[Change]]:
    """Count what queue_log says and AMI did not; forget callers whose call ended."""
    changes: list[Change] = []
    gone: set[str] = set()
    for entry in entries:
        uid = entry.uniqueid
        call = state.calls.get(uid)
        caller_entry = (call.entry if call else "") or ledger.entry_of(uid)
        if entry.event == contract.LOG_TRANSFER_TARGET.event:
            ledger.note_target(uid, entry.field(1), now)
            continue
        target = ledger.take_target(uid) if entry.event == "ATTENDEDTRANSFER" else ""
        if entry.event in _ANSWER_ENDS and entry.queue != contract.QUEUE_LOG_QUEUE:
            changes += ledger.note_ended(uid, entry.queue, now)
            continue
        change = change_for(entry, caller_entry, ledger.offered_count(uid), target)
        if change is None:
            continue
        changes += ledger.admit(
            [*_inferred_overflow(entry, caller_entry, ledger), change], "log", now
        )
        if entry.event in _EXIT_REASONS:
            ledger.note_left(uid, entry.queue, _EXIT_REASONS[entry.event], now)
        # A caller whose time in its current queue ended is not waiting any more, whatever
        # AMI missed; one that has moved on to another queue (overflow) stays.
        if entry.event in _ENDS and call is not None and call.queue == entry.queue:
            gone.add(uid)
    if gone:
        journal = state.journal
        with state.calls.mutate() as calls:
            for uid in gone:
                del calls[uid]
                journal = noted(journal, call=uid)
            state = dataclasses.replace(state, calls=calls.finish(), journal=journal)
    return state, changes


def _inferred_overflow(entry: QueueLogEntry, caller_entry: str, ledger: Ledger) -> list[Change]:
    """An ENTERQUEUE after the caller left another queue unanswered is an overflow there
    (a VAXELDOVERFLOW line in between says so itself, and leaves nothing to infer)."""
    if entry.event == contract.LOG_OVERFLOW.event:
        ledger.take_left(entry.uniqueid)
        return []
    if entry.event != "ENTERQUEUE":
        return []
    left = ledger.take_left(entry.uniqueid)
    if left is None or left[0] == entry.queue:
        return []
    return [CallOverflowed(entry.uniqueid, caller_entry, left[0], entry.queue, left[1])]


def learn_earlier(ledger: Ledger, entries: Iterable[QueueLogEntry], now: float) -> list[Change]:
    """Teach the ledger what queue_log holds from before vaxeld started (entry numbers,
    queues entered, queues left unanswered) without counting it; and return the callers
    still in a queue at the end of it, counted carried in (their offers were before)."""
    callers: dict[str, tuple[str, int]] = {}  # uid -> (entry, queues entered)
    open_offers: dict[tuple[str, str], int] = {}  # (uid, queue) -> offers with no outcome
    for entry in entries:
        uid = entry.uniqueid
        known, offers = callers.get(uid, ("", 0))
        if entry.event == contract.LOG_ENTRY.event and entry.queue == contract.QUEUE_LOG_QUEUE:
            callers[uid] = (entry.field(1), offers)
        elif entry.event == "ENTERQUEUE":
            callers[uid] = (known, offers + 1)
            open_offers[(uid, entry.queue)] = open_offers.get((uid, entry.queue), 0) + 1
            ledger.take_left(uid)
        elif entry.event in _ENDS:
            if open_offers.get((uid, entry.queue), 0) > 0:
                open_offers[(uid, entry.queue)] -= 1
            if entry.event in _EXIT_REASONS:
                ledger.note_left(uid, entry.queue, _EXIT_REASONS[entry.event], now)
    carried: list[Change] = []
    still = dict.fromkeys(callers, 0)
    for (uid, queue), n in open_offers.items():
        still[uid] += n
        carried += [CallCarriedIn(queue, uid, callers[uid][0])] * n
    for uid, (known, offers) in callers.items():
        # An offer still open is counted as carried in instead (not twice).
        ledger.learn_earlier(uid, now, entry=known, offers=offers - still[uid])
    return ledger.admit(carried, "log", now)


def outcomes_of(entries: Iterable[QueueLogEntry]) -> list[Change]:
    """What queue_log lines stand for, each line on its own (no ledger, no live state):
    the day so far, for today's figures after a restart. A caller's offers are counted
    along the way, so that an answer is direct only in the first queue entered."""
    offers: dict[str, int] = {}
    out: list[Change] = []
    for entry in entries:
        before = offers.get(entry.uniqueid, 0)
        if entry.event == "ENTERQUEUE":
            offers[entry.uniqueid] = before + 1
        change = change_for(entry, "", before)
        if change is not None:
            out.append(change)
    return out
