"""History from PostgreSQL: real Asterisk 22 writes its realtime queue_log into a real
PostgreSQL server (res_config_pgsql) and its queue_log file at once; the reports from
the two sources are the same, and equal an independent count of the file."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.postgres import Postgres
from lab.queue_log_truth import expected_figures, queue_families, report_figures
from vaxeld.config import parse_config
from vaxeld.history.files import ingest_files
from vaxeld.history.ingest import ingest
from vaxeld.history.reports import ReportQueries
from vaxeld.history.store import HistoryStore
from vaxeld.report.model import Report
from vaxeld.report.periods import Period, parse_period

pytestmark = pytest.mark.asterisk


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    server = Postgres().start()
    server.create_queue_log(
        "asterisk", "asterisk", "lab-asterisk-pg", ["queue_log_main", "queue_log_b"]
    )
    yield server
    server.stop()


@pytest.fixture
def pg_lab(tmp_path: Path, postgres: Postgres) -> Iterator[Lab]:
    realtime = (postgres.port, "asterisk", "asterisk", "lab-asterisk-pg", "queue_log_main")
    lab = start_lab(tmp_path, "pgsql", realtime_queue_log=realtime)
    yield lab
    stop_lab(lab)


def test_reports_from_postgresql_and_from_the_file_are_the_same(
    pg_lab: Lab, postgres: Postgres, tmp_path: Path
) -> None:
    lab = pg_lab
    rng = random.Random(16)
    for agent in lab.agents:
        lab.control.set_agent(agent, answer_after=rng.randint(1, 4), talk=rng.randint(1, 4))
    # Agents log in, pause and come back while the calls come: their time is reported.
    assert lab.cli("agent", "login", "Lars Holm").returncode == 0
    for n in range(24):
        digits = rng.choice(["1", "2", "3", "4", "5", "0", "9", ""])
        lab.control.call(lab.entry, digits, rng.uniform(2, 14), caller_id=f"0709{n:06d}")
        if n == 6:
            assert lab.cli("agent", "pause", "Åsa Lindqvist", "--reason", "Lunch").returncode == 0
        if n == 14:
            assert lab.cli("agent", "unpause", "Åsa Lindqvist").returncode == 0
        time.sleep(0.3)
    lab.asterisk.wait_idle(120)
    assert lab.cli("agent", "logout", "Lars Holm").returncode == 0
    rows = int(postgres.sql("select count(*) from queue_log_main", "asterisk"))
    file_rows = lab.asterisk.queue_log_events()
    assert rows == len(file_rows) > 24 * 3
    # Asterisk stamps the database row before inserting it and the file line after, with
    # a clock read each (main/logger.c): an insert that crosses a second boundary puts the
    # file a second later. Everything else in the two must be the same; the reports are
    # compared on the file's lines with the database's times.
    file_rows, shifted = with_database_times(file_rows, postgres)
    assert shifted <= rows // 4
    aligned = tmp_path / "aligned" / "queue_log"
    aligned.parent.mkdir()
    aligned.write_text("".join("|".join(r) + "\n" for r in file_rows), encoding="utf-8")
    config = parse_config(
        lab.config_path.read_text()
        + f"""
history:
  source: postgresql
  postgresql:
    port: {postgres.port}
    dbname: asterisk
    user: asterisk
    password_env: LAB_PG_PASSWORD
    tables: {{main: queue_log_main}}
    timestamps: utc
    records: true
