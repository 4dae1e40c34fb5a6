"""One PBX's live picture and its bookkeeping, without sockets, files or clocks.

``PbxCore`` owns the switchboard state, the ledger that counts each outcome once
whichever source reports it, and the buffer that holds events arriving while state
is rebuilt after a (re)connect. The tracker feeds it from AMI and queue_log; the
tests and the benchmarks feed it directly, through the same code.
"""

from __future__ import annotations

from collections.abc import Iterable

from vaxeld.state.changes import CallCarriedIn, CallOutcomeUnknown, Change
from vaxeld.state.event import AmiEvent
from vaxeld.state.ledger import Ledger
from vaxeld.state.model import SwitchboardState
from vaxeld.state.queuelog_lines import QueueLogEntry
from vaxeld.state.recovery import recover
from vaxeld.state.reducer import apply, resync
from vaxeld.state.view import LinkHealth, PbxView


class PbxCore:
    def __init__(self, name: str, ledger: Ledger | None = None) -> None:
        self.name = name
        self.state = SwitchboardState(pbx=name)
        self.ledger = ledger if ledger is not None else Ledger()  # an empty one is falsy
        self.recovered = 0  # outcomes counted from queue_log that AMI had not delivered
        self._buffer: list[AmiEvent] | None = None

    @property
    def resyncing(self) -> bool:
        return self._buffer is not None

    def on_event(self, msg: AmiEvent, now: float) -> list[Change] | None:
        """Apply one AMI event. Returns what now counts ([] when only the live picture
        moved), or None when nothing changed or the event waits for the resync."""
        if self._buffer is not None:
            self._buffer.append(msg)
            return None
        before = self.state
        self.state, changes = apply(before, msg, now)
        if changes:
            return self.ledger.admit(changes, "ami", now)
        # Nothing to count (a caller left the queue, say), but the live picture moved:
        # readers such as MQTT must hear of it now, not at their next periodic look.
        return [] if self.state is not before else None

    def begin_resync(self) -> None:
        """From now on, hold events: the state is being rebuilt from QueueStatus."""
        self._buffer = []

    def resync(self, status: Iterable[AmiEvent], now: float) -> list[Change]:
        """Rebuild from a QueueStatus reply (call it after queue_log was read up to now);
        callers with held events are kept as they are (those events come next).

        Every caller offered is accounted for: one still in a queue is waiting; one whose
        offer the ledger has (from either source) but who is in no queue now and has no
        outcome ended unseen, and is counted unknown; one waiting whose offer neither
        source saw (it joined before vaxeld could hear) is counted carried in."""
        held = self._buffer or []
        touched = {m.get("Uniqueid") for m in held if m.get("Uniqueid")}
        before = self.state
        self.state, changes = resync(before, status, now, keep=touched)
        unknown = {(c.uniqueid, c.queue) for c in changes if isinstance(c, CallOutcomeUnknown)}
        for uid, queue, entry in list(self.ledger.open_offers()):
            call = self.state.calls.get(uid)
            if uid in touched or (call is not None and call.queue == queue):
                continue
            if (uid, queue) not in unknown:
                unknown.add((uid, queue))
                changes.append(CallOutcomeUnknown(queue, uid, entry))
        for call in self.state.calls.values():
            if call.uniqueid in touched:
                continue  # its own join is among the held events
            if call.waiting and self.ledger.offered_in(call.uniqueid, call.queue) == 0:
                changes.append(CallCarriedIn(call.queue, call.uniqueid, call.entry))
        return self.ledger.admit(changes, "ami", now)

    def end_resync(self, now: float) -> list[list[Change]]:
        """Apply the held events in order; what each of them counts."""
        held, self._buffer = self._buffer or [], None
        out = []
        for msg in held:
            changes = self.on_event(msg, now)
            if changes is not None:
                out.append(changes)
        return out

    def recover(self, entries: Iterable[QueueLogEntry], now: float) -> list[Change]:
        """Count what queue_log says and AMI did not; forget callers whose call ended."""
        self.state, changes = recover(self.state, entries, self.ledger, now)
        self.recovered += len(changes)  # recover() returns only admitted call outcomes
        return changes

    def view(
        self,
        link: LinkHealth,
        crisis_active: bool | None = None,
        calendar_end: float | None = None,
        queue_log_configured: bool = False,
        repeat_known_seconds: float | None = None,
    ) -> PbxView:
        return PbxView(
            self.name,
            self.state,
            link,
            crisis_active,
            calendar_end,
            queue_log_configured,
            self.recovered,
            self.ledger.duplicates,
            repeat_known_seconds,
        )
