"""Prometheus adapter: counts the reducer's changes, reads gauges from snapshots.

Counters and histograms are fed from Change objects as they happen (that is
what makes them exact: one change, one increment). Gauges are computed at
scrape time from the latest immutable snapshot of each PBX, so a scrape never
sees half an update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld import __version__
from vaxeld.ami.session import SessionStats
from vaxeld.config import Config
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallEntered,
    CallExited,
    CallOffered,
    CallOutcomeUnknown,
    Change,
    EventIgnored,
    LanguageChosen,
)
from vaxeld.state.model import SwitchboardState

# Wait buckets in seconds; every queue's service-level target is added to these
# so "answered within target" is an exact bucket, never an interpolation.
BASE_WAIT_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
QUEUE_LABELS = ("pbx", "queue", "language")


def wait_buckets(config: Config) -> tuple[float, ...]:
    targets = {float(q.service_level_seconds) for q in config.queues.values()}
    return tuple(sorted(set(BASE_WAIT_BUCKETS) | targets))


@dataclass(frozen=True)
class PbxView:
    """What the scrape needs of one PBX: its latest snapshot and session stats."""

    name: str
    state: SwitchboardState
    stats: SessionStats


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
        self._languages = {name: q.language for name, q in config.queues.items()}
        r = self.registry
        self.offered = Counter(
            "vaxeld_queue_calls_offered",
            "Callers who joined the queue (queue_log ENTERQUEUE).",
            QUEUE_LABELS,
            registry=r,
        )
        self.answered = Counter(
            "vaxeld_queue_calls_answered",
            "Callers answered by a member (queue_log CONNECT).",
            QUEUE_LABELS,
            registry=r,
        )
        self.abandoned = Counter(
            "vaxeld_queue_calls_abandoned",
            "Callers who hung up while waiting (queue_log ABANDON).",
            QUEUE_LABELS,
            registry=r,
        )
        self.exited = Counter(
            "vaxeld_queue_calls_exited",
            "Callers who left the queue "
            "unanswered without hanging up, by reason (timeout = queue_log "
            "EXITWITHTIMEOUT).",
            (*QUEUE_LABELS, "reason"),
            registry=r,
        )
        self.unknown = Counter(
            "vaxeld_queue_calls_outcome_unknown",
            "Callers who left the queue while vaxeld was not connected; outcome not known.",
            QUEUE_LABELS,
            registry=r,
        )
        buckets = wait_buckets(config)
        self.answer_wait = Histogram(
            "vaxeld_queue_answer_wait_seconds",
            "Wait before answer (Asterisk HoldTime).",
            QUEUE_LABELS,
            buckets=buckets,
            registry=r,
        )
        self.abandon_wait = Histogram(
            "vaxeld_queue_abandon_wait_seconds",
            "Wait before the caller hung up.",
            QUEUE_LABELS,
            buckets=buckets,
            registry=r,
        )
        self.entered = Counter(
            "vaxeld_entry_calls", "Calls answered on an entry number.", ("pbx", "entry"), registry=r
        )
        self.language = Counter(
            "vaxeld_menu_language_selections",
            "Language menu outcomes: chosen by digit or default after retries.",
            ("pbx", "language", "reason"),
            registry=r,
        )
        self.ignored = Counter(
            "vaxeld_ami_events_ignored",
            "AMI events that could not be used (missing fields).",
            ("pbx", "event"),
            registry=r,
        )
        Info("vaxeld_build", "vaxeld build information.", registry=r).info({"version": __version__})
        for pbx in config.pbxs:
            for queue, lang in self._languages.items():
                for metric in (
                    self.offered,
                    self.answered,
                    self.abandoned,
                    self.unknown,
                    self.answer_wait,
                    self.abandon_wait,
                ):
                    metric.labels(pbx.name, queue, lang)
                self.exited.labels(pbx.name, queue, lang, "timeout")
        r.register(_SnapshotCollector(views, self._languages, clock))

    def _q(self, pbx: str, queue: str) -> tuple[str, str, str]:
        return (pbx, queue, self._languages.get(queue, "unknown"))

    def record(self, pbx: str, changes: Iterable[Change]) -> None:
        """Count what the reducer reported for ``pbx``."""
        for ch in changes:
            if isinstance(ch, CallOffered):
                self.offered.labels(*self._q(pbx, ch.queue)).inc()
            elif isinstance(ch, CallAnswered):
                labels = self._q(pbx, ch.queue)
                self.answered.labels(*labels).inc()
                self.answer_wait.labels(*labels).observe(ch.wait_seconds)
            elif isinstance(ch, CallAbandoned):
                labels = self._q(pbx, ch.queue)
                self.abandoned.labels(*labels).inc()
                self.abandon_wait.labels(*labels).observe(ch.wait_seconds)
            elif isinstance(ch, CallExited):
                self.exited.labels(*self._q(pbx, ch.queue), ch.reason).inc()
            elif isinstance(ch, CallOutcomeUnknown):
                self.unknown.labels(*self._q(pbx, ch.queue)).inc()
            elif isinstance(ch, CallEntered):
                self.entered.labels(pbx, ch.entry or "unknown").inc()
            elif isinstance(ch, LanguageChosen):
                self.language.labels(pbx, ch.language, ch.reason or "unknown").inc()
            elif isinstance(ch, EventIgnored):
                self.ignored.labels(pbx, ch.event).inc()


class _SnapshotCollector(Collector):
    """Gauges read from the latest snapshots at scrape time."""

    def __init__(
        self,
        views: Callable[[], Sequence[PbxView]],
        languages: dict[str, str],
        clock: Callable[[], float],
    ) -> None:
        self._views, self._languages, self._clock = views, languages, clock

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        qlabels = list(QUEUE_LABELS)
        waiting = GaugeMetricFamily(
            "vaxeld_queue_calls_waiting", "Callers waiting now.", labels=qlabels
        )
        longest = GaugeMetricFamily(
            "vaxeld_queue_longest_wait_seconds",
            "Longest current wait in the queue (0 when nobody waits).",
            labels=qlabels,
        )
        logged_in = GaugeMetricFamily(
            "vaxeld_queue_members_logged_in", "Members in the queue.", labels=qlabels
        )
        available = GaugeMetricFamily(
            "vaxeld_queue_members_available", "Members free to take a call now.", labels=qlabels
        )
        paused = GaugeMetricFamily("vaxeld_queue_members_paused", "Paused members.", labels=qlabels)
        connected = GaugeMetricFamily(
            "vaxeld_ami_connected", "1 while logged in to AMI.", labels=["pbx"]
        )
        synced = GaugeMetricFamily(
            "vaxeld_state_synced",
            "1 once live state was rebuilt from Asterisk after the last connect.",
            labels=["pbx"],
        )
        connects = CounterMetricFamily(
            "vaxeld_ami_connects", "Successful AMI logins.", labels=["pbx"]
        )
        events = CounterMetricFamily("vaxeld_ami_events", "AMI events received.", labels=["pbx"])
        decode_errors = CounterMetricFamily(
            "vaxeld_ami_decode_errors", "Malformed or oversize AMI frames dropped.", labels=["pbx"]
        )
        handler_errors = CounterMetricFamily(
            "vaxeld_ami_handler_errors", "Events whose handling failed.", labels=["pbx"]
        )
        auth_failures = CounterMetricFamily(
            "vaxeld_ami_login_failures", "AMI logins refused.", labels=["pbx"]
        )
        for view in self._views():
            state, stats, pbx = view.state, view.stats, view.name
            queues = set(self._languages) | state.queues_seen()
            for queue in sorted(queues):
                labels = [pbx, queue, self._languages.get(queue, "unknown")]
                calls = state.waiting_in(queue)
                members = state.members_of(queue)
                waits = [now - c.joined_at for c in calls if c.joined_at is not None]
                waiting.add_metric(labels, len(calls))
                longest.add_metric(labels, max(waits, default=0.0))
                logged_in.add_metric(labels, len(members))
                available.add_metric(labels, sum(1 for m in members if m.available))
                paused.add_metric(labels, sum(1 for m in members if m.paused))
            connected.add_metric([pbx], 1.0 if stats.connected else 0.0)
            synced.add_metric([pbx], 1.0 if state.synced and stats.connected else 0.0)
            connects.add_metric([pbx], stats.connects)
            events.add_metric([pbx], stats.events)
            decode_errors.add_metric([pbx], stats.decode_errors)
            handler_errors.add_metric([pbx], stats.handler_errors)
            auth_failures.add_metric([pbx], stats.auth_failures)
        yield from (
            waiting,
            longest,
            logged_in,
            available,
            paused,
            connected,
            synced,
            connects,
            events,
            decode_errors,
            handler_errors,
            auth_failures,
        )
