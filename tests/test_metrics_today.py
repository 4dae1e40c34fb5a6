"""vaxeld.metrics.today: the service level since local midnight, and from when it counts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vaxeld.config import load_config
from vaxeld.metrics.labels import LabelRules
from vaxeld.metrics.today import ServiceLevelToday

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
LABELS = LabelRules.from_config(load_config(EXAMPLE))
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def test_today_says_from_when_it_counts() -> None:
    clock = [datetime(2026, 11, 23, 10, 0, tzinfo=STOCKHOLM).timestamp()]
    today = ServiceLevelToday("Europe/Stockholm", LABELS, clock=lambda: clock[0])
    midnight = datetime(2026, 11, 23, tzinfo=STOCKHOLM).timestamp()
    today.started("main")  # no queue_log: from vaxeld's start
    today.seed("north", [("sv", True)], since=midnight - 3600)  # a file older than today

    def since() -> dict[str, float]:
        fams = {f.name: f for f in today.collect()}
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
    today = ServiceLevelToday("Europe/Stockholm", LABELS, clock=lambda: clock[0])
    today.add("main", "sv", True)
    end_of_day = datetime(2026, month, day, 23, 59, tzinfo=STOCKHOLM).timestamp()
    clock[0] = end_of_day
    assert today.ratios() == {("main", "sv"): 1.0}  # still the same day
    clock[0] = end_of_day + 120  # 00:01 the next day
    assert today.ratios() == {}
