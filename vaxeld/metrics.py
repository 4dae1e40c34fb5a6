"""Prometheus adapter: counts the reducer's changes, reads gauges from snapshots.

Counters and histograms are fed from Change objects as they happen (one change,
one increment: that is what keeps them equal to queue_log). Gauges are computed
at scrape time from the latest immutable snapshot of each PBX, so a scrape never
sees half an update. Label values are bounded by the config: an entry number or
queue vaxeld was not configured with is reported as "other".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld import __version__
from vaxeld.ami.session import SessionStats
from vaxeld.config import Config
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallClosed,
    CallEntered,
    CallExited,
    CallOffered,
    CallOutcomeUnknown,
    CallOverflowed,
    Change,
    CrisisAnnounced,
    EventIgnored,
    LanguageChosen,
    MenuAttempt,
)
from vaxeld.state.model import SwitchboardState

# Wait buckets in seconds; every queue's service-level target is added to these
# so "answered within target" is an exact bucket, never an interpolation.
BASE_WAIT_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
QUEUE_LABELS = ("pbx", "queue", "language", "entry")
OTHER = "other"


def wait_buckets(config: Config) -> tuple[float, ...]:
    targets = {float(q.service_level_seconds) for q in config.queues.values()}
    return tuple(sorted(set(BASE_WAIT_BUCKETS) | targets))


@dataclass(frozen=True)
class PbxView:
    """What a scrape needs of one PBX: its latest snapshot, session stats, polled facts."""

    name: str
    state: SwitchboardState
    stats: SessionStats
    polled: dict[str, float] = field(default_factory=dict)  # crisis, calendar end


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
        self.registry = r = registry or CollectorRegistry()
        self._languages = {name: q.language for name, q in config.queues.items()}
        self._entries = config.entries()

        def counter(name: str, doc: str, labels: Sequence[str] = QUEUE_LABELS) -> Counter:
            return Counter(name, doc, labels, registry=r)

        def histogram(name: str, doc: str) -> Histogram:
            return Histogram(name, doc, QUEUE_LABELS, buckets=wait_buckets(config), registry=r)

        self.offered = counter(
            "vaxeld_queue_calls_offered", "Callers who joined the queue (queue_log ENTERQUEUE)."
        )
        self.answered = counter(
            "vaxeld_queue_calls_answered", "Callers answered by a member (queue_log CONNECT)."
        )
        self.answered_directly = counter(
            "vaxeld_queue_calls_answered_directly",
            "Answered in the first queue the caller entered, without overflow.",
        )
        self.abandoned = counter(
            "vaxeld_queue_calls_abandoned", "Callers who hung up while waiting (queue_log ABANDON)."
        )
        self.exited = counter(
            "vaxeld_queue_calls_exited",
            "Callers who left unanswered without hanging up, by reason "
            "(timeout = queue_log EXITWITHTIMEOUT, joinempty, leaveempty).",
            (*QUEUE_LABELS, "reason"),
        )
        self.unknown = counter(
            "vaxeld_queue_calls_outcome_unknown",
            "Callers who left the queue while vaxeld was not connected; outcome not known.",
        )
        self.answer_wait = histogram(
            "vaxeld_queue_answer_wait_seconds", "Wait before answer (Asterisk HoldTime)."
        )
        self.abandon_wait = histogram(
            "vaxeld_queue_abandon_wait_seconds", "Wait before the caller hung up."
        )
        self.overflow_out = counter(
            "vaxeld_queue_overflow_out",
            "Callers moved out of this queue to another.",
            ("pbx", "queue", "to_queue"),
        )
        self.overflow_in = counter(
            "vaxeld_queue_overflow_in",
            "Callers moved into this queue from another.",
            ("pbx", "queue", "from_queue"),
        )
        self.entered = counter(
            "vaxeld_entry_calls", "Calls answered on an entry number.", ("pbx", "entry")
        )
        self.cc_offered = counter(
            "vaxeld_calls_offered",
            "Callers offered to the contact centre: counted once, at their first queue.",
            ("pbx", "entry"),
        )
        self.closed = counter(
            "vaxeld_calls_closed",
            "Calls that met closed hours, by reason (hours, holiday, "
            "exception); at = entry or the queue with its own hours.",
            ("pbx", "entry", "at", "reason"),
        )
        self.crisis = counter(
            "vaxeld_crisis_announcements",
            "Callers who heard a crisis announcement.",
            ("pbx", "entry", "mode"),
        )
        self.language = counter(
            "vaxeld_menu_language_selections",
            "Language menu outcomes: chosen by digit, default after "
            "retries, or direct from a legacy number.",
            ("pbx", "language", "reason"),
        )
        self.menu_failed = counter(
            "vaxeld_menu_attempts_failed",
            "Menu attempts with no digit (timeout) or a wrong one.",
            ("pbx", "result"),
        )
        self.ignored = counter(
            "vaxeld_ami_events_ignored",
            "AMI events that could not be used (missing fields).",
            ("pbx", "event"),
        )
        self.reloads = counter(
            "vaxeld_config_reloads", "Config reloads (SIGHUP) by result.", ("result",)
        )
        self.reload_ok = Gauge(
            "vaxeld_config_last_reload_success",
            "1 when the last reload succeeded (or none happened), 0 when "
            "it failed and the previous config is still running.",
            registry=r,
        )
        self.reload_ok.set(1)
        self.reloads.labels("success")
        self.reloads.labels("failure")
        Info("vaxeld_build", "vaxeld build information.", registry=r).info({"version": __version__})
        self._init_series(config)
        self._collector = _SnapshotCollector(views, config, clock)
        r.register(self._collector)

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config's queues and numbers as label values from now on.
        Histogram buckets stay as they were until the next restart."""
        self._languages = {name: q.language for name, q in config.queues.items()}
        self._entries = config.entries()
        self._init_series(config)
        self._collector.configure(config)

    def reload_result(self, ok: bool) -> None:
        self.reloads.labels("success" if ok else "failure").inc()
        self.reload_ok.set(1 if ok else 0)

    def _init_series(self, config: Config) -> None:
        """Create every bounded series at zero, so rate() and dashboards see them at once."""
        for pbx in config.pbxs:
            for entry in self._entries:
                self.entered.labels(pbx.name, entry)
                self.cc_offered.labels(pbx.name, entry)
                for queue, lang in self._languages.items():
                    for metric in (
                        self.offered,
                        self.answered,
                        self.answered_directly,
                        self.abandoned,
                        self.unknown,
                        self.answer_wait,
                        self.abandon_wait,
                    ):
                        metric.labels(pbx.name, queue, lang, entry)
            for result in ("timeout", "invalid"):
                self.menu_failed.labels(pbx.name, result)

    def _entry(self, entry: str) -> str:
        return entry if entry in self._entries else (OTHER if entry else "unknown")

    def _q(self, pbx: str, queue: str, entry: str) -> tuple[str, str, str, str]:
        language = self._languages.get(queue, OTHER)
        return (pbx, queue if queue in self._languages else OTHER, language, self._entry(entry))

    def record(self, pbx: str, changes: Iterable[Change]) -> None:
        """Count what the reducer reported for ``pbx``."""
        for ch in changes:
            if isinstance(ch, CallOffered):
                self.offered.labels(*self._q(pbx, ch.queue, ch.entry)).inc()
                if ch.first:
                    self.cc_offered.labels(pbx, self._entry(ch.entry)).inc()
            elif isinstance(ch, CallAnswered):
                labels = self._q(pbx, ch.queue, ch.entry)
                self.answered.labels(*labels).inc()
                self.answer_wait.labels(*labels).observe(ch.wait_seconds)
                if ch.direct:
                    self.answered_directly.labels(*labels).inc()
            elif isinstance(ch, CallAbandoned):
                labels = self._q(pbx, ch.queue, ch.entry)
                self.abandoned.labels(*labels).inc()
                self.abandon_wait.labels(*labels).observe(ch.wait_seconds)
            elif isinstance(ch, CallExited):
                self.exited.labels(*self._q(pbx, ch.queue, ch.entry), ch.reason).inc()
            elif isinstance(ch, CallOutcomeUnknown):
                self.unknown.labels(*self._q(pbx, ch.queue, ch.entry)).inc()
            elif isinstance(ch, CallOverflowed):
                src, dst = (self._q(pbx, q, "")[1] for q in (ch.from_queue, ch.to_queue))
                self.overflow_out.labels(pbx, src, dst).inc()
                self.overflow_in.labels(pbx, dst, src).inc()
            elif isinstance(ch, CallClosed):
                at = self._q(pbx, ch.queue, "")[1] if ch.queue else "entry"
                self.closed.labels(pbx, self._entry(ch.entry), at, ch.reason or OTHER).inc()
            elif isinstance(ch, CrisisAnnounced):
                self.crisis.labels(pbx, self._entry(ch.entry), ch.mode or OTHER).inc()
            elif isinstance(ch, CallEntered):
                self.entered.labels(pbx, self._entry(ch.entry)).inc()
            elif isinstance(ch, LanguageChosen):
                self.language.labels(pbx, ch.language, ch.reason or OTHER).inc()
            elif isinstance(ch, MenuAttempt):
                self.menu_failed.labels(pbx, ch.result or OTHER).inc()
            elif isinstance(ch, EventIgnored):
                self.ignored.labels(pbx, ch.event).inc()


