"""vaxeld.config.yamlload: strings stay strings, duplicates are errors, lines are known."""

import pytest

from vaxeld.config.yamlload import YamlError, load_yaml


def test_phone_numbers_times_and_no_stay_strings() -> None:
    loaded = load_yaml("a: 0701234567\nb: 08:00\nc: NO\nd: 1e3\ne: 017\n")
    assert loaded.data == {"a": "0701234567", "b": "08:00", "c": "NO", "d": "1e3", "e": "017"}


def test_empty_and_tilde_are_none() -> None:
    assert load_yaml("a:\nb: ~\nc: null\n").data == {"a": None, "b": None, "c": None}


def test_duplicate_key_is_rejected_with_both_lines() -> None:
    with pytest.raises(YamlError) as info:
        load_yaml("queues:\n  sv: 1\n  en: 2\n  sv: 3\n")
    assert info.value.line == 4
    assert "queues.sv: duplicate key (first defined on line 2)" in info.value.message


def test_lines_are_recorded_for_nested_paths() -> None:
    loaded = load_yaml("queues:\n  sv:\n    service_level_seconds: 20\nlist:\n  - x\n  - y\n")
    assert loaded.lines[("queues", "sv", "service_level_seconds")] == 3
    assert loaded.lines[("list", 1)] == 6
    assert loaded.line_of(("queues", "sv", "missing_key")) == 2


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(YamlError) as info:
        load_yaml("a: 1\nb: [unclosed\nc: 2\n")
    assert info.value.line is not None and info.value.line >= 2
    assert info.value.message.startswith("YAML syntax error")


def test_non_scalar_keys_are_rejected() -> None:
    with pytest.raises(YamlError):
        load_yaml("? [a, b]\n: 1\n")
