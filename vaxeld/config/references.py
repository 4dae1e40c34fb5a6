"""Checks that span several parts of the config (a menu digit naming a language that
has a queue, a queue naming agent groups that exist, ...).

They run on the raw YAML data, not on the validated model, so they are reported in
the same run as field errors: ops see every problem at once, each with its path.
"""

from __future__ import annotations

from typing import Any

from vaxeld.yamlload import Path

Problem = tuple[Path, str]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def check_references(data: dict[str, Any]) -> list[Problem]:
    """Every cross-reference problem in ``data`` as (path, message)."""
    problems: list[Problem] = []
    languages = _mapping(data.get("languages"))
    queues = _mapping(data.get("queues"))
    groups = _mapping(data.get("agent_groups"))
    menu = _mapping(data.get("menu"))

    def known_language(path: Path, lang: Any) -> None:
        if isinstance(lang, str) and languages and lang not in languages:
            problems.append((path, f"unknown language {lang!r}"))

    for digit, lang in _mapping(menu.get("options")).items():
        known_language(("menu", "options", digit), lang)
    known_language(("menu", "default_language"), menu.get("default_language"))

    served: dict[str, str] = {}
    for qname, queue in queues.items():
        q = _mapping(queue)
        lang = _str(q.get("language"))
        known_language(("queues", qname, "language"), lang)
        if lang is not None:
            if lang in served:
                problems.append(
                    (
                        (("queues", qname, "language")),
                        f"{lang!r} already served by queue {served[lang]!r}",
                    )
                )
            served.setdefault(lang, qname)
        group_list = q.get("groups")
        for i, group in enumerate(group_list if isinstance(group_list, list) else []):
            if isinstance(group, str) and group not in groups:
                problems.append((("queues", qname, "groups", i), f"unknown agent group {group!r}"))

    chosen = [v for v in _mapping(menu.get("options")).values() if isinstance(v, str)]
    default = _str(menu.get("default_language"))
    for lang in dict.fromkeys([*chosen, *([default] if default else [])]):
        if lang in languages and lang not in served:
            problems.append((("languages", lang), "no queue serves this language"))

    names: dict[str, int] = {}
    pbxs = data.get("pbxs")
    for i, pbx in enumerate(pbxs if isinstance(pbxs, list) else []):
        name = _str(_mapping(pbx).get("name")) or "main"
        if name in names:
            problems.append(
                (("pbxs", i, "name"), f"{name!r} is already used by pbxs.{names[name]}")
            )
        names.setdefault(name, i)
    return problems
