"""Asterisk's realtime queue_log in PostgreSQL, written by Asterisk itself through
res_config_pgsql (extconfig.conf: ``queue_log => pgsql,DB,TABLE``), one table per PBX.

Rows are read by id, only those after the last one read, and handed to the store as
lines. With ``records: true`` the call records the store rebuilt are written back to
PostgreSQL too (tables vaxeld_calls and vaxeld_visits), so every site shares them.

The time column is a timestamp without time zone: Asterisk writes UTC with
``queue_log_realtime_use_gmt = yes`` in logger.conf, local time otherwise (its default);
``timestamps`` in the config says which, and local times are read in the config's time
zone (the hour that repeats when summer time ends cannot be told apart: it is read as the
first of the two).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from vaxeld.config.history import PostgresSource
from vaxeld.history.store import HistoryStore

BATCH = 200_000


def _epoch(stamp: datetime, local: ZoneInfo | None) -> int:
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=local or UTC)
    return int(stamp.timestamp())


def ingest_postgres(
    store: HistoryStore,
    source: PostgresSource,
    password: str | None,
    tz: str,
    progress: Callable[[str], None] = lambda _: None,
) -> int:
    """Read the rows added since the last ingest of every configured table."""
    local = ZoneInfo(tz) if source.timestamps == "local" else None
    added = 0
    with psycopg.connect(
        host=source.host,
        port=source.port,
        dbname=source.dbname,
        user=source.user,
        password=password,
        connect_timeout=10,
    ) as conn:
        for pbx, table in source.tables.items():
            while True:
                last = store.cursor(pbx)
                query = sql.SQL(
                    "select id, time, callid, queuename, agent, event, data1, data2, data3, "
                    "data4, data5 from {} where id > %s order by id limit %s"
                ).format(sql.Identifier(table))
                rows = conn.execute(query, (last, BATCH)).fetchall()
                if not rows:
                    break
                added += store.add_rows(pbx, (
                    (_epoch(r[1], local), *r[2:]) for r in rows
                ))  # fmt: skip
                store.set_cursor(pbx, int(rows[-1][0]))
                if len(rows) < BATCH:
                    break
        if source.records:
            callers = write_records(conn, store)
            progress(f"call records of {callers} callers written to vaxeld_calls, vaxeld_visits")
    return added


# The call records, kept in PostgreSQL beside the lines they are built from, for every
# site and for tools such as Grafana: one row per caller, one per caller and queue visit.
RECORD_TABLES = """
create table if not exists vaxeld_calls (
    pbx text not null, callid text not null, started timestamptz, entry text,
    language text, language_reason text, menu_abandoned boolean, closed text, crisis text,
    queues integer, primary key (pbx, callid));
create table if not exists vaxeld_visits (
    pbx text not null, callid text not null, queue text, entered timestamptz,
    outcome text, agent text, wait_seconds integer, talk_seconds integer,
    left_at timestamptz, first_queue boolean);
create index if not exists vaxeld_visits_caller on vaxeld_visits (pbx, callid);
create index if not exists vaxeld_visits_entered on vaxeld_visits (entered);
"""
_TIMES = {"visits": (3, 8), "calls": (2,)}  # the epoch columns of each kind


def write_records(conn: psycopg.Connection[Any], store: HistoryStore) -> int:
    """Replace, in one transaction, the records of every caller the store rebuilt since
    it was opened (readers see the old records or the new, never half); callers written."""
    callers = 0
    with conn.transaction():
        conn.execute(RECORD_TABLES)
        conn.execute("create temp table vaxeld_touched (pbx text, callid text) on commit drop")
        stage = "callers"
        for kind, rows in store.rebuilt():
            if kind != stage and stage == "callers":
                _delete_touched(conn)
            stage = kind
            if kind == "callers":
                callers += len(rows)
                target = "copy vaxeld_touched (pbx, callid) from stdin"
            elif kind == "visits":
                target = (
                    "copy vaxeld_visits (pbx, callid, queue, entered, outcome, agent, "
                    "wait_seconds, talk_seconds, left_at, first_queue) from stdin"
                )
            else:
                target = (
                    "copy vaxeld_calls (pbx, callid, started, entry, language, "
                    "language_reason, menu_abandoned, closed, crisis, queues) from stdin"
                )
            times = _TIMES.get(kind, ())
            with conn.cursor().copy(target) as copy:
                for row in rows:
                    copy.write_row(_with_times(row, times))
        if stage == "callers":  # touched callers with no records left
            _delete_touched(conn)
    return callers


def _delete_touched(conn: psycopg.Connection[Any]) -> None:
    for table in ("vaxeld_visits", "vaxeld_calls"):
        conn.execute(
            sql.SQL(
                "delete from {} r using vaxeld_touched t "
                "where r.pbx = t.pbx and r.callid = t.callid"
            ).format(sql.Identifier(table))
        )


def _with_times(row: tuple[Any, ...], columns: tuple[int, ...]) -> tuple[Any, ...]:
    if not columns:
        return row
    out = list(row)
    for i in columns:
        if out[i] is not None:
            out[i] = datetime.fromtimestamp(int(out[i]), UTC)
    return tuple(out)