"""
    )
    day = date.today()
    span = f"{day - timedelta(days=1)}..{day + timedelta(days=1)}"  # whatever the hour
    today = parse_period(span, config.timezone, day)
    with (
        HistoryStore(tmp_path / "from-pg.duckdb") as pg_store,
        HistoryStore(tmp_path / "from-file.duckdb") as file_store,
    ):
        assert (
            ingest(pg_store, config, {"LAB_PG_PASSWORD": "lab-asterisk-pg"}, lambda _: None) == rows
        )
        assert ingest(pg_store, config, {"LAB_PG_PASSWORD": "lab-asterisk-pg"}, lambda _: None) == 0
        assert ingest_files(file_store, "main", aligned) == rows
        reports = {}
        for name, store in (("pg", pg_store), ("file", file_store)):
            queries = ReportQueries(store, config)
            reports[name] = {
                by: queries.build(today, by, "60m", "t") for by in ("queue", "entry", "agent")
            }
    for by in ("queue", "entry", "agent"):
        pg, file = reports["pg"][by], reports["file"][by]
        assert pg.rows == file.rows and pg.total == file.total, by
        assert pg.centre == file.centre and pg.agents == file.agents, by
    # Logged-in and paused time, against the member lines themselves.
    when = {(r[2], r[3], r[4]): int(r[0]) for r in file_rows if len(r) > 4}
    lars = "Local/1006@vaxeld-lab-agents/n"
    logged = when[("vaxel", lars, "REMOVEMEMBER")] - when[("vaxel", lars, "ADDMEMBER")]
    paused = when[("sv", "Åsa Lindqvist", "UNPAUSE")] - when[("sv", "Åsa Lindqvist", "PAUSE")]
    agents = dict(reports["file"]["agent"].agents)
    assert logged > 0 and agents["Lars Holm"]["logged_in_seconds"] == logged
    assert agents["Lars Holm"]["paused_seconds"] == 0
    assert paused > 0 and agents["Åsa Lindqvist"]["paused_seconds"] == paused
    assert agents["Åsa Lindqvist"]["logged_in_seconds"] is None  # static: always a member
    truth = queue_families(expected_figures(file_rows, 0, config))
    assert report_figures(reports["file"]["queue"]) == truth
    assert (reports["pg"]["queue"].total["offered"] or 0) >= 15
    # The call records kept in PostgreSQL are the store's, and stay so as calls come in.
    assert records_by_queue(postgres) == report_outcomes(reports["pg"]["queue"])
    callers = int(postgres.sql("select count(*) from vaxeld_calls", "asterisk"))
    assert callers == reports["pg"]["queue"].centre["callers"]
    lab.control.call(lab.entry, "1", 3.0, caller_id="0709999999")
    lab.asterisk.wait_idle(60)
    with HistoryStore(tmp_path / "from-pg.duckdb") as pg_store:
        assert ingest(pg_store, config, {"LAB_PG_PASSWORD": "lab-asterisk-pg"}, lambda _: None)
        later = ReportQueries(pg_store, config).build(today, "queue", "60m", "t")
    assert later.centre["callers"] == callers + 1
    assert records_by_queue(postgres) == report_outcomes(later)
    assert int(postgres.sql("select count(*) from vaxeld_calls", "asterisk")) == callers + 1
    two_sites_in_one_database(lab, postgres, tmp_path, today, later)


def with_database_times(
    file_rows: list[list[str]], postgres: Postgres
) -> tuple[list[list[str]], int]:
    """The file's rows, each with its database row's time (truncated to the second, as
    vaxeld reads it), and how many differed; fails unless every row has its twin in the
    database, equal but for a file time up to a second later."""
    out = postgres.sql(
        "select floor(extract(epoch from time))::bigint, callid, queuename, agent, event, "
        "data1, data2, data3, data4, data5 from queue_log_main order by id",
        "asterisk",
    )
    times: dict[tuple[str, ...], list[int]] = {}
    for line in out.splitlines():
        stamp, *fields = line.split("|")
        times.setdefault(tuple(fields), []).append(int(stamp))
    aligned, shifted = [], 0
    for row in file_rows:
        key = tuple(row[1:] + [""] * (10 - len(row)))
        assert times.get(key), f"no database row for {row}"
        # Of equal rows, the earliest database time not after this line's.
        candidates = [t for t in times[key] if 0 <= int(row[0]) - t <= 1]
        assert candidates, f"{row}: database times {times[key]}"
        when = min(candidates)
        times[key].remove(when)
        shifted += when != int(row[0])
        aligned.append([str(when), *row[1:]])
    return aligned, shifted


def two_sites_in_one_database(
    lab: Lab, postgres: Postgres, tmp_path: Path, period: Period, one: Report
) -> None:
    """A second site's Asterisk writing its own table of the same database (here: the
    first site's rows again, Uniqueids and all): the report takes both, never merging
    callers of two servers."""
    postgres.sql(
        "insert into queue_log_b (time, callid, queuename, agent, event, data1, data2, "
        "data3, data4, data5) select time, callid, queuename, agent, event, data1, data2, "
        "data3, data4, data5 from queue_log_main",
        "asterisk",
    )
    text = lab.config_path.read_text().replace(
        "\nmetrics:\n",
        "  - name: b\n    host: 127.0.0.1\n    secret_env: VAXELD_AMI_SECRET\n"
        "    site: angered\n\nmetrics:\n",
        1,
    )
    config = parse_config(
        text
        + f"""
history:
  source: postgresql
  postgresql:
    port: {postgres.port}
    dbname: asterisk
    user: asterisk
    password_env: LAB_PG_PASSWORD
    tables: {{main: queue_log_main, b: queue_log_b}}
    timestamps: utc
"""
    )
    with HistoryStore(tmp_path / "two-sites.duckdb") as store:
        assert ingest(store, config, {"LAB_PG_PASSWORD": "lab-asterisk-pg"}, lambda _: None)
        both = ReportQueries(store, config).build(period, "queue", "60m", "t")
    assert both.total["offered"] == 2 * (one.total["offered"] or 0) > 0
    assert both.centre["callers"] == 2 * (one.centre["callers"] or 0)


OUTCOME_FIGURES = {"answered": "answered", "abandoned": "abandoned", "timeout": "timed_out",
                   "leaveempty": "left_empty", "unknown": "unknown"}  # fmt: skip


def records_by_queue(postgres: Postgres) -> dict[tuple[str, str], int]:
    out = postgres.sql(
        "select queue || '|' || outcome || '|' || count(*) from vaxeld_visits "
        "group by queue, outcome",
        "asterisk",
    )
    rows = (line.split("|") for line in out.split() if line)
    return {(q, OUTCOME_FIGURES[o]): int(n) for q, o, n in rows}


def report_outcomes(report: Report) -> dict[tuple[str, str], int]:
    return {
        (queue, figure): int(row[figure] or 0)
        for queue, row in report.rows
        for figure in OUTCOME_FIGURES.values()
        if row[figure]
    }
