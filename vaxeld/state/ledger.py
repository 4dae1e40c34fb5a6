"""Count each fact about a caller once, whether AMI or queue_log reported it first.

AMI is fast but can miss things (a dropped connection, an Asterisk restart);
queue_log is Asterisk's own record (with vaxeld's own lines, the whole centre's) but is
read a little later. Every countable change carries a key (caller, queue, kind). The
ledger keeps, per key, how many times each source has reported it, and lets a change
through only when it raises the larger of the two: so the n-th ENTERQUEUE of a caller in
a queue is counted exactly once, by whichever source saw it first.

It also knows each caller's offers without an outcome yet, which is how a caller who
joined and left inside an outage with no outcome line is still accounted for.

Pure data structure: time comes from the caller; memory is bounded by age.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallCarriedIn,
    CallClosed,
    CallEntered,
    CallExited,
    CallOffered,
    CallOutcomeUnknown,
    CallOverflowed,
    CallTransferred,
    Change,
    CrisisAnnounced,
    LanguageChosen,
    MenuAbandoned,
    MenuAttempt,
    TransferNotLogged,
)
from vaxeld.state.transfers import TransferRules

Source = Literal["ami", "log"]
Outcome = CallAnswered | CallAbandoned | CallExited | CallOutcomeUnknown
Counted = (
    CallOffered
    | CallCarriedIn
    | Outcome
    | CallEntered
    | LanguageChosen
    | MenuAttempt
    | CallClosed
    | CrisisAnnounced
    | CallOverflowed
    | MenuAbandoned
    | CallTransferred
)
COUNTED = (
    CallOffered,
    CallCarriedIn,
    CallAnswered,
    CallAbandoned,
    CallExited,
    CallOutcomeUnknown,
    CallEntered,
    LanguageChosen,
    MenuAttempt,
    CallClosed,
    CrisisAnnounced,
    CallOverflowed,
    MenuAbandoned,
    CallTransferred,
)
_OFFERS = frozenset({"offered", "carried"})
_OUTCOMES = ("answered", "abandoned", "exited:", "unknown")


def key_of(change: Counted) -> tuple[str, str]:
    """(queue, kind): what the ledger counts a change under, per caller."""
    if isinstance(change, CallOffered):
        return change.queue, "offered"
    if isinstance(change, CallCarriedIn):
        return change.queue, "carried"
    if isinstance(change, CallAnswered):
        return change.queue, "answered"
    if isinstance(change, CallAbandoned):
        return change.queue, "abandoned"
    if isinstance(change, CallExited):
        return change.queue, f"exited:{change.reason}"
    if isinstance(change, CallOutcomeUnknown):
        return change.queue, "unknown"
    if isinstance(change, CallClosed):
        return change.queue, "closed"
    if isinstance(change, CallTransferred):
        return change.queue, "transfer"
    if isinstance(change, CallOverflowed):
        return change.from_queue, f"overflow:{change.to_queue}"
    if isinstance(change, MenuAttempt):
        return "", f"menu:{change.result}:{change.digit}"
    if isinstance(change, CallEntered):
        return "", "entered"
    if isinstance(change, LanguageChosen):
        return "", "language"
    if isinstance(change, CrisisAnnounced):
        return "", "crisis"
    return "", "menu_abandoned"


@dataclass
class _Caller:
    touched: float
    entry: str = ""
    seen: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # -> [ami, log]
    # The last queue queue_log says the caller left unanswered, and why: an ENTERQUEUE
    # in another queue after it is an overflow (for queue_log without vaxeld's lines).
    left: tuple[str, str] | None = None
    earlier_offers: int = 0  # queues entered before vaxeld started, from queue_log
    target: str = ""  # the last transfer target queue_log named (VAXELDTRANSFERTARGET)
    unresolved: bool = False  # transferred out of the centre, or to an unknown target
    # Per queue: answers queue_log ended without a transfer line (COMPLETEAGENT or
    # COMPLETECALLER), and AMI transfers already reported as never to be logged.
    ended: dict[str, int] = field(default_factory=dict)
    not_logged: dict[str, int] = field(default_factory=dict)

    def answers(self) -> int:
        return sum(max(n) for (_, kind), n in self.seen.items() if kind == "answered")

    def offered(self) -> int:
        seen = sum(max(n) for (_, kind), n in self.seen.items() if kind in _OFFERS)
        return seen + self.earlier_offers

    def open_offers(self) -> Iterator[tuple[str, int]]:
        """(queue, offers there that have no outcome yet)."""
        per_queue: dict[str, int] = {}
        for (queue, kind), n in self.seen.items():
            if kind in _OFFERS:
                per_queue[queue] = per_queue.get(queue, 0) + max(n)
            elif kind.startswith(_OUTCOMES):
                per_queue[queue] = per_queue.get(queue, 0) - max(n)
        return ((q, n) for q, n in per_queue.items() if n > 0)


def _with_entry(change: Any, entry: str) -> Any:
    """``change`` (a frozen dataclass with an ``entry``) with ``entry`` filled in."""
    return dataclasses.replace(change, entry=entry)


class Ledger:
    def __init__(
        self, keep_seconds: float = 6 * 3600.0, transfers: TransferRules | None = None
    ) -> None:
        self.keep_seconds = keep_seconds
        # Where a transfer took a caller, from the config (set again on reload).
        self.transfers = transfers or TransferRules({}, {}, ())
        self._callers: dict[str, _Caller] = {}
        self._last_prune = 0.0
        self.duplicates = 0  # changes suppressed because the other source counted them

    def __len__(self) -> int:
        return len(self._callers)

    def entry_of(self, uniqueid: str) -> str:
        caller = self._callers.get(uniqueid)
        return caller.entry if caller else ""

    def offered_count(self, uniqueid: str) -> int:
        caller = self._callers.get(uniqueid)
        return caller.offered() if caller else 0

    def offered_in(self, uniqueid: str, queue: str) -> int:
        caller = self._callers.get(uniqueid)
        if caller is None:
            return 0
        return sum(max(caller.seen.get((queue, kind), [0, 0])) for kind in _OFFERS)

    def open_offers(self) -> Iterator[tuple[str, str, str]]:
        """(uniqueid, queue, entry) of every offer counted without an outcome yet."""
        for uid, caller in self._callers.items():
            for queue, n in caller.open_offers():
                for _ in range(n):
                    yield uid, queue, caller.entry

    def learn_earlier(self, uniqueid: str, now: float, entry: str = "", offers: int = 0) -> None:
        """What queue_log says of a caller from before vaxeld started (its entry number,
        queues it already entered), so that its later offers and answers are labelled and
        judged first or direct as the whole record has them. Counts nothing."""
        caller = self._caller(uniqueid, now)
        if entry:
            caller.entry = entry
        caller.earlier_offers += offers

    def note_left(self, uniqueid: str, queue: str, reason: str, now: float) -> None:
        """queue_log says the caller left ``queue`` unanswered (timeout, empty)."""
        self._caller(uniqueid, now).left = (queue, reason)

    def note_target(self, uniqueid: str, target: str, now: float) -> None:
        self._caller(uniqueid, now).target = target

    def take_target(self, uniqueid: str) -> str:
        """The transfer target queue_log last named for the caller, forgotten once asked."""
        caller = self._callers.get(uniqueid)
        if caller is None:
            return ""
        target, caller.target = caller.target, ""
        return target

    def take_left(self, uniqueid: str) -> tuple[str, str] | None:
        """The queue the caller last left unanswered, forgotten once asked for."""
        caller = self._callers.get(uniqueid)
        if caller is None:
            return None
        left, caller.left = caller.left, None
        return left

    def note_ended(self, uniqueid: str, queue: str, now: float) -> list[Change]:
        """queue_log ended an answer of the caller in ``queue`` without a transfer line:
        a transfer AMI reported there that queue_log has not logged, it never will."""
        caller = self._caller(uniqueid, now)
        caller.ended[queue] = caller.ended.get(queue, 0) + 1
        return self._not_logged(uniqueid, caller, queue)

    @staticmethod
    def _not_logged(uniqueid: str, caller: _Caller, queue: str) -> list[Change]:
        """TransferNotLogged for each AMI transfer in ``queue`` once queue_log has closed
        every answer there; nothing while an answer is open (its line may still come) or
        when no answer is known (answered before vaxeld started)."""
        ami, log = caller.seen.get((queue, "transfer"), (0, 0))
        answers = max(caller.seen.get((queue, "answered"), (0, 0)))
        if answers == 0 or log + caller.ended.get(queue, 0) < answers:
            return []
        missing = ami - log - caller.not_logged.get(queue, 0)
        if missing <= 0:
            return []
        caller.not_logged[queue] = ami - log
        return [TransferNotLogged(queue, uniqueid, caller.entry) for _ in range(missing)]

    def admit(self, changes: Iterable[Change], source: Source, now: float) -> list[Change]:
        """The changes that count now; remembers them. Non-counting changes pass through."""
        out: list[Change] = []
        for ch in changes:
            if not isinstance(ch, COUNTED):
                out.append(ch)
                continue
            if isinstance(ch, CallTransferred) and not ch.kind:
                ch = dataclasses.replace(ch, **self.transfers.classify(ch.target)._asdict())
            caller = self._caller(ch.uniqueid, now)
            known = getattr(ch, "entry", "")
            if known and (isinstance(ch, CallEntered) or not caller.entry):
                caller.entry = known
            offers_before = caller.offered()
            answers_before = caller.answers() if isinstance(ch, CallAnswered) else 0
            counts = caller.seen.setdefault(key_of(ch), [0, 0])
            before = max(counts)
            counts[0 if source == "ami" else 1] += 1
            if max(counts) > before:
                out.append(self._as_known(ch, caller, offers_before, answers_before))
            else:
                self.duplicates += 1
            if isinstance(ch, CallTransferred) and source == "ami":
                out += self._not_logged(ch.uniqueid, caller, ch.queue)
        if now - self._last_prune > 60.0:
            self._prune(now)
        return out

    @staticmethod
    def _as_known(ch: Counted, caller: _Caller, offers_before: int, answers_before: int) -> Counted:
        """The change with what the ledger knows of its caller from either source: the
        entry number, and whether this is the caller's first queue. Either source alone
        may not know: a caller whose first queue came from queue_log or QueueStatus had
        its later overflow join taken as the first, and counted offered twice."""
        had = getattr(ch, "entry", None)
        if had is None:
            return ch
        entry = had or caller.entry
        if isinstance(ch, CallOffered):
            first = ch.first and offers_before == 0
            if (entry, first) != (ch.entry, ch.first):
                return dataclasses.replace(ch, entry=entry, first=first)
            return ch
        if isinstance(ch, CallAnswered):
            direct = ch.direct and offers_before <= 1
            first = answers_before == 0
            if (entry, direct, first) != (ch.entry, ch.direct, ch.first_answer):
                return dataclasses.replace(ch, entry=entry, direct=direct, first_answer=first)
            return ch
        if isinstance(ch, CallTransferred):
            unresolved = ch.kind in ("out", "unknown")
            first = unresolved and not caller.unresolved
            caller.unresolved = caller.unresolved or unresolved
            if (entry, first) != (ch.entry, ch.first_unresolved):
                return dataclasses.replace(ch, entry=entry, first_unresolved=first)
            return ch
        return ch if entry == had else _with_entry(ch, entry)

    def _caller(self, uniqueid: str, now: float) -> _Caller:
        caller = self._callers.get(uniqueid)
        if caller is None:
            caller = self._callers[uniqueid] = _Caller(now)
        caller.touched = now
        return caller

    def _prune(self, now: float) -> None:
        self._last_prune = now
        old = [uid for uid, c in self._callers.items() if now - c.touched > self.keep_seconds]
        for uid in old:
            del self._callers[uid]
