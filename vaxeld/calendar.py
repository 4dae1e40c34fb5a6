"""The opening calendar, pure: which days are special, and open or closed at an instant.

This is the reference the rendered dialplan is tested against: for any instant,
`decide()` here and the dialplan's schedule subroutine in real Asterisk must give
the same answer. Swedish public holidays and eves come from the `holidays`
library, never from a hand-kept list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from vaxeld.config.hours import Minutes, ScheduleConfig

Decision = Literal["open", "closed-hours", "closed-holiday", "closed-exception"]
DECISIONS: tuple[Decision, ...] = ("open", "closed-hours", "closed-holiday", "closed-exception")


@dataclass(frozen=True)
class SpecialDay:
    """A date whose hours differ from the weekly pattern."""

    day: date
    ranges: tuple[Minutes, ...]  # open within these; empty = closed all day
    closed_reason: Literal["hours", "holiday", "exception"]
    note: str


def calendar_years(today: date) -> tuple[int, int]:
    """The rendered calendar covers the current and the next calendar year."""
    return (today.year, today.year + 1)


def calendar_end(years: Iterable[int]) -> date:
    return date(max(years), 12, 31)


def _swedish(years: Iterable[int], category: str) -> dict[date, str]:
    # Imported on first use: the library with Sweden's calendar costs the process about
    # 17 MB, and only rendering and MQTT's open/closed state need it, not the AMI path.
    import holidays

    found = holidays.country_holidays(
        "SE", years=list(years), categories=(category,), language="sv"
    )
    return {d: str(name) for d, name in found.items()}


def special_days(schedule: ScheduleConfig, years: Iterable[int]) -> dict[date, SpecialDay]:
    """Every special date of ``years``; later rules below win over earlier ones."""
    years = list(years)
    weekly = schedule.weekly_ranges()
    out: dict[date, SpecialDay] = {}
    if schedule.short_days is not None:
        for day, name in _swedish(years, "bank").items():
            # Only days that are open at all get the shorter hours.
            ranges = schedule.short_days if weekly.get(day.isoweekday()) else ()
            out[day] = SpecialDay(day, ranges, "hours", name)
    if schedule.eves == "closed":
        for day, name in _swedish(years, "de_facto").items():
            out[day] = SpecialDay(day, (), "holiday", name)
    elif schedule.eves == "open":
        for day in _swedish(years, "de_facto"):
            out.pop(day, None)
    if schedule.public_holidays == "closed":
        for day, name in _swedish(years, "public").items():
            out[day] = SpecialDay(day, (), "holiday", name)
    for exc in schedule.exceptions:
        if exc.date.year in years:
            out[exc.date] = SpecialDay(exc.date, exc.hours, "exception", exc.label)
    return dict(sorted(out.items()))


def _within(ranges: Iterable[Minutes], minute: int) -> bool:
    return any(start <= minute < end for start, end in ranges)


def decide(schedule: ScheduleConfig, special: dict[date, SpecialDay], local: datetime) -> Decision:
    """Open or closed (and why) at ``local``, a time in the schedule's time zone."""
    minute = local.hour * 60 + local.minute
    day = special.get(local.date())
    if day is not None:
        if _within(day.ranges, minute):
            return "open"
        return f"closed-{day.closed_reason}"  # type: ignore[return-value]
    if _within(schedule.weekly_ranges().get(local.isoweekday(), ()), minute):
        return "open"
    return "closed-hours"


def today_in(tz: str) -> date:
    """Today's date where the switchboard is (the config's time zone)."""
    return datetime.now(ZoneInfo(tz)).date()


def local_midnight(tz: str, at: float) -> float:
    """Unix time of the midnight that began the local day of ``at`` (Unix time)."""
    zone = ZoneInfo(tz)
    day = datetime.fromtimestamp(at, zone).date()
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
