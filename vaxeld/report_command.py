"""`vaxeld report`: bring the history store up to date, then write a report of a period,
or of two side by side (the before/after measurement): a table, CSV, JSON or HTML."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vaxeld.calendar import today_in
from vaxeld.config import Config, ConfigError
from vaxeld.report import html, text
from vaxeld.report.model import GROUPINGS
from vaxeld.report.periods import GRANULARITIES, HELP, PeriodError, parse_period

FORMATS = ("table", "csv", "json", "html")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", default="this-month", help=f"the period: {HELP}")
    parser.add_argument(
        "--compare", metavar="PERIOD", help="another period, shown first, beside --period"
    )
    parser.add_argument(
        "--by", choices=GROUPINGS, default="queue", help="rows per (default: queue)"
    )
    parser.add_argument(
        "--granularity", choices=GRANULARITIES, default="day", help="chart buckets (default: day)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    parser.add_argument("--store", type=Path, help="the history store (default: history.store)")
    parser.add_argument("--title", default="Contact centre report")
    parser.add_argument(
        "--no-ingest", action="store_true", help="report what the store has, read nothing new"
    )


def run(config: Config, args: argparse.Namespace) -> int:
    today = today_in(config.timezone)
    try:
        period = parse_period(args.period, config.timezone, today)
        before = parse_period(args.compare, config.timezone, today) if args.compare else None
    except PeriodError as exc:
        print(f"vaxeld: {exc}", file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        print(f"vaxeld report: {line}", file=sys.stderr, flush=True)

    # Imported here: only reports need DuckDB, and `vaxeld --help` should not load it.
    from vaxeld.history.ingest import up_to_date_store
    from vaxeld.history.reports import ReportQueries

    environ = dict(os.environ)
    try:
        with up_to_date_store(config, args.store, environ, progress, not args.no_ingest) as store:
            queries = ReportQueries(store, config)
            report = queries.build(period, args.by, args.granularity, args.title)
            earlier = (
                queries.build(before, args.by, args.granularity, args.title) if before else None
            )
    except ConfigError as exc:
        print(f"vaxeld: {exc}", file=sys.stderr)
        return 2
    for r in (report, earlier):
        if r is not None:
            r.goal = config.history.service_level_goal
    if args.format == "html":
        out = html.html(report, earlier)
    elif args.format == "csv":
        out = text.to_csv(report, earlier)
    elif args.format == "json":
        out = text.to_json(report, earlier)
    else:
        out = text.text(report) if earlier is None else text.text_compare(earlier, report)
    if args.out is None:
        sys.stdout.write(out)
    else:
        args.out.write_text(out, encoding="utf-8")
        progress(f"wrote {args.out}")
    return 0
