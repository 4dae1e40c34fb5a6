"""History at the city's volume: a year of queue_log at 2,000,000 calls.

    python bench/history_year.py            # the figures, about three minutes
    python bench/history_year.py --calls 200000

Measured, each in a process of its own (so its peak RSS is its own):
- ingest of the whole year into an empty store (cold),
- a report of the whole year by queue with a chart per day,
- an ingest of one more day (the year's last day appended to a store holding the rest),
- the baseline: the same per-queue figures counted by a plain Python loop over the lines
  (lab.queue_log_truth, the independent count the tests hold reports to), and whether the
  report equals it.
The year file is generated once (deterministic) and kept in the cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("VAXELD_BENCH_CACHE", "/var/cache/vaxeld/bench"))
EXAMPLE = ROOT / "config" / "vaxeld.example.yaml"
YEAR = 2026
Row = tuple[str, str, str, bool]


def year_file(calls: int) -> Path:
    path = CACHE / f"queue_log-{YEAR}-{calls}"
    if not path.exists():
        from lab.queue_log_year import generate

        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"generating a year of queue_log at {calls:,} calls in {path}...", flush=True)
        partial = path.with_suffix(".partial")
        generate(partial, calls, YEAR, seed=1)
        partial.rename(path)
    return path


def offset_of_day(path: Path, day_start: int) -> int:
    """The byte offset of the first line stamped at or after ``day_start`` (the file is in
    time order): a bisection over the file with seeks."""
    size = path.stat().st_size
    lo, hi = 0, size
    with path.open("rb") as fh:
        while hi - lo > 4096:
            mid = (lo + hi) // 2
            fh.seek(mid)
            fh.readline()  # to the start of the next line
            line = fh.readline()
            if not line or int(line.split(b"|", 1)[0]) >= day_start:
                hi = mid
            else:
                lo = mid
        fh.seek(lo)
        if lo:
            fh.readline()
        while True:
            at = fh.tell()
            line = fh.readline()
            if not line or int(line.split(b"|", 1)[0]) >= day_start:
                return at


# -- the phases, each run in a child process -----------------------------------------


def _config() -> Any:
    from vaxeld.config import load_config

    return load_config(EXAMPLE)


def _key() -> Any:
    """A caller key, as a city would have one: numbers are hashed as they are read."""
    from vaxeld.state.repeats import CallerKey

    return CallerKey(b"a-caller-key-for-the-benchmark")


def phase_ingest(store_path: str, queue_log: str) -> dict[str, Any]:
    from vaxeld.history.files import ingest_files
    from vaxeld.history.store import HistoryStore

    t0 = time.perf_counter()
    with HistoryStore(Path(store_path), caller_key=_key()) as store:
        added = ingest_files(store, "main", Path(queue_log))
    return {"seconds": time.perf_counter() - t0, "lines": added}


def phase_report(store_path: str) -> dict[str, Any]:
    from lab.queue_log_truth import report_figures
    from vaxeld.history.reports import ReportQueries
    from vaxeld.history.store import HistoryStore
    from vaxeld.report.periods import parse_period

    config = _config()
    period = parse_period(str(YEAR), config.timezone, datetime.now().date())
    t0 = time.perf_counter()
    with HistoryStore(Path(store_path), caller_key=_key()) as store:
        report = ReportQueries(store, config).build(period, "queue", "day", "year")
    seconds = time.perf_counter() - t0
    figures = {"|".join(k): v for k, v in report_figures(report).items()}
    return {"seconds": seconds, "figures": figures, "offered": report.total.get("offered")}


def phase_baseline(queue_log: str) -> dict[str, Any]:
    from lab.queue_log_truth import expected_figures, queue_families

    config = _config()
    t0 = time.perf_counter()
    with open(queue_log, encoding="utf-8", newline="\n") as fh:
        rows = (line.rstrip("\n").split("|") for line in fh)
        figures = queue_families(expected_figures(rows, 0, config))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "figures": {"|".join(k): v for k, v in figures.items()}}


PHASES: dict[str, Callable[..., dict[str, Any]]] = {
    "ingest": phase_ingest,
    "report": phase_report,
    "baseline": phase_baseline,
}


def _child(*args: str) -> tuple[dict[str, Any], float]:
    """Run a phase in a child process: its result and its peak RSS in MB."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--phase", *args], stdout=subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"bench phase {args[0]} failed ({proc.returncode})")
    return json.loads(out), usage.ru_maxrss / 1024  # kB on Linux


