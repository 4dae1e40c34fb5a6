"""`vaxeld plan`: how many agents each queue needs per kind of day and interval, from the
history store (brought up to date first), with Erlang C and Erlang A; how many it had,
looking back; and "what if" for numbers given on the command line."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from vaxeld.calendar import day_kinds, today_in
from vaxeld.config import Config, ConfigError
from vaxeld.planning.plan import QueuePlan, plan_queue, what_if
from vaxeld.planning.staffing import staffed
from vaxeld.report import plan_output

FORMATS = ("table", "csv", "html")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", action="append", help="only this queue (repeatable)")
    parser.add_argument("--weeks", type=int, help="weeks of history (default: planning.weeks)")
    parser.add_argument(
        "--until", type=date.fromisoformat, help="the window's last day (default: yesterday)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    parser.add_argument("--store", type=Path, help="the history store (default: history.store)")
    parser.add_argument("--title", default="Staffing plan")
    parser.add_argument(
        "--no-ingest", action="store_true", help="plan from what the store has, read nothing new"
    )
    what = parser.add_argument_group(
        "what if", "predict one queue's service level for the numbers given (no history read)"
    )
    what.add_argument("--calls-per-hour", type=float)
    what.add_argument("--handle-time", type=float, help="seconds, talk and wrap-up")
    what.add_argument("--agents", type=int, help="agents on the phones")
    what.add_argument("--patience", type=float, help="callers' mean patience, seconds")


def run(config: Config, args: argparse.Namespace) -> int:
    if args.calls_per_hour is not None or args.agents is not None:
        return _what_if(config, args)
    weeks = args.weeks or config.planning.weeks
    if not 1 <= weeks <= 52:
        print("vaxeld: --weeks must be 1 to 52", file=sys.stderr)
        return 2
    queues = args.queue or list(config.queues)
    unknown = [q for q in queues if q not in config.queues]
    if unknown:
        print(f"vaxeld: unknown queue {', '.join(unknown)}", file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        print(f"vaxeld plan: {line}", file=sys.stderr, flush=True)

    # Imported here: only reports and plans need DuckDB.
    from vaxeld.history.ingest import up_to_date_store
    from vaxeld.history.planning import interval_start, member_lines, slots

    last = args.until or today_in(config.timezone) - timedelta(days=1)
    first = last - timedelta(days=7 * weeks - 1)
    special = day_kinds(range(first.year, last.year + 1))
    minutes = config.planning.interval_minutes
    end = interval_start(last + timedelta(days=1), 0, minutes, config.timezone)
    environ = dict(os.environ)
    try:
        with up_to_date_store(config, args.store, environ, progress, not args.no_ingest) as store:
            progress(f"callers per {minutes} min from {first} to {last}")
            every = slots(store, config, first, last)
            lines, record_start = member_lines(store, end)
    except ConfigError as exc:
        print(f"vaxeld: {exc}", file=sys.stderr)
        return 2
    progress("who was logged in and not paused, interval by interval")
    static = {
        q: frozenset(
            m.name for _, g, m, _ in config.members_of_queue(q) if g.membership == "static"
        )
        for q in queues
    }
    names = {m.interface: m.name for g in config.agent_groups.values() for m in g.members}
    buckets = sorted({(s.start, s.start + minutes * 60) for s in every if s.queue in queues})
    there = staffed(lines, names, static, record_start, buckets, end)
    plans: list[QueuePlan] = []
    for queue in queues:
        progress(f"planning {queue}")
        mine = [s for s in every if s.queue == queue]
        plans.append(plan_queue(config, queue, mine, special, first, last, there))
    p = config.planning
    if args.format == "html":
        out = plan_output.html(plans, minutes, p.model, p.shrinkage, args.title)
    elif args.format == "csv":
        out = plan_output.to_csv(plans, minutes)
    else:
        out = plan_output.text(plans, minutes, p.model, p.shrinkage)
    if args.out is None:
        sys.stdout.write(out)
    else:
        args.out.write_text(out, encoding="utf-8")
        progress(f"wrote {args.out}")
    return 0


def _what_if(config: Config, args: argparse.Namespace) -> int:
    given = (args.calls_per_hour, args.handle_time, args.agents)
    if any(v is None for v in given) or not args.queue or len(args.queue) != 1:
        print(
            "vaxeld: what if needs --queue, --calls-per-hour, --handle-time and --agents",
            file=sys.stderr,
        )
        return 2
    queue = args.queue[0]
    if queue not in config.queues:
        print(f"vaxeld: unknown queue {queue}", file=sys.stderr)
        return 2
    if args.calls_per_hour < 0 or args.handle_time <= 0 or args.agents < 1:
        print("vaxeld: calls, handle time and agents must be positive", file=sys.stderr)
        return 2
    # The models' work grows with the agents and the callers waiting: bounded, so that a
    # typo cannot keep the command busy for hours.
    limits = ((args.calls_per_hour, 20_000, "--calls-per-hour"), (args.agents, 2_000, "--agents"),
              (args.handle_time, 7_200, "--handle-time"))  # fmt: skip
    for value, most, name in limits:
        if value > most:
            print(f"vaxeld: {name} is at most {most}", file=sys.stderr)
            return 2
    if args.patience is not None and not 1 <= args.patience <= 3_600:
        print("vaxeld: --patience must be 1 to 3600 seconds", file=sys.stderr)
        return 2
    target = config.queues[queue].service_level_seconds
    c, a = what_if(args.calls_per_hour, args.handle_time, args.agents, target, args.patience)
    print(f"{queue}: {args.agents} agents, {args.calls_per_hour:g} calls/h, {args.handle_time:g} s")
    for name, p in (("Erlang C", c), ("Erlang A", a)):
        if p is None:
            print("Erlang A: give --patience (callers' mean patience, s) for it")
            continue
        level = (
            "never: more calls than agents can take"
            if p.average_wait == float("inf")
            else (
                f"{p.service_level:.1%} within {target} s, average wait {p.average_wait:.1f} s, "
                f"{p.abandon_share:.1%} hang up, occupancy {p.occupancy:.0%}"
            )
        )
        print(f"{name}: {level}")
    return 0
