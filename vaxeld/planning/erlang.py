"""Erlang C and Erlang A: how a queue with ``n`` agents performs, and how many it needs.

Erlang C (M/M/n): Poisson arrivals, exponential handle times, callers who never give up.
Erlang A (M/M/n+M; Garnett, Mandelbaum & Reiman 2002): the same, with callers who hang up
after an exponential patience: fewer wait long, so fewer agents reach the same level than
Erlang C says, and the abandon share is predicted too.

Numerically stable for any size: Erlang B's recursion instead of factorials, the Erlang A
state probabilities as running ratios, and the waiting time of a caller who finds ``j``
ahead as a chain of ``j + 1`` exponential phases, summed by uniformization (no
alternating sums of nearly equal exponentials). Pure: no I/O, only floats.

Rates are per second: ``arrivals`` callers per second, ``handle`` seconds of handle time,
``patience`` seconds of mean patience (None: Erlang C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Erlang A's state probabilities are summed until the rest is below this.
_TAIL = 1e-12


@dataclass(frozen=True, slots=True)
class Prediction:
    """How a queue performs with ``agents`` agents."""

    agents: int
    service_level: float  # answered within the target time, of all callers offered
    wait_probability: float  # callers who have to wait at all
    average_wait: float  # seconds, over all callers (Erlang A: until answer or hang-up)
    abandon_share: float  # callers who hang up waiting (0 for Erlang C)
    occupancy: float  # share of the agents' time spent handling calls


def erlang_b(load: float, agents: int) -> float:
    """Blocking probability of ``agents`` servers offered ``load`` erlangs."""
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(arrivals: float, handle: float, agents: int, target: float) -> Prediction:
    load = arrivals * handle
    if agents <= load:  # the queue grows without end
        return Prediction(agents, 0.0, 1.0, math.inf, 0.0, 1.0)
    b = erlang_b(load, agents)
    wait = agents * b / (agents - load * (1 - b))
    level = 1.0 - wait * math.exp(-(agents - load) * target / handle)
    return Prediction(agents, level, wait, wait * handle / (agents - load), 0.0, load / agents)


def erlang_a(
    arrivals: float, handle: float, patience: float, agents: int, target: float
) -> Prediction:
    mu, theta, n = 1.0 / handle, 1.0 / patience, agents
    probabilities = _states(arrivals, mu, theta, n)
    below = sum(probabilities[:n])
    waiting = probabilities[n:]
    answered_in_time, served, mean_wait = _tagged(waiting, n * mu, theta, target)
    busy = sum(min(k, n) * p for k, p in enumerate(probabilities))
    return Prediction(
        agents,
        service_level=below + answered_in_time,
        wait_probability=sum(waiting),
        average_wait=mean_wait,
        abandon_share=sum(waiting) - served,
        occupancy=busy / n,
    )


def _states(arrivals: float, mu: float, theta: float, n: int) -> list[float]:
    """P(k callers in the system), k = 0, 1, ...: a birth-death chain with births at the
    arrival rate and deaths at min(k, n) mu + max(k - n, 0) theta, cut where negligible."""
    ratios, total = [1.0], 1.0  # a running total: summing the list each step was quadratic
    k = 0
    while True:
        k += 1
        death = min(k, n) * mu + max(k - n, 0) * theta
        ratios.append(ratios[-1] * arrivals / death)
        total += ratios[-1]
        if ratios[-1] > 1e250:  # rescale to stay in range; only ratios matter
            ratios = [r * 1e-250 for r in ratios]
            total *= 1e-250
        if k > n and ratios[-1] < _TAIL * total:
            break
    return [r / total for r in ratios]


def _tagged(
    waiting: list[float], served_rate: float, theta: float, target: float
) -> tuple[float, float, float]:
    """For callers who arrive to find every agent busy and ``j`` ahead (with probability
    ``waiting[j]``): (answered within ``target``, answered at all, mean time waited), each
    weighted by those probabilities. From j ahead the caller passes phases j, ..., 0; in
    phase i it leaves at rate served_rate + (i + 1) theta, onward (to phase i - 1 or to an
    agent) with probability (served_rate + i theta) / that rate, else it hangs up."""
    count = len(waiting)
    rates = [served_rate + (i + 1) * theta for i in range(count)]
    onward = [(served_rate + i * theta) / rates[i] for i in range(count)]
    # From phase j: answered at all = onward_j * (answered from j - 1); time waited =
    # 1 / rate_j + onward_j * (time from j - 1). Phase "-1" is the agent.
    answered = mean_wait = 0.0
    served, mean = 1.0, 0.0
    for j in range(count):
        served, mean = onward[j] * served, 1.0 / rates[j] + onward[j] * mean
        answered += waiting[j] * served
        mean_wait += waiting[j] * mean
    return _within(waiting, rates, onward, target), answered, mean_wait


def _within(waiting: list[float], rates: list[float], onward: list[float], target: float) -> float:
    """P(answered within ``target``) summed over the callers who had to wait, by
    uniformization: at the largest rate R, each Poisson event moves a caller in phase i
    onward with probability onward_i * rate_i / R, ends it (hung up) with
    (1 - onward_i) * rate_i / R, and leaves it where it is otherwise."""
    if not waiting or target <= 0:
        return 0.0
    big = max(rates)
    mean_events = big * target
    steps = int(mean_events + 12 * math.sqrt(mean_events) + 30)
    go = [onward[i] * rates[i] / big for i in range(len(rates))]
    stay = [1.0 - rates[i] / big for i in range(len(rates))]
    mass = list(waiting)  # still waiting, by phase, after m events
    answered = 0.0
    weight = math.exp(-mean_events)  # P(N(R target) = m), from m = 0
    below = 0.0  # P(N < m)
    for m in range(1, steps + 1):
        below += weight
        weight *= mean_events / m
        # Answered at event m counts if at least m events came within the target.
        answered += (1.0 - below) * mass[0] * go[0]
        mass = [
            mass[i] * stay[i] + (mass[i + 1] * go[i + 1] if i + 1 < len(mass) else 0.0)
            for i in range(len(mass))
        ]
    return answered


def required(
    arrivals: float,
    handle: float,
    target: float,
    level: float,
    patience: float | None = None,
    max_abandon: float | None = None,
    max_occupancy: float = 1.0,
) -> Prediction:
    """The fewest agents (on the phones) for ``level`` within ``target`` seconds, at most
    ``max_abandon`` hanging up (Erlang A) and at most ``max_occupancy`` busy."""
    if arrivals <= 0 or handle <= 0:
        # No calls, or calls that take no time (a window whose answered calls all had a
        # talk time of 0 s): nobody is needed, and the formulas would divide by zero.
        return Prediction(0, 1.0, 0.0, 0.0, 0.0, 0.0)
    load = arrivals * handle
    agents = max(1, math.ceil(load / max_occupancy - 1e-9))
    while True:
        p = (
            erlang_c(arrivals, handle, agents, target)
            if patience is None
            else erlang_a(arrivals, handle, patience, agents, target)
        )
        abandon_ok = max_abandon is None or p.abandon_share <= max_abandon
        if p.service_level >= level and abandon_ok and p.occupancy <= max_occupancy + 1e-12:
            return p
        agents += 1


def scheduled(on_phones: int, shrinkage: float) -> int:
    """Agents to schedule so that ``on_phones`` are available after shrinkage (breaks,
    meetings, training: the share of paid time not on the phones)."""
    return math.ceil(on_phones / (1.0 - shrinkage) - 1e-9)
