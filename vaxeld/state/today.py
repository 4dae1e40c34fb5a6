"""Today's figures per queue, since local midnight: the service level, and callers
answered (directly), abandoned and timed out. Pure (the clock is passed in): the
metrics, MQTT and the wallboard read the same counts, so each figure has one definition."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from vaxeld.calendar import local_midnight

OUTCOMES = ("answered", "abandoned", "exited")


@dataclass(slots=True)
class QueueToday:
    """One queue's day so far. ``sl_calls`` follows the configured formula."""

    sl_met: int = 0
    sl_calls: int = 0
    answered: int = 0
    answered_directly: int = 0  # in the first queue the caller entered
    abandoned: int = 0
    exited: int = 0  # timed out, or left an empty queue

    @property
    def service_level(self) -> float | None:
        return self.sl_met / self.sl_calls if self.sl_calls else None

    def values(self) -> tuple[int, ...]:
        return (
            self.sl_met,
            self.sl_calls,
            self.answered,
            self.answered_directly,
            self.abandoned,
            self.exited,
        )

    def plus(self, other: QueueToday) -> QueueToday:
        """Two PBXs' figures for one queue, together."""
        return QueueToday(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))


# (queue, met or None when the formula leaves the call out, outcome, answered directly)
Outcome = tuple[str, bool | None, str, bool]


class TodayCounts:
    """Today's figures per (pbx, queue).

    Starts from zero at midnight in the config's time zone. A vaxeld that starts during
    the day is seeded with the day so far from queue_log (``seed``); without one, the
    day starts when vaxeld does, and ``..._since_timestamp_seconds`` says from when."""

    def __init__(self, tz: str, clock: Callable[[], float]) -> None:
        self._tz_name, self._clock = tz, clock
        self._started = clock()
        self._day, self._next_day = self._day_around(self._started)
        self._counts: dict[tuple[str, str], QueueToday] = {}
        self._since: dict[str, float] = {}  # per PBX: from when today's figures count calls
        # The last copy figures() gave, while nothing changed: readers that build on every
        # event (MQTT) then see by identity that the day did not move.
        self._copy: Mapping[tuple[str, str], QueueToday] | None = None

    def _day_around(self, at: float) -> tuple[float, float]:
        """Unix times of the local midnights that begin the day of ``at`` and the next
        (36 h on lands in the next day, whether the day has 23, 24 or 25 hours)."""
        day = local_midnight(self._tz_name, at)
        return day, local_midnight(self._tz_name, day + 36 * 3600)

    def _roll(self) -> None:
        now = self._clock()
        if self._day <= now < self._next_day:
            return  # the usual case, on every call and scrape: two comparisons
        day, self._next_day = self._day_around(now)
        if day != self._day:
            self._day, self._counts, self._copy = day, {}, None
            self._since = dict.fromkeys(self._since, day)

    def add(
        self, pbx: str, queue: str, met: bool | None, outcome: str = "", direct: bool = False
    ) -> None:
        """One caller left ``queue``: ``met`` the target (None: not in the formula),
        by ``outcome`` (answered, abandoned, exited), answered ``direct``ly."""
        self._roll()
        self._copy = None
        counts = self._counts.get((pbx, queue))
        if counts is None:
            counts = self._counts[(pbx, queue)] = QueueToday()
        if met is not None:
            counts.sl_met += met
            counts.sl_calls += 1
        if outcome == "answered":
            counts.answered += 1
            counts.answered_directly += direct
        elif outcome == "abandoned":
            counts.abandoned += 1
        elif outcome == "exited":
            counts.exited += 1

    def seed(self, pbx: str, outcomes: Iterable[Outcome], since: float) -> None:
        """Replace ``pbx``'s figures with outcomes counted from ``since``."""
        self._roll()
        self._copy = None
        self._counts = {key: c for key, c in self._counts.items() if key[0] != pbx}
        for queue, met, outcome, direct in outcomes:
            self.add(pbx, queue, met, outcome, direct)
        self._since[pbx] = max(since, self._day)

    def ratios(self) -> dict[tuple[str, str], float]:
        self._roll()
        return {key: c.sl_met / c.sl_calls for key, c in self._counts.items() if c.sl_calls}

    def figures(self) -> Mapping[tuple[str, str], QueueToday]:
        """(pbx, queue) -> a copy of its day so far: the same copy until a figure
        changes (not to be changed by the reader)."""
        self._roll()
        if self._copy is None:
            self._copy = {key: QueueToday(*c.values()) for key, c in self._counts.items()}
        return self._copy

    def since(self) -> dict[str, float]:
        """Per PBX, from when its figures count."""
        self._roll()
        return dict(self._since)

    def started(self, pbx: str) -> None:
        """``pbx`` is followed from now on, with no queue_log to tell the day so far."""
        self._since.setdefault(pbx, max(self._started, self._day))
