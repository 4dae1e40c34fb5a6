"""What vaxeld publishes over MQTT, built from views: pure, no broker in sight."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from vaxeld.config import Config
from vaxeld.config.names import agent_topic_id
from vaxeld.state.model import Call, SwitchboardState, calls_by_queue
from vaxeld.state.today import QueueToday
from vaxeld.state.view import PbxView, agent_state_of

Touched = tuple[set[str], set[str]]  # queue names, agent names
K = TypeVar("K")
V = TypeVar("V")


def touched_since(
    old: SwitchboardState, new: SwitchboardState, waiting: dict[str, Call] | None = None
) -> Touched:
    """The queues and agents whose topics can differ between two snapshots: those of
    every call and member that was added, removed or changed. ``waiting`` (uniqueid ->
    call, the callers waiting in ``old``) is brought up to date with ``new``."""
    queues: set[str] = set()
    agents: set[str] = set()
    for uid, before, after in _changed(old.calls, new.calls):
        queues.update(c.queue for c in (before, after) if c is not None)
        if waiting is not None:
            if after is not None and after.waiting:
                waiting[uid] = after
            else:
                waiting.pop(uid, None)
    for _, old_member, new_member in _changed(old.members, new.members):
        for member in (old_member, new_member):
            if member is not None:
                queues.add(member.queue)
                agents.add(member.name)
    return queues, agents


def waiting_calls(state: SwitchboardState) -> dict[str, Call]:
    """Uniqueid -> call of every caller waiting in a queue (for a full build)."""
    return {uid: c for uid, c in state.calls.items() if c.waiting}


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
    today: dict[tuple[str, str], QueueToday],
    opening: dict[str, str],
    touched: Touched | None = None,
    waiting: Mapping[str, Call] | None = None,
    wall_offset: float = 0.0,
) -> dict[str, dict[str, Any]]:
    """Topic (below the prefix) -> payload for everything about one PBX, or with
    ``touched`` only for those queues and agents. ``waiting``, when the caller keeps
    it, spares a scan of every call (see waiting_calls). ``wall_offset`` turns the
    state's clock (``now``'s) into Unix time. Pure."""
    out: dict[str, dict[str, Any]] = {}
    formula = config.metrics.service_level_formula
    state = view.state
    # Indexes only for the parts to build: most builds touch one queue or one agent.
    some_queues = touched is None or bool(touched[0])
    waiting_by_queue: dict[str, list[Call]] = {}
    if some_queues:
        waiting_by_queue = (
            calls_by_queue(waiting.values()) if waiting is not None else state.waiting_by_queue()
        )
    members_by_queue = state.members_by_queue() if some_queues else {}
    by_name = state.members_by_name() if touched is None or touched[1] else {}
    for queue, q in config.queues.items():
        if touched is not None and queue not in touched[0]:
            continue
        calls = waiting_by_queue.get(queue, [])
        members = members_by_queue.get(queue, [])
        joined = [c.joined_at for c in calls if c.joined_at is not None]
        day = today.get((view.name, queue)) or QueueToday()
        out[f"{view.name}/queue/{queue}"] = {
            "queue": queue,
            "language": q.language,
            "waiting": len(calls),
            "longest_wait_seconds": round(now - min(joined)) if joined else 0,
            # Changes only when callers come and go: a display counts the wait from it.
            "longest_wait_since": round(min(joined) + wall_offset) if joined else None,
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
