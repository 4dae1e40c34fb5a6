"""Turn queue_log lines into the same changes AMI events give, and drop finished
callers from the live state. Pure: no files, no clock.

ENTERQUEUE -> CallOffered, CONNECT -> CallAnswered, ABANDON -> CallAbandoned,
EXITWITHTIMEOUT -> CallExited(timeout), EXITEMPTY -> CallExited(leaveempty).
The Ledger decides which of them still need counting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallExited,
    CallOffered,
    Change,
)
from vaxeld.state.ledger import Ledger
from vaxeld.state.model import SwitchboardState
from vaxeld.state.queuelog_lines import QueueLogEntry

_EXIT_REASONS = {"EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "leaveempty"}
_ENDS = frozenset({"CONNECT", "ABANDON", *_EXIT_REASONS})


def change_for(entry: QueueLogEntry, caller_entry: str, offered_before: int) -> Change | None:
    """The change one queue_log line stands for (None for lines vaxeld does not count)."""
    uid, queue = entry.uniqueid, entry.queue
    if entry.event == "ENTERQUEUE":
        return CallOffered(queue, uid, entry.int_field(3), caller_entry, first=offered_before == 0)
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
        call = state.calls.get(entry.uniqueid)
        caller_entry = (call.entry if call else "") or ledger.entry_of(entry.uniqueid)
        change = change_for(entry, caller_entry, ledger.offered_count(entry.uniqueid))
        if change is None:
            continue
        changes += ledger.admit([change], "log", now)
        # A caller whose time in its current queue ended is not waiting any more, whatever
        # AMI missed; one that has moved on to another queue (overflow) stays.
        if entry.event in _ENDS and call is not None and call.queue == entry.queue:
            gone.add(entry.uniqueid)
    if gone:
        with state.calls.mutate() as calls:
            for uid in gone:
                del calls[uid]
            state = dataclasses.replace(state, calls=calls.finish())
    return state, changes


def outcomes_of(entries: Iterable[QueueLogEntry]) -> list[Change]:
    """What queue_log lines stand for, each line on its own (no ledger, no live state):
    the day so far, for today's figures after a restart."""
    changes = (change_for(entry, "", 0) for entry in entries)
    return [change for change in changes if change is not None]
