"""vaxeld.queuelog: follow the file through appends, rotation, truncation."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxeld.queuelog import FileChanges, QueueLogReader


def test_skipping_all_then_returns_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text("1|1.1|sv|NONE|ENTERQUEUE||070|1\n")
    reader = QueueLogReader(path)
    reader.start_at_time(float("inf"))  # skip all that is there
    assert reader.read_new() == []
    with path.open("a") as fh:
        fh.write("2|1.1|sv|NONE|ABANDON|1|1|5\n3|1.2|sv|NONE|ENTER")
    (entry,) = reader.read_new()
    assert entry.event == "ABANDON" and entry.int_field(3) == 5
    with path.open("a") as fh:
        fh.write("QUEUE||070|1\n")
    (entry,) = reader.read_new()
    assert (entry.uniqueid, entry.event) == ("1.2", "ENTERQUEUE")


@given(
    times=st.lists(st.integers(1_000, 1_100), max_size=60).map(sorted),
    since=st.integers(990, 1_110),
    junk=st.sets(st.integers(0, 60), max_size=3),
)
def test_start_at_time_returns_the_lines_from_then_on_and_continues_after_them(
    tmp_path_factory: pytest.TempPathFactory, times: list[int], since: int, junk: set[int]
) -> None:
    """Bisecting the file finds exactly the lines of ``since`` or later, also with
    malformed lines in between; read_new then returns only what is appended."""
    path = tmp_path_factory.mktemp("ql") / "queue_log"
    lines = [f"{t}|{i}.1|sv|NONE|ENTERQUEUE||070|1\n" for i, t in enumerate(times)]
    for at in sorted(junk, reverse=True):
        lines.insert(min(at, len(lines)), "not a queue_log line\n")
    path.write_text("".join(lines))
    reader = QueueLogReader(path)
    entries, first = reader.start_at_time(since)
    assert [e.time for e in entries] == [t for t in times if t >= since]
    assert first == (times[0] if times else None)
    with path.open("a") as fh:
        fh.write("2000|9.9|en|NONE|ENTERQUEUE||070|1\n")
    assert [e.uniqueid for e in reader.read_new()] == ["9.9"]


def test_start_at_time_without_a_file_is_empty(tmp_path: Path) -> None:
    assert QueueLogReader(tmp_path / "none").start_at_time(0) == ([], None)


def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text("")
    reader = QueueLogReader(path)
    reader.start_at_time(float("inf"))  # skip all that is there
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


async def test_a_watch_wakes_on_writes_and_follows_a_rotation(tmp_path: Path) -> None:
    """queue_log is read when written to, not polled: the watch wakes on a write, and
    after logrotate moves the file away it watches the new file of that name."""
    log = tmp_path / "queue_log"
    log.write_text("")
    changes = FileChanges.watch(log)
    assert changes is not None  # Linux: inotify
    try:

        async def woken() -> bool:
            try:
                async with asyncio.timeout(5):
                    await changes.changed.wait()
            except TimeoutError:
                return False
            changes.changed.clear()
            changes.rearm()
            return True

        with log.open("a") as fh:
            fh.write("1|2|sv|NONE|ENTERQUEUE||0701|1\n")
        assert await woken()
        log.rename(tmp_path / "queue_log.1")  # logrotate
        assert await woken()  # the move itself
        log.write_text("")  # the new file
        changes.rearm()
        with log.open("a") as fh:
            fh.write("3|4|sv|NONE|ENTERQUEUE||0702|1\n")
        assert await woken()
        await asyncio.sleep(0.2)
        assert not changes.changed.is_set()  # nothing more written: nothing to wake for
    finally:
        changes.close()
