"""Hostile config files: every one gets a clean error naming its line, within bounded
memory, and nothing it holds reaches the operator's terminal unescaped."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaxeld.config import ConfigError, load_config, parse_config
from vaxeld.config.names import agent_topic_id, member_name_problem

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
TEXT = EXAMPLE.read_text()
PEAK_BYTES = 64 * 1024 * 1024


def laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\nentry: *a{levels - 1}\n"


def refused(text: str) -> ConfigError:
    """parse_config's error for ``text``, and that it stayed within PEAK_BYTES."""
    tracemalloc.start()
    try:
        parse_config(text)
    except ConfigError as exc:
        error = exc
    else:
        raise AssertionError("accepted")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.0f} MB"
    return error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # 9**9 strings once expanded: took 2.5 GB and 19 s at 7 levels before.
        (laughs(9), "more than 100000 values once its aliases"),
        ("x: &a [*a]\n", "nested too deep"),  # an alias of itself: RecursionError before
        ("x: " + "[" * 2000 + "]" * 2000 + "\n", "nested too deep"),  # RecursionError before
        ("x: " + "{a: " * 40 + "1" + "}" * 40 + "\n", "nested too deep"),
        ("entry:\n  label: " + "y" * 5000 + "\n", "value too long (5000 characters"),
        ("x: " + "z" * (1024 * 1024) + "\n", "the file is too large"),
        ('x: "a\\e[2Jb"\n', "control character '\\x1b'"),
        ("x: a\x00b\n", "control character '\\x00'"),
        ("x: 1\n\x1b[2J: 2\n", "control character '\\x1b'"),
    ],
)
def test_hostile_yaml_is_refused_with_a_line_within_bounded_memory(text: str, message: str) -> None:
    error = refused(text)
    assert len(error.problems) == 1
    assert message in error.problems[0].message
    assert str(error).count("\n") == 0 and "\x1b" not in str(error) and "\x00" not in str(error)
    if "too large" not in message:
        assert error.problems[0].line is not None


def test_unicode_digits_in_a_number_are_a_clean_error() -> None:
    """str.isdigit() accepts superscripts and int() does not: this crashed references.py."""
    for digits in ("²³⁴⁵", "①②③", "٠٣١"):
        text = TEXT.replace('number: "031-365 00 00"', f'number: "{digits}"', 1)
        error = refused(text)
        assert [p.path for p in error.problems] == ["entry.number"]
        assert error.problems[0].line == TEXT[: TEXT.index("number: ")].count("\n") + 1


def test_a_key_with_terminal_escapes_is_printed_escaped() -> None:
    text = TEXT + "bad\u202ekey: 1\n"  # a right-to-left override, not a control character
    error = refused(text)
    shown = str(error)
    assert "\u202e" not in shown and "bad\\u202ekey" in shown


def test_a_long_wrong_value_is_echoed_as_a_prefix() -> None:
    text = TEXT.replace("username: vaxeld", "username: " + "x" * 3000 + "!", 1)
    error = refused(text)
    message = next(p.message for p in error.problems if p.path == "pbxs.0.username")
    assert "(3001 characters)" in message and len(message) < 200


def test_a_file_that_is_not_utf8_gets_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    data = TEXT.encode()
    cut = data.index(b"timezone")
    path = tmp_path / "bad.yaml"
    path.write_bytes(data[:cut] + b"\xff" + data[cut:])
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].line == data[:cut].count(b"\n") + 1
    assert "not UTF-8" in info.value.problems[0].message


@pytest.mark.parametrize("secret_file", ["/dev/zero", "/proc/self"])
def test_check_refuses_a_secret_file_that_run_would_refuse(
    tmp_path: Path, secret_file: str
) -> None:
    """/dev/zero passed `check` and made `run` read forever; a folder made it crash."""
    path = tmp_path / "vaxeld.yaml"
    path.write_text(TEXT.replace("secret_env: VAXELD_AMI_SECRET", f"secret_file: {secret_file}", 1))
    res = subprocess.run(
        [sys.executable, "-m", "vaxeld", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert res.returncode == 1
    assert f"pbxs.main.secret_file: cannot read {secret_file}: " in res.stderr
    assert "Traceback" not in res.stderr


def test_a_path_with_a_nul_is_a_config_error() -> None:
    text = TEXT.replace("secret_env: VAXELD_AMI_SECRET", 'secret_file: "/etc/\\0x"', 1)
    error = refused(text)
    assert "control character" in str(error)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("A\u0301sa Lind", "composed form"),  # A + combining acute: not NFC
        ("Åsa\u200dLind", "invisible"),  # zero-width joiner
        ("\u0410sa Lindqvist", "mixes scripts"),  # a Cyrillic capital A in a Latin name
        ("Ase\u0301\u0302\u0303x", "composed form"),
    ],
)
def test_member_names_follow_the_rule(name: str, why: str) -> None:
    problem = member_name_problem(name)
    assert problem is not None and why in problem


@pytest.mark.parametrize("name", ["Åsa Lindqvist", "Hodan Abdi", "يوسف حداد", "Ольга Петрова"])
def test_real_names_in_one_script_are_accepted(name: str) -> None:
    assert member_name_problem(name) is None


def test_two_agents_in_arabic_script_get_topics_of_their_own() -> None:
    """Both used to become agent/unnamed and overwrite each other on MQTT."""
    a, b = agent_topic_id("يوسف حداد"), agent_topic_id("هدى علي")
    assert a != b and a.startswith("agent-") and agent_topic_id("يوسف حداد") == a


def test_agents_that_would_share_a_topic_are_a_config_error() -> None:
    text = TEXT.replace("name: Hodan Abdi", "name: Åsa Lindqvist.", 1)
    assert "name: Åsa Lindqvist." in text
    error = refused(text)
    assert any("same MQTT topic id 'asa-lindqvist'" in p.message for p in error.problems)


def test_a_ping_interval_of_a_microsecond_is_refused() -> None:
    text = TEXT.replace(
        "username: vaxeld", "username: vaxeld\n    ping_interval_seconds: 0.000001", 1
    )
    error = refused(text)
    assert [p.path for p in error.problems] == ["pbxs.0.ping_interval_seconds"]


_hostile_piece = st.one_of(
    st.sampled_from(["&a ", "*a", "[", "]", "{", "}", ": ", "- ", "\n", "  ", '"', "'", "!!str "]),
    st.sampled_from(["²", "①", "\u200d", "\u202e", "\x1b", "\x00", "\ufeff", "\u0301", "\ud800"]),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_hostile_piece, max_size=60), st.integers(0, len(TEXT)))
def test_any_hostile_text_gets_a_clean_error_or_a_valid_config(
    pieces: list[str], where: int
) -> None:
    """Hostile pieces spliced into the example: never a crash, never unbounded memory,
    and an error message never carries a control or direction character."""
    text = TEXT[:where] + "".join(pieces) + TEXT[where:]
    tracemalloc.start()
    try:
        parse_config(text)
    except ConfigError as exc:
        shown = str(exc)
        assert not any(c in shown for c in "\x1b\x00\u202e\u200d\ufeff")
        assert exc.problems
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < PEAK_BYTES
