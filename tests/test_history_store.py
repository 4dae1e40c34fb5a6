"""vaxeld.history: queue_log files into call records, read once through rotation and
compression, and reports that equal an independent count of the same lines."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from lab.queue_log_truth import expected_figures, queue_families, report_figures
from lab.queue_log_year import generate
from vaxeld.config import Config, load_config, parse_config
from vaxeld.history.files import ingest_files
from vaxeld.history.planning import slots
from vaxeld.history.reports import ReportQueries
from vaxeld.history.store import HistoryStore
from vaxeld.report.model import Report
from vaxeld.report.periods import parse_period

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
CONFIG = load_config(EXAMPLE)


@pytest.fixture(scope="module")
def year_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("year") / "queue_log"
    generate(path, calls=4000, year=2026, seed=7)
    return path


def rows_of(path: Path) -> list[list[str]]:
    return [line.split("|") for line in path.read_text(encoding="utf-8").splitlines() if line]


def year_report(store: HistoryStore, config: Config = CONFIG, by: str = "queue") -> Report:
    period = parse_period("2026", config.timezone, date(2026, 12, 1))
    return ReportQueries(store, config).build(period, by, "month", "test")


def test_a_report_equals_an_independent_count_of_the_same_lines(
    year_log: Path, tmp_path: Path
) -> None:
    with HistoryStore(tmp_path / "h.duckdb") as store:
        assert ingest_files(store, "main", year_log) == len(rows_of(year_log))
        got = report_figures(year_report(store))
    expected = queue_families(expected_figures(rows_of(year_log), 0, CONFIG))
    assert expected[("offered", "sv")] > 500 and expected[("exited", "sv", "timeout")] > 0
    assert got == expected


def test_rotated_and_compressed_files_are_read_once(year_log: Path, tmp_path: Path) -> None:
    """logrotate: queue_log becomes queue_log.1, then queue_log.2.gz; each line is read
    once however often the store is brought up to date in between."""
    lines = year_log.read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    log = tmp_path / "queue_log"
    with HistoryStore(tmp_path / "h.duckdb") as store:
        log.write_bytes(b"".join(lines[:third]))
        first = ingest_files(store, "main", log)
        log.rename(tmp_path / "queue_log.1")  # rotated, then more is written
        log.write_bytes(b"".join(lines[third : 2 * third]))
        second = ingest_files(store, "main", log)
        with gzip.open(tmp_path / "queue_log.2.gz", "wb") as gz:  # compressed later
            gz.write((tmp_path / "queue_log.1").read_bytes())
        (tmp_path / "queue_log.1").unlink()
        log.rename(tmp_path / "queue_log.1")
        log.write_bytes(b"".join(lines[2 * third :]))
        third_read = ingest_files(store, "main", log)
        assert ingest_files(store, "main", log) == 0  # nothing new
        assert (first, second, third_read) == (third, third, len(lines) - 2 * third)
        got = report_figures(year_report(store))
        assert store.problems() == {}
    assert got == queue_families(expected_figures(rows_of(year_log), 0, CONFIG))


def test_a_partial_last_line_waits_for_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("1767250801|1.1|sv|NONE|ENTERQUEUE||070|1\n1767250820|1.1|sv|Åsa|CONN")
    with HistoryStore(tmp_path / "h.duckdb") as store:
        assert ingest_files(store, "main", log) == 1
        with log.open("a") as fh:
            fh.write("ECT|19|1.2|1\n")
        assert ingest_files(store, "main", log) == 1
        (row,) = store.query("select outcome, hold from visits")
    assert row == ("CONNECT", 19)


def test_malformed_lines_unknown_events_and_copied_spans_are_counted_not_fatal(
    tmp_path: Path,
) -> None:
    good = [
        "1767250801|1.1|sv|NONE|ENTERQUEUE||070|1",
        "1767250820|1.1|sv|Åsa|CONNECT|19|1.2|1",
        "1767250901|2.1|sv|NONE|ENTERQUEUE||070|1",
        "1767250911|2.1|sv|NONE|ABANDON|1|1|10",
    ]
    log = tmp_path / "queue_log"
    odd = ["garbage without fields", "x|1|2|3|4", "1767250830|1.1|sv|NONE|SOMETHINGNEW|a"]
    log.write_text("\n".join([*good[:2], *odd, *good[2:], *good[:2]]) + "\n")
    with HistoryStore(tmp_path / "h.duckdb") as store:
        ingest_files(store, "main", log)
        problems = store.problems()
        outcomes = sorted(r[0] for r in store.query("select outcome from visits"))
    assert problems == {"malformed lines": 2, "unknown events": 1, "duplicate lines": 2}
    assert outcomes == ["ABANDON", "CONNECT"]  # the copied span counted once


def test_a_queue_log_from_before_vaxeld_marks_what_it_cannot_know(tmp_path: Path) -> None:
    """Without vaxeld's own lines there are no entry numbers or menu abandons: unknown,
    not 0 (the "before" of a before/after measurement)."""
    log = tmp_path / "queue_log"
    log.write_text(
        "1767250801|1.1|sv|NONE|ENTERQUEUE||070|1\n1767250820|1.1|sv|Åsa|CONNECT|19|1.2|1\n"
    )
    with HistoryStore(tmp_path / "h.duckdb") as store:
        ingest_files(store, "main", log)
        report = year_report(store, by="entry")
    assert not report.knows_entries
    assert report.centre["menu_abandoned"] is None and report.centre["callers"] == 1
    assert [k for k, _ in report.rows] == ["unknown"]
    assert report.total["offered"] == 1 and report.total["service_level"] == 1.0


def _caller_lines(callid: str, at: int, number: str, transfer: str = "") -> list[tuple[str, ...]]:
    """One caller in sv, answered by Åsa; ``transfer``: the number she transfers it to."""
    lines: list[tuple[str, ...]] = [
        (str(at), callid, "sv", "NONE", "ENTERQUEUE", "", number, "1"),
        (str(at + 5), callid, "sv", "Åsa Lindqvist", "CONNECT", "5", "x", "1"),
    ]
    if transfer:
        lines.append((str(at + 60), callid, "vaxeld", "NONE", "VAXELDTRANSFERTARGET", transfer))
        lines.append((str(at + 61), callid, "sv", "Åsa Lindqvist", "ATTENDEDTRANSFER", "BRIDGE"))
    else:
        lines.append((str(at + 60), callid, "sv", "Åsa Lindqvist", "COMPLETEAGENT", "5", "55"))
    return lines


def test_first_contact_resolution_and_transfers_from_lines_across_days(tmp_path: Path) -> None:
    """X calls on day 0 and again on day 3 (a repeat); Y once on day 0, then is passed to
    Bygglov (attended: the target is vaxeld-transfer's line); Z's window has not passed."""
    from vaxeld.state.repeats import CallerKey

    day0 = 1_790_000_000
    d = 86400
    rows = [
        *_caller_lines("1.1", day0, "0701111111"),
        *_caller_lines("1.2", day0 + 100, "0702222222", transfer="6150"),
        *_caller_lines("1.3", day0 + 3 * d, "0701111111"),
        *_caller_lines("1.4", day0 + 5 * d, "0703333333"),
        *_caller_lines("1.5", day0 + 5 * d + 60, "anonymous"),
        (str(day0 + 10 * d), "NONE", "NONE", "NONE", "QUEUESTART", ""),  # known until
    ]
    key = CallerKey(b"a-caller-key-for-the-tests")
    with HistoryStore(tmp_path / "h.duckdb", caller_key=key) as store:
        store.add_rows("main", rows)
        period = parse_period("2026-09-01..2026-10-01", CONFIG.timezone, date(2026, 12, 1))
        assert period.start_epoch <= day0 and day0 + 10 * d < period.end_epoch
        total = ReportQueries(store, CONFIG).build(period, "queue", "day", "t").total
        hashes = {r[0] for r in store.query("select caller from lines where event = 'ENTERQUEUE'")}
        numbers = {r[0] for r in store.query("select d2 from lines where event = 'ENTERQUEUE'")}
    assert numbers == {None}
    assert hashes == {key.digest("0701111111"), key.digest("0702222222"),
                      key.digest("0703333333"), None}  # fmt: skip
    assert total["transferred_out"] == 1 and total["transferred_inside"] == 0
    assert (total["answered_callers"], total["resolved"]) == (5, 4)
    assert total["repeat_calls"] == 1 and total["callbacks"] == 0
    # Known: X's two calls and Y (7 days passed by day 10); Z's (day 5) has not passed,
    # and the anonymous caller has no number. Resolved at first contact: X's second, Y.
    assert (total["first_contact_callers"], total["first_contact_resolved"]) == (3, 2)


def test_two_pbxs_in_one_store_are_reported_together_and_never_merged(
    year_log: Path, tmp_path: Path
) -> None:
    """Two sites' queue_logs in one store (as from one PostgreSQL with a table each): the
    report counts both, even where the two servers gave callers the same Uniqueids
    (here: the same lines twice), and each PBX alone gives its own figures."""
    text = EXAMPLE.read_text().replace(
        "\nmetrics:\n",
        "  - name: b\n    host: 127.0.0.1\n    secret_env: VAXELD_AMI_SECRET\n"
        "    site: angered\n\nmetrics:\n",
        1,
    )
    two = parse_config(text)
    span = (date(2026, 1, 1), date(2026, 12, 31))
    with HistoryStore(tmp_path / "h.duckdb") as store:
        ingest_files(store, "main", year_log)
        one = report_figures(year_report(store, two))
        plan_one = {(s.queue, s.day, s.slot): s.offered for s in slots(store, two, *span)}
        ingest_files(store, "b", year_log)
        both = report_figures(year_report(store, two))
        plan_both = {(s.queue, s.day, s.slot): s.offered for s in slots(store, two, *span)}
    assert one and both == {key: 2 * value for key, value in one.items()}
    # The staffing plan reads both sites' callers too.
    assert plan_one and plan_both == {key: 2 * value for key, value in plan_one.items()}
