"""The history store: queue_log lines and the call records built from them, in DuckDB.

DuckDB, not SQLite: a year of the city's queue_log is about ten million lines, and
DuckDB reads them with its own multi-threaded CSV reader and builds the records with
hash aggregates in a few seconds, where a Python loop over the lines alone takes longer
than the whole ingest (see bench/). It is embedded (one file, nothing to install or run)
and reads PostgreSQL rows handed to it just the same.

Tables:
- ``lines``: every line as queue_log has it (pbx, time, caller, queue, agent, event,
  data1-5), appended in the order read and never changed (the row id is the order);
  ``ck`` is a hash of (pbx, caller) to join on (the PBX is in it: grouping by ``ck``
  alone is grouping by PBX and caller).
- ``skipped``: the row ids of lines that cannot be used (malformed, or a copy of a line
  before), each counted under ``problems``.
- ``visits``: one row per caller and queue visit: entered, outcome, agent, waits, talk.
- ``calls``: one row per caller: first line, entry number, language, menu abandon,
  closed, crisis, its first ENTERQUEUE (to tell the first queue from an overflow).
- ``sources``: what of each queue_log file (by its first line) was read, so that only new
  lines are read, through rotation and compression.
- ``problems``: lines that could not be used, by kind, reported with every report.

Records are rebuilt only for the callers new lines touch.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from vaxeld import contract
from vaxeld.state.repeats import GROUPABLE, CallerKey

KNOWN_EVENTS = frozenset(
    {
        "ENTERQUEUE", "CONNECT", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY",
        "COMPLETECALLER", "COMPLETEAGENT", "RINGNOANSWER", "RINGCANCELED", "TRANSFER",
        "BLINDTRANSFER", "ATTENDEDTRANSFER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL",
        "ADDMEMBER", "REMOVEMEMBER", "AGENTLOGIN", "AGENTLOGOFF", "QUEUESTART", "CONFIGRELOAD",
        "SYSCOMPAT", "DID", "INFO", "WITHDRAW", "PENALTY",
        "VAXELDENTRY", "VAXELDCRISIS", "VAXELDCLOSED", "VAXELDMENU", "VAXELDLANGUAGE",
        "VAXELDOVERFLOW", "VAXELDMENUABANDON", "VAXELDTRANSFERTARGET",
    }
)  # fmt: skip
OUTCOME_EVENTS = tuple(contract.QUEUE_LOG_OUTCOMES)  # the same outcomes as the live ledger
TRANSFER_EVENTS = tuple(contract.QUEUE_LOG_TRANSFERS)
# A visit's outcome (of a visits row ``v``) as the live ledger has it; a visit with no
# outcome line is unknown, as at a resync.
OUTCOME_OF_VISIT = (
    "case v.outcome "
    + " ".join(f"when '{e}' then '{o}'" for e, o in contract.QUEUE_LOG_OUTCOMES.items())
    + " else 'unknown' end"
)
_COLUMNS = (
    "{'time':'VARCHAR','callid':'VARCHAR','queue':'VARCHAR','agent':'VARCHAR',"
    "'event':'VARCHAR','d1':'VARCHAR','d2':'VARCHAR','d3':'VARCHAR','d4':'VARCHAR',"
    "'d5':'VARCHAR'}"
)
_SCHEMA = """
create table if not exists lines (
    pbx varchar, time bigint, ck ubigint, callid varchar, queue varchar,
    agent varchar, event varchar, d1 varchar, d2 varchar, d3 varchar, d4 varchar,
    d5 varchar, caller ubigint);
create table if not exists skipped (row bigint);
create table if not exists visits (
    pbx varchar, ck ubigint, queue varchar, entered bigint, enter_seq bigint,
    outcome varchar, agent varchar, hold integer, waited integer, talk integer, left_at bigint,
    transfer_how varchar, transfer_target varchar, transfer_seq bigint);
create table if not exists calls (
    pbx varchar, ck ubigint, started bigint, entry varchar, language varchar,
    reason varchar, menu_abandoned boolean, closed varchar, crisis varchar,
    first_enter bigint, visits integer, vaxeld_lines integer, caller ubigint);
create table if not exists sources (
    pbx varchar, fingerprint varchar, path varchar, consumed bigint,
    primary key (pbx, fingerprint));
