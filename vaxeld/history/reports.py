"""Reports as queries over the call records: the figures of vaxeld.report.model for a
period, grouped by queue, language, entry number, site or agent.

The rules are the live counters' rules (vaxeld.state.service_level for the service
level, "answered directly" = answered in the caller's first queue), so a report for a
span equals what the live counters counted in it. Periods are in local time; a record
belongs to the period in which the caller entered the queue (or, for the centre's
figures, called).
"""

from __future__ import annotations

import time
from typing import Any

from vaxeld.config import Config
from vaxeld.history.store import OUTCOME_OF_VISIT, HistoryStore
from vaxeld.report.model import ABANDON_BUCKETS, Report, Row
from vaxeld.report.periods import Period
from vaxeld.report.presence import MEMBER_EVENTS, MemberLine, Presence, presence
from vaxeld.state.transfers import TransferRules

OUTCOME = OUTCOME_OF_VISIT
WAIT = "coalesce(v.hold, v.waited)"
BUCKET = {
    "15m": "time_bucket(interval '15 minutes', {t})",
    "30m": "time_bucket(interval '30 minutes', {t})",
    "60m": "date_trunc('hour', {t})",
    "day": "date_trunc('day', {t})",
    "week": "date_trunc('week', {t})",
    "month": "date_trunc('month', {t})",
}
GROUP_KEY = {
    "queue": "v.queue",
    "language": "coalesce(q.language, 'other')",
    "entry": "coalesce(c.entry, 'unknown')",
    "site": "coalesce(a.site, case when v.outcome = 'CONNECT' then 'other' else 'unanswered' end)",
    "agent": "coalesce(v.agent, 'unanswered')",
}


def _local(column: str, tz: str) -> str:
    return f"timezone('{tz}', to_timestamp({column}))"


def _queue_figures(short: float, formula: str) -> str:
    denominator = (
        "count(*) filter (where o in ('answered', 'abandoned', 'timeout', 'leaveempty'))"
        if formula == "offered"
        else f"count(*) filter (where o = 'answered' or (o = 'abandoned' and w >= {short}))"
    )
    return f"""
        count(*) as offered,
        count(*) filter (where o = 'answered') as answered,
        count(*) filter (where o = 'answered' and w <= target) as sl_met,
        {denominator} as sl_calls,
        count(*) filter (where o = 'answered' and direct) as answered_directly,
        count(*) filter (where o = 'abandoned') as abandoned,
        count(*) filter (where o = 'abandoned' and w < {short}) as abandoned_short,
        count(*) filter (where o = 'timeout') as timed_out,
        count(*) filter (where o = 'leaveempty') as left_empty,
        count(*) filter (where o = 'unknown') as unknown,
        count(*) filter (where xfer like 'inside:%') as transferred_inside,
        count(*) filter (where xfer like 'out:%') as transferred_out,
        count(*) filter (where xfer like 'unknown:%') as transfer_unknown,
        count(*) filter (where first_answer) as answered_callers,
        count(*) filter (where first_answer and not unresolved) as resolved,
        count(*) filter (where direct and fcr_known) as first_contact_callers,
        count(*) filter (where direct and fcr_known and fcr_ok) as first_contact_resolved,
        count(*) filter (where direct and repeat_kind = 'repeat') as repeat_calls,
        count(*) filter (where direct and repeat_kind = 'callback') as callbacks,
        avg(w) filter (where o = 'answered') as wait_avg,
        quantile_cont(w, 0.5) filter (where o = 'answered') as wait_p50,
        quantile_cont(w, 0.9) filter (where o = 'answered') as wait_p90,
        max(w) as wait_max"""


_QUEUE_FIELDS = (
    "offered",
    "answered",
    "sl_met",
    "sl_calls",
    "answered_directly",
    "abandoned",
    "abandoned_short",
    "timed_out",
    "left_empty",
    "unknown",
    "transferred_inside",
    "transferred_out",
    "transfer_unknown",
    "answered_callers",
    "resolved",
    "first_contact_callers",
    "first_contact_resolved",
    "repeat_calls",
    "callbacks",
    "wait_avg",
    "wait_p50",
    "wait_p90",
    "wait_max",
)


def _row(values: tuple[Any, ...]) -> Row:
    row: Row = {
        name: (None if v is None else float(v))
        for name, v in zip(_QUEUE_FIELDS, values, strict=True)
    }
    calls, met, answered = row["sl_calls"], row["sl_met"], row["answered"]
    row["service_level"] = met / calls if calls and met is not None else None
    direct = row["answered_directly"]
    row["answered_directly_share"] = direct / answered if answered and direct is not None else None
    callers, resolved = row["answered_callers"], row["resolved"]
    row["resolved_share"] = resolved / callers if callers and resolved is not None else None
    known, first = row["first_contact_callers"], row["first_contact_resolved"]
    row["first_contact_share"] = first / known if known and first is not None else None
    return row


