"""vaxeld.report.periods: periods in local time, days of 23 and 25 hours included."""

from __future__ import annotations

from datetime import date

import pytest

from vaxeld.report.periods import PeriodError, parse_period

TZ = "Europe/Stockholm"
TODAY = date(2026, 12, 1)  # a Tuesday


@pytest.mark.parametrize(
    ("spec", "first", "last", "label"),
    [
        ("2026-11-30", date(2026, 11, 30), date(2026, 11, 30), "2026-11-30"),
        ("2026-W48", date(2026, 11, 23), date(2026, 11, 29), "2026-W48"),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28), "2026-02"),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "2026"),
        ("2026-11-01..2026-11-15", date(2026, 11, 1), date(2026, 11, 15), "2026-11-01..2026-11-15"),
        ("today", TODAY, TODAY, "2026-12-01"),
        ("yesterday", date(2026, 11, 30), date(2026, 11, 30), "2026-11-30"),
        ("this-week", date(2026, 11, 30), date(2026, 12, 6), "2026-W49"),
        ("last-week", date(2026, 11, 23), date(2026, 11, 29), "2026-W48"),
        ("this-month", date(2026, 12, 1), date(2026, 12, 31), "2026-12"),
        ("last-month", date(2026, 11, 1), date(2026, 11, 30), "2026-11"),
    ],
)
def test_periods_are_read_as_people_write_them(
    spec: str, first: date, last: date, label: str
) -> None:
    period = parse_period(spec, TZ, TODAY)
    assert (period.first, period.last, period.label) == (first, last, label)


@pytest.mark.parametrize(
    ("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24)]
)
def test_a_day_is_as_long_as_it_is_in_local_time(day: str, hours: int) -> None:
    period = parse_period(day, TZ, TODAY)
    assert period.end_epoch - period.start_epoch == hours * 3600
    assert period.start.hour == 0 and period.start.utcoffset() is not None


def test_last_month_in_january_is_december() -> None:
    assert parse_period("last-month", TZ, date(2027, 1, 5)).label == "2026-12"


@pytest.mark.parametrize(
    "spec", ["2026-13", "2026-W54", "nov", "2026-11-15..2026-11-01", "x" * 500, ""]
)
def test_a_period_that_cannot_be_read_says_how_to_write_one(spec: str) -> None:
    with pytest.raises(PeriodError) as info:
        parse_period(spec, TZ, TODAY)
    assert len(str(info.value)) < 300 and (
        "ISO week" in str(info.value) or "ends before" in str(info.value)
    )