class _SnapshotCollector(Collector):
    """Gauges read from the latest snapshots at scrape time."""

    def __init__(
        self, views: Callable[[], Sequence[PbxView]], config: Config, clock: Callable[[], float]
    ) -> None:
        self._views, self._clock = views, clock
        self.configure(config)

    def configure(self, config: Config) -> None:
        self._languages = {name: q.language for name, q in config.queues.items()}
        self._entries = config.entries()
        # (queue, interface) -> site, for the members' site label.
        self._sites = {
            (queue, m.interface): g.site
            for queue in config.queues
            for _, g, m, _ in config.members_of_queue(queue)
        }

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        ql = ["pbx", "queue", "language"]

        def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        def count(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=["pbx"])

        waiting = gauge("vaxeld_queue_calls_waiting", "Callers waiting now.", [*ql, "entry"])
        longest = gauge(
            "vaxeld_queue_longest_wait_seconds",
            "Longest current wait in the queue (0 when nobody waits).",
            ql,
        )
        members = {
            state: gauge(f"vaxeld_queue_members_{state}", doc, [*ql, "site"])
            for state, doc in (
                ("logged_in", "Members in the queue."),
                ("available", "Members free to take a call now."),
                ("paused", "Paused members."),
            )
        }
        entry_info = gauge(
            "vaxeld_entry_info", "Configured entry and legacy numbers.", ["entry", "label"]
        )
        for number, label in self._entries.items():
            entry_info.add_metric([number, label], 1.0)
        connected = gauge("vaxeld_ami_connected", "1 while logged in to AMI.", ["pbx"])
        synced = gauge(
            "vaxeld_state_synced",
            "1 once live state was rebuilt from Asterisk after the last connect.",
            ["pbx"],
        )
        crisis = gauge(
            "vaxeld_crisis_active",
            "1 while the crisis switch is on in Asterisk's AstDB (polled).",
            ["pbx"],
        )
        calendar = gauge(
            "vaxeld_calendar_valid_until_timestamp_seconds",
            "When the rendered holiday calendar runs out (end of that day, UTC).",
            ["pbx"],
        )
        recovered = count(
            "vaxeld_queue_log_recovered",
            "Call outcomes counted from queue_log because AMI did not deliver "
            "them (outages, restarts).",
        )
        duplicates = count(
            "vaxeld_duplicate_outcomes_suppressed",
            "Outcomes reported by both AMI and queue_log, counted once.",
        )
        log_configured = gauge(
            "vaxeld_queue_log_configured",
            "1 when queue_log recovery is configured for the PBX; 0 means "
            "outcomes missed during outages are only counted as unknown.",
            ["pbx"],
        )
        outage = count(
            "vaxeld_ami_outage_seconds",
            "Seconds without a working AMI connection since vaxeld started.",
        )
        last_event = gauge(
            "vaxeld_ami_last_event_timestamp_seconds",
            "Wall-clock time of the last AMI event received.",
            ["pbx"],
        )
        stats_metrics = {
            "connects": count("vaxeld_ami_connects", "Successful AMI logins."),
            "events": count("vaxeld_ami_events", "AMI events received."),
            "decode_errors": count(
                "vaxeld_ami_decode_errors", "Malformed or oversize AMI frames dropped."
            ),
            "handler_errors": count("vaxeld_ami_handler_errors", "Events whose handling failed."),
            "auth_failures": count("vaxeld_ami_login_failures", "AMI logins refused."),
        }
        for view in self._views():
            state, pbx = view.state, view.name
            for queue in sorted(set(self._languages) | state.queues_seen()):
                labels = [pbx, queue, self._languages.get(queue, OTHER)]
                calls = state.waiting_in(queue)
                by_entry: dict[str, int] = dict.fromkeys(self._entries, 0)
                for c in calls:
                    key = c.entry if c.entry in self._entries else "unknown"
                    by_entry[key] = by_entry.get(key, 0) + 1
                for entry, n in by_entry.items():
                    waiting.add_metric([*labels, entry], n)
                waits = [now - c.joined_at for c in calls if c.joined_at is not None]
                longest.add_metric(labels, max(waits, default=0.0))
                per_site: dict[str, list[int]] = {}
                for m in state.members_of(queue):
                    site = self._sites.get((queue, m.interface), "unknown")
                    row = per_site.setdefault(site, [0, 0, 0])
                    row[0] += 1
                    row[1] += m.available
                    row[2] += m.paused
                for site, (n_in, n_free, n_paused) in sorted(per_site.items()):
                    members["logged_in"].add_metric([*labels, site], n_in)
                    members["available"].add_metric([*labels, site], n_free)
                    members["paused"].add_metric([*labels, site], n_paused)
            connected.add_metric([pbx], 1.0 if view.stats.connected else 0.0)
            synced.add_metric([pbx], 1.0 if state.synced and view.stats.connected else 0.0)
            if "crisis_active" in view.polled:
                crisis.add_metric([pbx], view.polled["crisis_active"])
            if "calendar_end" in view.polled:
                calendar.add_metric([pbx], view.polled["calendar_end"])
            recovered.add_metric([pbx], view.polled.get("queue_log_recovered", 0.0))
            duplicates.add_metric([pbx], view.polled.get("duplicates_suppressed", 0.0))
            log_configured.add_metric([pbx], view.polled.get("queue_log_configured", 0.0))
            down = view.stats.outage_seconds
            if view.stats.down_since is not None:
                down += max(0.0, now - view.stats.down_since)
            outage.add_metric([pbx], down)
            if view.stats.last_event_at:
                last_event.add_metric([pbx], view.stats.last_event_at)
            for attr, family in stats_metrics.items():
                family.add_metric([pbx], getattr(view.stats, attr))
        yield from (
            waiting,
            longest,
            *members.values(),
            entry_info,
            connected,
            synced,
            crisis,
            calendar,
            recovered,
            duplicates,
            log_configured,
            outage,
            last_event,
            *stats_metrics.values(),
        )
