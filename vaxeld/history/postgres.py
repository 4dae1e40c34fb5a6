"""Asterisk's realtime queue_log in PostgreSQL, written by Asterisk itself through
res_config_pgsql (extconfig.conf: ``queue_log => pgsql,DB,TABLE``), one table per PBX.

Rows are read by id, only those after the last one read, and handed to the store as
lines. The time column is a timestamp without time zone: Asterisk writes UTC with
``queue_log_realtime_use_gmt = yes`` in logger.conf, local time otherwise (its default);
``timestamps`` in the config says which, and local times are read in the config's time
zone (the hour that repeats when summer time ends cannot be told apart: it is read as the
first of the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
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
    store: HistoryStore, source: PostgresSource, password: str | None, tz: str
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
    return added
