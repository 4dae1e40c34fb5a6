"""A staffing plan as a terminal table, CSV, or one self-contained HTML page with heat maps
(kind of day x interval) of the agents needed and of the gaps. Pure: plans in, text out."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from html import escape

from vaxeld.planning.plan import WEEKDAYS, Cell, Check, QueuePlan
from vaxeld.report.html import STYLE
from vaxeld.report.html import element as _el

KIND_ORDER = (*WEEKDAYS, "holiday", "eve", "short")


def clock(slot: int, minutes: int) -> str:
    return f"{slot * minutes // 60:02d}:{slot * minutes % 60:02d}"


def _kinds(plan: QueuePlan) -> list[str]:
    present = {kind for kind, _ in plan.cells}
    return [k for k in KIND_ORDER if k in present]


def _slots(plan: QueuePlan) -> list[int]:
    return sorted({slot for (_, slot), cell in plan.cells.items() if cell.calls > 0})


def _basis_line(plan: QueuePlan, model: str, shrinkage: float) -> str:
    b = plan.basis
    patience = f"{b.patience:.0f} s" if b.patience else "nobody hung up"
    days = sum(b.days.values())
    span = f"{days // 7} weeks" if days >= 14 else f"{days} days"
    return (
        f"{b.calls} callers over {span}; handle time {b.handle:.0f} s (talk + wrap-up); "
        f"patience {patience}; goal {b.goal:.0%} within {b.target} s; "
        f"model {model.replace('_', ' ')}; shrinkage {shrinkage:.0%}"
    )


def check_line(check: Check | None) -> str:
    if check is None or not check.calls or check.measured is None:
        return "Model check: no interval with enough calls and agents to compare."
    assert check.erlang_c is not None and check.erlang_a is not None
    return (
        f"Model check over {check.intervals} intervals ({check.calls} callers): measured "
        f"{check.measured:.1%}, Erlang C predicted {check.erlang_c:.1%} "
        f"(off by {check.error_c or 0:.1%} per interval), Erlang A {check.erlang_a:.1%} "
        f"(off by {check.error_a or 0:.1%})"
    )


def text(plans: Sequence[QueuePlan], minutes: int, model: str, shrinkage: float) -> str:
    out = []
    for plan in plans:
        kinds, slots = _kinds(plan), _slots(plan)
        out.append(f"Queue {plan.basis.queue}: agents to schedule per interval")
        out.append("  " + _basis_line(plan, model, shrinkage))
        if not slots:
            out.append("  no callers in the window\n")
            continue
        out.append("  " + "start".ljust(7) + "".join(k.rjust(8) for k in kinds))
        for slot in slots:
            cells = [plan.cells.get((k, slot)) for k in kinds]
            out.append(
                "  "
                + clock(slot, minutes).ljust(7)
                + "".join(_cell_text(c).rjust(8) for c in cells)
            )
        out.append("  (in brackets: agents there were, on average, minus those needed)")
        out.append("  " + check_line(plan.check) + "\n")
    return "\n".join(out) + "\n"


def _cell_text(cell: Cell | None) -> str:
    if cell is None or cell.calls == 0:
        return "-"
    if cell.gap is None:
        return str(cell.scheduled)
    return f"{cell.scheduled}({round(cell.gap):+d})"


COLUMNS = ("queue", "day", "start", "calls", "handle_seconds", "patience_seconds",
           "agents_erlang_c", "agents_erlang_a", "scheduled", "service_level_erlang_c",
           "service_level_erlang_a", "abandon_share_erlang_a", "staffed", "gap")  # fmt: skip


def to_csv(plans: Sequence[QueuePlan], minutes: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for plan in plans:
        b = plan.basis
        for (kind, slot), cell in sorted(
            plan.cells.items(), key=lambda kv: (KIND_ORDER.index(kv[0][0]), kv[0][1])
        ):
            writer.writerow(
                [
                    b.queue, kind, clock(slot, minutes), f"{cell.calls:.2f}", f"{b.handle:.1f}",
                    "" if b.patience is None else f"{b.patience:.1f}",
                    cell.erlang_c.agents, cell.erlang_a.agents, cell.scheduled,
                    f"{cell.erlang_c.service_level:.4f}", f"{cell.erlang_a.service_level:.4f}",
                    f"{cell.erlang_a.abandon_share:.4f}",
                    "" if cell.staffed is None else f"{cell.staffed:.2f}",
                    "" if cell.gap is None else f"{cell.gap:.2f}",
                ]
            )  # fmt: skip
    return buffer.getvalue()


def _grid(plan: QueuePlan, minutes: int, value: str) -> str:
    """Kind of day (rows) x interval (columns); ``value``: scheduled or gap."""
    kinds, slots = _kinds(plan), _slots(plan)
    cell_w, cell_h, pad, top = 34, 26, 62, 20
    numbers = [
        c.scheduled if value == "scheduled" else (c.gap or 0.0)
        for c in plan.cells.values()
        if c.calls > 0 and (value == "scheduled" or c.gap is not None)
    ]
    biggest = max((abs(n) for n in numbers), default=1) or 1
    parts = []
    for j, slot in enumerate(slots):
        if j % 2 == 0:
            parts.append(_el("text", clock(slot, minutes), x=pad + j * cell_w, y=13))
    for i, kind in enumerate(kinds):
        y = top + i * cell_h
        parts.append(_el("text", kind, x=2, y=y + 17))
        for j, slot in enumerate(slots):
            cell = plan.cells.get((kind, slot))
            if cell is None or cell.calls == 0:
                continue
            if value == "scheduled":
                n: float = cell.scheduled
                fill = f"rgba(47,111,219,{0.1 + 0.9 * n / biggest:.2f})"
                label = str(cell.scheduled)
                tip = f"{kind} {clock(slot, minutes)}: {cell.calls:.1f} callers, {n:.0f} agents"
            else:
                if cell.gap is None:
                    continue
                n = cell.gap
                colour = "23,128,61" if n >= 0 else "179,38,30"
                fill = f"rgba({colour},{0.15 + 0.85 * abs(n) / biggest:.2f})"
                label = f"{round(n):+d}"
                tip = f"{kind} {clock(slot, minutes)}: {cell.staffed:.1f} there, {n:+.1f}"
            parts.append(
                _el(
                    "rect",
                    _el("title", tip),
                    x=pad + j * cell_w,
                    y=y,
                    width=cell_w - 2,
                    height=cell_h - 2,
                    fill=fill,
                    stroke="#e3e7ed",
                )
            )
            parts.append(_el("text", label, x=pad + j * cell_w + 8, y=y + 17))
    return _el(
        "svg",
        "".join(parts),
        role="img",
        aria_label=f"{value} by kind of day and interval",
        width=pad + cell_w * max(1, len(slots)) + 10,
        height=top + cell_h * max(1, len(kinds)) + 4,
        class_="chart heat",
    )


def html(plans: Sequence[QueuePlan], minutes: int, model: str, shrinkage: float, title: str) -> str:
    body = [_el("h1", escape(title))]
    body.append(
        _el(
            "p",
            "Agents to schedule per interval for each queue's own goal, from its own "
            "history; and, looking back, how many there were.",
            class_="sub",
        )
    )
    for plan in plans:
        body.append(_el("h2", f"Queue {escape(plan.basis.queue)}"))
        body.append(_el("p", escape(_basis_line(plan, model, shrinkage)), class_="note"))
        body.append(_el("div", _grid(plan, minutes, "scheduled"), class_="wide"))
        if any(c.gap is not None for c in plan.cells.values()):
            body.append(_el("h2", "Agents there were, minus those needed (green: more)"))
            body.append(_el("div", _grid(plan, minutes, "gap"), class_="wide"))
        body.append(_el("p", escape(check_line(plan.check)), class_="note"))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )
