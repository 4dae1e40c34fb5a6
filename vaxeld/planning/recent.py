"""The last half hour of one queue's calls, for "agents needed now": arrivals, handle
times and waits inside a sliding window, and Erlang C's and Erlang A's answer for them.
Pure: the time comes from the caller; memory is bounded by the window."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from vaxeld.planning.erlang import required

WINDOW_SECONDS = 1800.0


@dataclass
class _Queue:
    arrivals: deque[float] = field(default_factory=deque)
    handled: deque[tuple[float, float]] = field(default_factory=deque)  # (at, talk)
    waits: deque[tuple[float, float, bool]] = field(default_factory=deque)  # (at, wait, hung up)


@dataclass(frozen=True, slots=True)
class Target:
    seconds: int  # the queue's service_level_seconds
    goal: float
    wrapup: float
    default_handle: float
    max_occupancy: float
    max_abandon: float | None


class RecentLoad:
    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._queues: dict[tuple[str, str], _Queue] = {}

    def _queue(self, pbx: str, queue: str, now: float) -> _Queue:
        q = self._queues.setdefault((pbx, queue), _Queue())
        cut = now - self.window
        while q.arrivals and q.arrivals[0] < cut:
            q.arrivals.popleft()
        while q.handled and q.handled[0][0] < cut:
            q.handled.popleft()
        while q.waits and q.waits[0][0] < cut:
            q.waits.popleft()
        return q

    def arrived(self, pbx: str, queue: str, now: float) -> None:
        self._queue(pbx, queue, now).arrivals.append(now)

    def handled(self, pbx: str, queue: str, talk: float, now: float) -> None:
        self._queue(pbx, queue, now).handled.append((now, talk))

    def waited(self, pbx: str, queue: str, wait: float, hung_up: bool, now: float) -> None:
        self._queue(pbx, queue, now).waits.append((now, wait, hung_up))

    def queues(self) -> list[tuple[str, str]]:
        return list(self._queues)

    def needed(self, pbx: str, queue: str, target: Target, now: float) -> dict[str, int]:
        """Agents on the phones each model says the last window's calls needed."""
        q = self._queue(pbx, queue, now)
        rate = len(q.arrivals) / self.window
        talks = [t for _, t in q.handled]
        handle = (sum(talks) / len(talks) if talks else target.default_handle) + target.wrapup
        hung_up = sum(1 for _, _, h in q.waits if h)
        waited = sum(w for _, w, _ in q.waits)
        patience = waited / hung_up if hung_up else None
        c = required(rate, handle, target.seconds, target.goal, None, None, target.max_occupancy)
        a = (
            required(
                rate,
                handle,
                target.seconds,
                target.goal,
                patience,
                target.max_abandon,
                target.max_occupancy,
            )
            if patience
            else c
        )
        return {"erlang_c": c.agents, "erlang_a": a.agents}
