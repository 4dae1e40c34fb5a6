"""Gauges computed at scrape time from the latest view of each PBX: callers waiting,
longest wait, members and agents by state, AMI health, polled facts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld.metrics.labels import OTHER, LabelRules
from vaxeld.state.model import Phase, SwitchboardState
from vaxeld.state.view import AGENT_STATES, PbxView, agent_state_of

# In a queue with no outcome yet (leaving: abandon or timeout, Queue() says which soon).
IN_QUEUE = frozenset({Phase.WAITING, Phase.LEAVING, Phase.LEFT})


class SnapshotCollector(Collector):
    """Gauges read from the latest snapshots at scrape time."""

    def __init__(
        self,
        views: Callable[[], Sequence[PbxView]],
        labels: LabelRules,
        clock: Callable[[], float],
        tally: Mapping[tuple[str, str], list[int]] | None = None,
    ) -> None:
        self._views, self.labels, self._clock = views, labels, clock
        self._tally = tally if tally is not None else {}

    def _agent_states(self, state: SwitchboardState) -> dict[str, str]:
        """Configured agent name -> one state across all their queues."""
        by_name = state.members_by_name()
        return {agent: agent_state_of(by_name.get(agent, [])) for agent in self.labels.agents}

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        rules = self.labels
        ql = ["pbx", "queue", "language"]

        def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        def count(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=["pbx"])

        waiting = gauge("vaxeld_queue_calls_waiting", "Callers waiting now.", [*ql, "entry"])
        unaccounted = gauge(
            "vaxeld_queue_calls_unaccounted",
            "Callers in (offered + carried in) minus callers out (answered, abandoned, "
            "exited, outcome unknown) minus callers in the queue now: 0 when every caller "
            "is accounted for; anything else is a breach to look into.",
            ["pbx", "queue"],
        )
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
        for number, label in rules.entries.items():
            entry_info.add_metric([number, label], 1.0)
        sl_target = gauge(
            "vaxeld_queue_service_level_target_seconds",
            "The queue's service-level target (answer within).",
            ["queue"],
        )
        for queue, seconds in rules.service_levels.items():
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
        repeat_known = gauge(
            "vaxeld_repeat_callers_known_seconds",
            "How far back vaxeld knows callers' calls (at most repeat_callers.window_days): "
            "below the window, a repeat caller whose first call was earlier is not counted "
            "one. Absent when repeat callers are not followed (no caller key).",
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
            present: dict[str, int] = {}  # callers in a queue, outcome not yet known
            for c in state.calls.values():
                if c.phase in IN_QUEUE:
                    key = rules.queue(c.queue)
                    present[key] = present.get(key, 0) + 1
            for (tally_pbx, queue), (inward, outward) in self._tally.items():
                if tally_pbx == pbx:
                    unaccounted.add_metric([pbx, queue], inward - outward - present.get(queue, 0))
            # Queues the config does not know are one "other" series, whatever AMI says.
            waiting_by_queue = rules.by_queue_label(state.waiting_by_queue())
            members_by_queue = rules.by_queue_label(state.members_by_queue())
            for queue in sorted({*rules.languages, *waiting_by_queue, *members_by_queue}):
                labels = [pbx, queue, rules.languages.get(queue, OTHER)]
                calls = waiting_by_queue.get(queue, [])
                by_entry: dict[str, int] = dict.fromkeys(rules.entries, 0)
                for c in calls:
                    key = c.entry if c.entry in rules.entries else "unknown"
                    by_entry[key] = by_entry.get(key, 0) + 1
                for entry, n in by_entry.items():
                    waiting.add_metric([*labels, entry], n)
                waits = [now - c.joined_at for c in calls if c.joined_at is not None]
                longest.add_metric(labels, max(waits, default=0.0))
                per_site: dict[str, list[int]] = {}
                for m in members_by_queue.get(queue, []):
                    site = rules.sites.get((m.queue, m.interface), "unknown")
                    row = per_site.setdefault(site, [0, 0, 0])
                    row[0] += 1
                    row[1] += m.available
                    row[2] += m.paused
                for site, (n_in, n_free, n_paused) in sorted(per_site.items()):
                    members["logged_in"].add_metric([*labels, site], n_in)
                    members["available"].add_metric([*labels, site], n_free)
                    members["paused"].add_metric([*labels, site], n_paused)
            link = view.link
            connected.add_metric([pbx], 1.0 if link.connected else 0.0)
            synced.add_metric([pbx], 1.0 if state.synced and link.connected else 0.0)
            if view.crisis_active is not None:
                crisis.add_metric([pbx], 1.0 if view.crisis_active else 0.0)
            if view.calendar_end is not None:
                calendar.add_metric([pbx], view.calendar_end)
            recovered.add_metric([pbx], view.recovered)
            duplicates.add_metric([pbx], view.duplicates)
            log_configured.add_metric([pbx], 1.0 if view.queue_log_configured else 0.0)
            if view.repeat_known_seconds is not None:
                repeat_known.add_metric([pbx], view.repeat_known_seconds)
            outage.add_metric([pbx], link.outage_until(now))
            if link.last_event_at:
                last_event.add_metric([pbx], link.last_event_at)
            for attr, family in stats_metrics.items():
                family.add_metric([pbx], getattr(link, attr))
            for agent, current in self._agent_states(state).items():
                site, group = rules.agents[agent]
                for name in AGENT_STATES:
                    agent_state.add_metric(
                        [pbx, agent, site, group, name], 1.0 if name == current else 0.0
                    )
        yield from (
            waiting,
            unaccounted,
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
            repeat_known,
            outage,
            last_event,
            *stats_metrics.values(),
        )
