"""Dialplan and AMI injection: arbitrary strings (line breaks, ; , ${...} $[...] #include
& [ and non-ASCII) in every config field that reaches the dialplan or AMI are either
rejected by validation, or the rendered dialplan, loaded into real Asterisk, has
exactly the structure of the example's: the same contexts, extensions and priorities."""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lab_fixtures import Lab, start_lab, stop_lab

from vaxeld.config import ConfigError, parse_config
from vaxeld.config.yamlload import load_yaml
from vaxeld.render import render_all, write_atomically

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
BASE: dict[str, Any] = load_yaml(EXAMPLE.read_text()).data
TODAY = date(2026, 11, 23)

NASTY = st.one_of(
    st.sampled_from(
        [
            "${SHELL}",
            "$[1+1]",
            '#include "/etc/passwd"',
            "a\nexten => 1,1,System(id)",
            "x)\n[evil]",
            "a,b",
            "a;b",
            "a&b",
            "a|b",
            "[x]",
            "Åsa\r\nAction: Originate",
            "vaxeld/../../etc/passwd",
            "",
            " ",
            "0313650000;1",
            "_X.",
            "a\x00b",
        ]
    ),
    st.text(
        alphabet=st.sampled_from([*"ab09;,$[]{}()&|\n\r\"' #_-/.:@+=!\\", "Å", "\t"]),
        min_size=1,
        max_size=14,
    ),
    st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True),  # harmless ones get accepted
    st.from_regex(r"0[0-9]{5,9}", fullmatch=True),
)


def _set(path: tuple[Any, ...]) -> Callable[[dict[str, Any], str], None]:
    def setter(data: dict[str, Any], value: str) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return setter


def _rename_queue_fi(data: dict[str, Any], value: str) -> None:
    data["queues"] = {(value if k == "fi" else k): v for k, v in data["queues"].items()}
    group = data["agent_groups"]["kontaktcenter-fi"]
    group["queues"] = {value: 0}


def _rename_crisis_storm(data: dict[str, Any], value: str) -> None:
    messages = data["crisis"]["messages"]
    data["crisis"]["messages"] = {(value if k == "storm" else k): v for k, v in messages.items()}


FIELDS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "entry.number": _set(("entry", "number")),
    "legacy_numbers.0.number": _set(("legacy_numbers", 0, "number")),
    "legacy_numbers.0.label": _set(("legacy_numbers", 0, "label")),
    "languages.sv.prompt": _set(("languages", "sv", "prompt")),
    "languages.en.closed_prompt": _set(("languages", "en", "closed_prompt")),
    "queues.<fi>": _rename_queue_fi,
    "agent_groups.tolkar.members.0.interface": _set(
        ("agent_groups", "tolkar", "members", 0, "interface")
    ),
    "agent_groups.tolkar.members.0.name": _set(("agent_groups", "tolkar", "members", 0, "name")),
    "crisis.messages.<storm>": _rename_crisis_storm,
    "crisis.messages.storm.prompt": _set(("crisis", "messages", "storm", "prompt")),
    "schedules.kontorstid.exceptions.0.label": _set(
        ("schedules", "kontorstid", "exceptions", 0, "label")
    ),
    "dial_context": _set(("dial_context",)),
    "menu.extensions.0.range": _set(("menu", "extensions", 0, "range")),
    "sounds.fallback": _set(("sounds", "fallback")),
    "timezone": _set(("timezone",)),
    "pbxs.0.username": _set(("pbxs", 0, "username")),
    "entry.label": _set(("entry", "label")),
}


def shape(dialplan_show: str) -> Counter[tuple[int, int]]:
    """Per vaxeld context: (extensions, priorities), as Asterisk itself parsed it."""
    out: Counter[tuple[int, int]] = Counter()
    for block in re.split(r"^\[ Context '", dialplan_show, flags=re.MULTILINE)[1:]:
        name = block.split("'", 1)[0]
        if not name.startswith("vaxeld-") or name.startswith("vaxeld-lab"):
            continue
        extens = len(re.findall(r"^  '[^']+' =>", block, flags=re.MULTILINE))
        priorities = len(re.findall(r"^\s+(?:'[^']+' =>\s+)?\d+\.", block, flags=re.MULTILINE))
        out[(extens, priorities)] += 1
    return out


@pytest.fixture(scope="module")
def injection_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = start_lab(tmp_path_factory.mktemp("injection"), "injection")
    yield lab
    stop_lab(lab)


def _load(lab: Lab, files: dict[str, str]) -> str:
    write_atomically(lab.dialplans, files)
    lab.asterisk.install_dialplans(lab.dialplans)
    lab.asterisk.cli("dialplan reload")
    return lab.asterisk.cli("dialplan show")


@pytest.mark.asterisk
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(field=st.sampled_from(sorted(FIELDS)), value=NASTY)
@example(field="queues.<fi>", value="suomi")  # accepted: must load with the same shape
@example(field="entry.number", value="0313659999")
@example(field="languages.sv.prompt", value="x)\n[evil]")
def test_injected_values_are_rejected_or_harmless_in_real_asterisk(
    injection_lab: Lab, field: str, value: str
) -> None:
    data = copy.deepcopy(BASE)
    FIELDS[field](data, value)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    try:
        config = parse_config(text)
    except ConfigError as exc:
        assert exc.problems, "a rejection must say why"
        return
    # Accepted: nothing dangerous may have got through the patterns ...
    assert not re.search(r"[\n\r;,$\[\]{}&|\x00]", value), value
    files = render_all(config, TODAY)
    for line in files["extensions_vaxeld.conf"].splitlines():
        assert not line.startswith("#include"), line
    # ... and Asterisk parses the rendering into exactly the intended structure.
    baseline = shape(_load(injection_lab, render_all(parse_config(EXAMPLE.read_text()), TODAY)))
    got = shape(_load(injection_lab, files))
    assert got == baseline, f"{field}={value!r} changed the dialplan's structure"
