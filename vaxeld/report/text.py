"""A report as a terminal table, CSV or JSON. Pure: strings in, strings out.

Caller numbers are never in a report: the record keeps them, no output shows them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from vaxeld.report.model import (
    AGENT_FIGURES,
    CENTRE_FIGURES,
    QUEUE_FIGURES,
    Change,
    Figure,
    Report,
    Row,
    compare_groups,
    compare_rows,
)

# The columns of the terminal table (all figures go to CSV, JSON and HTML).
TABLE = ("offered", "answered", "service_level", "answered_directly_share", "resolved_share",
         "abandoned", "timed_out", "unknown", "wait_avg", "wait_p90", "wait_max")  # fmt: skip
SHORT = {
    "offered": "offered",
    "answered": "answered",
    "service_level": "SL",
    "answered_directly_share": "direct",
    "resolved_share": "resolved",
    "abandoned": "abandon",
    "timed_out": "timeout",
    "unknown": "unknown",
    "wait_avg": "avg wait",
    "wait_p90": "p90",
    "wait_max": "longest",
}


def value_text(figure: Figure, value: float | None) -> str:
    if value is None:
        return "unknown"
    if figure.kind == "ratio":
        return f"{100 * value:.1f} %"
    if figure.kind == "seconds":
        return f"{value:.0f} s"
    if figure.kind == "duration":
        return _duration(value)
    return f"{value:,.0f}".replace(",", " ")


def _duration(seconds: float) -> str:
    minutes = round(abs(seconds) / 60)
    sign = "-" if seconds < 0 else ""
    return f"{sign}{minutes // 60} h {minutes % 60:02d} min"


def change_text(figure: Figure, change: Change) -> str:
    diff, rel = change.diff, change.relative
    if diff is None:
        return "-"
    if figure.kind == "ratio":
        out = f"{100 * diff:+.1f} pp"
    elif figure.kind == "seconds":
        out = f"{diff:+.0f} s"
    elif figure.kind == "duration":
        out = ("+" if diff >= 0 else "") + _duration(diff)
    else:
        out = f"{diff:+,.0f}".replace(",", " ")
    return out if rel is None or figure.kind == "ratio" else f"{out} ({100 * rel:+.0f} %)"


_BY_NAME = {f.name: f for f in QUEUE_FIGURES}


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def notes(report: Report) -> list[str]:
    """What a reader must know to read the report right (every output shows them)."""
    notes = [
        f"service level: {report.target_text}, over "
        + (
            "every caller who left a queue"
            if report.formula == "offered"
            else "answered and abandons after the short-abandon limit"
        )
    ]
    if not report.knows_entries:
        notes.append(
            "this record has no vaxeld lines for the period (written before vaxeld): entry "
            "numbers, menu abandons, closed and crisis calls are unknown"
        )
    if any(row.get("logged_in_seconds") is None for _, row in report.agents):
        notes.append("logged in: unknown for static members (always in their queues)")
    if report.problems:
        notes.append(
            "lines not used: " + ", ".join(f"{k}: {v}" for k, v in sorted(report.problems.items()))
        )
    return notes


def text(report: Report) -> str:
    out = [f"{report.title}: {report.period.label} ({report.period.first} to {report.period.last})"]
    header = [report.group_by, *(SHORT[n] for n in TABLE)]
    rows = [[k, *(value_text(_BY_NAME[n], row.get(n)) for n in TABLE)] for k, row in report.rows]
    rows.append(["all", *(value_text(_BY_NAME[n], report.total.get(n)) for n in TABLE)])
    out += ["", _grid(header, rows), ""]
    out += [f"{f.label}: {value_text(f, report.centre.get(f.name))}" for f in CENTRE_FIGURES]
    if report.group_by == "agent" and report.agents:
        header = ["agent", *(f.label for f in AGENT_FIGURES)]
        agents = [[k, *(value_text(f, row.get(f.name)) for f in AGENT_FIGURES)]
                  for k, row in report.agents]  # fmt: skip
        out += ["", _grid(header, agents)]
    out += ["", *(f"note: {n}" for n in notes(report))]
    return "\n".join(out) + "\n"


def text_compare(before: Report, after: Report) -> str:
    out = [
        f"{after.title}: {before.period.label} against {after.period.label}",
        "",
    ]
    figures = [f for f in QUEUE_FIGURES if f.name in TABLE]
    for name, changes in [
        ("all", compare_rows(before.total, after.total, QUEUE_FIGURES)),
        *compare_groups(before.rows, after.rows, QUEUE_FIGURES),
    ]:
        out.append(f"{after.group_by} {name}" if name != "all" else "all queues")
        header = ["figure", before.period.label, after.period.label, "change"]
        rows = [
            [f.label, value_text(f, changes[f.name].before), value_text(f, changes[f.name].after),
             change_text(f, changes[f.name])]
            for f in figures
        ]  # fmt: skip
        out += [_grid(header, rows), ""]
    centre = compare_rows(before.centre, after.centre, CENTRE_FIGURES)
    rows = [
        [f.label, value_text(f, centre[f.name].before), value_text(f, centre[f.name].after),
         change_text(f, centre[f.name])]
        for f in CENTRE_FIGURES
    ]  # fmt: skip
    out += [_grid(["the centre", before.period.label, after.period.label, "change"], rows)]
    out += ["", *(f"note: {n}" for n in notes(after))]
    return "\n".join(out) + "\n"


def to_json(report: Report, before: Report | None = None) -> str:
    return json.dumps(_as_dict(report, before), ensure_ascii=False, indent=2) + "\n"


def _as_dict(report: Report, before: Report | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "title": report.title,
        "period": {"label": report.period.label, "first": str(report.period.first),
                   "last": str(report.period.last), "time_zone": report.period.tz},
        "group_by": report.group_by,
        "service_level": {"formula": report.formula, "target": report.target_text},
        "groups": {k: row for k, row in report.rows},
        "total": report.total,
        "centre": report.centre,
        "agents": {k: row for k, row in report.agents},
        "series": {"granularity": report.granularity, "buckets": dict(report.series)},
        "arrivals": [
            {"weekday": d, "hour": h, "callers": n} for (d, h), n in sorted(report.arrivals.items())
        ],
        "waits": [{"bucket": b, "answered": a, "abandoned": x} for b, a, x in report.waits],
        "problems": report.problems,
        "entries_known": report.knows_entries,
    }  # fmt: skip
    if before is not None:
        out["compared_with"] = _as_dict(before, None)
    return out


def to_csv(report: Report, before: Report | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if before is None:
        writer.writerow(["period", "section", "group", "figure", "value"])
        for section, group, row, figures in _sections(report):
            for f in figures:
                writer.writerow(
                    [report.period.label, section, group, f.name, _num(row.get(f.name))]
                )
        return buf.getvalue()
    writer.writerow(["section", "group", "figure", before.period.label, report.period.label,
                     "change", "relative_change"])  # fmt: skip
    old = {(s, g): r for s, g, r, _ in _sections(before)}
    for section, group, row, figures in _sections(report):
        changes = compare_rows(old.get((section, group), {}), row, figures)
        for f in figures:
            c = changes[f.name]
            writer.writerow(
                [
                    section,
                    group,
                    f.name,
                    _num(c.before),
                    _num(c.after),
                    _num(c.diff),
                    _num(c.relative),
                ]
            )
    return buf.getvalue()


def _sections(report: Report) -> list[tuple[str, str, Row, tuple[Figure, ...]]]:
    out: list[tuple[str, str, Row, tuple[Figure, ...]]] = [
        ("total", "all", report.total, QUEUE_FIGURES),
        ("centre", "all", report.centre, CENTRE_FIGURES),
    ]
    out += [(report.group_by, k, row, QUEUE_FIGURES) for k, row in report.rows]
    out += [("agent", k, row, AGENT_FIGURES) for k, row in report.agents]
    return out


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
