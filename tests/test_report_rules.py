"""Reports follow the live rules: for any queue_log, a report's outcomes and service level
per queue equal what the live path makes of the same lines (vaxeld.state.recovery turns
them into changes, vaxeld.state.service_level judges them), under either formula."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaxeld.config import Config, parse_config
from vaxeld.history.reports import ReportQueries
from vaxeld.history.store import HistoryStore
from vaxeld.report.periods import parse_period
from vaxeld.state.changes import CallAbandoned, CallAnswered, CallExited, CallOffered
from vaxeld.state.queuelog_lines import parse_line
from vaxeld.state.recovery import outcomes_of
from vaxeld.state.service_level import ServiceLevelRule

EXAMPLE = (Path(__file__).parents[1] / "config" / "vaxeld.example.yaml").read_text()
START = 1_796_112_000  # 2026-12-01 08:00 in Stockholm
DAY = date(2026, 12, 1)
_unique = itertools.count()


def config_with(formula: str) -> Config:
    return parse_config(
        EXAMPLE.replace(
            "metrics:\n",
            f"metrics:\n  service_level_formula: {formula}\n  short_abandon_seconds: 6\n",
            1,
        )
    )


CONFIGS = {f: config_with(f) for f in ("offered", "answered_and_long_abandoned")}
EDGES = st.sampled_from([0, 5, 6, 7, 19, 20, 21, 29, 30, 31, 120])
caller = st.tuples(
    st.sampled_from(sorted(CONFIGS["offered"].queues)),
    st.sampled_from(["CONNECT", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", None]),
    # wait, s: often at the edges that matter (the short-abandon limit 6, targets 20, 30)
    st.one_of(EDGES, EDGES, EDGES, st.integers(0, 120)),
    st.integers(0, 3000),  # arrival, s after START
)


def lines_of(callers: list[tuple[str, str | None, int, int]]) -> list[str]:
    out = []
    for n, (queue, outcome, wait, at) in enumerate(callers):
        uid, t = f"{START + at}.{n}", START + at
        out.append(f"{t}|{uid}|{queue}|NONE|ENTERQUEUE||0701234567|1")
        if outcome == "CONNECT":
            out.append(f"{t + wait}|{uid}|{queue}|Åsa Lindqvist|CONNECT|{wait}|{uid}.1|2")
        elif outcome is not None:
            out.append(f"{t + wait}|{uid}|{queue}|NONE|{outcome}|1|1|{wait}")
    return sorted(out, key=lambda line: int(line.split("|", 1)[0]))


def live_figures(lines: list[str], config: Config) -> dict[str, dict[str, int]]:
    rule = ServiceLevelRule.from_config(config)
    entries = [e for e in (parse_line(line) for line in lines) if e is not None]
    out: dict[str, dict[str, int]] = {}
    for ch in outcomes_of(entries):
        if not isinstance(ch, CallOffered | CallAnswered | CallAbandoned | CallExited):
            continue
        row = out.setdefault(ch.queue, dict.fromkeys(FIGURES, 0))
        if isinstance(ch, CallOffered):
            row["offered"] += 1
            continue
        kind = {CallAnswered: "answered", CallAbandoned: "abandoned"}.get(type(ch))
        row[kind or f"exited:{ch.reason}"] += 1  # type: ignore[union-attr]
        met = rule.met(ch)
        row["sl_met"] += met is True
        row["sl_calls"] += met is not None
    return out


FIGURES = ("offered", "answered", "abandoned", "exited:timeout", "exited:leaveempty",
           "sl_met", "sl_calls")  # fmt: skip
REPORT_NAMES = {"exited:timeout": "timed_out", "exited:leaveempty": "left_empty"}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(caller, min_size=5, max_size=40), st.sampled_from(sorted(CONFIGS)))
def test_a_report_judges_every_call_as_the_live_counters_do(
    tmp_path: Path, callers: list[tuple[str, str | None, int, int]], formula: str
) -> None:
    config = CONFIGS[formula]
    lines = lines_of(callers)
    log = tmp_path / f"queue_log-{next(_unique)}"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with HistoryStore(tmp_path / f"store-{next(_unique)}.duckdb") as store:
        store.add_csv("main", log)
        report = ReportQueries(store, config).build(
            parse_period("2026-12-01", config.timezone, DAY), "queue", "day", "t"
        )
    got = {
        queue: {f: int(row.get(REPORT_NAMES.get(f, f)) or 0) for f in FIGURES}
        for queue, row in report.rows
    }
    assert got == live_figures(lines, config)
