"""Gauges computed at scrape time from the latest snapshot of each PBX: callers
waiting, longest wait, members and agents by state, AMI health, polled facts;
and today's service level per queue."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld.ami.session import SessionStats
from vaxeld.calendar import local_midnight
from vaxeld.config import Config
from vaxeld.state.model import (
    DEVICE_BUSY,
    DEVICE_INUSE,
    DEVICE_RINGING,
    Member,
    SwitchboardState,
)

OTHER = "other"
AGENT_STATES = ("available", "busy", "paused", "unavailable", "logged_out")
BUSY_STATES = frozenset({DEVICE_INUSE, DEVICE_BUSY, DEVICE_RINGING, 7, 8})  # + ringinuse, onhold


def agent_state_of(memberships: list[Member]) -> str:
    """One agent's state across the queues they are a member of."""
    if not memberships:
        return "logged_out"
    if any(m.paused for m in memberships):
        return "paused"
    if not any(m.reachable for m in memberships):
        return "unavailable"
    if any(m.in_call or m.status in BUSY_STATES for m in memberships):
        return "busy"
    return "available"


@dataclass(frozen=True)
class PbxView:
    """What a scrape needs of one PBX: its latest snapshot, session stats, polled facts."""

    name: str
    state: SwitchboardState
    stats: SessionStats
    polled: dict[str, float] = field(default_factory=dict)  # crisis, calendar end


class SnapshotCollector(Collector):
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
        self._sl = {name: q.service_level_seconds for name, q in config.queues.items()}
        self._agents: dict[str, tuple[str, str]] = {}
        for gname, group in config.agent_groups.items():
            for member in group.members:
                self._agents.setdefault(member.name, (group.site, gname))

    def _agent_states(self, state: SwitchboardState) -> dict[str, str]:
        """Configured agent name -> one state across all their queues."""
        by_name = state.members_by_name()
        return {agent: agent_state_of(by_name.get(agent, [])) for agent in self._agents}

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
        sl_target = gauge(
            "vaxeld_queue_service_level_target_seconds",
            "The queue's service-level target (answer within).",
            ["queue"],
        )
        for queue, seconds in self._sl.items():
            sl_target.add_metric([queue], float(seconds))
        agent_state = gauge(
            "vaxeld_agent_state",
            "1 for the agent's current state: available, busy, paused, unavailable or logged_out.",
            ["pbx", "agent", "site", "group", "state"],
        )
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
            "reads": count("vaxeld_ami_reads", "Socket reads on the AMI connection."),
            "bytes_received": count("vaxeld_ami_received_bytes", "Bytes read from AMI."),
            "decode_errors": count(
                "vaxeld_ami_decode_errors", "Malformed or oversize AMI frames dropped."
            ),
            "handler_errors": count("vaxeld_ami_handler_errors", "Events whose handling failed."),
            "auth_failures": count("vaxeld_ami_login_failures", "AMI logins refused."),
        }
        for view in self._views():
            state, pbx = view.state, view.name
            waiting_by_queue, members_by_queue = state.waiting_by_queue(), state.members_by_queue()
            for queue in sorted(set(self._languages) | state.queues_seen()):
                labels = [pbx, queue, self._languages.get(queue, OTHER)]
                calls = waiting_by_queue.get(queue, [])
                by_entry: dict[str, int] = dict.fromkeys(self._entries, 0)
                for c in calls:
                    key = c.entry if c.entry in self._entries else "unknown"
                    by_entry[key] = by_entry.get(key, 0) + 1
                for entry, n in by_entry.items():
                    waiting.add_metric([*labels, entry], n)
                waits = [now - c.joined_at for c in calls if c.joined_at is not None]
                longest.add_metric(labels, max(waits, default=0.0))
                per_site: dict[str, list[int]] = {}
                for m in members_by_queue.get(queue, []):
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
            for agent, current in self._agent_states(state).items():
                site, group = self._agents[agent]
                for name in AGENT_STATES:
                    agent_state.add_metric(
                        [pbx, agent, site, group, name], 1.0 if name == current else 0.0
                    )
        yield from (
            waiting,
            longest,
            sl_target,
            agent_state,
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


class ServiceLevelToday(Collector):
    """Service level since local midnight, per queue (for wallboards and Grafana's "today").

    Starts from zero at midnight in the config's time zone. A vaxeld that starts during
    the day is seeded with the day so far from queue_log (``seed``); without one, the
    day starts when vaxeld does, and ``..._since_timestamp_seconds`` says from when."""

    def __init__(
        self, tz: str, languages: dict[str, str], clock: Callable[[], float] = time.time
    ) -> None:
        self._tz_name, self._languages, self._clock = tz, languages, clock
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
            family.add_metric([pbx, queue, self._languages.get(queue, OTHER)], ratio)
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
