"""Today's service level per queue, since local midnight: for wallboards and Grafana's
"today", and the one figure that must survive a vaxeld restart (seeded from queue_log)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld.calendar import local_midnight
from vaxeld.metrics.labels import OTHER, LabelRules


class ServiceLevelToday(Collector):
    """Service level since local midnight, per queue (for wallboards and Grafana's "today").

    Starts from zero at midnight in the config's time zone. A vaxeld that starts during
    the day is seeded with the day so far from queue_log (``seed``); without one, the
    day starts when vaxeld does, and ``..._since_timestamp_seconds`` says from when."""

    def __init__(self, tz: str, labels: LabelRules, clock: Callable[[], float] = time.time) -> None:
        self._tz_name, self.labels, self._clock = tz, labels, clock
        self._started = clock()
        self._day, self._next_day = self._day_around(self._started)
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._since: dict[str, float] = {}  # per PBX: from when today's figures count calls

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
            self._day, self._counts = day, {}
            self._since = dict.fromkeys(self._since, day)

    def add(self, pbx: str, queue: str, met: bool) -> None:
        self._roll()
        counts = self._counts.setdefault((pbx, queue), [0, 0])
        counts[0] += met
        counts[1] += 1

    def seed(self, pbx: str, outcomes: Iterable[tuple[str, bool]], since: float) -> None:
        """Replace ``pbx``'s figures with (queue, met) outcomes counted from ``since``."""
        self._roll()
        self._counts = {key: c for key, c in self._counts.items() if key[0] != pbx}
        for queue, met in outcomes:
            self.add(pbx, queue, met)
        self._since[pbx] = max(since, self._day)

    def ratios(self) -> dict[tuple[str, str], float]:
        self._roll()
        return {key: met / calls for key, (met, calls) in self._counts.items() if calls}

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "vaxeld_queue_service_level_today_ratio",
            "Answered within target / service-level calls since local "
            "midnight (absent before the day's first call).",
            labels=["pbx", "queue", "language"],
        )
        for (pbx, queue), ratio in sorted(self.ratios().items()):
            family.add_metric([pbx, queue, self.labels.languages.get(queue, OTHER)], ratio)
        yield family
        since = GaugeMetricFamily(
            "vaxeld_service_level_today_since_timestamp_seconds",
            "Unix time from which the today ratios count calls: local midnight, or later "
            "when vaxeld started during the day without a queue_log covering it.",
            labels=["pbx"],
        )
        for pbx, at in sorted(self._since.items()):
            since.add_metric([pbx], at)
        yield since

    def started(self, pbx: str) -> None:
        """``pbx`` is followed from now on, with no queue_log to tell the day so far."""
        self._since.setdefault(pbx, max(self._started, self._day))
