"""Count the reducer's changes into the metric families: one change, one increment,
which is what keeps the counters equal to queue_log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import Counter, Histogram

from vaxeld.metrics.families import MetricFamilies
from vaxeld.metrics.labels import (
    CLOSED_REASONS,
    CRISIS_MODES,
    EXIT_REASONS,
    LANGUAGE_REASONS,
    MENU_RESULTS,
    LabelRules,
)
from vaxeld.planning.recent import RecentLoad
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallCarriedIn,
    CallClosed,
    CallCompleted,
    CallEntered,
    CallExited,
    CallNotFollowed,
    CallOffered,
    CallOutcomeUnknown,
    CallOverflowed,
    CallRepeated,
    CallTransferred,
    Change,
    CrisisAnnounced,
    EventIgnored,
    LanguageChosen,
    MenuAbandoned,
    MenuAttempt,
    RingNoAnswer,
    TransferNotLogged,
)
from vaxeld.state.reducer import HANDLED_EVENTS
from vaxeld.state.repeats import CALLBACK, REPEAT
from vaxeld.state.service_level import ServiceLevelRule
from vaxeld.state.today import TodayCounts
from vaxeld.state.transfers import KINDS

TRANSFER_KINDS, REPEAT_KINDS = frozenset(KINDS), frozenset({REPEAT, CALLBACK})


class ChangeCounter:
    def __init__(
        self,
        families: MetricFamilies,
        labels: LabelRules,
        rule: ServiceLevelRule,
        today: TodayCounts,
        recent: RecentLoad | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.f, self.labels, self.rule, self.today = families, labels, rule, today
        # The last half hour per queue, for the agents needed now.
        self.recent, self._clock = recent or RecentLoad(), clock
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        # Per (pbx, queue): callers in (offered + carried in) and out (every outcome),
        # for the conservation check at scrape time.
        self.tally: dict[tuple[str, str], list[int]] = {}
        self._handlers = self._change_handlers()

    def reconfigure(self, labels: LabelRules, rule: ServiceLevelRule) -> None:
        self.labels, self.rule = labels, rule

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

    def _count(self, pbx: str, queue: str, inward: bool) -> None:
        row = self.tally.get((pbx, queue))
        if row is None:
            row = self.tally[(pbx, queue)] = [0, 0]
        row[0 if inward else 1] += 1

    def _offered(self, pbx: str, ch: CallOffered) -> None:
        labels = self.labels.queue_labels(pbx, ch.queue, ch.entry)
        self._child(self.f.offered, *labels).inc()
        self._count(pbx, labels[1], inward=True)
        self.recent.arrived(pbx, labels[1], self._clock())
        if ch.first:
            self._child(self.f.cc_offered, pbx, self.labels.entry(ch.entry)).inc()

    def _answered(self, pbx: str, ch: CallAnswered) -> None:
        f = self.f
        labels = self.labels.queue_labels(pbx, ch.queue, ch.entry)
        self._child(f.answered, *labels).inc()
        self._count(pbx, labels[1], inward=False)
        self._child(f.answer_wait, *labels[:3]).observe(ch.wait_seconds)
        self.recent.waited(pbx, labels[1], ch.wait_seconds, False, self._clock())
        if ch.direct:
            self._child(f.answered_directly, *labels).inc()
        met = bool(self.rule.met(ch))
        if met:
            self._child(f.sl_met, *labels).inc()
        self._child(f.sl_calls, *labels).inc()
        self.today.add(pbx, labels[1], met, "answered", ch.direct)
        self._child(f.agent_answered, *self.labels.agent_labels(pbx, ch.member)).inc()
        if ch.first_answer:
            self._child(f.cc_answered, pbx, labels[3]).inc()

    def _transferred(self, pbx: str, ch: CallTransferred) -> None:
        labels = self.labels
        department = labels.department(ch.kind, ch.where)
        kind = LabelRules.one_of(ch.kind, TRANSFER_KINDS)
        self._child(self.f.transfers, pbx, labels.queue(ch.queue), kind, department).inc()
        if ch.first_unresolved:
            self._child(self.f.cc_unresolved, pbx, labels.entry(ch.entry), kind).inc()

    def _not_logged(self, pbx: str, ch: TransferNotLogged) -> None:
        self._child(self.f.transfers_not_logged, pbx, self.labels.queue(ch.queue)).inc()

    def _repeated(self, pbx: str, ch: CallRepeated) -> None:
        labels = self.labels.queue_labels(pbx, ch.queue, ch.entry)
        self._child(self.f.repeats, *labels, LabelRules.one_of(ch.kind, REPEAT_KINDS)).inc()

    def _abandoned(self, pbx: str, ch: CallAbandoned) -> None:
        f = self.f
        labels = self.labels.queue_labels(pbx, ch.queue, ch.entry)
        self._child(f.abandoned, *labels).inc()
        self._count(pbx, labels[1], inward=False)
        self._child(f.abandon_wait, *labels[:3]).observe(ch.wait_seconds)
        self.recent.waited(pbx, labels[1], ch.wait_seconds, True, self._clock())
        if ch.wait_seconds < self.rule.short_abandon_seconds:
            self._child(f.abandoned_short, *labels).inc()
        met = self.rule.met(ch)
        if met is not None:
            self._child(f.sl_calls, *labels).inc()
        self.today.add(pbx, labels[1], met, "abandoned")

    def _exited(self, pbx: str, ch: CallExited) -> None:
        labels = self.labels.queue_labels(pbx, ch.queue, ch.entry)
        self._child(self.f.exited, *labels, LabelRules.one_of(ch.reason, EXIT_REASONS)).inc()
        self._count(pbx, labels[1], inward=False)
        self.recent.waited(pbx, labels[1], ch.wait_seconds, False, self._clock())
        met = self.rule.met(ch)
        if met is not None:
            self._child(self.f.sl_calls, *labels).inc()
        self.today.add(pbx, labels[1], met, "exited")

    def _completed(self, pbx: str, ch: CallCompleted) -> None:
        agent = self.labels.agent_labels(pbx, ch.member)
        self._child(self.f.agent_talk, *agent).observe(ch.talk_seconds)
        self.recent.handled(pbx, self.labels.queue(ch.queue), ch.talk_seconds, self._clock())

    def _ring_no_answer(self, pbx: str, ch: RingNoAnswer) -> None:
        self._child(self.f.agent_rna, *self.labels.agent_labels(pbx, ch.member)).inc()

    def _menu_abandoned(self, pbx: str, ch: MenuAbandoned) -> None:
        self._child(self.f.menu_abandoned, pbx, self.labels.entry(ch.entry)).inc()

    def _unknown(self, pbx: str, ch: CallOutcomeUnknown) -> None:
        labels = self.labels.queue_labels(pbx, ch.queue, ch.entry)
        self._child(self.f.unknown, *labels).inc()
        self._count(pbx, labels[1], inward=False)

    def _carried_in(self, pbx: str, ch: CallCarriedIn) -> None:
        labels = self.labels.queue_labels(pbx, ch.queue, ch.entry)
        self._child(self.f.carried_in, *labels).inc()
        self._count(pbx, labels[1], inward=True)

    def _overflowed(self, pbx: str, ch: CallOverflowed) -> None:
        src, dst = self.labels.queue(ch.from_queue), self.labels.queue(ch.to_queue)
        self._child(self.f.overflow_out, pbx, src, dst).inc()
        self._child(self.f.overflow_in, pbx, dst, src).inc()

    def _closed(self, pbx: str, ch: CallClosed) -> None:
        at = self.labels.queue(ch.queue) if ch.queue else "entry"
        entry = self.labels.entry(ch.entry)
        self._child(
            self.f.closed, pbx, entry, at, LabelRules.one_of(ch.reason, CLOSED_REASONS)
        ).inc()

    def _crisis(self, pbx: str, ch: CrisisAnnounced) -> None:
        entry = self.labels.entry(ch.entry)
        self._child(self.f.crisis, pbx, entry, LabelRules.one_of(ch.mode, CRISIS_MODES)).inc()

    def _entered(self, pbx: str, ch: CallEntered) -> None:
        self._child(self.f.entered, pbx, self.labels.entry(ch.entry)).inc()

    def _language(self, pbx: str, ch: LanguageChosen) -> None:
        language = self.labels.language(ch.language)
        reason = LabelRules.one_of(ch.reason, LANGUAGE_REASONS)
        self._child(self.f.language, pbx, language, reason).inc()
        if ch.reason == "chosen":
            self._child(self.f.menu_choices, pbx, self.labels.digit(ch.digit)).inc()

    def _menu_attempt(self, pbx: str, ch: MenuAttempt) -> None:
        if ch.result == "chosen":
            self._child(self.f.menu_choices, pbx, self.labels.digit(ch.digit)).inc()
        else:
            self._child(self.f.menu_failed, pbx, LabelRules.one_of(ch.result, MENU_RESULTS)).inc()

    def _not_followed(self, pbx: str, ch: CallNotFollowed) -> None:
        self._child(self.f.not_followed, pbx).inc()

    def _ignored(self, pbx: str, ch: EventIgnored) -> None:
        self._child(self.f.ignored, pbx, LabelRules.one_of(ch.event, HANDLED_EVENTS)).inc()

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
            CallNotFollowed: self._not_followed,
            CallCarriedIn: self._carried_in,
            CallTransferred: self._transferred,
            TransferNotLogged: self._not_logged,
            CallRepeated: self._repeated,
        }
