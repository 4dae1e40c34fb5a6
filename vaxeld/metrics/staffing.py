"""Agents needed now, per queue and model, from the last half hour's calls: for Grafana to
put "needed" beside "available" (vaxeld.planning.recent does the counting and the sums)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld.config import Config
from vaxeld.planning.recent import RecentLoad, Target


def targets_of(config: Config) -> dict[str, Target]:
    p = config.planning
    return {
        name: Target(
            q.service_level_seconds,
            config.history.service_level_goal,
            float(q.wrapup_seconds),
            p.default_handle_seconds,
            p.max_occupancy,
            p.max_abandon_share,
        )
        for name, q in config.queues.items()
    }


class RequiredAgentsCollector(Collector):
    def __init__(self, recent: RecentLoad, config: Config, clock: Callable[[], float]) -> None:
        self.recent, self._clock = recent, clock
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        self.targets = targets_of(config)
        self.pbxs = [p.name for p in config.pbxs]

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        family = GaugeMetricFamily(
            "vaxeld_queue_agents_required",
            "Agents on the phones (before shrinkage) the queue's goal needs for the last "
            "30 minutes' arrivals, handle time and (Erlang A) patience, by model.",
            labels=["pbx", "queue", "model"],
        )
        for pbx in self.pbxs:
            for queue, target in self.targets.items():
                for model, agents in self.recent.needed(pbx, queue, target, now).items():
                    family.add_metric([pbx, queue, model], agents)
        yield family
