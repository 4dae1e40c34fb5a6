"""A report as one self-contained HTML file: no script, no font, no CDN; the charts are
inline SVG, so it opens offline, prints, and can be mailed as it is. With a comparison
the before/after figures come first. Pure: strings in, a string out."""

from __future__ import annotations

from html import escape

from vaxeld.report.model import (
    AGENT_FIGURES,
    CENTRE_FIGURES,
    QUEUE_FIGURES,
    Figure,
    Report,
    Row,
    compare_rows,
)
from vaxeld.report.text import change_text, notes, value_text

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1d2530}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .6rem}
.sub{color:#5b6675;margin:0 0 1.5rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{border:1px solid #d5dbe3;border-radius:8px;padding:.7rem 1rem;min-width:11rem}
.card .n{font-size:.85rem;color:#5b6675}.card .v{font-size:1.5rem;font-weight:600}
.card .c{font-size:.9rem}.up{color:#17803d}.down{color:#b3261e}
table{border-collapse:collapse;font-size:.9rem}td,th{padding:.25rem .6rem;text-align:right}
th{border-bottom:2px solid #1d2530}td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#f3f5f8}.note{color:#5b6675;font-size:.85rem}
svg text{font-size:11px;fill:#1d2530}.wide{overflow-x:auto}
"""
# The better direction of a figure, for the colour of its change.
HIGHER_IS_BETTER = {
    "service_level": True,
    "answered_directly_share": True,
    "resolved_share": True,
    "first_contact_share": True,
    "repeat_calls": False,
    "transferred_out": False,
    "answered": True,
    "abandoned": False,
    "wait_avg": False,
    "wait_p90": False,
    "unknown": False,
    "menu_abandoned": False,
    "timed_out": False,
}
CARDS = (
    "service_level",
    "answered_directly_share",
    "resolved_share",
    "offered",
    "answered",
    "abandoned",
    "wait_avg",
    "wait_p90",
)
_FIG = {f.name: f for f in (*QUEUE_FIGURES, *CENTRE_FIGURES)}


def _el(tag: str, text: str = "", **attrs: object) -> str:
    """One SVG or HTML element; attribute names with _ for - (stroke_width=...)."""
    shown = "".join(f' {k.rstrip("_").replace("_", "-")}="{_attr(v)}"' for k, v in attrs.items())
    return (
        f"<{tag}{shown}>{text}</{tag}>"
        if text or tag not in ("line", "rect")
        else f"<{tag}{shown}/>"
    )


element = _el  # for the staffing plan's page, in the same style


def _attr(value: object) -> str:
    return escape(f"{value:.1f}" if isinstance(value, float) else str(value))


def _cards(report: Report, before: Report | None) -> str:
    changes = compare_rows(before.total if before else {}, report.total, QUEUE_FIGURES)
    out = []
    for name in CARDS:
        f, c = _FIG[name], changes[name]
        extra = ""
        if before is not None:
            better = HIGHER_IS_BETTER.get(name)
            cls = ""
            if c.diff and better is not None:
                cls = "up" if (c.diff > 0) == better else "down"
            extra = (
                f'<div class="c {cls}">{escape(change_text(f, c))} '
                f"from {escape(value_text(f, c.before))}</div>"
            )
        out.append(
            f'<div class="card"><div class="n">{escape(f.label)}</div>'
            f'<div class="v">{escape(value_text(f, c.after))}</div>{extra}</div>'
        )
    return '<div class="cards">' + "".join(out) + "</div>"


def _sl_chart(report: Report, before: Report | None) -> str:
    """Service level per bucket against the goal line (and the other period's level)."""
    points = [(label, row.get("service_level")) for label, row in report.series]
    width, height, pad = max(320, 28 * len(points) + 60), 220, 40
    bar = (width - pad - 10) / max(1, len(points))
    parts = []

    def y(v: float) -> float:
        return 10 + (1 - v) * height

    for tick in (0, 0.5, 1.0):
        parts.append(_el("line", x1=pad, x2=width, y1=y(tick), y2=y(tick), stroke="#e3e7ed"))
        parts.append(_el("text", f"{100 * tick:.0f} %", x=2, y=y(tick) + 4))
    step = max(1, len(points) // 12) if len(points) > 31 else 1
    for i, (label, v) in enumerate(points):
        x = pad + i * bar
        if v is not None:
            color = "#2f6fdb" if v >= report.goal else "#e0842b"
            title = _el("title", escape(f"{label}: {100 * v:.1f} %"))
            bar_height = height + 10 - y(v)
            parts.append(
                _el(
                    "rect",
                    title,
                    x=x + 2,
                    y=y(v),
                    width=max(2.0, bar - 4),
                    height=bar_height,
                    fill=color,
                )
            )
        if i % step == 0:
            short = label[5:] if len(label) > 7 else label
            turn = f"rotate(35 {x + 2:.1f},{height + 26})"
            parts.append(_el("text", escape(short), x=x + 2, y=height + 26, transform=turn))
    goal = y(report.goal)
    parts.append(
        _el(
            "line",
            class_="goal",
            x1=pad,
            x2=width,
            y1=goal,
            y2=goal,
            stroke="#b3261e",
            stroke_width=2,
            stroke_dasharray="6 4",
        )
    )
    label = f"goal {100 * report.goal:.0f} %"
    parts.append(_el("text", label, x=width - 90, y=goal - 5, fill="#b3261e"))
    level = before.total.get("service_level") if before is not None else None
    if before is not None and level is not None:
        other = y(level)
        parts.append(
            _el(
                "line",
                class_="before",
                x1=pad,
                x2=width,
                y1=other,
                y2=other,
                stroke="#5b6675",
                stroke_dasharray="2 3",
            )
        )
        parts.append(_el("text", escape(before.period.label), x=pad + 4, y=other - 5))
    name = f"service level per {report.granularity}"
    return _el(
        "svg",
        "".join(parts),
        role="img",
        aria_label=name,
        width=width,
        height=height + 70,
        class_="chart sl",
    )


def _heat_map(report: Report) -> str:
    """Callers arriving by weekday and hour of day."""
    if not report.arrivals:
        return '<p class="note">No callers in the period.</p>'
    hours = range(min(h for _, h in report.arrivals), max(h for _, h in report.arrivals) + 1)
    top = max(report.arrivals.values())
    cell, pad = 30, 44
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    parts = [_el("text", f"{hour:02d}", x=pad + j * cell + 6, y=14) for j, hour in enumerate(hours)]
    for d in range(1, 8):
        parts.append(_el("text", days[d - 1], x=2, y=24 + (d - 1) * cell + 19))
        for j, hour in enumerate(hours):
            n = report.arrivals.get((d, hour), 0)
            shade = 0.08 + 0.92 * n / top if n else 0.0
            title = _el("title", f"{days[d - 1]} {hour:02d}: {n}")
            parts.append(
                _el(
                    "rect",
                    title,
                    x=pad + j * cell,
                    y=24 + (d - 1) * cell,
                    width=cell - 2,
                    height=cell - 2,
                    fill=f"rgba(47,111,219,{shade:.2f})",
                    stroke="#e3e7ed",
                )
            )
    return _el(
        "svg",
        "".join(parts),
        role="img",
        aria_label="arrivals by weekday and hour",
        width=pad + cell * len(hours) + 10,
        height=24 + cell * 7,
        class_="chart heat",
    )


def _wait_chart(report: Report) -> str:
    """How long callers waited: answered and abandoned, per wait bucket."""
    top = max([1, *(a + x for _, a, x in report.waits)])
    bar, height, pad = 70, 180, 30
    parts = []
    for i, (label, answered, abandoned) in enumerate(report.waits):
        x = pad + i * bar
        h_a, h_x = height * answered / top, height * abandoned / top
        for y, h, color, what in (
            (height - h_a - h_x + 10, h_a, "#2f6fdb", f"{answered} answered"),
            (height - h_x + 10, h_x, "#e0842b", f"{abandoned} abandoned"),
        ):
            title = _el("title", escape(f"{label}: {what}"))
            parts.append(_el("rect", title, x=x, y=y, width=bar - 10, height=h, fill=color))
        parts.append(_el("text", escape(label), x=x, y=height + 28))
    svg = _el(
        "svg",
        "".join(parts),
        role="img",
        aria_label="wait distribution",
        width=pad + bar * len(report.waits) + 20,
        height=height + 40,
        class_="chart waits",
    )
    return svg + '<p class="note">blue: answered, orange: hung up while waiting</p>'


def _table(title: str, rows: list[tuple[str, Row]], figures: tuple[Figure, ...]) -> str:
    head = "".join(f"<th>{escape(f.label)}</th>" for f in figures)
    body = "".join(
        "<tr><td>"
        + escape(k)
        + "</td>"
        + "".join(f"<td>{escape(value_text(f, row.get(f.name)))}</td>" for f in figures)
        + "</tr>"
        for k, row in rows
    )
    table = f"<table><tr><th></th>{head}</tr>{body}</table>"
    return f'<h2>{escape(title)}</h2><div class="wide">{table}</div>'


def html(report: Report, before: Report | None = None) -> str:
    period = escape(report.period.label)
    sub = (
        f"{escape(before.period.label)} against {period}"
        if before is not None
        else f"{period}: {report.period.first} to {report.period.last} ({escape(report.period.tz)})"
    )
    sentences = [n[0].upper() + n[1:] + "." for n in notes(report)]
    sections = [
        f'<h1>{escape(report.title)}</h1><p class="sub">{sub}</p>',
        _cards(report, before),
        f"<h2>Service level per {escape(report.granularity)}</h2>",
        _sl_chart(report, before),
        "<h2>Callers arriving, by weekday and hour</h2>",
        _heat_map(report),
        "<h2>How long callers waited</h2>",
        _wait_chart(report),
        _table(
            f"Per {report.group_by}" + (f", {report.period.label}" if before is not None else ""),
            [*report.rows, ("all", report.total)],
            QUEUE_FIGURES,
        ),
        _table("The centre", [("all", report.centre)], CENTRE_FIGURES),
        _table("Agents", report.agents, AGENT_FIGURES),
        "".join(f'<p class="note">{escape(n)}</p>' for n in sentences),
    ]
    if before is not None:
        sections.insert(
            8,
            _table(
                f"Per {before.group_by}, {before.period.label}",
                [*before.rows, ("all", before.total)],
                QUEUE_FIGURES,
            ),
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(report.title)} {period}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style></head><body>" + "".join(sections) + "</body></html>\n"
    )
