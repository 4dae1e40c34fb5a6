"""The opening calendar, pure: which days are special, and open or closed at an instant.

This is the reference the rendered dialplan is tested against: for any instant,
`decide()` here and the dialplan's schedule subroutine in real Asterisk must give
the same answer. Swedish public holidays and eves come from the `holidays`
library, never from a hand-kept list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from vaxeld.config.hours import Minutes, ScheduleConfig
from vaxeld.config.models import Config

Decision = Literal["open", "closed-hours", "closed-holiday", "closed-exception"]
DECISIONS: tuple[Decision, ...] = ("open", "closed-hours", "closed-holiday", "closed-exception")


@dataclass(frozen=True)
class SpecialDay:
    """A date whose hours differ from the weekly pattern."""

    day: date
    ranges: tuple[Minutes, ...]  # open within these; empty = closed all day
    closed_reason: Literal["hours", "holiday", "exception"]
    note: str


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


# Kinds of days a staffing plan keeps apart from ordinary weekdays (callers call
# differently on them): Sweden's public holidays, eves (midsommarafton, julafton, ...)
# and the days before a holiday that are often short.
DAY_KINDS = ("holiday", "eve", "short")


def day_kinds(years: Iterable[int]) -> dict[date, str]:
    """The special days of ``years`` by kind; a day in two lists gets the first kind."""
    years = list(years)
    out: dict[date, str] = {}
    for kind, category in zip(DAY_KINDS, ("public", "de_facto", "bank"), strict=True):
        for day in _swedish(years, category):
            out.setdefault(day, kind)
    return out


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


def _schedule_names(config: Config) -> dict[str, str | None]:
    """'entry' and each queue with hours of its own -> the name of its schedule."""
    wanted = {"entry": config.entry.schedule}
    wanted.update({q: c.schedule for q, c in config.queues.items() if c.schedule})
    return wanted


def opening_now(config: Config, local: datetime) -> dict[str, str]:
    """'entry' and each queue with hours of its own -> open / closed-hours / ... at
    ``local`` (a time in the config's time zone)."""
    years = (local.year, local.year + 1)
    out = {}
    for key, name in _schedule_names(config).items():
        if name is None:
            out[key] = "open"
            continue
        schedule = config.schedules[name]
        out[key] = decide(schedule, cached_special_days(schedule, years), local)
    return out


def opening_changes_at(config: Config, at: float, within_days: int = 8) -> float | None:
    """Unix time of the first minute after ``at`` at which opening_now() gives another
    answer, or None if none within ``within_days``: the instant to look again, instead
    of looking every minute. Only a range's start or end, or a midnight, can change it."""
    zone = ZoneInfo(config.timezone)
    local = datetime.fromtimestamp(at, zone)
    now = opening_now(config, local)
    names = set(_schedule_names(config).values())
    schedules = [config.schedules[n] for n in names if n is not None]
    first = local.date()
    for offset in range(within_days + 1):
        day = first + timedelta(days=offset)
        minutes = {0}
        for schedule in schedules:
            special = cached_special_days(schedule, (day.year, day.year + 1)).get(day)
            ranges = special.ranges if special else schedule.weekly_ranges().get(day.isoweekday())
            minutes.update(m for r in ranges or () for m in r if m < 24 * 60)
        for minute in sorted(minutes):
            moment = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
            when = moment.timestamp()
            if when > at and opening_now(config, moment) != now:
                return when
    return None


_SPECIAL_CACHE: dict[tuple[str, tuple[int, int]], dict[date, SpecialDay]] = {}
_SPECIAL_CACHE_SIZE = 64  # schedules x years; old years and reloaded configs fall out


def cached_special_days(schedule: ScheduleConfig, years: tuple[int, int]) -> dict[date, SpecialDay]:
    """special_days(), remembered by the schedule's content: computing a year's holidays
    takes about a millisecond, and the open/closed state is asked for on every update.
    Keyed by content, not by the object: a reloaded schedule may reuse a freed object's
    id, and must never be given the old schedule's days."""
    key = (schedule.model_dump_json(), years)
    found = _SPECIAL_CACHE.get(key)
    if found is None:
        if len(_SPECIAL_CACHE) >= _SPECIAL_CACHE_SIZE:
            _SPECIAL_CACHE.clear()
        found = _SPECIAL_CACHE[key] = special_days(schedule, years)
    return found
