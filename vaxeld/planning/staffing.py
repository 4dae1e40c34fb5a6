"""How many agents each queue really had, interval by interval: members logged in and
not paused, from queue_log's member lines (as vaxeld.report.presence reads them: ADDMEMBER
and REMOVEMEMBER name the interface, PAUSE and UNPAUSE the member name) and the static
members of queues.conf, who are always in. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vaxeld.planning.member_lines import MemberLine, covered

Span = tuple[float, float]


def member_spans(
    lines: Iterable[MemberLine],
    names: Mapping[str, str],
    record_start: float,
    end: float,
) -> tuple[dict[tuple[str, str], list[Span]], dict[tuple[str, str], list[Span]]]:
    """(in, paused) spans per (queue, member name), from lines in time order."""
    since: dict[tuple[str, str, str], float] = {}  # (kind, queue, agent) -> from
    seen: set[tuple[str, str, str]] = set()
    spans: dict[str, dict[tuple[str, str], list[Span]]] = {"in": {}, "paused": {}}

    def close(key: tuple[str, str, str], at: float) -> None:
        began = since.pop(key, None)
        if began is None and key[0] == "in" and key not in seen:
            began = record_start  # its first line removes it: in before the record
        seen.add(key)
        if began is not None:
            spans[key[0]].setdefault((key[1], key[2]), []).append((began, at))

    for line in lines:
        if line.time >= end:
            break
        agent = names.get(line.agent, line.agent)
        member, pause = ("in", line.queue, agent), ("paused", line.queue, agent)
        if line.event == "ADDMEMBER":
            seen.add(member)
            since.setdefault(member, line.time)
        elif line.event == "REMOVEMEMBER":
            close(member, line.time)
            if pause in since:
                close(pause, line.time)
        elif line.event == "PAUSE":
            seen.add(pause)
            since.setdefault(pause, line.time)
        elif line.event == "UNPAUSE":
            close(pause, line.time)
    for key, began in since.items():
        spans[key[0]].setdefault((key[1], key[2]), []).append((began, end))
    return spans["in"], spans["paused"]


def staffed(
    lines: Iterable[MemberLine],
    names: Mapping[str, str],
    static: Mapping[str, frozenset[str]],
    record_start: float,
    buckets: Iterable[tuple[float, float]],
    end: float,
) -> dict[tuple[str, float], float]:
    """(queue, bucket start) -> the average number of its members in and not paused
    during the bucket. ``static``: queue -> its static members (in all the time)."""
    members, paused = member_spans(lines, names, record_start, end)
    for queue, agents in static.items():
        for agent in agents:
            members.setdefault((queue, agent), []).append((record_start, end))
    out: dict[tuple[str, float], float] = {}
    for start, stop in buckets:
        length = stop - start
        for (queue, agent), spans in members.items():
            here = covered(spans, start, stop) - covered(
                paused.get((queue, agent), []), start, stop
            )
            if here > 0:
                out[(queue, start)] = out.get((queue, start), 0.0) + here / length
    return out
