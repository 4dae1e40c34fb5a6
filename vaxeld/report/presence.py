"""Agents' logged-in and paused time in a period, from queue_log's member lines. Pure.

What Asterisk 22 writes (checked on a real one): ``ADDMEMBER`` and ``REMOVEMEMBER`` name
the member by interface (``Local/1006@...``), ``PAUSE`` and ``UNPAUSE`` by member name,
one line per queue (a pause in every queue also gives a ``PAUSEALL`` line, under queue
``NONE``, which adds nothing). Static members (queues.conf) get no ADDMEMBER line: they
are always in their queues, so their logged-in time is not a thing queue_log can tell,
and is reported unknown; their pauses are counted like anyone's. Persistent members come
back by themselves after an Asterisk restart, with no line: a restart changes nothing.

An agent is logged in while a member of at least one queue, and paused while paused in
at least one. A removal that is the first line about a member means it was in from the
start of the record (Asterisk removes only members); an unpause with no pause before it
counts nothing (Asterisk writes one for a member who was not paused too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vaxeld.planning.member_lines import MEMBER_EVENTS, MemberLine, covered

__all__ = ["MEMBER_EVENTS", "MemberLine", "Presence", "presence"]


@dataclass(frozen=True, slots=True)
class Presence:
    logged_in: float | None  # seconds; None: a static member, always in its queues
    paused: float


def presence(
    lines: Iterable[MemberLine],
    names: Mapping[str, str],
    static: frozenset[str],
    record_start: float,
    start: float,
    end: float,
) -> dict[str, Presence]:
    """Per agent with a member line: seconds logged in and paused within [start, end).
    ``lines`` in time order, from the start of the record (what came before the period
    decides who was in at its start); ``names`` maps interfaces to member names; ``end``
    is the period's end or now, whichever is first."""
    since: dict[tuple[str, str, str, str], float] = {}  # (kind, pbx, agent, queue) -> from
    seen: set[tuple[str, str, str, str]] = set()
    spans: dict[tuple[str, str], list[tuple[float, float]]] = {}  # (kind, agent) -> spans

    def on(key: tuple[str, str, str, str], at: float) -> None:
        seen.add(key)
        since.setdefault(key, at)

    def off(key: tuple[str, str, str, str], at: float) -> None:
        began = since.pop(key, None)
        if began is None and key[0] == "in" and key not in seen:
            began = record_start  # its first line removes it: it was in before the record
        seen.add(key)
        if began is not None:
            spans.setdefault((key[0], key[2]), []).append((began, at))

    for line in lines:
        if line.time >= end:
            break
        agent = names.get(line.agent, line.agent)
        member = ("in", line.pbx, agent, line.queue)
        pause = ("paused", line.pbx, agent, line.queue)
        if line.event == "ADDMEMBER":
            on(member, line.time)
        elif line.event == "REMOVEMEMBER":
            off(member, line.time)
            if pause in since:
                off(pause, line.time)  # a member removed is not paused any more
        elif line.event == "PAUSE":
            on(pause, line.time)
        elif line.event == "UNPAUSE":
            off(pause, line.time)
    for key, began in since.items():
        spans.setdefault((key[0], key[2]), []).append((began, end))
    agents = {agent for _, agent in spans}
    out = {}
    for agent in sorted(agents):
        logged = covered(spans.get(("in", agent), []), start, end)
        paused = covered(spans.get(("paused", agent), []), start, end)
        out[agent] = Presence(None if agent in static else logged, paused)
    return out
