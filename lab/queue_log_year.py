"""A year of queue_log at the city's volume, for the history benchmarks.

    python -m lab.queue_log_year OUT [--calls 2000000] [--year 2026] [--seed 1]

Callers arrive in opening hours (weekdays 08-17, busier mornings), reach the entry or an
old switchboard number, choose a language (or time out to the default, or hang up in
the menu), wait in that language's queue, and are answered (then talk), hang up, or time
out, a few overflowing to the switchboard queue. Lines are written as Asterisk 22 and
vaxeld's rendered dialplan write them: ENTERQUEUE, CONNECT, COMPLETECALLER/AGENT,
ABANDON, EXITWITHTIMEOUT, and vaxeld's VAXELDENTRY, VAXELDLANGUAGE, VAXELDOVERFLOW,
VAXELDMENUABANDON. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

NUMBERS = ["0313650000"] * 6 + ["0313651000", "0313652000", "0313653000"]
LANGUAGES = [
    ("sv", "1"),
    ("sv", "1"),
    ("sv", "1"),
    ("en", "2"),
    ("ar", "3"),
    ("so", "4"),
    ("fi", "5"),
]
AGENTS = {
    "sv": ["Åsa Lindqvist", "Johan Berg", "Maria Öberg"],
    "en": ["Sara Khan"],
    "ar": ["Hodan Abdi", "Yusuf Haddad"],
    "so": ["Hodan Abdi", "Yusuf Haddad"],
    "fi": ["Aino Virtanen"],
    "vaxel": ["Lars Holm", "Åsa Lindqvist"],
}
HOUR_WEIGHT = {8: 9, 9: 12, 10: 12, 11: 10, 12: 6, 13: 9, 14: 9, 15: 7, 16: 5}


def opening_seconds(year: int, tz: ZoneInfo) -> list[tuple[float, float]]:
    """(start, weight) per opening hour of the year (weekdays, 08-17 local time)."""
    hours = []
    day = datetime(year, 1, 1, tzinfo=tz)
    while day.year == year:
        if day.isoweekday() <= 5:
            for hour, weight in HOUR_WEIGHT.items():
                start = datetime(day.year, day.month, day.day, hour, tzinfo=tz).timestamp()
                hours.append((start, float(weight)))
        day += timedelta(days=1)
    return hours


def example_config_with_year(folder: Path, calls: int, seed: int, year: int = 2026) -> Path:
    """The example config reading a generated year of queue_log, with its history store,
    all in ``folder``: what the report and plan tests run `vaxeld` on."""
    log = folder / "queue_log"
    generate(log, calls=calls, year=year, seed=seed)
    example = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
    text = example.read_text(encoding="utf-8")
    text = text.replace("  - name: main\n", f"  - name: main\n    queue_log: {log}\n", 1)
    path = folder / "vaxeld.yaml"
    path.write_text(text + f"\nhistory:\n  store: {folder / 'history.duckdb'}\n")
    return path


def generate(out: Path, calls: int, year: int, seed: int) -> int:
    rng = random.Random(seed)
    tz = ZoneInfo("Europe/Stockholm")
    hours = opening_seconds(year, tz)
    starts = rng.choices([h for h, _ in hours], weights=[w for _, w in hours], k=calls)
    starts = sorted(s + rng.random() * 3600 for s in starts)
    lines: list[tuple[int, str]] = []
    written = 0
    with out.open("w", encoding="utf-8") as fh:
        for n, at in enumerate(starts):
            uid = f"{int(at)}.{n}"
            t = int(at)
            number = rng.choice(NUMBERS)
            call: list[tuple[int, str]] = [(t, f"{uid}|vaxeld|NONE|VAXELDENTRY|{number}")]
            roll = rng.random()
            if number == "0313653000":
                queue, language = "ar", "ar"
            elif number == "0313652000":
                queue, language = "sv", "sv"
                call.append((t + 1, f"{uid}|vaxeld|NONE|VAXELDLANGUAGE|sv||direct"))
            elif roll < 0.04:  # hangs up in the menu
                call.append(
                    (t + rng.randint(2, 8), f"{uid}|vaxeld|NONE|VAXELDMENUABANDON|{number}")
                )
                lines += call
                continue
            else:
                language, digit = rng.choice(LANGUAGES)
                queue = language
                if roll < 0.09:
                    call.append((t + 13, f"{uid}|vaxeld|NONE|VAXELDMENU|timeout|"))
                    call.append((t + 14, f"{uid}|vaxeld|NONE|VAXELDLANGUAGE|sv||default"))
                    queue = language = "sv"
                else:
                    call.append(
                        (t + 4, f"{uid}|vaxeld|NONE|VAXELDLANGUAGE|{language}|{digit}|chosen")
                    )
            enter = t + 5
            call.append((enter, f"{uid}|{queue}|NONE|ENTERQUEUE||07{n:08d}|1"))
            wait = int(rng.expovariate(1 / 25))
            fate = rng.random()
            if fate < 0.08:  # gives up
                call.append((enter + wait, f"{uid}|{queue}|NONE|ABANDON|1|1|{wait}"))
            elif fate < 0.11 and queue == "sv":  # overflow to the switchboard
                call.append((enter + 300, f"{uid}|sv|NONE|EXITWITHTIMEOUT|1|1|300"))
                call.append((enter + 300, f"{uid}|vaxeld|NONE|VAXELDOVERFLOW|sv|vaxel|TIMEOUT"))
                call.append((enter + 300, f"{uid}|vaxel|NONE|ENTERQUEUE||07{n:08d}|1"))
                agent = rng.choice(AGENTS["vaxel"])
                call.append((enter + 310, f"{uid}|vaxel|{agent}|CONNECT|10|{uid}9|3"))
                talk = int(rng.expovariate(1 / 180))
                call.append((enter + 310 + talk, f"{uid}|vaxel|{agent}|COMPLETECALLER|10|{talk}|1"))
            elif fate < 0.12:  # waits too long
                call.append((enter + 900, f"{uid}|{queue}|NONE|EXITWITHTIMEOUT|1|1|900"))
            else:
                agent = rng.choice(AGENTS[queue])
                call.append((enter + wait, f"{uid}|{queue}|{agent}|CONNECT|{wait}|{uid}9|2"))
                talk = int(rng.expovariate(1 / 180))
                end = "COMPLETECALLER" if rng.random() < 0.6 else "COMPLETEAGENT"
                call.append((enter + wait + talk, f"{uid}|{queue}|{agent}|{end}|{wait}|{talk}|1"))
            lines += call
            if len(lines) > 200_000:
                written += _flush(fh, lines, keep_after=t)
        written += _flush(fh, lines, keep_after=None)
    return written


def _flush(fh: object, lines: list[tuple[int, str]], keep_after: int | None) -> int:
    """Write the lines in time order, keeping those that may still be overtaken."""
    lines.sort(key=lambda item: item[0])
    cut = (
        len(lines)
        if keep_after is None
        else next((i for i, (t, _) in enumerate(lines) if t >= keep_after - 2000), len(lines))
    )
    out = "".join(f"{t}|{rest}\n" for t, rest in lines[:cut])
    fh.write(out)  # type: ignore[attr-defined]
    del lines[:cut]
    return cut


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n = generate(args.out, args.calls, args.year, args.seed)
    print(f"{args.out}: {n} lines for {args.calls} calls in {args.year}")