create table if not exists problems (pbx varchar, kind varchar, count bigint,
    primary key (pbx, kind));
create table if not exists cursors (pbx varchar primary key, last_id bigint);
create table if not exists meta (key varchar primary key, value varchar);
alter table visits add column if not exists transfer_how varchar;
alter table visits add column if not exists transfer_target varchar;
alter table visits add column if not exists transfer_seq bigint;
alter table calls add column if not exists caller ubigint;
alter table lines add column if not exists caller ubigint;
"""
# The transfer lines of a visit: how (blind for BLINDTRANSFER and TRANSFER, attended).
_TRANSFER_HOW = (
    "case event "
    + " ".join(f"when '{e}' then '{h}'" for e, h in contract.QUEUE_LOG_TRANSFERS.items())
    + " end"
)

# One visit per (caller, queue) and ENTERQUEUE: almost every caller enters a queue once,
# and a hash aggregate over those is fast; the few who enter one queue again are paired
# with their outcomes by a window over just them.
_VISITS_ONCE = """
insert into visits
with ev as (
    select rowid as seq, pbx, time, ck, queue, agent, event, d1, d2, d3 from lines
    where {where} and {usable} and queue <> 'vaxeld' and event in {visit_events}),
g as (
    select any_value(pbx) as pbx, ck, queue,
        count(*) filter (where event = 'ENTERQUEUE') as enters,
        min(time) filter (where event = 'ENTERQUEUE') as entered,
        min(seq) filter (where event = 'ENTERQUEUE') as enter_seq,
        arg_min(event, seq) filter (where event in {outcomes}) as outcome,
        arg_min(agent, seq) filter (where event = 'CONNECT') as agent,
        try_cast(arg_min(d1, seq) filter (where event = 'CONNECT') as integer) as hold,
        try_cast(arg_min(d3, seq) filter (where event in {exits}) as integer) as waited,
        try_cast(arg_min(d2, seq) filter (where event in ('COMPLETECALLER', 'COMPLETEAGENT'))
            as integer) as talk,
        min(time) filter (where event in {outcomes}) as left_at
    from ev group by ck, queue)
select pbx, ck, queue, entered, enter_seq, outcome, agent, hold, waited, talk, left_at,
    null, null, null
from g where enters = 1
"""
_VISITS_AGAIN = """
insert into visits
with again as (
    select pbx, ck, queue from lines
    where {where} and {usable} and queue <> 'vaxeld' and event = 'ENTERQUEUE'
    group by pbx, ck, queue having count(*) > 1),
ev as (
    select l.rowid as seq, l.pbx, l.time, l.ck, l.queue, l.agent, l.event, l.d1, l.d2, l.d3
    from lines l semi join again a on l.pbx = a.pbx and l.ck = a.ck and l.queue = a.queue
    where l.event in {visit_events} and l.rowid not in (select row from skipped)),
n as (
    select *, sum((event = 'ENTERQUEUE')::int) over (
        partition by pbx, ck, queue order by seq rows unbounded preceding) as v from ev)
select pbx, ck, queue,
    min(time) filter (where event = 'ENTERQUEUE'),
    min(seq) filter (where event = 'ENTERQUEUE'),
    arg_min(event, seq) filter (where event in {outcomes}),
    arg_min(agent, seq) filter (where event = 'CONNECT'),
    try_cast(arg_min(d1, seq) filter (where event = 'CONNECT') as integer),
    try_cast(arg_min(d3, seq) filter (where event in {exits}) as integer),
    try_cast(arg_min(d2, seq) filter (where event in ('COMPLETECALLER', 'COMPLETEAGENT'))
        as integer),
    min(time) filter (where event in {outcomes}),
    null, null, null
from n where v > 0 group by pbx, ck, queue, v
"""
# Transfers are few: each transfer line is given to its visit afterwards (the caller's
# latest entry into that queue before it) rather than aggregated with every visit line.
# An attended transfer's line names no target: it is the caller's last transfer target
# line (vaxeld-transfer's, under the queue name "vaxeld") before it.
_TRANSFERS = """
update visits set transfer_how = t.how, transfer_target = t.target, transfer_seq = t.seq
from (
    select x.ck, x.queue, x.seq, x.how,
        case when x.how = 'attended' then coalesce((
            select arg_max(l.d1, l.rowid) from lines l
            where l.ck = x.ck and l.event = 'VAXELDTRANSFERTARGET' and l.rowid < x.seq), '')
        else x.d1 end as target,
        (select max(v.enter_seq) from visits v
            where v.ck = x.ck and v.queue = x.queue and v.enter_seq < x.seq) as visit
    from (select rowid as seq, ck, queue, d1, {transfer_how} as how from lines
        where {where} and {usable} and event in {transfers}) x
) t
where visits.ck = t.ck and visits.queue = t.queue and visits.enter_seq = t.visit
    and visits.transfer_seq is null
