"""Checks that span several parts of the config: a menu digit naming a language that
has a queue, groups naming queues that exist, overflow without cycles, extension
ranges that leave the entry numbers alone, and so on.

They run on the raw YAML data, not on the validated model, so they are reported
in the same run as field errors: ops see every problem at once, each with its path.
"""

from __future__ import annotations

import re
from typing import Any

from vaxeld.config.names import agent_topic_id
from vaxeld.config.yamlload import Path

Problem = tuple[Path, str]


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _digits(value: Any) -> str | None:
    """A phone number's digits, or None when it is not one (validation says why)."""
    if not isinstance(value, str):
        return None
    digits = re.sub(r"[ -]", "", value).removeprefix("+")
    return digits if digits.isascii() and digits.isdigit() else None


class _Checker:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[Problem] = []
        self.languages = _map(data.get("languages"))
        self.queues = _map(data.get("queues"))
        self.groups = _map(data.get("agent_groups"))
        self.schedules = _map(data.get("schedules"))
        self.menu = _map(data.get("menu"))

    def add(self, path: Path, message: str) -> None:
        self.problems.append((path, message))

    def language(self, path: Path, lang: Any) -> None:
        if isinstance(lang, str) and self.languages and lang not in self.languages:
            self.add(path, f"unknown language {lang!r}")

    def queue(self, path: Path, name: Any) -> None:
        if isinstance(name, str) and self.queues and name not in self.queues:
            self.add(path, f"unknown queue {name!r}")

    def schedule(self, path: Path, name: Any) -> None:
        if isinstance(name, str) and name not in self.schedules:
            self.add(path, f"unknown schedule {name!r}")

    def run(self) -> list[Problem]:
        self.check_menu()
        self.check_languages()
        self.check_queues()
        self.check_groups()
        self.check_numbers()
        self.check_pbxs()
        return self.problems

    def check_menu(self) -> None:
        for digit, choice in _map(self.menu.get("options")).items():
            if isinstance(choice, dict):
                self.queue(("menu", "options", digit, "queue"), choice.get("queue"))
            else:
                self.language(("menu", "options", digit), choice)
        self.language(("menu", "default_language"), self.menu.get("default_language"))
        digits = set(_map(self.menu.get("options")))
        for i, ext in enumerate(_list(self.menu.get("extensions"))):
            rng = _str(_map(ext).get("range")) or ""
            if rng[:1] in digits:
                self.add(
                    ("menu", "extensions", i, "range"),
                    f"{rng!r} starts with {rng[0]}, which is already a menu choice",
                )

    def check_languages(self) -> None:
        chosen = [v for v in _map(self.menu.get("options")).values() if isinstance(v, str)]
        default = _str(self.menu.get("default_language"))
        for lang in dict.fromkeys([*chosen, *([default] if default else [])]):
            if lang not in self.languages:
                continue
            explicit = _str(_map(self.languages[lang]).get("queue"))
            if explicit is not None:
                self.queue(("languages", lang, "queue"), explicit)
                continue
            serving = [n for n, q in self.queues.items() if _map(q).get("language") == lang]
            if not serving:
                self.add(("languages", lang), "no queue serves this language")
            elif len(serving) > 1 and lang not in serving:
                self.add(
                    ("languages", lang),
                    f"queues {', '.join(serving)} all serve it: set languages.{lang}.queue",
                )

    def check_queues(self) -> None:
        for name, queue in self.queues.items():
            q = _map(queue)
            self.language(("queues", name, "language"), q.get("language"))
            if q.get("schedule") is not None:
                self.schedule(("queues", name, "schedule"), q.get("schedule"))
            target = _map(q.get("overflow")).get("to")
            if target == name:
                self.add(("queues", name, "overflow", "to"), "a queue cannot overflow into itself")
            else:
                self.queue(("queues", name, "overflow", "to"), target)
        self.check_overflow_cycles()

    def check_overflow_cycles(self) -> None:
        nexts = {n: _map(_map(q).get("overflow")).get("to") for n, q in self.queues.items()}
        reported: set[str] = set()
        for start in nexts:
            path, current = [start], nexts[start]
            while isinstance(current, str) and current in nexts and current not in path:
                path.append(current)
                current = nexts[current]
            if current == start and len(path) > 1 and not reported & set(path):
                reported.update(path)
                self.add(
                    ("queues", start, "overflow", "to"),
                    f"overflow cycle: {' -> '.join([*path, start])}",
                )

    def check_groups(self) -> None:
        for gname, group in self.groups.items():
            g = _map(group)
            spoken = [x for x in _list(g.get("languages")) if isinstance(x, str)]
            for lang in spoken:
                self.language(("agent_groups", gname, "languages"), lang)
            for qname in _map(g.get("queues")):
                self.queue(("agent_groups", gname, "queues", qname), qname)
                qlang = _map(self.queues.get(qname)).get("language")
                if spoken and isinstance(qlang, str) and qlang not in spoken:
                    self.add(
                        ("agent_groups", gname, "queues", qname),
                        f"queue {qname!r} is in {qlang!r}, which this group does not speak",
                    )
        self.check_topic_ids()

    def check_topic_ids(self) -> None:
        """Two agents may not share an MQTT topic: one would overwrite the other."""
        owners: dict[str, tuple[str, Path]] = {}
        for gname, group in self.groups.items():
            for i, member in enumerate(_list(_map(group).get("members"))):
                name = _str(_map(member).get("name"))
                if not name:
                    continue
                path: Path = ("agent_groups", gname, "members", i, "name")
                topic = agent_topic_id(name)
                first = owners.setdefault(topic, (name, path))
                if first[0] != name:
                    where = ".".join(str(p) for p in first[1])
                    self.add(
                        path,
                        f"{name!r} gets the same MQTT topic id {topic!r} as {first[0]!r} "
                        f"({where}): rename one of them",
                    )

    def check_numbers(self) -> None:
        entry = _map(self.data.get("entry"))
        if entry.get("schedule") is not None:
            self.schedule(("entry", "schedule"), entry.get("schedule"))
        numbers: dict[str, Path] = {}
        main = _digits(entry.get("number"))
        if main:
            numbers[main] = ("entry", "number")
        for i, legacy in enumerate(_list(self.data.get("legacy_numbers"))):
            item = _map(legacy)
            number = _digits(item.get("number"))
            path: Path = ("legacy_numbers", i, "number")
            if number in numbers:
                used = ".".join(str(p) for p in numbers[number])
                self.add(path, f"{item.get('number')!r} is already used by {used}")
            elif number:
                numbers[number] = path
            self.language(("legacy_numbers", i, "language"), item.get("language"))
            self.queue(("legacy_numbers", i, "queue"), item.get("queue"))
        for i, ext in enumerate(_list(self.menu.get("extensions"))):
            rng = _str(_map(ext).get("range")) or ""
            low, _, high = rng.partition("-")
            for number, owner in numbers.items():
                if (
                    len(number) == len(low)
                    and low.isascii()
                    and low.isdigit()
                    and high.isascii()
                    and high.isdigit()
                    and int(low) <= int(number) <= int(high)
                ):
                    self.add(
                        ("menu", "extensions", i, "range"),
                        f"{rng!r} swallows {'.'.join(str(p) for p in owner)} {number}",
                    )

    def check_pbxs(self) -> None:
        names: dict[str, int] = {}
        for i, pbx in enumerate(_list(self.data.get("pbxs"))):
            name = _str(_map(pbx).get("name")) or "main"
            if name in names:
                self.add(("pbxs", i, "name"), f"{name!r} is already used by pbxs.{names[name]}")
            names.setdefault(name, i)


def check_references(data: dict[str, Any]) -> list[Problem]:
    """Every cross-reference problem in ``data`` as (path, message)."""
    return _Checker(data).run()
