"""Today's figures per queue as Prometheus gauges (the counting is in
``vaxeld.state.today``): the one series set that must survive a vaxeld restart."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld.metrics.labels import OTHER, LabelRules
from vaxeld.state.service_level import FORMULAS
from vaxeld.state.today import OUTCOMES, TodayCounts


class TodayCollector(Collector):
    def __init__(self, counts: TodayCounts, labels: LabelRules, formula: str) -> None:
        self.counts, self.labels, self.formula = counts, labels, formula

    def collect(self) -> Iterator[Metric]:
        labels = self.labels.languages
        family = GaugeMetricFamily(
            "vaxeld_queue_service_level_today_ratio",
            "Answered within target / service-level calls since local "
            "midnight (absent before the day's first call).",
            labels=["pbx", "queue", "language"],
        )
        for (pbx, queue), ratio in sorted(self.counts.ratios().items()):
            family.add_metric([pbx, queue, labels.get(queue, OTHER)], ratio)
        yield family
        formula = GaugeMetricFamily(
            "vaxeld_service_level_formula_info",
            "1 for the configured service-level formula (metrics.service_level_formula): "
            f"{FORMULAS['offered']!r} or {FORMULAS['answered_and_long_abandoned']!r}.",
            labels=["formula"],
        )
        formula.add_metric([self.formula], 1.0)
        yield formula
        calls = GaugeMetricFamily(
            "vaxeld_queue_calls_today",
            "Callers who left the queue since local midnight, by outcome: answered, "
            "abandoned, exited (timed out or left empty). Seeded from queue_log.",
            labels=["pbx", "queue", "language", "outcome"],
        )
        direct = GaugeMetricFamily(
            "vaxeld_queue_answered_directly_today",
            "Callers answered since local midnight in the first queue they entered.",
            labels=["pbx", "queue", "language"],
        )
        for (pbx, queue), c in sorted(self.counts.figures().items()):
            language = labels.get(queue, OTHER)
            for outcome, value in zip(OUTCOMES, (c.answered, c.abandoned, c.exited), strict=True):
                calls.add_metric([pbx, queue, language, outcome], value)
            direct.add_metric([pbx, queue, language], c.answered_directly)
        yield calls
        yield direct
        since = GaugeMetricFamily(
            "vaxeld_service_level_today_since_timestamp_seconds",
            "Unix time from which the today figures count calls: local midnight, or later "
            "when vaxeld started during the day without a queue_log covering it.",
            labels=["pbx"],
        )
        for pbx, at in sorted(self.counts.since().items()):
            since.add_metric([pbx], at)
        yield since
