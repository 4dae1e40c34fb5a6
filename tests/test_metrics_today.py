"""vaxeld.state.today and vaxeld.metrics.today: today's figures since local midnight,
and from when they count."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vaxeld.config import load_config
from vaxeld.metrics.labels import LabelRules
from vaxeld.metrics.today import TodayCollector
from vaxeld.state.changes import CallAnswered, CallOffered
from vaxeld.state.queuelog_lines import parse_line
from vaxeld.state.recovery import outcomes_of
from vaxeld.state.today import TodayCounts

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
LABELS = LabelRules.from_config(load_config(EXAMPLE))
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def test_today_says_from_when_it_counts() -> None:
    clock = [datetime(2026, 11, 23, 10, 0, tzinfo=STOCKHOLM).timestamp()]
    today = TodayCounts("Europe/Stockholm", clock=lambda: clock[0])
    midnight = datetime(2026, 11, 23, tzinfo=STOCKHOLM).timestamp()
    today.started("main")  # no queue_log: from vaxeld's start
    today.seed(
        "north", [("sv", True, "answered", True)], since=midnight - 3600
    )  # a file older than today

    def since() -> dict[str, float]:
        fams = {f.name: f for f in TodayCollector(today, LABELS, "offered").collect()}
        family = fams["vaxeld_service_level_today_since_timestamp_seconds"]
        return {s.labels["pbx"]: s.value for s in family.samples}

    assert since() == {"main": clock[0], "north": midnight}
    today.add("main", "sv", False)
    clock[0] += 86400  # the next day: every PBX counts from its midnight, from zero
    assert today.ratios() == {}
    assert since() == {"main": midnight + 86400, "north": midnight + 86400}


@pytest.mark.parametrize(("month", "day"), [(3, 29), (10, 25)])  # 23 and 25 hours long
def test_today_rolls_over_at_local_midnight_on_days_of_23_and_25_hours(
    month: int, day: int
) -> None:
    start = datetime(2026, month, day, 0, 30, tzinfo=STOCKHOLM).timestamp()
    clock = [start]
    today = TodayCounts("Europe/Stockholm", clock=lambda: clock[0])
    today.add("main", "sv", True)
    end_of_day = datetime(2026, month, day, 23, 59, tzinfo=STOCKHOLM).timestamp()
    clock[0] = end_of_day
    assert today.ratios() == {("main", "sv"): 1.0}  # still the same day
    clock[0] = end_of_day + 120  # 00:01 the next day
    assert today.ratios() == {}


def test_today_counts_each_outcome_once_and_direct_answers_apart() -> None:
    clock = [datetime(2026, 11, 23, 10, 0, tzinfo=STOCKHOLM).timestamp()]
    today = TodayCounts("Europe/Stockholm", clock=lambda: clock[0])
    today.add("main", "sv", True, "answered", True)
    today.add("main", "sv", False, "answered", False)  # after an overflow
    today.add("main", "sv", None, "abandoned")  # short: out of the formula
    today.add("main", "sv", False, "exited")
    sv = today.figures()[("main", "sv")]
    assert (sv.answered, sv.answered_directly, sv.abandoned, sv.exited) == (2, 1, 1, 1)
    assert (sv.sl_met, sv.sl_calls, sv.service_level) == (1, 3, 1 / 3)
    fams = {f.name: f for f in TodayCollector(today, LABELS, "offered").collect()}
    calls = {s.labels["outcome"]: s.value for s in fams["vaxeld_queue_calls_today"].samples}
    assert calls == {"answered": 2, "abandoned": 1, "exited": 1}
    assert [s.value for s in fams["vaxeld_queue_answered_directly_today"].samples] == [1]
    assert [s.labels for s in fams["vaxeld_service_level_formula_info"].samples] == [
        {"formula": "offered"}
    ]


def test_the_day_so_far_answers_directly_only_in_the_first_queue_entered() -> None:
    """After a restart the day so far is read from queue_log: an answer after an
    overflow is not direct there either, as it is not when counted live."""
    lines = [
        "100|1.1|sv|NONE|ENTERQUEUE||0701234567|1",
        "130|1.1|sv|NONE|EXITWITHTIMEOUT|1|1|30",
        "130|1.1|vaxel|NONE|ENTERQUEUE||0701234567|1",
        "135|1.1|vaxel|Åsa Lindqvist|CONNECT|5|1.2|2",
        "200|2.1|sv|NONE|ENTERQUEUE||0707654321|1",
        "203|2.1|sv|Åsa Lindqvist|CONNECT|3|2.2|2",
    ]
    entries = [e for e in map(parse_line, lines) if e is not None]
    answers = [ch for ch in outcomes_of(entries) if isinstance(ch, CallAnswered)]
    assert [(a.queue, a.direct) for a in answers] == [("vaxel", False), ("sv", True)]
    offers = [ch.first for ch in outcomes_of(entries) if isinstance(ch, CallOffered)]
    assert offers == [True, False, True]


def test_the_figures_are_the_same_copy_until_one_of_them_changes() -> None:
    """MQTT builds on every event and learns by identity that the day did not move."""
    clock = [datetime(2026, 3, 10, 9, tzinfo=ZoneInfo("Europe/Stockholm")).timestamp()]
    today = TodayCounts("Europe/Stockholm", clock=lambda: clock[0])
    today.add("main", "sv", True, "answered")
    first = today.figures()
    assert today.figures() is first
    today.add("main", "sv", False, "abandoned")
    second = today.figures()
    assert second is not first and second[("main", "sv")].abandoned == 1
    assert first[("main", "sv")].abandoned == 0  # a copy: what a reader holds stays
    today.seed("main", [("sv", True, "answered", True)], clock[0] - 60)
    assert today.figures() is not second
    third = today.figures()
    clock[0] += 86_400  # the next day: new, empty figures
    assert today.figures() is not third and today.figures() == {}
