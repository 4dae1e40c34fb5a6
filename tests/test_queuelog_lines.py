"""vaxeld.state.queuelog_lines: queue_log lines parsed, malformed ones refused."""

from __future__ import annotations

from vaxeld.state.queuelog_lines import parse_line


def test_parse_line() -> None:
    e = parse_line("1795420857|1795420855.0|sv|Åsa Lindqvist|CONNECT|1|1795420856.14|1\n")
    assert e is not None
    assert (e.time, e.uniqueid, e.queue, e.agent, e.event) == (
        1795420857,
        "1795420855.0",
        "sv",
        "Åsa Lindqvist",
        "CONNECT",
    )
    assert e.int_field(1) == 1 and e.field(2) == "1795420856.14" and e.field(9) == ""
    assert parse_line("garbage") is None
    assert parse_line("x|1|2|3|4") is None


def test_a_time_of_unicode_digits_is_not_a_line() -> None:
    """str.isdigit() accepts superscript digits, int() does not: they must not crash."""
    assert parse_line("\u00b2\u00b3|1.1|sv|NONE|ENTERQUEUE||070|1") is None
    assert parse_line("\u0663|1.1|sv|NONE|ENTERQUEUE||070|1") is None  # Arabic-Indic 3
