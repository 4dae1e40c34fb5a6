"""Prometheus adapter: counts the reducer's changes, reads gauges from views.

Composed of small parts, each with one job:
- ``labels``: the config's lookups that bound every label value (computed once);
- ``families``: the counters and histograms, every bounded series created at zero;
- ``counting``: one change, one increment (what keeps counters equal to queue_log);
- ``today``: today's service level, seeded from queue_log after a restart;
- ``live``: gauges computed at scrape time from each PBX's latest view;
- ``staffing``: agents needed now, from the last half hour's calls.

Everything runs on the daemon's event loop, /metrics included, so a scrape sees the
state between two events, never in the middle of one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest

from vaxeld.config import Config
from vaxeld.metrics.applied import AppliedCollector
from vaxeld.metrics.counting import ChangeCounter
from vaxeld.metrics.families import MetricFamilies, wait_buckets
from vaxeld.metrics.labels import LabelRules
from vaxeld.metrics.live import SnapshotCollector
from vaxeld.metrics.staffing import RequiredAgentsCollector
from vaxeld.metrics.today import TodayCollector
from vaxeld.planning.recent import RecentLoad
from vaxeld.state.changes import CallAbandoned, CallAnswered, CallExited, Change
from vaxeld.state.service_level import ServiceLevelRule
from vaxeld.state.today import Outcome, QueueToday, TodayCounts
from vaxeld.state.view import PbxView


class Metrics:
    """All of vaxeld's metrics in one registry."""

    def __init__(
        self,
        config: Config,
        views: Callable[[], Sequence[PbxView]],
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The *_created series double the output and no dashboard uses them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry()
        self.labels = LabelRules.from_config(config)
        self.rule = ServiceLevelRule.from_config(config)
        self.families = MetricFamilies(config, self.labels, self.registry)
        self.today = TodayCounts(config.timezone, time.time)
        self.today_collector = TodayCollector(
            self.today, self.labels, config.metrics.service_level_formula
        )
        self.recent = RecentLoad()
        self.counter = ChangeCounter(
            self.families, self.labels, self.rule, self.today, self.recent, clock
        )
        self.required = RequiredAgentsCollector(self.recent, config, clock)
        self.live = SnapshotCollector(views, self.labels, clock, self.counter.tally)
        self.registry.register(self.today_collector)
        self.registry.register(self.live)
        self.registry.register(self.required)
        self.applied = AppliedCollector(config.apply.state_dir, [p.name for p in config.pbxs])
        self.registry.register(self.applied)
        self.record = self.counter.record  # the hot path, without a call in between

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config's queues and numbers as label values from now on.
        Histogram buckets stay as they were until the next restart."""
        self.labels = LabelRules.from_config(config)
        self.rule = ServiceLevelRule.from_config(config)
        self.families.init_series(config, self.labels)
        self.counter.reconfigure(self.labels, self.rule)
        self.live.labels = self.today_collector.labels = self.labels
        self.required.reconfigure(config)
        self.today_collector.formula = config.metrics.service_level_formula
        self.applied.state_dir = config.apply.state_dir
        self.applied.pbxs = [p.name for p in config.pbxs]

    def exposition(self) -> bytes:
        """The /metrics page (Prometheus text format)."""
        return generate_latest(self.registry)

    def service_level_today(self) -> dict[tuple[str, str], float]:
        return self.today.ratios()

    def today_figures(self) -> Mapping[tuple[str, str], QueueToday]:
        return self.today.figures()

    def following(self, pbx: str) -> None:
        """``pbx`` is followed from now on without its day so far (no queue_log)."""
        self.today.started(pbx)

    def seed_today(self, pbx: str, changes: Iterable[Change], since: float) -> None:
        """Today's figures for ``pbx`` from earlier outcomes (queue_log's day so far)
        instead of what was counted; ``since`` is when they begin. Counters are untouched."""
        outcomes: list[Outcome] = []
        for ch in changes:
            if isinstance(ch, CallAnswered | CallAbandoned | CallExited):
                queue = self.labels.queue(ch.queue)
                direct = isinstance(ch, CallAnswered) and ch.direct
                outcomes.append((queue, self.rule.met(ch), _OUTCOME[type(ch)], direct))
        self.today.seed(pbx, outcomes, since)

    def reload_result(self, ok: bool) -> None:
        self.families.reloads.labels("success" if ok else "failure").inc()
        self.families.reload_ok.set(1 if ok else 0)


_OUTCOME = {CallAnswered: "answered", CallAbandoned: "abandoned", CallExited: "exited"}

__all__ = ["Metrics", "wait_buckets"]
