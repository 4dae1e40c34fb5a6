"""vaxeld's Prometheus families: names, help texts, labels and buckets, with every
bounded series created at zero so rate() and dashboards see them at once.

vaxeld.metrics.counting counts the reducer's changes into them; every label value
comes from vaxeld.metrics.labels.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from vaxeld import __version__
from vaxeld.config import Config
from vaxeld.metrics.labels import LabelRules

# Wait buckets in seconds; every queue's service-level target is added to these
# so "answered within target" is an exact bucket, never an interpolation.
BASE_WAIT_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
QUEUE_LABELS = ("pbx", "queue", "language", "entry")
# Wait histograms are per queue, not per number: with ~15 buckets each, an `entry` label
# multiplied /metrics several times over (a 125 KiB page took 20 ms to render).
WAIT_LABELS = ("pbx", "queue", "language")
AGENT_LABELS = ("pbx", "agent", "site", "group")
TALK_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


def wait_buckets(config: Config) -> tuple[float, ...]:
    targets = {float(q.service_level_seconds) for q in config.queues.values()}
    return tuple(sorted(set(BASE_WAIT_BUCKETS) | targets))


class MetricFamilies:
    """Every counter, histogram and gauge fed from changes, in one registry."""

    def __init__(self, config: Config, labels: LabelRules, registry: CollectorRegistry) -> None:
        r = registry

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
        self.carried_in = counter(
            "vaxeld_queue_calls_carried_in",
            "Callers already waiting when vaxeld (re)connected whose joining it never heard "
            "of (offered before it could count them); kept apart from offered.",
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
        self.transfers = counter(
            "vaxeld_queue_transfers",
            "Answered callers an agent transferred, by kind: inside (to one of the centre's "
            "queues or agents), out (department = the config's name, or other), unknown "
            "(an attended transfer whose target no source named).",
            ("pbx", "queue", "kind", "department"),
        )
        self.transfers_not_logged = counter(
            "vaxeld_queue_transfers_not_logged",
            "Transfers Asterisk reported over AMI that queue_log ended as COMPLETEAGENT or "
            "COMPLETECALLER instead (app_queue misses an attended transfer when the agent's "
            "channel is gone before it looks): history reports from queue_log count these "
            "calls as ended, not transferred; live counters count the transfer.",
            ("pbx", "queue"),
        )
        self.cc_answered = counter(
            "vaxeld_calls_answered",
            "Callers the centre answered: counted once, at their first answer.",
            ("pbx", "entry"),
        )
        self.cc_unresolved = counter(
            "vaxeld_calls_not_resolved",
            "Answered callers not resolved in the centre: counted once, at their first "
            "transfer out (kind out) or to a target not known (kind unknown). Resolved in the "
            "centre = vaxeld_calls_answered - this.",
            ("pbx", "entry", "kind"),
        )
        self.repeats = counter(
            "vaxeld_queue_repeat_calls",
            "Callers whose number (by its keyed hash) called within repeat_callers.window_days "
            "before: kind repeat, or callback when within callback_minutes (a call back "
            "after a drop). Counted at the caller's first queue.",
            (*QUEUE_LABELS, "kind"),
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
        self.not_followed = counter(
            "vaxeld_calls_not_followed",
            "Callers not followed live because the PBX already had the most live calls "
            "vaxeld follows (a flood); queue_log, if configured, still counts them.",
            ("pbx",),
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
        self.init_series(config, labels)

    def init_series(self, config: Config, labels: LabelRules) -> None:
        """Create every bounded series at zero, so rate() and dashboards see them at once."""
        for pbx in config.pbxs:
            for entry in labels.entries:
                self.entered.labels(pbx.name, entry)
                self.cc_offered.labels(pbx.name, entry)
                for queue, lang in labels.languages.items():
                    for metric in (
                        self.offered,
                        self.answered,
                        self.answered_directly,
                        self.abandoned,
                        self.abandoned_short,
                        self.unknown,
                        self.carried_in,
                        self.sl_met,
                        self.sl_calls,
                    ):
                        metric.labels(pbx.name, queue, lang, entry)
                self.menu_abandoned.labels(pbx.name, entry)
                for at in ("entry", *labels.scheduled_queues):
                    for reason in ("hours", "holiday", "exception"):
                        self.closed.labels(pbx.name, entry, at, reason)
                for mode in ("announce", "announce_only"):
                    self.crisis.labels(pbx.name, entry, mode)
            for queue, lang in labels.languages.items():
                self.answer_wait.labels(pbx.name, queue, lang)
                self.abandon_wait.labels(pbx.name, queue, lang)
                for reason in ("timeout", "leaveempty"):
                    self.exited.labels(pbx.name, queue, lang, config.entry.number, reason)
                self.cc_answered.labels(pbx.name, entry)
                for kind in ("out", "unknown"):
                    self.cc_unresolved.labels(pbx.name, entry, kind)
                for queue, lang in labels.languages.items():
                    for kind in ("repeat", "callback"):
                        self.repeats.labels(pbx.name, queue, lang, entry, kind)
            for queue in labels.languages:
                self.transfers_not_logged.labels(pbx.name, queue)
                self.transfers.labels(pbx.name, queue, "inside", "centre")
                self.transfers.labels(pbx.name, queue, "unknown", "unknown")
                for department in (*sorted(labels.departments), "other"):
                    self.transfers.labels(pbx.name, queue, "out", department)
            for queue, to in labels.overflows:
                self.overflow_out.labels(pbx.name, queue, to)
                self.overflow_in.labels(pbx.name, to, queue)
            for result in ("timeout", "invalid"):
                self.menu_failed.labels(pbx.name, result)
            self.not_followed.labels(pbx.name)
            for agent, (site, group) in labels.agents.items():
                for per_agent in (self.agent_answered, self.agent_rna, self.agent_talk):
                    per_agent.labels(pbx.name, agent, site, group)
