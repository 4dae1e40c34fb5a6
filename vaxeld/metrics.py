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

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from vaxeld.config import Config
from vaxeld.metrics_families import MetricFamilies, wait_buckets
from vaxeld.metrics_live import OTHER, PbxView, ServiceLevelToday, SnapshotCollector
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

_DIGIT = re.compile(r"[0-9*#A-D]")


class Metrics(MetricFamilies):
    """All of vaxeld's metrics in one registry: changes counted into the families, and
    the gauges read from snapshots at scrape time."""

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
        super().__init__(config, r)
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

    def service_level_today(self) -> dict[tuple[str, str], float]:
        return self._today.ratios()

    def following(self, pbx: str) -> None:
        """``pbx`` is followed from now on without its day so far (no queue_log)."""
        self._today.started(pbx)

    def reload_result(self, ok: bool) -> None:
        self.reloads.labels("success" if ok else "failure").inc()
        self.reload_ok.set(1 if ok else 0)

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
        met = bool(self._service_level(ch))
        if met:
            self._child(self.sl_met, *labels).inc()
        self._child(self.sl_calls, *labels).inc()
        self._today.add(pbx, ch.queue, met)
        self._child(self.agent_answered, *self._agent(pbx, ch.member)).inc()

    def _abandoned(self, pbx: str, ch: CallAbandoned) -> None:
        labels = self._q(pbx, ch.queue, ch.entry)
        self._child(self.abandoned, *labels).inc()
        self._child(self.abandon_wait, *labels[:3]).observe(ch.wait_seconds)
        if ch.wait_seconds < self._short:
            self._child(self.abandoned_short, *labels).inc()
        if self._service_level(ch) is not None:
            self._child(self.sl_calls, *labels).inc()
            self._today.add(pbx, ch.queue, False)

    def _exited(self, pbx: str, ch: CallExited) -> None:
        labels = self._q(pbx, ch.queue, ch.entry)
        self._child(self.exited, *labels, ch.reason).inc()
        if self._service_level(ch) is not None:
            self._child(self.sl_calls, *labels).inc()
            self._today.add(pbx, ch.queue, False)

    def _service_level(self, ch: CallAnswered | CallAbandoned | CallExited) -> bool | None:
        """Whether a call that left a queue met the service level; None when the formula
        leaves it out. Asterisk's rule: answered with HoldTime <= servicelevel."""
        if isinstance(ch, CallAnswered):
            return ch.wait_seconds <= self._sl.get(ch.queue, 0)
        if self._formula == "offered":
            return False
        return False if isinstance(ch, CallAbandoned) and ch.wait_seconds >= self._short else None

    def seed_service_level_today(self, pbx: str, changes: Iterable[Change], since: float) -> None:
        """Today's service level for ``pbx`` from earlier outcomes (queue_log's day so far)
        instead of what was counted; ``since`` is when they begin. Counters are untouched."""
        outcomes = []
        for ch in changes:
            if isinstance(ch, CallAnswered | CallAbandoned | CallExited):
                met = self._service_level(ch)
                if met is not None:
                    outcomes.append((ch.queue, met))
        self._today.seed(pbx, outcomes, since)

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