"""
_CALLS = """
insert into calls
select any_value(pbx), ck, min(time),
    arg_min(d1, rowid) filter (where event = 'VAXELDENTRY'),
    arg_max(d1, rowid) filter (where event = 'VAXELDLANGUAGE'),
    arg_max(d3, rowid) filter (where event = 'VAXELDLANGUAGE'),
    bool_or(event = 'VAXELDMENUABANDON'),
    arg_min(d1, rowid) filter (where event = 'VAXELDCLOSED'),
    arg_min(d1, rowid) filter (where event = 'VAXELDCRISIS'),
    min(rowid) filter (where event = 'ENTERQUEUE' and queue <> 'vaxeld'),
    count(*) filter (where event = 'ENTERQUEUE' and queue <> 'vaxeld'),
    count(*) filter (where queue = 'vaxeld'),
    arg_min(caller, rowid) filter (where event = 'ENTERQUEUE' and queue <> 'vaxeld')
from lines where {where} and {usable} and event in ('ENTERQUEUE', 'VAXELDENTRY', 'VAXELDLANGUAGE',
    'VAXELDMENUABANDON', 'VAXELDCLOSED', 'VAXELDCRISIS')
group by ck
"""


# An ENTERQUEUE line's data2 is the caller's number: never kept (see _caller_hash_sql).
_D2 = "case when event = 'ENTERQUEUE' then null else d2 end"


def _caller_hash_sql(key: CallerKey | None) -> tuple[str, list[bytes]]:
    """The ``caller`` column of a line: for an ENTERQUEUE, the keyed hash of its number
    (data2) that the live repeat window uses (HMAC-SHA256, from its padded keys with
    DuckDB's SHA-256, its first 64 bits as a number), or nothing without a key. The
    number itself is never kept."""
    if key is None:
        return "null::ubigint", []
    inner, outer = key.pads()
    pattern = GROUPABLE.pattern
    hashed = "sha256(?::blob || unhex(sha256(?::blob || d2::blob)))"
    sql = (
        f"case when event = 'ENTERQUEUE' and regexp_full_match(coalesce(d2, ''), '{pattern}') "
        f"then ('0x' || substr({hashed}, 1, 16))::ubigint end"
    )
    return sql, [outer, inner]


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _sql(template: str, where: str) -> str:
    return template.format(
        where=where,
        usable="rowid not in (select row from skipped)",
        outcomes=_in(OUTCOME_EVENTS),
        visit_events=_in(("ENTERQUEUE", *OUTCOME_EVENTS, "COMPLETECALLER", "COMPLETEAGENT")),
        exits=_in(e for e in OUTCOME_EVENTS if e != "CONNECT"),  # those with a wait
        transfers=_in(TRANSFER_EVENTS),
        transfer_how=_TRANSFER_HOW,
    )


class HistoryStore:
    """One DuckDB file. Not safe for two writers at once (one `vaxeld report` at a time)."""

    def __init__(
        self,
        path: Path | str,
        memory_limit: str = "250MB",
        threads: int = 2,
        caller_key: CallerKey | None = None,
    ) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": memory_limit,
            "threads": threads,
        }
        self.db = duckdb.connect(str(path), config=config)
        self.db.execute(_SCHEMA)
        self._caller_sql, self._caller_params = _caller_hash_sql(caller_key)
        self._hash_callers_kept_in_clear(caller_key)
        self._skipped = self._scalar("select count(*) from skipped")
        self._opened_at_row = self._max_rowid()  # lines after it came in while open

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest ------------------------------------------------------------------------

    def consumed(self, pbx: str, fingerprint: str) -> int | None:
        row = self.db.execute(
            "select consumed from sources where pbx = ? and fingerprint = ?", [pbx, fingerprint]
        ).fetchone()
        return None if row is None else int(row[0])

    def mark_consumed(self, pbx: str, fingerprint: str, path: str, consumed: int) -> None:
        self.db.execute(
            "insert or replace into sources values (?, ?, ?, ?)", [pbx, fingerprint, path, consumed]
        )

    def add_csv(self, pbx: str, path: Path, compression: str = "auto") -> int:
        """Append every line of a queue_log file (complete lines only); the new count."""
        before = self._max_rowid()
        self._insert_file(pbx, path, compression)
        return self._finish(pbx, before)

    def add_rows(self, pbx: str, rows: Iterable[Sequence[Any]]) -> int:
        """Append lines given as (time, callid, queue, agent, event, d1..d5) tuples."""
        before = self._max_rowid()
        with tempfile.NamedTemporaryFile("w", suffix=".queue_log", encoding="utf-8") as tmp:
            for row in rows:
                tmp.write("|".join("" if v is None else str(v) for v in row) + "\n")
            tmp.flush()
            if Path(tmp.name).stat().st_size == 0:
                return 0
            self.db.execute("begin")
            self._insert_file(pbx, Path(tmp.name), "auto")
            self.db.execute("commit")
        return self._finish(pbx, before)

    def _insert_file(self, pbx: str, path: Path, compression: str) -> None:
        """Lines in queue_log's format into ``lines``, read by DuckDB's own CSV reader."""
        self.db.execute(
            f"""insert into lines
            select ?, try_cast(time as bigint), hash(? || '|' || callid), callid, queue,
                agent, event, d1, {_D2}, d3, d4, d5, {self._caller_sql}
            from read_csv(?, delim = '|', header = false, quote = '', escape = '',
                columns = {_COLUMNS}, null_padding = true, auto_detect = false,
                strict_mode = false, compression = ?)""",
            [pbx, pbx, *self._caller_params, str(path), compression],
        )

    def _hash_callers_kept_in_clear(self, key: CallerKey | None) -> None:
        """A store from before caller numbers were hashed has them in clear: hashed (or,
        without a key, dropped) once. A changed key is a problem shown with reports:
        callers from before it are not grouped with callers after."""
        known = self.db.execute("select value from meta where key = 'callers'").fetchone()
        now = "none" if key is None else key.fingerprint()
        if known is None:
            self.db.execute(
                f"update lines set caller = {self._caller_sql}, d2 = null "
                "where event = 'ENTERQUEUE'",
                self._caller_params,
            )
            self.db.execute("update calls set caller = null")
            self.db.execute("insert into meta values ('callers', ?)", [now])
        elif known[0] != now:
            self._problem("all", "caller key changed (repeat callers not grouped across)", 1)
            self.db.execute("update meta set value = ? where key = 'callers'", [now])

    def _max_rowid(self) -> int:
        row = self.db.execute("select coalesce(max(rowid), -1) from lines").fetchone()
        return int(row[0]) if row else -1

    def _finish(self, pbx: str, before: int) -> int:
        """Count what the new lines could not give, and rebuild their callers' records."""
        new = f"rowid > {before}"
        added = self._scalar(f"select count(*) from lines where {new}")
        if not added:
            return 0
        self.db.execute(
            f"""insert into skipped select rowid from lines
            where {new} and (time is null or event is null or callid is null)"""
        )
        malformed = self._scalar("select count(*) from skipped") - self._skipped
        self._skipped += malformed
        if malformed:
            self._problem(pbx, "malformed lines", malformed)
        known = ", ".join(f"'{e}'" for e in sorted(KNOWN_EVENTS))
        unknown = self._scalar(
            f"""select count(*) from lines where {new} and event not in ({known})
            and time is not null and callid is not null"""
        )
        if unknown:
            self._problem(pbx, "unknown events", unknown)
        first = before < 0  # the first load: every caller is new
        touched = f"(select distinct ck from lines where {new})"
        where = "true" if first else f"ck in {touched}"
        self._dedupe(pbx, where)
        if not first:
            self.db.execute(f"delete from visits where ck in {touched}")
            self.db.execute(f"delete from calls where ck in {touched}")
        self.db.execute(_sql(_VISITS_ONCE, where))
        self.db.execute(_sql(_VISITS_AGAIN, where))
        self.db.execute(_sql(_TRANSFERS, where))
        self.db.execute(_sql(_CALLS, where))
        return added

    def _dedupe(self, pbx: str, where: str) -> None:
        """A span copied twice into a queue_log (a copy-truncate gone wrong, files joined):
        a line equal in every field to one before it is skipped, and counted."""
        line_hash = "hash(time, queue, agent, event, d1, d2, d3, d4, d5)"  # ck has the caller
        self.db.execute(
            f"""insert into skipped
            with hashed as (
                select rowid as row, ck, {line_hash} as lh from lines where {where}),
            twice as (select ck, lh from hashed group by ck, lh having count(*) > 1)
            select row from (
                select h.row, row_number() over (partition by h.ck, h.lh order by h.row) as n
                from hashed h semi join twice t on h.ck = t.ck and h.lh = t.lh)
            where n > 1 and row not in (select row from skipped)"""
        )
        dupes = self._scalar("select count(*) from skipped") - self._skipped
        self._skipped += dupes
        if dupes:
            self._problem(pbx, "duplicate lines", dupes)

    def _problem(self, pbx: str, kind: str, count: int) -> None:
        self.db.execute(
            """insert into problems values (?, ?, ?)
            on conflict (pbx, kind) do update set count = count + excluded.count""",
            [pbx, kind, count],
        )

    def add_problem(self, pbx: str, kind: str, count: int = 1) -> None:
        self._problem(pbx, kind, count)

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self.db.execute(sql, list(params)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # -- cursors for row sources (PostgreSQL) -------------------------------------------

    def cursor(self, pbx: str) -> int:
        row = self.db.execute("select last_id from cursors where pbx = ?", [pbx]).fetchone()
        return int(row[0]) if row else 0

    def set_cursor(self, pbx: str, last_id: int) -> None:
        self.db.execute("insert or replace into cursors values (?, ?)", [pbx, last_id])

    # -- the records rebuilt while open, for a copy kept elsewhere (PostgreSQL) ------------

    def rebuilt(self, batch: int = 50_000) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        """The records of every caller new lines touched since the store was opened, in
        batches: ("callers", [(pbx, callid)]), then ("visits", [...]) and ("calls", [...])
        with the caller's id instead of its hash, times as epochs, outcomes named."""
        touched = f"""(select ck, any_value(pbx) as pbx, any_value(callid) as callid from lines
            where rowid > {self._opened_at_row} and callid is not null group by ck)"""
        queries = {
            "callers": f"select pbx, callid from {touched}",
            "visits": f"""select t.pbx, t.callid, v.queue, v.entered, {OUTCOME_OF_VISIT},
                    v.agent, coalesce(v.hold, v.waited), v.talk, v.left_at,
                    v.enter_seq = c.first_enter
                from visits v join {touched} t on t.ck = v.ck
                left join calls c on c.ck = v.ck""",
            "calls": f"""select t.pbx, t.callid, c.started, c.entry, c.language, c.reason,
                    c.menu_abandoned, c.closed, c.crisis, c.visits
                from calls c join {touched} t on t.ck = c.ck""",
        }
        for kind, query in queries.items():
            result = self.db.execute(query)
            while rows := result.fetchmany(batch):
                yield kind, rows

    # -- reading ---------------------------------------------------------------------------

    def problems(self) -> dict[str, int]:
        rows = self.db.execute("select kind, sum(count) from problems group by kind").fetchall()
        return {str(k): int(n) for k, n in rows}

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, list(params)).fetchall()

    @contextlib.contextmanager
    def materialized(self, name: str, query: str) -> Iterator[str]:
        """``query``'s rows as a temporary table for the queries of one report (which read
        them a dozen times: computed once)."""
        self.db.execute(f"create or replace temp table {name} as {query}")
        try:
            yield name
        finally:
            self.db.execute(f"drop table if exists {name}")

    @contextlib.contextmanager
    def table(self, name: str, columns: str, rows: Iterable[Sequence[Any]]) -> Iterator[None]:
        """A temporary table of ``rows`` for one query (config lookups to join with)."""
        self.db.execute(f"create or replace temp table {name} ({columns})")
        data = list(rows)
        if data:
            marks = ", ".join("?" * len(data[0]))
            self.db.executemany(f"insert into {name} values ({marks})", [list(r) for r in data])
        try:
            yield
        finally:
            self.db.execute(f"drop table if exists {name}")
