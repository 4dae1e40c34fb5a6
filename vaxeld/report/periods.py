"""Report periods in the switchboard's local time: a day, an ISO week, a month, a year,
a range of days, or a name (today, yesterday, this-week, last-week, this-month,
last-month). Pure: "today" is passed in. A period is half-open, [start, end), in local
time; days of 23 and 25 hours are as long as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

GRANULARITIES = ("15m", "30m", "60m", "day", "week", "month")


class PeriodError(ValueError):
    """A period that cannot be read; the message says what would be."""


@dataclass(frozen=True, slots=True)
class Period:
    label: str  # as the user wrote it, resolved: "2026-W48", "2026-11", ...
    first: date  # first day
    last: date  # last day (inclusive)
    tz: str

    @property
    def start(self) -> datetime:
        return _midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return _midnight(self.last + timedelta(days=1), self.tz)

    @property
    def start_epoch(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_epoch(self) -> int:
        return int(self.end.timestamp())

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def _midnight(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))


def _month(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


HELP = (
    "a day (2026-11-30), an ISO week (2026-W48), a month (2026-11), a year (2026), "
    "days (2026-11-01..2026-11-15), or today, yesterday, this-week, last-week, "
    "this-month, last-month"
)


def parse_period(text: str, tz: str, today: date) -> Period:
    """The period ``text`` names, in ``tz``."""
    spec = text.strip()
    try:
        first, last, label = _parse(spec, today)
    except ValueError as exc:
        raise PeriodError(f"{spec[:40]!r} is not a period: use {HELP}") from exc
    if last < first:
        raise PeriodError(f"{spec[:40]!r} ends before it begins")
    if (last - first).days > 3700:
        raise PeriodError(f"{spec[:40]!r} is longer than ten years")
    return Period(label, first, last, tz)


def _parse(spec: str, today: date) -> tuple[date, date, str]:
    names = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
    }
    if spec in names:
        first, last = names[spec]
        return first, last, first.isoformat()
    if spec in ("this-week", "last-week"):
        monday = today - timedelta(days=today.weekday() + (7 if spec == "last-week" else 0))
        iso = monday.isocalendar()
        return monday, monday + timedelta(days=6), f"{iso.year}-W{iso.week:02d}"
    if spec in ("this-month", "last-month"):
        year, month = today.year, today.month
        if spec == "last-month":
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        first, last = _month(year, month)
        return first, last, f"{year}-{month:02d}"
    if m := re.fullmatch(r"([0-9]{4})-W([0-9]{2})", spec):
        monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        return monday, monday + timedelta(days=6), spec
    if m := re.fullmatch(r"([0-9]{4})-([0-9]{2})", spec):
        first, last = _month(int(m[1]), int(m[2]))
        return first, last, spec
    if re.fullmatch(r"[0-9]{4}", spec):
        return date(int(spec), 1, 1), date(int(spec), 12, 31), spec
    if m := re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\.\.([0-9]{4}-[0-9]{2}-[0-9]{2})", spec):
        first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        return first, last, spec
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", spec):
        day = date.fromisoformat(spec)
        return day, day, spec
    raise ValueError(spec)
