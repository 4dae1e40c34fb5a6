"""An independent count of a queue_log: what each of vaxeld's counter families should
say, worked out from Asterisk's lines and vaxeld's own QueueLog() lines with none of
vaxeld's code but the config (for label values and service-level targets).

``counted_from`` is the index of the first line the vaxeld under test counts (it logs
the byte offset as ``queue_log_followed``): lines before it only tell who callers are
(entry number, queues already entered); callers still in a queue at that line are
carried in. Keys are tuples of a family and its labels, as ``vaxeld_figures`` builds
them from /metrics, so the two compare with ``==``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lab.vaxeld_process import Samples
from vaxeld.config import Config

Key = tuple[str, ...]
OUTCOMES = {"CONNECT", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY"}
EXIT_REASON = {"EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "leaveempty"}


@dataclass
class _Caller:
    entry: str = ""
    offers: int = 0


def _field(row: Sequence[str], n: int) -> str:
    return row[4 + n] if len(row) > 4 + n else ""


def line_index_of_offset(text: bytes, offset: int) -> int:
    """The index of the line starting at byte ``offset``."""
    return text[:offset].count(b"\n")


def expected_figures(
    rows: Iterable[Sequence[str]], counted_from: int, config: Config
) -> Counter[Key]:
    entries = config.entries()
    targets = {name: q.service_level_seconds for name, q in config.queues.items()}

    def entry_label(entry: str) -> str:
        return entry if entry in entries else ("other" if entry else "unknown")

    out: Counter[Key] = Counter()
    callers: dict[str, _Caller] = {}
    open_offers: Counter[tuple[str, str]] = Counter()
    seen = 0  # rows may be a generator (a year of lines is read as it goes)
    for i, row in enumerate(rows):
        seen = i + 1
        if i == counted_from:
            for (_, queue), n in open_offers.items():
                out[("carried_in", queue)] += n
        if len(row) < 5:
            continue
        uid, queue, event = row[1], row[2], row[4]
        caller = callers.setdefault(uid, _Caller())
        counted = i >= counted_from
        if queue == "vaxeld":
            if event == "VAXELDENTRY":
                caller.entry = _field(row, 1)
            if not counted:
                continue
            if event == "VAXELDENTRY":
                out[("entry_calls", entry_label(caller.entry))] += 1
            elif event == "VAXELDMENU":
                result, digit = _field(row, 1), _field(row, 2)
                if result == "chosen":
                    out[("menu_choice", digit)] += 1
                else:
                    out[("menu_failed", result)] += 1
            elif event == "VAXELDLANGUAGE":
                language, digit, reason = _field(row, 1), _field(row, 2), _field(row, 3)
                out[("language", language, reason)] += 1
                if reason == "chosen":
                    out[("menu_choice", digit)] += 1
            elif event == "VAXELDOVERFLOW":
                out[("overflow_out", _field(row, 1), _field(row, 2))] += 1
            elif event == "VAXELDMENUABANDON":
                out[("menu_abandoned", entry_label(_field(row, 1) or caller.entry))] += 1
            elif event == "VAXELDCLOSED":
                out[("closed", _field(row, 2) or "entry", _field(row, 1))] += 1
            elif event == "VAXELDCRISIS":
                out[("crisis", _field(row, 1))] += 1
            continue
        if event == "ENTERQUEUE":
            caller.offers += 1
            open_offers[(uid, queue)] += 1
            if counted:
                out[("offered", queue)] += 1
                if caller.offers == 1:
                    out[("cc_offered", entry_label(caller.entry))] += 1
        elif event in OUTCOMES:
            if open_offers[(uid, queue)] > 0:
                open_offers[(uid, queue)] -= 1
            if not counted:
                continue
            if event == "CONNECT":
                out[("answered", queue)] += 1
                wait = int(_field(row, 1) or 0)
                if wait <= targets.get(queue, 0):
                    out[("within_sl", queue)] += 1
                if caller.offers <= 1:
                    out[("directly", queue)] += 1
            elif event == "ABANDON":
                out[("abandoned", queue)] += 1
            else:
                out[("exited", queue, EXIT_REASON[event])] += 1
    if counted_from >= seen:
        for (_, queue), n in open_offers.items():
            out[("carried_in", queue)] += n
    for (_, queue), n in open_offers.items():
        out[("unknown", queue)] += n  # offered, no outcome: the caller vanished
    return +out  # no zero entries


FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    # key name -> (metric, label names after the key name)
    "offered": ("vaxeld_queue_calls_offered_total", ("queue",)),
    "answered": ("vaxeld_queue_calls_answered_total", ("queue",)),
    "abandoned": ("vaxeld_queue_calls_abandoned_total", ("queue",)),
    "exited": ("vaxeld_queue_calls_exited_total", ("queue", "reason")),
    "directly": ("vaxeld_queue_calls_answered_directly_total", ("queue",)),
    "within_sl": ("vaxeld_queue_service_level_met_total", ("queue",)),
    "unknown": ("vaxeld_queue_calls_outcome_unknown_total", ("queue",)),
    "carried_in": ("vaxeld_queue_calls_carried_in_total", ("queue",)),
    "overflow_out": ("vaxeld_queue_overflow_out_total", ("queue", "to_queue")),
    "cc_offered": ("vaxeld_calls_offered_total", ("entry",)),
    "entry_calls": ("vaxeld_entry_calls_total", ("entry",)),
    "menu_choice": ("vaxeld_menu_choices_total", ("digit",)),
    "menu_failed": ("vaxeld_menu_attempts_failed_total", ("result",)),
    "language": ("vaxeld_menu_language_selections_total", ("language", "reason")),
    "menu_abandoned": ("vaxeld_menu_abandoned_total", ("entry",)),
    "closed": ("vaxeld_calls_closed_total", ("at", "reason")),
    "crisis": ("vaxeld_crisis_announcements_total", ("mode",)),
}


def vaxeld_figures(samples: Samples) -> Counter[Key]:
    """The same keys from vaxeld's /metrics (summed over the labels not in a key)."""
    out: Counter[Key] = Counter()
    by_metric = {metric: (key, labels) for key, (metric, labels) in FAMILIES.items()}
    for (name, labels), value in samples.items():
        found = by_metric.get(name)
        if found is None or not value:
            continue
        key, names = found
        given = dict(labels)
        out[(key, *(given[n] for n in names))] += int(value)
    return +out


def report_figures(by_queue: Any) -> Counter[Key]:
    """The per-queue families from a report grouped by queue (vaxeld.report.model.Report),
    under the keys ``expected_figures`` gives them."""
    names = {
        "offered": ("offered",),
        "answered": ("answered",),
        "abandoned": ("abandoned",),
        "timed_out": ("exited", "timeout"),
        "left_empty": ("exited", "leaveempty"),
        "answered_directly": ("directly",),
        "sl_met": ("within_sl",),
        "unknown": ("unknown",),
    }
    out: Counter[Key] = Counter()
    for queue, row in by_queue.rows:
        for name, key in names.items():
            value = row.get(name)
            if value:
                out[(key[0], queue, *key[1:])] += int(value)
    return +out


def queue_families(figures: Counter[Key]) -> Counter[Key]:
    """Only the per-queue families a report by queue has."""
    keep = {"offered", "answered", "abandoned", "exited", "directly", "within_sl", "unknown"}
    return Counter({k: v for k, v in figures.items() if k[0] in keep})
