"""Load YAML the way ops mean it.

PyYAML's default resolvers turn ``0701234567`` into an int (losing the zero),
``08:00`` into 480 (sexagesimal) and ``NO`` into False. Here every plain scalar
stays the string it looks like; only an empty value or ``~``/``null`` is None.
Pydantic then converts strings to numbers where a field really is a number.

The loader also records the line of every node so validation errors can name
the YAML path and line, and rejects duplicate keys (PyYAML silently keeps the
last one, which hides copy-paste mistakes in routing config).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]

_NULL_TAG = "tag:yaml.org,2002:null"


class _StringsLoader(yaml.SafeLoader):
    """SafeLoader with only the null resolver: everything else stays a string."""


_StringsLoader.yaml_implicit_resolvers = {}
_StringsLoader.add_implicit_resolver(
    _NULL_TAG, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class YamlError(Exception):
    """The text is not YAML vaxeld accepts; carries a line number."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class LoadedYaml:
    """Plain Python data plus the 1-based line of every path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


def load_yaml(text: str) -> LoadedYaml:
    """Parse ``text``; raise YamlError on syntax errors or duplicate keys."""
    try:
        root = yaml.compose(text, Loader=_StringsLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(f"YAML syntax error: {exc.problem}", line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - other PyYAML errors
        raise YamlError(f"YAML error: {exc}", None) from None
    loaded = LoadedYaml(data=None)
    if root is None:
        return loaded
    loaded.data = _build(root, (), loaded.lines)
    return loaded


def _build(node: Node, path: Path, lines: dict[Path, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        if node.tag == _NULL_TAG:
            return None
        return str(node.value)
    if isinstance(node, SequenceNode):
        return [_build(item, (*path, i), lines) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL_TAG:
                raise YamlError("mapping keys must be plain text", key_node.start_mark.line + 1)
            key = str(key_node.value)
            if key in result:
                where = ".".join(str(p) for p in (*path, key))
                first = lines.get((*path, key))
                raise YamlError(
                    f"{where}: duplicate key (first defined on line {first})",
                    key_node.start_mark.line + 1,
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, (*path, key), lines)
            # The key's line is more useful than the value's for block mappings.
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    raise YamlError(
        f"unsupported YAML node {node.tag}", node.start_mark.line + 1
    )  # pragma: no cover
