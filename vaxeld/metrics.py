"""Prometheus adapter: counts the reducer's changes, reads gauges from snapshots.

Counters and histograms are fed from Change objects as they happen (one change,
one increment: that is what keeps them equal to queue_log). Gauges are computed
at scrape time from the latest immutable snapshot of each PBX, so a scrape never
sees half an update. Label values are bounded by the config: an entry number or
queue vaxeld was not configured with is reported as "other".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)

from vaxeld import __version__
from vaxeld.config import Config
from vaxeld.metrics_live import PbxView, ServiceLevelToday, SnapshotCollector
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallClosed,
    CallCompleted,
    CallEntered,
    CallExited,
    CallOffered,
    CallOutcomeUnknown,
    CallOverflowed,
    Change,
    CrisisAnnounced,
    EventIgnored,
    LanguageChosen,
    MenuAbandoned,
    MenuAttempt,
    RingNoAnswer,
)

# Wait buckets in seconds; every queue's service-level target is added to these
# so "answered within target" is an exact bucket, never an interpolation.
BASE_WAIT_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
QUEUE_LABELS = ("pbx", "queue", "language", "entry")
# Wait histograms are per queue, not per number: with ~15 buckets each, an `entry` label
# multiplied /metrics several times over (a 125 KiB page took 20 ms to render).
WAIT_LABELS = ("pbx", "queue", "language")
AGENT_LABELS = ("pbx", "agent", "site", "group")
TALK_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
OTHER = "other"
_DIGIT = re.compile(r"[0-9*#A-D]")


def agent_labels(config: Config) -> dict[str, tuple[str, str]]:
    """Member name -> (site, group), from the first group that lists the member."""
    out: dict[str, tuple[str, str]] = {}
    for gname, group in config.agent_groups.items():
        for member in group.members:
            out.setdefault(member.name, (group.site, gname))
    return out


def wait_buckets(config: Config) -> tuple[float, ...]:
    targets = {float(q.service_level_seconds) for q in config.queues.values()}
    return tuple(sorted(set(BASE_WAIT_BUCKETS) | targets))


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
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        self._handlers = self._change_handlers()
        self._configure(config)

        def counter(name: str, doc: str, labels: Sequence[str] = QUEUE_LABELS) -> Counter:
            return Counter(name, doc, labels, registry=r)

        def histogram(name: str, doc: str) -> Histogram:
            return Histogram(name, doc, WAIT_LABELS, buckets=wait_buckets(config), registry=r)

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
        self.abandoned_short = counter(
            "vaxeld_queue_calls_abandoned_short",
            "Abandons sooner than metrics.short_abandon_seconds (also in abandoned_total).",
        )
        self.sl_met = counter(
            "vaxeld_queue_service_level_met",
            "Answered within the queue's service_level_seconds (Asterisk's SL numerator).",
        )
        self.sl_calls = counter(
            "vaxeld_queue_service_level_calls",
            "Denominator of the service level, per metrics.service_level_formula.",
        )
        self.menu_choices = counter(
            "vaxeld_menu_choices",
            "Menu choices per digit (languages and direct queues).",
            ("pbx", "digit"),
        )
        self.menu_abandoned = counter(
            "vaxeld_menu_abandoned",
            "Callers who hung up in the language menu, before any queue.",
            ("pbx", "entry"),
        )
        self.agent_answered = counter(
            "vaxeld_agent_calls_answered", "Calls answered per agent.", AGENT_LABELS
        )
        self.agent_rna = counter(
            "vaxeld_agent_ring_no_answer",
            "Times an agent was rung and did not answer.",
            AGENT_LABELS,
        )
        self.agent_talk = Histogram(
            "vaxeld_agent_talk_seconds",
            "Talk time per answered call.",
            AGENT_LABELS,
            buckets=TALK_BUCKETS,
            registry=r,
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
        self._collector = SnapshotCollector(views, config, clock)
        self._today = ServiceLevelToday(config.timezone, self._languages)
        r.register(self._today)
        r.register(self._collector)

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config's queues and numbers as label values from now on.
        Histogram buckets stay as they were until the next restart."""
        self._configure(config)
        self._init_series(config)
        self._collector.configure(config)
        self._today._languages = self._languages

    def _configure(self, config: Config) -> None:
        self._languages = {name: q.language for name, q in config.queues.items()}
        self._entries = config.entries()
        self._sl = {name: q.service_level_seconds for name, q in config.queues.items()}
        self._short = config.metrics.short_abandon_seconds
        self._formula = config.metrics.service_level_formula
        self._agents = agent_labels(config)

    def service_level_today(self) -> dict[tuple[str, str], float]:
        return self._today.ratios()

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
                        self.abandoned_short,
                        self.unknown,
                        self.sl_met,
                        self.sl_calls,
                    ):
                        metric.labels(pbx.name, queue, lang, entry)
                self.menu_abandoned.labels(pbx.name, entry)
                for at in ("entry", *(q for q, c in config.queues.items() if c.schedule)):
                    for reason in ("hours", "holiday", "exception"):
                        self.closed.labels(pbx.name, entry, at, reason)
                for mode in ("announce", "announce_only"):
                    self.crisis.labels(pbx.name, entry, mode)
            for queue, q in config.queues.items():
                self.answer_wait.labels(pbx.name, queue, q.language)
                self.abandon_wait.labels(pbx.name, queue, q.language)
                for reason in ("timeout", "leaveempty"):
                    self.exited.labels(pbx.name, queue, q.language, config.entry.number, reason)
                if q.overflow is not None:
                    self.overflow_out.labels(pbx.name, queue, q.overflow.to)
                    self.overflow_in.labels(pbx.name, q.overflow.to, queue)
            for result in ("timeout", "invalid"):
                self.menu_failed.labels(pbx.name, result)
            for agent, (site, group) in self._agents.items():
                for per_agent in (self.agent_answered, self.agent_rna, self.agent_talk):
                    per_agent.labels(pbx.name, agent, site, group)

    def _entry(self, entry: str) -> str:
        return entry if entry in self._entries else (OTHER if entry else "unknown")

    def _q(self, pbx: str, queue: str, entry: str) -> tuple[str, str, str, str]:
        language = self._languages.get(queue, OTHER)
        return (pbx, queue if queue in self._languages else OTHER, language, self._entry(entry))

    @staticmethod
    def _digit(digit: str) -> str:
        return digit if _DIGIT.fullmatch(digit) else OTHER

    def _agent(self, pbx: str, member: str) -> tuple[str, str, str, str]:
        site, group = self._agents.get(member, (OTHER, OTHER))
        return (pbx, member if member in self._agents else OTHER, site, group)

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: labels() takes a lock and checks its
        arguments on every call, which measured half the cost of counting a change.
        Label values are bounded (unknown queues, numbers and agents become "other")."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def record(self, pbx: str, changes: Iterable[Change]) -> None:
        """Count what the reducer reported for ``pbx``."""
        handlers = self._handlers
        for ch in changes:
            handler = handlers.get(type(ch))
            if handler is not None:
                handler(pbx, ch)

    def _offered(self, pbx: str, ch: CallOffered) -> None:
        self._child(self.offered, *self._q(pbx, ch.queue, ch.entry)).inc()
        if ch.first:
            self._child(self.cc_offered, pbx, self._entry(ch.entry)).inc()

    def _answered(self, pbx: str, ch: CallAnswered) -> None:
        labels = self._q(pbx, ch.queue, ch.entry)
        self._child(self.answered, *labels).inc()
        self._child(self.answer_wait, *labels[:3]).observe(ch.wait_seconds)
        if ch.direct:
            self._child(self.answered_directly, *labels).inc()
        # Asterisk's rule: answered with HoldTime <= servicelevel.
        met = ch.wait_seconds <= self._sl.get(ch.queue, 0)
        if met:
            self._child(self.sl_met, *labels).inc()
        self._child(self.sl_calls, *labels).inc()
        self._today.add(pbx, ch.queue, met)
        self._child(self.agent_answered, *self._agent(pbx, ch.member)).inc()

    def _abandoned(self, pbx: str, ch: CallAbandoned) -> None:
        labels = self._q(pbx, ch.queue, ch.entry)
        self._child(self.abandoned, *labels).inc()
        self._child(self.abandon_wait, *labels[:3]).observe(ch.wait_seconds)
        short = ch.wait_seconds < self._short
        if short:
            self._child(self.abandoned_short, *labels).inc()
        if self._formula == "offered" or not short:
            self._child(self.sl_calls, *labels).inc()
            self._today.add(pbx, ch.queue, False)

    def _exited(self, pbx: str, ch: CallExited) -> None:
        labels = self._q(pbx, ch.queue, ch.entry)
        self._child(self.exited, *labels, ch.reason).inc()
        if self._formula == "offered":
            self._child(self.sl_calls, *labels).inc()
            self._today.add(pbx, ch.queue, False)

    def _completed(self, pbx: str, ch: CallCompleted) -> None:
        self._child(self.agent_talk, *self._agent(pbx, ch.member)).observe(ch.talk_seconds)

    def _ring_no_answer(self, pbx: str, ch: RingNoAnswer) -> None:
        self._child(self.agent_rna, *self._agent(pbx, ch.member)).inc()

    def _menu_abandoned(self, pbx: str, ch: MenuAbandoned) -> None:
        self._child(self.menu_abandoned, pbx, self._entry(ch.entry)).inc()

    def _unknown(self, pbx: str, ch: CallOutcomeUnknown) -> None:
        self._child(self.unknown, *self._q(pbx, ch.queue, ch.entry)).inc()

    def _overflowed(self, pbx: str, ch: CallOverflowed) -> None:
        src, dst = (self._q(pbx, q, "")[1] for q in (ch.from_queue, ch.to_queue))
        self._child(self.overflow_out, pbx, src, dst).inc()
        self._child(self.overflow_in, pbx, dst, src).inc()

    def _closed(self, pbx: str, ch: CallClosed) -> None:
        at = self._q(pbx, ch.queue, "")[1] if ch.queue else "entry"
        self._child(self.closed, pbx, self._entry(ch.entry), at, ch.reason or OTHER).inc()

    def _crisis(self, pbx: str, ch: CrisisAnnounced) -> None:
        self._child(self.crisis, pbx, self._entry(ch.entry), ch.mode or OTHER).inc()

    def _entered(self, pbx: str, ch: CallEntered) -> None:
        self._child(self.entered, pbx, self._entry(ch.entry)).inc()

    def _language(self, pbx: str, ch: LanguageChosen) -> None:
        self._child(self.language, pbx, ch.language, ch.reason or OTHER).inc()
        if ch.reason == "chosen":
            self._child(self.menu_choices, pbx, self._digit(ch.digit)).inc()

    def _menu_attempt(self, pbx: str, ch: MenuAttempt) -> None:
        if ch.result == "chosen":
            self._child(self.menu_choices, pbx, self._digit(ch.digit)).inc()
        else:
            self._child(self.menu_failed, pbx, ch.result or OTHER).inc()

    def _ignored(self, pbx: str, ch: EventIgnored) -> None:
        self._child(self.ignored, pbx, ch.event).inc()

    def _change_handlers(self) -> dict[type[Change], Callable[[str, Any], None]]:
        return {
            CallOffered: self._offered,
            CallAnswered: self._answered,
            CallAbandoned: self._abandoned,
            CallExited: self._exited,
            CallCompleted: self._completed,
            RingNoAnswer: self._ring_no_answer,
            MenuAbandoned: self._menu_abandoned,
            CallOutcomeUnknown: self._unknown,
            CallOverflowed: self._overflowed,
            CallClosed: self._closed,
            CrisisAnnounced: self._crisis,
            CallEntered: self._entered,
            LanguageChosen: self._language,
            MenuAttempt: self._menu_attempt,
            EventIgnored: self._ignored,
        }


__all__ = ["Metrics", "PbxView", "wait_buckets"]
