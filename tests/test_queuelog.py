"""vaxeld.queuelog: parse lines, follow the file through appends, rotation, truncation."""

from __future__ import annotations

import os
from pathlib import Path

from vaxeld.queuelog import QueueLogReader, parse_line


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


def test_starts_at_the_end_and_returns_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text("1|1.1|sv|NONE|ENTERQUEUE||070|1\n")
    reader = QueueLogReader(path)
    reader.start_at_end()
    assert reader.read_new() == []
    with path.open("a") as fh:
        fh.write("2|1.1|sv|NONE|ABANDON|1|1|5\n3|1.2|sv|NONE|ENTER")
    (entry,) = reader.read_new()
    assert entry.event == "ABANDON" and entry.int_field(3) == 5
    with path.open("a") as fh:
        fh.write("QUEUE||070|1\n")
    (entry,) = reader.read_new()
    assert (entry.uniqueid, entry.event) == ("1.2", "ENTERQUEUE")


def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text("")
    reader = QueueLogReader(path)
    reader.start_at_end()
    with path.open("a") as fh:
        fh.write("1|1.1|sv|NONE|ENTERQUEUE||070|1\n")
    assert len(reader.read_new()) == 1
    with path.open("a") as fh:  # written just before logrotate moved the file
        fh.write("2|1.1|sv|NONE|ABANDON|1|1|4\n")
    os.rename(path, tmp_path / "queue_log.1")
    path.write_text("3|1.2|en|NONE|ENTERQUEUE||070|1\n")
    assert [(e.uniqueid, e.event) for e in reader.read_new()] == [
        ("1.1", "ABANDON"),
        ("1.2", "ENTERQUEUE"),
    ]


def test_truncation_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text("1|1.1|sv|NONE|ENTERQUEUE||070|1\n" * 3)
    reader = QueueLogReader(path)
    assert len(reader.read_new()) == 3
    path.write_text("")  # copytruncate
    with path.open("a") as fh:
        fh.write("9|9.9|fi|NONE|ENTERQUEUE||070|1\n")
    assert [e.uniqueid for e in reader.read_new()] == ["9.9"]


def test_missing_file_and_bad_lines_are_not_errors(tmp_path: Path) -> None:
    reader = QueueLogReader(tmp_path / "nope")
    assert reader.read_new() == []
    (tmp_path / "nope").write_text("not a queue_log line\n1|1.1|sv|NONE|ENTERQUEUE||070|1\n")
    assert len(reader.read_new()) == 1
    assert reader.bad_lines == 1
