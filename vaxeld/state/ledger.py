"""Count each call outcome once, whether AMI or queue_log reported it first.

AMI is fast but can miss things (a dropped connection, an Asterisk restart);
queue_log is Asterisk's own record but is read a little later. Every countable
change carries a key (caller, queue, kind). The ledger keeps, per key, how many
times each source has reported it, and lets a change through only when it
raises the larger of the two: so the n-th ENTERQUEUE of a caller in a queue is
counted exactly once, by whichever source saw it first.

Pure data structure: time comes from the caller; memory is bounded by age.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallEntered,
    CallExited,
    CallOffered,
    Change,
)

Source = Literal["ami", "log"]
Counted = CallOffered | CallAnswered | CallAbandoned | CallExited


def kind_of(change: Counted) -> str:
    if isinstance(change, CallOffered):
        return "offered"
    if isinstance(change, CallAnswered):
        return "answered"
    if isinstance(change, CallAbandoned):
        return "abandoned"
    return f"exited:{change.reason}"


@dataclass
class _Caller:
    touched: float
    entry: str = ""
    seen: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # -> [ami, log]

    def offered(self) -> int:
        return sum(max(n) for (_, kind), n in self.seen.items() if kind == "offered")


class Ledger:
    def __init__(self, keep_seconds: float = 6 * 3600.0) -> None:
        self.keep_seconds = keep_seconds
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

    def admit(self, changes: Iterable[Change], source: Source, now: float) -> list[Change]:
        """The changes that count now; remembers them. Non-counting changes pass through."""
        out: list[Change] = []
        for ch in changes:
            if isinstance(ch, CallEntered):
                self._caller(ch.uniqueid, now).entry = ch.entry
            if not isinstance(ch, CallOffered | CallAnswered | CallAbandoned | CallExited):
                out.append(ch)
                continue
            caller = self._caller(ch.uniqueid, now)
            if ch.entry and not caller.entry:
                caller.entry = ch.entry
            offers_before = caller.offered()
            counts = caller.seen.setdefault((ch.queue, kind_of(ch)), [0, 0])
            before = max(counts)
            counts[0 if source == "ami" else 1] += 1
            if max(counts) > before:
                out.append(self._as_known(ch, caller, offers_before))
            else:
                self.duplicates += 1
        if now - self._last_prune > 60.0:
            self._prune(now)
        return out

    @staticmethod
    def _as_known(ch: Counted, caller: _Caller, offers_before: int) -> Counted:
        """The change with what the ledger knows of its caller from either source: the
        entry number, and whether this is the caller's first queue. Either source alone
        may not know: a caller whose first queue came from queue_log or QueueStatus had
        its later overflow join taken as the first, and counted offered twice."""
        entry = ch.entry or caller.entry
        if isinstance(ch, CallOffered):
            first = ch.first and offers_before == 0
            if (entry, first) != (ch.entry, ch.first):
                return dataclasses.replace(ch, entry=entry, first=first)
            return ch
        if isinstance(ch, CallAnswered):
            direct = ch.direct and offers_before <= 1
            if (entry, direct) != (ch.entry, ch.direct):
                return dataclasses.replace(ch, entry=entry, direct=direct)
            return ch
        return ch if entry == ch.entry else dataclasses.replace(ch, entry=entry)

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
