"""Load YAML the way ops mean it.

PyYAML's default resolvers turn ``0701234567`` into an int (losing the zero),
``08:00`` into 480 (sexagesimal) and ``NO`` into False. Here every plain scalar
stays the string it looks like; only an empty value or ``~``/``null`` is None.
Pydantic then converts strings to numbers where a field really is a number.

The loader also records the line of every node so validation errors can name
the YAML path and line, and rejects duplicate keys (PyYAML silently keeps the
last one, which hides copy-paste mistakes in routing config).

Every input is bounded before anything is built from it: the text's size, how deep
it nests, how long a value is, and how many nodes it stands for once its aliases
are followed (a 4.9 KB file of nested aliases once stood for a billion strings). A
stream of parse events is checked first, because PyYAML composes nodes recursively
and a file nested thousands deep would end in a RecursionError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]

_NULL_TAG = "tag:yaml.org,2002:null"

MAX_TEXT_CHARS = 1024 * 1024  # a routing config is a few kilobytes
MAX_DEPTH = 32  # the config nests about 6 deep
MAX_VALUE_CHARS = 4096
MAX_NODES = 100_000  # after following aliases
# C0 controls but tab and line breaks, DEL, C1 controls: in a value or a key, they could
# rewrite the operator's terminal when an error is printed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


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


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def load_yaml(text: str) -> LoadedYaml:
    """Parse ``text``; raise YamlError on syntax errors, duplicate keys or any bound
    exceeded, always with the line where it happened."""
    if len(text) > MAX_TEXT_CHARS:
        raise YamlError(
            f"the file is too large ({len(text)} characters; at most {MAX_TEXT_CHARS})", None
        )
    control = _CONTROL.search(text)
    if control is not None:
        raise YamlError(
            f"control character {control.group()!r} is not allowed", _line_at(text, control.start())
        )
    try:
        _check_events(text)
        root = yaml.compose(text, Loader=_StringsLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(f"YAML syntax error: {exc.problem}", line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        raise YamlError(
            f"character {exc.character!r} is not allowed", _line_at(text, exc.position)
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - other PyYAML errors
        raise YamlError(f"YAML error: {exc}", None) from None
    loaded = LoadedYaml(data=None)
    if root is None:
        return loaded
    loaded.data = _Builder(loaded.lines).build(root, ())
    return loaded


def _check_events(text: str) -> None:
    """Depth and value length, from the parser's event stream (it does not recurse)."""
    depth = 0
    for event in yaml.parse(text, Loader=_StringsLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlError(f"nested too deep (more than {MAX_DEPTH} levels)", _line(event))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent):
            if len(event.value) > MAX_VALUE_CHARS:
                raise YamlError(
                    f"value too long ({len(event.value)} characters; at most {MAX_VALUE_CHARS})",
                    _line(event),
                )
            control = _CONTROL.search(event.value)  # written as an escape ("\e", "\x1b")
            if control is not None:
                raise YamlError(
                    f"control character {control.group()!r} is not allowed", _line(event)
                )


def _line(event: yaml.Event | Node) -> int | None:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else None


class _Builder:
    """Nodes to plain data, counting every node it builds: an alias is built again each
    time it is used, so the count is what the file stands for, not what it spells."""

    def __init__(self, lines: dict[Path, int]) -> None:
        self.lines = lines
        self.nodes = 0

    def build(self, node: Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError(
                f"the file stands for more than {MAX_NODES} values once its aliases (*name) "
                "are followed",
                _line(node),
            )
        if len(path) > MAX_DEPTH:  # an alias of a node that holds itself
            raise YamlError(f"nested too deep (more than {MAX_DEPTH} levels)", _line(node))
        return _build(node, path, self.lines, self.build)


def _build(node: Node, path: Path, lines: dict[Path, int], build: Any) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        if node.tag == _NULL_TAG:
            return None
        return str(node.value)
    if isinstance(node, SequenceNode):
        return [build(item, (*path, i)) for i, item in enumerate(node.value)]
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
            result[key] = build(value_node, (*path, key))
            # The key's line is more useful than the value's for block mappings.
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    raise YamlError(
        f"unsupported YAML node {node.tag}", node.start_mark.line + 1
    )  # pragma: no cover