def run(calls: int = 2_000_000) -> list[Row]:
    path = year_file(calls)
    size_mb = path.stat().st_size / 1e6
    lines = sum(1 for _ in path.open("rb"))
    with tempfile.TemporaryDirectory(prefix="vaxeld-bench-history-") as tmp:
        store = Path(tmp) / "year.duckdb"
        cold, cold_rss = _child("ingest", str(store), str(path))
        report, report_rss = _child("report", str(store))
        store.unlink()
        # One more day: the store holds the year up to its last day, then the day comes.
        last_day = datetime(YEAR, 12, 31, tzinfo=ZoneInfo("Europe/Stockholm")).timestamp()
        cut = offset_of_day(path, int(last_day))
        growing = Path(tmp) / "queue_log"
        # Copied in pieces: a child's peak RSS on Linux starts from its parent's at fork.
        with path.open("rb") as src, growing.open("wb") as dst:
            left = cut
            while left > 0:
                left -= os.copy_file_range(src.fileno(), dst.fileno(), left)
        _child("ingest", str(Path(tmp) / "days.duckdb"), str(growing))
        with path.open("rb") as src, growing.open("ab") as dst:
            src.seek(cut)
            shutil.copyfileobj(src, dst)
        day, day_rss = _child("ingest", str(Path(tmp) / "days.duckdb"), str(growing))
    baseline, baseline_rss = _child("baseline", str(path))
    ours = cold["seconds"] + report["seconds"]
    ratio = baseline["seconds"] / ours
    equal = report["figures"] == baseline["figures"]
    peak = max(cold_rss, report_rss, day_rss)
    scale = f"{calls:,} calls, {lines:,} lines, {size_mb:.0f} MB"
    return [
        (
            "history: ingest a year from cold",
            f"{cold['seconds']:.1f} s ({scale})",
            "< 10 s",
            cold["seconds"] < 10,
        ),
        (
            "history: report of the whole year",
            f"{report['seconds']:.2f} s (by queue, per day; {report['offered']:,.0f} offered)",
            "(reported)",
            True,
        ),
        (
            "history: ingest one more day",
            f"{day['seconds']:.2f} s ({day['lines']:,} lines)",
            "< 1 s",
            day["seconds"] < 1,
        ),
        (
            "history: peak RSS (ingest, report, day)",
            f"{peak:.0f} MB ({cold_rss:.0f}, {report_rss:.0f}, {day_rss:.0f})",
            "< 500 MB",
            peak < 500,
        ),
        (
            "history: plain Python loop / DuckDB",
            f"{ratio:.1f}x ({baseline['seconds']:.1f} s vs {ours:.1f} s ingest and report; "
            f"{baseline_rss:.0f} MB)",
            "(reported)",
            True,
        ),
        (
            "history: report equals the Python count",
            "yes" if equal else "NO: " + _difference(report["figures"], baseline["figures"]),
            "equal",
            equal,
        ),
    ]


def _difference(a: dict[str, int], b: dict[str, int]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0))
    return ", ".join(f"{k} {a.get(k, 0)} vs {b.get(k, 0)}" for k in keys[:5])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        print(json.dumps(PHASES[name](*rest)))
        return 0
    rows = run(args.calls)
    width = max(len(r[0]) for r in rows)
    for name, figure, target, ok in rows:
        print(f"{name:<{width}}  {figure:<70}  {target:<10}  {'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
