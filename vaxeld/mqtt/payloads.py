"""What vaxeld publishes over MQTT, built from views: pure, no broker in sight."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from vaxeld.config import Config
from vaxeld.config.names import agent_topic_id
from vaxeld.state.model import Call, Member, MemberKey, SwitchboardState, changed_since
from vaxeld.state.today import QueueToday
from vaxeld.state.view import PbxView, agent_state_of

Touched = tuple[set[str], set[str]]  # queue names, agent names
K = TypeVar("K")
V = TypeVar("V")


class Waiting:
    """The callers waiting, kept up to date between builds, with what a queue's topic
    needs of them (how many, who waited longest) per queue: a build then costs what
    changed, not a pass over every caller (a flood of 10,000)."""

    def __init__(self, calls: Iterable[Call] = ()) -> None:
        self._by_queue: dict[str, dict[str, Call]] = {}
        self._where: dict[str, str] = {}  # uniqueid -> its queue here
        # Per queue, (joined_at, uniqueid) of its callers; stale entries (gone, or joined
        # again) are dropped when they reach the top.
        self._joined: dict[str, list[tuple[float, str]]] = {}
        for call in calls:
            self.update(call.uniqueid, call)

    @classmethod
    def of(cls, state: SwitchboardState) -> Waiting:
        return cls(c for c in state.calls.values() if c.waiting)

    def __bool__(self) -> bool:
        return bool(self._where)

    def queues(self) -> list[str]:
        """Queues with a caller waiting."""
        return list(self._by_queue)

    def update(self, uniqueid: str, call: Call | None) -> None:
        """``call`` is the caller's state now (None: gone)."""
        queue = self._where.pop(uniqueid, None)
        if queue is not None:
            calls = self._by_queue[queue]
            del calls[uniqueid]
            if not calls:
                del self._by_queue[queue]
                self._joined.pop(queue, None)
        if call is None or not call.waiting:
            return
        self._where[uniqueid] = call.queue
        self._by_queue.setdefault(call.queue, {})[uniqueid] = call
        if call.joined_at is not None:
            heap = self._joined.setdefault(call.queue, [])
            heapq.heappush(heap, (call.joined_at, uniqueid))
            if len(heap) > 2 * len(self._by_queue[call.queue]) + 64:  # mostly stale: anew
                heap[:] = [(c.joined_at, u) for u, c in self._by_queue[call.queue].items()
                           if c.joined_at is not None]  # fmt: skip
                heapq.heapify(heap)

    def count(self, queue: str) -> int:
        return len(self._by_queue.get(queue, ()))

    def longest_joined(self, queue: str) -> float | None:
        """When the caller waiting longest in ``queue`` joined (None: nobody, or no time)."""
        heap, calls = self._joined.get(queue), self._by_queue.get(queue, {})
        while heap:
            joined, uid = heap[0]
            call = calls.get(uid)
            if call is not None and call.joined_at == joined:
                return joined
            heapq.heappop(heap)
        return None


def touched_since(
    old: SwitchboardState, new: SwitchboardState, waiting: Waiting | None = None
) -> Touched:
    """The queues and agents whose topics can differ between two snapshots: those of
    every call and member that was added, removed or changed, from ``new``'s journal
    (compared in full when it does not reach back to ``old``). ``waiting``, the callers
    waiting in ``old``, is brought up to date with ``new``."""
    queues: set[str] = set()
    agents: set[str] = set()
    since = changed_since(old, new)
    calls: Iterable[tuple[str, Call | None, Call | None]]
    members: Iterable[tuple[MemberKey, Member | None, Member | None]]
    if since is None:
        calls, members = _changed(old.calls, new.calls), _changed(old.members, new.members)
    else:
        calls = ((uid, old.calls.get(uid), new.calls.get(uid)) for uid in since[0])
        members = ((key, old.members.get(key), new.members.get(key)) for key in since[1])
    for uid, before, after in calls:
        if before is after:
            continue
        queues.update(c.queue for c in (before, after) if c is not None)
        if waiting is not None:
            waiting.update(uid, after)
    for _, old_member, new_member in members:
        if old_member is new_member:
            continue
        for member in (old_member, new_member):
            if member is not None:
                queues.add(member.queue)
                agents.add(member.name)
    return queues, agents


def _changed(old: Mapping[K, V], new: Mapping[K, V]) -> Iterator[tuple[K, V | None, V | None]]:
    """(key, old, new) of entries added, removed or replaced. An unchanged entry of a
    persistent map is the very same object in both, so identity is enough: no hashing
    of whole calls."""
    if old is new:
        return
    for key, value in new.items():
        before = old.get(key)
        if before is not value:
            yield key, before, value
    for key, value in old.items():
        if key not in new:
            yield key, value, None


def state_messages(
    config: Config,
    view: PbxView,
    now: float,
    today: Mapping[tuple[str, str], QueueToday],
    opening: dict[str, str],
    touched: Touched | None = None,
    waiting: Waiting | None = None,
    wall_offset: float = 0.0,
) -> dict[str, dict[str, Any]]:
    """Topic (below the prefix) -> payload for everything about one PBX, or with
    ``touched`` only for those queues and agents. ``waiting``, when the caller keeps
    it (see Waiting), spares a pass over every call. ``wall_offset`` turns the state's
    clock (``now``'s) into Unix time. Pure."""
    out: dict[str, dict[str, Any]] = {}
    formula = config.metrics.service_level_formula
    state = view.state
    # Indexes only for the parts to build: most builds touch one queue or one agent.
    some_queues = touched is None or bool(touched[0])
    if waiting is None:
        waiting = Waiting.of(state) if some_queues else Waiting()
    members_by_queue = state.members_by_queue() if some_queues else {}
    by_name = state.members_by_name() if touched is None or touched[1] else {}
    for queue, q in config.queues.items():
        if touched is not None and queue not in touched[0]:
            continue
        members = members_by_queue.get(queue, [])
        joined = waiting.longest_joined(queue)
        day = today.get((view.name, queue)) or QueueToday()
        out[f"{view.name}/queue/{queue}"] = {
            "queue": queue,
            "language": q.language,
            "waiting": waiting.count(queue),
            "longest_wait_seconds": round(now - joined) if joined is not None else 0,
            # Changes only when callers come and go: a display counts the wait from it.
            "longest_wait_since": round(joined + wall_offset) if joined is not None else None,
            "members_logged_in": len(members),
            "members_available": sum(1 for m in members if m.available),
            "members_paused": sum(1 for m in members if m.paused),
            "service_level_target_seconds": q.service_level_seconds,
            "service_level_today": day.service_level,
            "service_level_formula": formula,
            "answered_today": day.answered,
            "answered_directly_today": day.answered_directly,
            "abandoned_today": day.abandoned,
            "timed_out_today": day.exited,
        }
    for gname, group in config.agent_groups.items():
        for member in group.members:
            if touched is not None and member.name not in touched[1]:
                continue
            mine = by_name.get(member.name, [])
            out[f"{view.name}/agent/{agent_topic_id(member.name)}"] = {
                "name": member.name,
                "state": agent_state_of(mine),
                "queues": sorted({m.queue for m in mine}),
                "site": group.site,
                "group": gname,
            }
    # The crisis switch and opening hours change without events: always built (the
    # bridge sends only what differs from what it sent).
    out[f"{view.name}/crisis"] = {"active": bool(view.crisis_active)}
    out[f"{view.name}/opening"] = {
        "state": opening.get("entry", "open"),
        **{f"queue_{k}": v for k, v in opening.items() if k != "entry"},
    }
    return out
