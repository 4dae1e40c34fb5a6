"""The staffing plan: from each queue's calls per interval over the last weeks, the agents
it needs per weekday and interval (Erlang C and Erlang A), and, looking back, how many it
had, the gap, and the service level each model predicted against the one measured. Pure.

Arrivals are averaged per kind of day: each weekday, and apart from them Sweden's public
holidays, eves and short days (vaxeld.calendar), over the days of that kind in the window
(a day without calls counts as one with none). Handle time is talk time plus the queue's
wrap-up; patience is the centre's own: total time waited by every caller over the number
who hung up (the estimator of Mandelbaum and Zeltyn for exponential patience).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from vaxeld.config import Config
from vaxeld.planning.erlang import Prediction, erlang_a, erlang_c, required, scheduled

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Intervals with fewer calls than this are left out of the model check (too few to
# measure a service level).
CHECK_MIN_CALLS = 5


@dataclass(frozen=True, slots=True)
class Slot:
    """One queue's callers in one interval of one local day."""

    queue: str
    day: date
    slot: int  # the interval's number since local midnight
    start: float  # Unix time the interval begins
    offered: int
    answered: int
    abandoned: int
    sl_calls: int  # the service level's denominator, by the configured formula
    sl_met: int
    wait_seconds: float  # waited, all callers together (until answer or hang-up)
    talk_seconds: float
    talked: int  # answered callers whose talk time is known


@dataclass(frozen=True, slots=True)
class QueueBasis:
    queue: str
    target: int  # seconds
    goal: float
    handle: float  # seconds: talk + wrap-up
    patience: float | None  # seconds; None: nobody hung up (Erlang A is then Erlang C)
    calls: int  # in the window
    days: dict[str, int]  # days of each kind in the window


@dataclass(frozen=True, slots=True)
class Cell:
    """Needed in one interval of one kind of day."""

    calls: float  # expected callers in the interval
    erlang_c: Prediction
    erlang_a: Prediction
    scheduled: int  # agents to schedule, by the configured model, after shrinkage
    staffed: float | None = None  # agents actually in and not paused, on average
    gap: float | None = None  # staffed minus needed on the phones (negative: short)


@dataclass(frozen=True, slots=True)
class Check:
    """The models against the measured service level, over intervals with calls."""

    intervals: int
    calls: int
    measured: float | None
    erlang_c: float | None
    erlang_a: float | None
    error_c: float | None  # mean absolute difference per interval, weighted by calls
    error_a: float | None


@dataclass
class QueuePlan:
    basis: QueueBasis
    cells: dict[tuple[str, int], Cell] = field(default_factory=dict)  # (day kind, slot)
    check: Check | None = None


def day_kind(day: date, special: Mapping[date, str]) -> str:
    return special.get(day) or WEEKDAYS[day.isoweekday() - 1]


