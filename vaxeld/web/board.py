"""What the wallboard shows, built from views: pure, no socket in sight.

One picture of the whole centre, as JSON: per queue (summed over the PBXs that have
it) callers waiting, since when the longest has waited, and today's figures; per site
the agents logged in, with their state and since when; the crisis switch and the
opening state as banners; and per PBX whether vaxeld can see it. No caller numbers,
nothing to act on. Times are Unix milliseconds, so that the page counts waits up by
itself between updates instead of vaxeld pushing every second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vaxeld.config import Config
from vaxeld.state.service_level import FORMULAS
from vaxeld.state.today import QueueToday
from vaxeld.state.view import PbxView, agent_state_of

# Shown per site, in this order; logged-out agents are not on the board.
SHOWN_STATES = ("available", "busy", "paused", "unavailable")


@dataclass
class AgentClock:
    """Since when each agent has been in their state, as seen by the builds (so at most
    one coalescing interval late). An agent first seen has no known start: that state
    began before vaxeld was watching."""

    seen: dict[tuple[str, str], tuple[str, float | None]] = field(default_factory=dict)

    def observe(self, agent: tuple[str, str], state: str, now: float) -> float | None:
        old = self.seen.get(agent)
        if old is not None and old[0] == state:
            return old[1]
        since = None if old is None else now
        self.seen[agent] = (state, since)
        return since

    def forget_except(self, agents: set[tuple[str, str]]) -> None:
        """Agents removed from the config go (the clock stays bounded by it)."""
        for key in [k for k in self.seen if k not in agents]:
            del self.seen[key]


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def build_board(
    config: Config,
    views: Sequence[PbxView],
    today: Mapping[tuple[str, str], QueueToday],
    today_since: Mapping[str, float],
    opening: Mapping[str, str],
    clock: AgentClock,
    wall_now: float,
    monotonic_now: float,
) -> dict[str, Any]:
    """The whole picture. ``joined_at`` of calls is monotonic; it becomes wall time here."""
    to_wall = wall_now - monotonic_now
    pbxs = [
        {
            "name": v.name,
            "connected": v.link.connected,
            "synced": v.link.connected and v.state.synced,
            "crisis": v.crisis_active,
        }
        for v in views
    ]
    live = {p["name"] for p in pbxs if p["synced"]}
    waiting_by_pbx = {v.name: v.state.waiting_by_queue() for v in views}
    queues = []
    for name, q in config.queues.items():
        waiting = [c for w in waiting_by_pbx.values() for c in w.get(name, [])]
        joined = [c.joined_at for c in waiting if c.joined_at is not None]
        day = QueueToday()
        for v in views:
            day = day.plus(today.get((v.name, name)) or QueueToday())
        language = config.languages.get(q.language)
        queues.append(
            {
                "name": name,
                "language": q.language,
                "language_name": language.name if language else q.language,
                "target_seconds": q.service_level_seconds,
                "waiting": len(waiting),
                "longest_since": _ms(min(joined) + to_wall) if joined else None,
                "service_level": day.service_level,
                "answered": day.answered,
                "answered_directly": day.answered_directly,
                "abandoned": day.abandoned,
                "timed_out": day.exited,
                "opening": opening.get(name, opening.get("entry", "open")),
            }
        )
    return {
        "title": config.wallboard.title,
        "language": config.wallboard.language,
        "now": _ms(wall_now),
        "formula": config.metrics.service_level_formula,
        "formula_text": FORMULAS[config.metrics.service_level_formula],
        "service_level_goal": config.history.service_level_goal,
        "today_since": _ms(min(today_since.values(), default=None)),
        "pbxs": pbxs,
        "live": len(live) == len(pbxs) and bool(pbxs),
        "crisis": any(v.crisis_active for v in views),
        "opening": opening.get("entry", "open"),
        "queues": queues,
        "sites": _sites(config, views, clock, wall_now),
    }


def _sites(
    config: Config, views: Sequence[PbxView], clock: AgentClock, now: float
) -> list[dict[str, Any]]:
    by_name = [(v.name, v.state.members_by_name()) for v in views]
    sites: dict[str, dict[str, Any]] = {}
    known: set[tuple[str, str]] = set()
    for group in config.agent_groups.values():
        site = sites.setdefault(
            group.site, {"name": group.site, "counts": dict.fromkeys(SHOWN_STATES, 0), "agents": []}
        )
        for member in group.members:
            # Logged in on one PBX or another: the PBX that has them decides.
            pbx, state = next(
                ((p, agent_state_of(m[member.name])) for p, m in by_name if m.get(member.name)),
                ("", "logged_out"),
            )
            key = (group.site, member.name)
            if key in known:
                continue  # in two groups: shown once
            known.add(key)
            since = clock.observe(key, state, now)
            if state not in SHOWN_STATES:
                continue
            site["counts"][state] += 1
            site["agents"].append(
                {"name": member.name, "state": state, "since": _ms(since), "pbx": pbx}
            )
    clock.forget_except(known)
    for site in sites.values():
        order = {s: i for i, s in enumerate(SHOWN_STATES)}
        site["agents"].sort(key=lambda a: (order[a["state"]], a["name"]))
    return list(sites.values())
