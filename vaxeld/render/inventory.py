"""What a rendering puts into Asterisk, as data: contexts with their priorities, the
dialplan's globals, and queues with their settings and static members. Pure.

Read from vaxeld's own rendered files (whose shape the renderers fix), or built by the
AMI adapter from what a live Asterisk has loaded, so the two can be compared: `vaxeld
apply` verifies that Asterisk holds exactly what was rendered, and shows a readable
difference between two renderings or between a rendering and the live Asterisk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from vaxeld.render.files import EXTENSIONS_FILE, QUEUES_FILE

# (extension, priority) -> application; an include is ("include", context) -> "".
Steps = dict[tuple[str, int], str]
# The queue settings compared with a live Asterisk (QueueStatus reports these).
LIVE_QUEUE_SETTINGS = ("strategy", "servicelevel")

_CONTEXT = re.compile(r"^\[([^\]]+)\]")
_EXTEN = re.compile(r"^exten => ([^,]+),(\d+)(?:\([^)]*\))?,([A-Za-z][A-Za-z0-9_]*)")
_SAME = re.compile(r"^\s*same => n(?:\([^)]*\))?,([A-Za-z][A-Za-z0-9_]*)")
_INCLUDE = re.compile(r"^include => (\S+)")
_GLOBAL = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")
_SETTING = re.compile(r"^([a-z-]+) = (.*)$")
_MEMBER = re.compile(r"^member => ([^,]+),(\d+),([^;,]*?)\s*(?:,[^;]*)?(?:;.*)?$")


@dataclass(frozen=True)
class Queue:
    settings: dict[str, str] = field(default_factory=dict)
    members: frozenset[tuple[str, int, str]] = frozenset()  # (interface, penalty, name)


@dataclass(frozen=True)
class Inventory:
    contexts: dict[str, Steps] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)

    def as_live(self) -> Inventory:
        """Only what a live Asterisk can be asked for over AMI (for comparing)."""
        queues = {
            name: Queue(
                {k: v for k, v in q.settings.items() if k in LIVE_QUEUE_SETTINGS}, q.members
            )
            for name, q in self.queues.items()
        }
        return Inventory(self.contexts, self.globals, queues)


def parse_extensions(text: str) -> tuple[dict[str, Steps], dict[str, str]]:
    """Contexts and globals of a rendered extensions_vaxeld.conf."""
    contexts: dict[str, Steps] = {}
    globals_: dict[str, str] = {}
    current: str | None = None
    last: tuple[str, int] | None = None
    for line in text.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        if m := _CONTEXT.match(line):
            current, last = m.group(1), None
            if current != "globals":
                contexts.setdefault(current, {})
            continue
        if current == "globals":
            if m := _GLOBAL.match(line):
                globals_[m.group(1)] = m.group(2)
            continue
        if current is None:
            continue
        steps = contexts[current]
        if m := _EXTEN.match(line):
            last = (m.group(1), int(m.group(2)))
            steps[last] = m.group(3)
        elif (m := _SAME.match(line)) and last is not None:
            last = (last[0], last[1] + 1)
            steps[last] = m.group(1)
        elif m := _INCLUDE.match(line):
            steps[("include", 0)] = m.group(1)
    return contexts, globals_


def parse_queues(text: str) -> dict[str, Queue]:
    """Queues of a rendered queues_vaxeld.conf: settings and static members."""
    queues: dict[str, tuple[dict[str, str], set[tuple[str, int, str]]]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        if m := _CONTEXT.match(line):
            current = m.group(1)
            queues[current] = ({}, set())
        elif current is None:
            continue
        elif m := _MEMBER.match(line):
            queues[current][1].add((m.group(1), int(m.group(2)), m.group(3)))
        elif m := _SETTING.match(line):
            queues[current][0][m.group(1)] = m.group(2).strip()
    return {name: Queue(s, frozenset(m)) for name, (s, m) in queues.items()}


# Every line a rendering may hold, by file: anything else means the files were not
# written by the renderers as they are (edited, cut, or a renderer's bug).
_LINES = {
    EXTENSIONS_FILE: re.compile(
        r"^(;.*|\[[A-Za-z0-9_-]+\]|exten => [^,\s]+,\d+(\([a-z0-9-]+\))?,[A-Za-z]\w*\(.*\)"
        r"| same => n(\([a-z0-9-]+\))?,[A-Za-z]\w*\(.*\)|include => \S+|[A-Z_][A-Z0-9_]*=\S*)$"
    ),
    QUEUES_FILE: re.compile(r"^(;.*|\[[A-Za-z0-9_-]+\]|[a-z-]+ = \S.*|member => .+)$"),
}


def unreadable(files: Mapping[str, str]) -> list[str]:
    """Lines of ``files`` that are not of a shape the renderers write, with where."""
    out = []
    for name, text in files.items():
        shape = _LINES.get(name)
        if shape is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if line and not shape.match(line):
                out.append(f"{name}:{number}: {line[:80]!r}")
    return out


def inventory_of(files: Mapping[str, str]) -> Inventory:
    """The inventory of a set of rendered files (a missing file: nothing of it)."""
    contexts, globals_ = parse_extensions(files.get(EXTENSIONS_FILE, ""))
    return Inventory(contexts, globals_, parse_queues(files.get(QUEUES_FILE, "")))


def _kind(context: str) -> str:
    return "schedule" if context.startswith("vaxeld-schedule-") else "context"


def differences(old: Inventory, new: Inventory) -> list[str]:
    """What changes from ``old`` to ``new``, one readable line per item (empty: none)."""
    out: list[str] = []
    for name in sorted(old.contexts.keys() | new.contexts.keys()):
        before, after = old.contexts.get(name), new.contexts.get(name)
        if before is None:
            out.append(f"+ {_kind(name)} {name} ({len(after or {})} priorities)")
        elif after is None:
            out.append(f"- {_kind(name)} {name} ({len(before)} priorities)")
        elif before != after and _kind(name) == "schedule":
            out.append(_schedule_difference(name, before, after))
        elif before != after:
            added = len(after.keys() - before.keys())
            removed = len(before.keys() - after.keys())
            changed = sum(1 for k in before.keys() & after.keys() if before[k] != after[k])
            extens = sorted({k[0] for k in before.keys() ^ after.keys()} - {"include"})
            shown = ", ".join(extens[:5]) + (" ..." if len(extens) > 5 else "")
            out.append(
                f"~ {_kind(name)} {name}: {added} priorities added, {removed} removed, "
                f"{changed} changed" + (f" (extensions {shown})" if shown else "")
            )
    for key in sorted(old.globals.keys() | new.globals.keys()):
        a, b = old.globals.get(key), new.globals.get(key)
        if a != b:
            out.append(f"~ global {key}: {a or '(none)'} -> {b or '(none)'}")
    for name in sorted(old.queues.keys() | new.queues.keys()):
        out += _queue_differences(name, old.queues.get(name), new.queues.get(name))
    return out


def _schedule_difference(name: str, before: Steps, after: Steps) -> str:
    """A schedule's special days (its extensions are dates) that come and go."""
    old, new = {k[0] for k in before}, {k[0] for k in after}
    came, went = sorted(new - old), sorted(old - new)
    changed = sorted(d for d in old & new if _day(before, d) != _day(after, d))

    def few(days: list[str]) -> str:
        return ", ".join(days[:3]) + (" ..." if len(days) > 3 else "")

    parts = [f"{len(came)} days added" + (f" ({few(came)})" if came else "")]
    parts.append(f"{len(went)} removed" + (f" ({few(went)})" if went else ""))
    parts.append(f"{len(changed)} changed" + (f" ({few(changed)})" if changed else ""))
    return f"~ schedule {name}: " + ", ".join(parts)


def _day(steps: Steps, extension: str) -> list[tuple[int, str]]:
    return sorted((p, app) for (e, p), app in steps.items() if e == extension)


def _queue_differences(name: str, before: Queue | None, after: Queue | None) -> list[str]:
    if before is None:
        return [f"+ queue {name} ({len(after.members) if after else 0} static members)"]
    if after is None:
        return [f"- queue {name}"]
    out = []
    for key in sorted(before.settings.keys() | after.settings.keys()):
        a, b = before.settings.get(key), after.settings.get(key)
        if a != b:
            out.append(f"~ queue {name}: {key} {a or '(unset)'} -> {b or '(unset)'}")
    for iface, penalty, who in sorted(after.members - before.members):
        out.append(f"~ queue {name}: + member {iface} ({who}, penalty {penalty})")
    for iface, penalty, who in sorted(before.members - after.members):
        out.append(f"~ queue {name}: - member {iface} ({who}, penalty {penalty})")
    return out