class ReportQueries:
    def __init__(self, store: HistoryStore, config: Config) -> None:
        self.store, self.config = store, config
        self.tz = config.timezone
        self.short = config.metrics.short_abandon_seconds
        self.formula = config.metrics.service_level_formula
        self.transfers = TransferRules.from_config(config)

    def _visits(self, period: Period) -> str:
        """Visits of the period with what they are grouped and judged by: the class of
        their transfer, whether their caller was passed out of the centre, and whether
        the caller's number called before or again within the repeat window."""
        start, end = period.start_epoch, period.end_epoch
        window = self.config.repeat_callers.window_days * 86400
        callback = self.config.repeat_callers.callback_minutes * 60
        (known,) = self.store.query("select coalesce(max(time), 0) from lines")
        known_until = int(known[0])
        xfer = self.transfers.sql("x.transfer_target")
        return f"""
            with per_caller as (
                select x.pbx, x.ck,
                    bool_or(({xfer}) like 'out:%' or ({xfer}) like 'unknown:%')
                        filter (where x.transfer_how is not null) as unresolved,
                    min(x.enter_seq) filter (where x.outcome = 'CONNECT') as first_answer_seq
                from visits x semi join (select pbx, ck from visits
                    where entered >= {start} and entered < {end}) p
                    on p.pbx = x.pbx and p.ck = x.ck
                group by x.pbx, x.ck),
            rc as (
                select c.pbx, c.ck, f.entered as at,
                    lag(f.entered) over w as prev_at, lead(f.entered) over w as next_at
                from calls c join visits f
                    on f.pbx = c.pbx and f.ck = c.ck and f.enter_seq = c.first_enter
                where c.caller is not null and f.entered >= {start - window}
                    and f.entered < {end + window}
                window w as (partition by c.caller order by f.entered, c.ck))
            select v.*, {OUTCOME} as o, {WAIT} as w,
                coalesce(q.target, 0) as target, q.language as qlanguage,
                v.enter_seq = c.first_enter as direct, c.entry,
                {GROUP_KEY["language"]} as language_key,
                {GROUP_KEY["site"]} as site_key,
                case when v.transfer_how is not null
                    then {self.transfers.sql("v.transfer_target")} end as xfer,
                coalesce(u.unresolved, false) as unresolved,
                v.outcome = 'CONNECT' and v.enter_seq = u.first_answer_seq as first_answer,
                r.at is not null and r.at + {window} <= {known_until} as fcr_known,
                r.next_at is null or r.next_at - r.at > {window} as fcr_ok,
                case when r.prev_at is null or r.at - r.prev_at > {window} then null
                    when r.at - r.prev_at <= {callback} then 'callback'
                    else 'repeat' end as repeat_kind
            from visits v
            left join calls c on c.pbx = v.pbx and c.ck = v.ck
            left join queue_info q on q.queue = v.queue
            left join agent_info a on a.agent = v.agent
            left join per_caller u on u.pbx = v.pbx and u.ck = v.ck
            left join rc r on r.pbx = v.pbx and r.ck = v.ck
            where v.entered >= {start} and v.entered < {end}"""

    def build(
        self,
        period: Period,
        group_by: str,
        granularity: str,
        title: str,
        now: float | None = None,
    ) -> Report:
        """The report of ``period``; ``now`` (default: the clock) ends the time of agents
        still logged in or paused when the period has not ended yet."""
        config = self.config
        queues = [(n, q.language, q.service_level_seconds) for n, q in config.queues.items()]
        agents = [
            (m.name, g.site, gname) for gname, g in config.agent_groups.items() for m in g.members
        ]
        targets = sorted({q.service_level_seconds for q in config.queues.values()})
        report = Report(
            title=title,
            period=period,
            group_by=group_by,
            granularity=granularity,
            formula=self.formula,
            target_text="answered within " + " / ".join(f"{t} s" for t in targets),
            goal=0.8,
            problems=self.store.problems(),
        )
        with (
            self.store.table(
                "queue_info", "queue varchar, language varchar, target integer", queues
            ),
            self.store.table("agent_info", "agent varchar, site varchar, grp varchar", agents),
            self.store.materialized("period_visits", self._visits(period)) as visits,
        ):
            figures = _queue_figures(self.short, self.formula)
            key = {
                "queue": "v.queue",
                "language": "v.language_key",
                "entry": "coalesce(v.entry, 'unknown')",
                "site": "v.site_key",
                "agent": "coalesce(v.agent, 'unanswered')",
            }[group_by]
            rows = self.store.query(
                f"select {key} as k, {figures} from {visits} v group by k order by k"
            )
            report.rows = [(str(r[0]), _row(r[1:])) for r in rows]
            (total,) = self.store.query(f"select {figures} from {visits} v")
            report.total = _row(total)
            bucket = BUCKET[granularity].format(t=_local("v.entered", self.tz))
            series = self.store.query(
                f"select {bucket} as b, {figures} from {visits} v group by b order by b"
            )
            report.series = [(_bucket_label(r[0], granularity), _row(r[1:])) for r in series]
            report.waits = self._waits(visits)
            report.abandons_by_wait = [(label, abandoned) for label, _, abandoned in report.waits]
            report.agents = self._agents(visits, period, now)
        report.centre, report.arrivals, report.knows_entries = self._centre(period)
        return report

    def _waits(self, visits: str) -> list[tuple[str, int, int]]:
        out = []
        for low, high in ABANDON_BUCKETS:
            cond = f"w >= {low}" + (f" and w < {high}" if high is not None else "")
            (row,) = self.store.query(
                f"""select count(*) filter (where o = 'answered' and {cond}),
                    count(*) filter (where o = 'abandoned' and {cond}) from {visits} v"""
            )
            label = f"{low}-{high} s" if high is not None else f"{low} s+"
            out.append((label, int(row[0]), int(row[1])))
        return out

    def _agents(self, visits: str, period: Period, now: float | None) -> list[tuple[str, Row]]:
        rows = self.store.query(
            f"""select v.agent, count(*), sum(v.talk), avg(v.talk)
            from {visits} v where v.o = 'answered' group by v.agent order by v.agent"""
        )
        wrapup = {n: q.wrapup_seconds for n, q in self.config.queues.items()}
        handle = dict(
            self.store.query(
                # Handle time: talk, and the queue's wrap-up after it.
                f"""select v.agent, avg(v.talk + w.wrapup) from {visits} v
                join (select unnest(?::varchar[]) as queue, unnest(?::integer[]) as wrapup) w
                    on w.queue = v.queue
                where v.o = 'answered' group by v.agent""",
                [list(wrapup), list(wrapup.values())],
            )
        )
        rna = dict(
            self.store.query(
                f"""select agent, count(*) from lines
                where event = 'RINGNOANSWER' and time >= {period.start_epoch}
                    and time < {period.end_epoch} group by agent"""
            )
        )
        present = self._presence(period, now)
        answering = {str(agent): (answered, talk, avg) for agent, answered, talk, avg in rows}
        out = []
        for agent in sorted(set(answering) | set(present)):
            answered, talk, talk_avg = answering.get(agent, (0, None, None))
            here = present.get(agent)
            out.append(
                (
                    agent,
                    {
                        "answered": float(answered),
                        "talk_seconds": _float(talk),
                        "talk_avg": _float(talk_avg),
                        "handle_avg": _float(handle.get(agent)),
                        "ring_no_answer": float(rna.get(agent, 0)),
                        "logged_in_seconds": here.logged_in if here else self._static(agent),
                        "paused_seconds": here.paused if here else 0.0,
                    },
                )
            )
        return out

    def _static(self, agent: str) -> float | None:
        """An agent with no member line: unknown if static (always in its queues)."""
        static = any(
            g.membership == "static" and any(m.name == agent for m in g.members)
            for g in self.config.agent_groups.values()
        )
        return None if static else 0.0

    def _presence(self, period: Period, now: float | None) -> dict[str, Presence]:
        """Logged-in and paused time from the member lines, up to the period's end or now."""
        end = float(period.end_epoch)
        end = min(end, time.time() if now is None else now)
        events = ", ".join(f"'{e}'" for e in MEMBER_EVENTS)
        rows = self.store.query(
            f"""select time, pbx, queue, agent, event from lines
            where event in ({events}) and time < {period.end_epoch}
                and rowid not in (select row from skipped)
            order by time, rowid"""
        )
        (first,) = self.store.query("select min(time) from lines")
        groups = self.config.agent_groups.values()
        names = {m.interface: m.name for g in groups for m in g.members}
        static = frozenset(m.name for g in groups if g.membership == "static" for m in g.members)
        lines = (MemberLine(int(t), str(p), str(q), str(a), str(e)) for t, p, q, a, e in rows)
        start = float(period.start_epoch)
        return presence(lines, names, static, float(first[0] or start), start, max(start, end))

    def _centre(self, period: Period) -> tuple[Row, dict[tuple[int, int], int], bool]:
        where = f"c.started >= {period.start_epoch} and c.started < {period.end_epoch}"
        (row,) = self.store.query(
            f"""select count(*), count(*) filter (where c.visits > 0),
                count(*) filter (where c.menu_abandoned),
                count(*) filter (where c.closed is not null),
                count(*) filter (where c.crisis is not null),
                count(*) filter (where c.visits > 1),
                count(*) filter (where c.vaxeld_lines > 0)
            from calls c where {where}"""
        )
        callers, offered, menu, closed, crisis, moved, known = (int(v or 0) for v in row)
        knows = callers == 0 or known > 0
        centre: Row = {
            "callers": float(callers),
            "offered_callers": float(offered),
            # A queue_log without vaxeld's lines cannot tell these: unknown, not 0.
            "menu_abandoned": float(menu) if knows else None,
            "closed": float(closed) if knows else None,
            "crisis": float(crisis) if knows else None,
            "overflowed": float(moved),
        }
        local = _local("c.started", self.tz)
        heat = self.store.query(
            f"""select isodow({local}) as d, hour({local}) as h, count(*)
            from calls c where {where} group by d, h"""
        )
        return centre, {(int(d), int(h)): int(n) for d, h, n in heat}, knows


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _bucket_label(value: Any, granularity: str) -> str:
    if granularity in ("day", "week"):
        return str(value)[:10]
    if granularity == "month":
        return str(value)[:7]
    return str(value)[:16]
