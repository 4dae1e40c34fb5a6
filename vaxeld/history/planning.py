"""What the staffing plan reads from the history store: each queue's callers per local
interval, and the member lines that say who was logged in and paused."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from vaxeld.config import Config
from vaxeld.history.store import OUTCOME_OF_VISIT, HistoryStore
from vaxeld.planning.member_lines import MEMBER_EVENTS, MemberLine
from vaxeld.planning.plan import Slot


def interval_start(day: date, slot: int, minutes: int, tz: str) -> float:
    """Unix time of interval ``slot`` of local ``day`` (wall-clock minutes from midnight)."""
    local = datetime.combine(day, time(0), ZoneInfo(tz)) + timedelta(minutes=slot * minutes)
    return local.timestamp()


def slots(store: HistoryStore, config: Config, first: date, last: date) -> list[Slot]:
    """Every queue's callers per interval of the local days [first, last]."""
    tz, minutes = config.timezone, config.planning.interval_minutes
    start = interval_start(first, 0, minutes, tz)
    end = interval_start(last + timedelta(days=1), 0, minutes, tz)
    short = config.metrics.short_abandon_seconds
    counted = (
        "o in ('answered', 'abandoned', 'timeout', 'leaveempty')"
        if config.metrics.service_level_formula == "offered"
        else f"o = 'answered' or (o = 'abandoned' and w >= {short})"
    )
    targets = {n: q.service_level_seconds for n, q in config.queues.items()}
    rows = store.query(
        f"""with v as (
            select v.queue, v.talk, {OUTCOME_OF_VISIT} as o, coalesce(v.hold, v.waited) as w,
                timezone('{tz}', to_timestamp(v.entered)) as lt, t.target
            from visits v
            join (select unnest(?::varchar[]) as queue, unnest(?::integer[]) as target) t
                on t.queue = v.queue
            where v.entered >= {int(start)} and v.entered < {int(end)})
        select queue, cast(lt as date) as day,
            (hour(lt) * 60 + minute(lt)) // {minutes} as slot,
            count(*), count(*) filter (where o = 'answered'),
            count(*) filter (where o = 'abandoned'),
            count(*) filter (where {counted}),
            count(*) filter (where o = 'answered' and w <= target),
            coalesce(sum(w), 0),
            coalesce(sum(talk) filter (where o = 'answered'), 0),
            count(talk) filter (where o = 'answered')
        from v group by queue, day, slot order by queue, day, slot""",
        [list(targets), list(targets.values())],
    )
    return [
        Slot(
            str(q),
            d,
            int(s),
            interval_start(d, int(s), minutes, tz),
            int(offered),
            int(answered),
            int(abandoned),
            int(sl_calls),
            int(met),
            float(waited),
            float(talk),
            int(talked),
        )
        for q, d, s, offered, answered, abandoned, sl_calls, met, waited, talk, talked in rows
    ]


def member_lines(store: HistoryStore, before: float) -> tuple[list[MemberLine], float]:
    """Every member line before ``before``, in order, and when the record starts."""
    events = ", ".join(f"'{e}'" for e in MEMBER_EVENTS)
    rows = store.query(
        f"""select time, pbx, queue, agent, event from lines
        where event in ({events}) and time < {int(before)}
            and rowid not in (select row from skipped)
        order by time, rowid"""
    )
    (first,) = store.query("select coalesce(min(time), 0) from lines")
    lines = [MemberLine(int(t), str(p), str(q), str(a), str(e)) for t, p, q, a, e in rows]
    return lines, float(first[0])
