"""Erlang C and Erlang A (vaxeld.planning.erlang) against exact values and a queueing
simulation: Erlang C against its textbook formula in exact fractions; Erlang A, which
has no closed form, against ciw's discrete-event simulation of the same M/M/n+M queue."""

from __future__ import annotations

import math
from fractions import Fraction

import ciw
import pytest

from vaxeld.planning.erlang import erlang_a, erlang_b, erlang_c, required, scheduled


def exact_wait_probability(load: Fraction, agents: int) -> Fraction:
    """Erlang C's textbook formula, with factorials, in exact arithmetic."""
    top = load**agents / math.factorial(agents) * Fraction(agents) / (agents - load)
    return top / (sum(load**k / math.factorial(k) for k in range(agents)) + top)


@pytest.mark.parametrize(
    ("calls", "handle", "agents"),
    [(100, 180, 11), (100, 180, 14), (360, 240, 55), (5, 600, 3), (2000, 200, 240)],
)
def test_erlang_c_equals_its_formula_in_exact_arithmetic(
    calls: int, handle: int, agents: int
) -> None:
    arrivals = Fraction(calls, 1800)  # per half hour
    load = arrivals * handle
    exact = exact_wait_probability(load, agents)
    got = erlang_c(float(arrivals), handle, agents, 20)
    assert got.wait_probability == pytest.approx(float(exact), rel=1e-9)
    level = 1 - float(exact) * math.exp(-(agents - float(load)) * 20 / handle)
    assert got.service_level == pytest.approx(level, rel=1e-9)
    assert got.average_wait == pytest.approx(float(exact) * handle / (agents - float(load)))


def test_erlang_b_table_values_and_no_overflow_for_large_groups() -> None:
    assert erlang_b(2.0, 5) == pytest.approx(0.0367, abs=1e-4)
    assert erlang_b(10.0, 10) == pytest.approx(0.2146, abs=1e-4)
    assert 0 < erlang_b(900.0, 1000) < 1e-3  # 1000! would overflow a float


def test_erlang_a_without_patience_limit_is_erlang_c() -> None:
    arrivals = 100 / 1800
    for agents in (11, 13, 15):
        a = erlang_a(arrivals, 180, 1e9, agents, 20)
        c = erlang_c(arrivals, 180, agents, 20)
        assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
        assert a.wait_probability == pytest.approx(c.wait_probability, abs=1e-6)


def simulate(arrivals: float, handle: float, patience: float, agents: int, target: float
             ) -> tuple[float, float]:  # fmt: skip
    """(answered within target, abandoned) of all callers, from ciw, after a warm-up."""
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=arrivals)],
        service_distributions=[ciw.dists.Exponential(rate=1 / handle)],
        number_of_servers=[agents],
        reneging_time_distributions=[ciw.dists.Exponential(rate=1 / patience)],
    )
    ciw.seed(7)
    sim = ciw.Simulation(network)
    horizon = 60_000 / arrivals  # about 60,000 callers
    sim.simulate_until_max_time(horizon)
    records = [r for r in sim.get_all_records() if r.arrival_date > horizon * 0.05]
    served = [r for r in records if r.record_type == "service"]
    in_time = sum(r.waiting_time <= target for r in served)
    return in_time / len(records), (len(records) - len(served)) / len(records)


@pytest.mark.parametrize(
    ("arrivals", "handle", "patience", "agents"),
    [(100 / 1800, 180, 120, 12), (100 / 1800, 180, 60, 10), (1 / 6, 240, 90, 45)],
)
def test_erlang_a_agrees_with_a_simulation_of_impatient_callers(
    arrivals: float, handle: float, patience: float, agents: int
) -> None:
    """Within 0.015 (the simulation's own noise is about 0.005 at 60,000 callers)."""
    level, abandoned = simulate(arrivals, handle, patience, agents, 20)
    model = erlang_a(arrivals, handle, patience, agents, 20)
    assert model.service_level == pytest.approx(level, abs=0.015)
    assert model.abandon_share == pytest.approx(abandoned, abs=0.015)


def test_required_agents_meet_the_target_and_one_fewer_does_not() -> None:
    arrivals = 100 / 1800
    c = required(arrivals, 180, 20, 0.8)
    assert c.agents == 14 and c.service_level >= 0.8
    assert erlang_c(arrivals, 180, 13, 20).service_level < 0.8
    a = required(arrivals, 180, 20, 0.8, patience=120)
    assert a.agents == 12 < c.agents  # callers who hang up leave the rest a shorter wait
    assert erlang_a(arrivals, 180, 120, 11, 20).service_level < 0.8
    capped = required(arrivals, 180, 20, 0.8, patience=120, max_abandon=0.03)
    assert capped.abandon_share <= 0.03 and capped.agents > a.agents
    busy = required(arrivals, 180, 20, 0.5, max_occupancy=0.7)
    assert busy.occupancy <= 0.7
    assert required(0.0, 180, 20, 0.8).agents == 0
    assert scheduled(14, 0.3) == 20  # 14 / 0.7


def test_calls_that_take_no_time_need_nobody_and_do_not_divide_by_zero() -> None:
    """A live window whose answered calls all talked 0 s (and no wrap-up) gave a
    ZeroDivisionError in the staffing collector, and so a /metrics page of 500s."""
    for patience in (None, 30.0):
        p = required(0.5, 0.0, 20.0, 0.8, patience, 0.05 if patience else None)
        assert p.agents == 0 and p.service_level == 1.0
