"""What a report holds, and the comparison of two: plain values, no store, no output.

A row is a mapping of figure names to values. None means "cannot be known from this
record" (a queue_log written before vaxeld has no entry numbers or menu abandons), which
is shown as unknown, never as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vaxeld.report.periods import Period

Kind = Literal["count", "ratio", "seconds", "duration"]  # duration: hours and minutes
Row = dict[str, float | None]


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    label: str
    kind: Kind


# Per queue, language, entry number, site: in this order in every output.
QUEUE_FIGURES = (
    Figure("offered", "Offered", "count"),
    Figure("answered", "Answered", "count"),
    Figure("service_level", "Service level", "ratio"),
    Figure("answered_directly_share", "Answered directly", "ratio"),
    Figure("abandoned", "Abandoned", "count"),
    Figure("abandoned_short", "of which short", "count"),
    Figure("timed_out", "Timed out", "count"),
    Figure("left_empty", "Left an empty queue", "count"),
    Figure("unknown", "Outcome unknown", "count"),
    Figure("answered_directly", "Answered directly (calls)", "count"),
    Figure("resolved_share", "Resolved in the centre", "ratio"),
    Figure("first_contact_share", "Resolved at first contact", "ratio"),
    Figure("transferred_inside", "Transferred in the centre", "count"),
    Figure("transferred_out", "Transferred out", "count"),
    Figure("transfer_unknown", "Transferred, target unknown", "count"),
    Figure("answered_callers", "Callers answered", "count"),
    Figure("resolved", "Callers resolved in the centre", "count"),
    Figure("first_contact_callers", "Callers whose window has passed", "count"),
    Figure("first_contact_resolved", "Of those, not calling again", "count"),
    Figure("repeat_calls", "Repeat calls", "count"),
    Figure("callbacks", "Calls back after a drop", "count"),
    Figure("wait_avg", "Average wait to answer", "seconds"),
    Figure("wait_p50", "Median wait to answer", "seconds"),
    Figure("wait_p90", "90 % answered within", "seconds"),
    Figure("wait_max", "Longest wait", "seconds"),
)
# The centre as a whole: callers, whether or not they reached a queue.
CENTRE_FIGURES = (
    Figure("callers", "Callers", "count"),
    Figure("offered_callers", "Callers offered to a queue", "count"),
    Figure("menu_abandoned", "Hung up in the menu", "count"),
    Figure("closed", "Met closed hours", "count"),
    Figure("crisis", "Heard a crisis message", "count"),
    Figure("overflowed", "Moved to another queue", "count"),
)
AGENT_FIGURES = (
    Figure("answered", "Answered", "count"),
    Figure("talk_seconds", "Talk time", "seconds"),
    Figure("talk_avg", "Average talk time", "seconds"),
    Figure("handle_avg", "Average handle time", "seconds"),
    Figure("ring_no_answer", "Rung, not answered", "count"),
    Figure("logged_in_seconds", "Logged in", "duration"),
    Figure("paused_seconds", "Paused", "duration"),
)
ABANDON_BUCKETS = ((0, 5), (5, 10), (10, 20), (20, 30), (30, 60), (60, 120), (120, None))
GROUPINGS = ("queue", "language", "entry", "site", "agent")


@dataclass
class Report:
    title: str
    period: Period
    group_by: str
    granularity: str
    formula: str  # the service-level formula the figures use
    target_text: str  # e.g. "answered within 20 s (30 s for ar, so, fi)"
    goal: float  # the service-level goal, e.g. 0.8
    rows: list[tuple[str, Row]] = field(default_factory=list)
    total: Row = field(default_factory=dict)
    centre: Row = field(default_factory=dict)
    agents: list[tuple[str, Row]] = field(default_factory=list)
    series: list[tuple[str, Row]] = field(default_factory=list)  # per bucket
    arrivals: dict[tuple[int, int], int] = field(default_factory=dict)  # (weekday 1-7, hour)
    waits: list[tuple[str, int, int]] = field(default_factory=list)  # bucket, answered, abandoned
    abandons_by_wait: list[tuple[str, int]] = field(default_factory=list)
    problems: dict[str, int] = field(default_factory=dict)  # lines the record could not use
    knows_entries: bool = True  # the record has vaxeld's own lines for this period


@dataclass(frozen=True, slots=True)
class Change:
    before: float | None
    after: float | None

    @property
    def diff(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def relative(self) -> float | None:
        diff = self.diff
        if diff is None or not self.before:
            return None
        return diff / self.before


def compare_rows(before: Row, after: Row, figures: tuple[Figure, ...]) -> dict[str, Change]:
    return {f.name: Change(before.get(f.name), after.get(f.name)) for f in figures}


def compare_groups(
    before: list[tuple[str, Row]], after: list[tuple[str, Row]], figures: tuple[Figure, ...]
) -> list[tuple[str, dict[str, Change]]]:
    """Every group of either period, side by side (a group missing in one has nothing)."""
    b, a = dict(before), dict(after)
    keys = list(dict.fromkeys([*b, *a]))
    return [(k, compare_rows(b.get(k, {}), a.get(k, {}), figures)) for k in keys]