def window_days(first: date, last: date, special: Mapping[date, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    day = first
    while day <= last:
        kind = day_kind(day, special)
        out[kind] = out.get(kind, 0) + 1
        day += timedelta(days=1)
    return out


def basis(config: Config, queue: str, slots: list[Slot], days: dict[str, int]) -> QueueBasis:
    q, p = config.queues[queue], config.planning
    talked = sum(s.talked for s in slots)
    talk = sum(s.talk_seconds for s in slots) / talked if talked else p.default_handle_seconds
    abandoned = sum(s.abandoned for s in slots)
    waited = sum(s.wait_seconds for s in slots)
    return QueueBasis(
        queue,
        q.service_level_seconds,
        config.history.service_level_goal,
        talk + q.wrapup_seconds,
        waited / abandoned if abandoned else None,
        sum(s.offered for s in slots),
        days,
    )


def _need(config: Config, b: QueueBasis, calls: float) -> tuple[Prediction, Prediction, int]:
    p = config.planning
    seconds = p.interval_minutes * 60
    rate = calls / seconds
    c = required(rate, b.handle, b.target, b.goal, None, None, p.max_occupancy)
    a = required(rate, b.handle, b.target, b.goal, b.patience, p.max_abandon_share,
                 p.max_occupancy) if b.patience else c  # fmt: skip
    chosen = a if p.model == "erlang_a" else c
    return c, a, scheduled(chosen.agents, p.shrinkage)


def predicted_level(b: QueueBasis, rate: float, agents: float, model: str) -> float:
    """The model's service level with a fractional number of agents (interpolated)."""
    low = math.floor(agents)

    def level(n: int) -> float:
        if n <= 0:
            return 0.0
        if model == "erlang_a" and b.patience:
            return erlang_a(rate, b.handle, b.patience, n, b.target).service_level
        return erlang_c(rate, b.handle, n, b.target).service_level

    below = level(low)
    return below + (agents - low) * (level(low + 1) - below)


def plan_queue(
    config: Config,
    queue: str,
    slots: list[Slot],
    special: Mapping[date, str],
    first: date,
    last: date,
    staffed: Mapping[tuple[str, float], float] | None = None,
) -> QueuePlan:
    """The plan of one queue from its ``slots`` in the window [first, last]."""
    days = window_days(first, last, special)
    b = basis(config, queue, slots, days)
    totals: dict[tuple[str, int], int] = {}
    for s in slots:
        key = (day_kind(s.day, special), s.slot)
        totals[key] = totals.get(key, 0) + s.offered
    plan = QueuePlan(b)
    # Many intervals have the same number of calls: each number is asked of the models once.
    known: dict[float, tuple[Prediction, Prediction, int]] = {}

    def need(calls: float) -> tuple[Prediction, Prediction, int]:
        if calls not in known:
            known[calls] = _need(config, b, calls)
        return known[calls]

    looked_back = (
        _look_back(config, b, slots, special, staffed, need) if staffed is not None else {}
    )
    for (kind, slot), offered in sorted(totals.items()):
        calls = offered / days.get(kind, 1)
        c, a, sched = need(calls)
        staff, gap = looked_back.get((kind, slot), (None, None))
        plan.cells[(kind, slot)] = Cell(calls, c, a, sched, staff, gap)
    if staffed is not None:
        plan.check = _check(config, b, slots, staffed)
    return plan


def _look_back(
    config: Config,
    b: QueueBasis,
    slots: Iterable[Slot],
    special: Mapping[date, str],
    staffed: Mapping[tuple[str, float], float],
    need: Callable[[float], tuple[Prediction, Prediction, int]],
) -> dict[tuple[str, int], tuple[float, float]]:
    """(day kind, slot) -> (agents staffed on average, staffed minus needed on average),
    over the days of the window that had calls in that interval."""
    sums: dict[tuple[str, int], list[float]] = {}
    for s in slots:
        have = staffed.get((b.queue, s.start), 0.0)
        c, a, _ = need(float(s.offered))
        needed = (a if config.planning.model == "erlang_a" else c).agents
        row = sums.setdefault((day_kind(s.day, special), s.slot), [0.0, 0.0, 0.0])
        row[0] += have
        row[1] += have - needed
        row[2] += 1
    return {k: (v[0] / v[2], v[1] / v[2]) for k, v in sums.items()}


def _check(
    config: Config, b: QueueBasis, slots: Iterable[Slot], staffed: Mapping[tuple[str, float], float]
) -> Check:
    seconds = config.planning.interval_minutes * 60
    rows = []
    for s in slots:
        have = staffed.get((b.queue, s.start), 0.0)
        if s.sl_calls < CHECK_MIN_CALLS or have < 0.5:
            continue
        rate = s.offered / seconds
        measured = s.sl_met / s.sl_calls
        rows.append((s.sl_calls, measured, predicted_level(b, rate, have, "erlang_c"),
                     predicted_level(b, rate, have, "erlang_a")))  # fmt: skip
    calls = sum(r[0] for r in rows)
    if not calls:
        return Check(0, 0, None, None, None, None, None)

    def mean(i: int) -> float:
        return sum(r[0] * r[i] for r in rows) / calls

    def error(i: int) -> float:
        return sum(r[0] * abs(r[i] - r[1]) for r in rows) / calls

    return Check(len(rows), calls, mean(1), mean(2), mean(3), error(2), error(3))


def what_if(
    calls_per_hour: float, handle: float, agents: int, target: float, patience: float | None
) -> tuple[Prediction, Prediction | None]:
    """Erlang C's and (with a patience) Erlang A's prediction for ``agents`` agents."""
    rate = calls_per_hour / 3600.0
    c = erlang_c(rate, handle, agents, target)
    a = erlang_a(rate, handle, patience, agents, target) if patience else None
    return c, a
