"""Opening-hours config: weekly ranges, date exceptions, Swedish holidays and eves.

Times are written as ops write them ("08:00-17:00") and kept as minutes after
midnight. Inverted or overlapping ranges are errors, so the rendered dialplan
never has to guess what was meant.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Unicode classes are repeated with * and the length is capped separately: a bounded
# repetition like {1,60} of \w compiles into a regex automaton of tens of megabytes.
LABEL_RE = r"^[\w .'()-]+$"

Minutes = tuple[int, int]  # [start, end) in minutes after local midnight


def parse_range(value: object) -> Minutes:
    """'08:00-17:00' -> (480, 1020). '24:00' is allowed as an end."""
    if not isinstance(value, str):
        raise ValueError("must be a time range like 08:00-17:00")
    m = re.fullmatch(r"\s*([0-2][0-9]):([0-5][0-9])\s*-\s*([0-2][0-9]):([0-5][0-9])\s*", value)
    if not m:
        raise ValueError(f"{value!r} is not a time range like 08:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or end > 24 * 60:
        raise ValueError(f"{value!r}: hours run from 00:00 to 24:00")
    if end <= start:
        raise ValueError(f"{value!r} ends before it starts (a range may not pass midnight)")
    return (start, end)


def _ranges(value: object) -> tuple[Minutes, ...]:
    items = value if isinstance(value, list) else [value]
    ranges = sorted(parse_range(v) for v in items)
    for (_, end1), (start2, _) in itertools.pairwise(ranges):
        if start2 < end1:
            raise ValueError("time ranges overlap")
    return tuple(ranges)


def parse_days(spec: str) -> frozenset[int]:
    """'mon-fri' -> {1..5}; 'sat,sun' -> {6, 7}; ISO weekday numbers (Monday = 1)."""
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{spec!r}: days are {', '.join(DAYS)}, as 'mon-fri' or 'sat,sun'")
        a, b = DAYS.index(first) + 1, DAYS.index(last or first) + 1
        if b < a:
            raise ValueError(f"{spec!r}: a day range must run forwards (mon-fri, not fri-mon)")
        days.update(range(a, b + 1))
    return frozenset(days)


def _day_spec(spec: str) -> str:
    parse_days(spec)
    return spec


Ranges = Annotated[tuple[Minutes, ...], BeforeValidator(_ranges)]
DaySpec = Annotated[str, AfterValidator(_day_spec)]


class DateException(BaseModel):
    """One date with its own hours, or closed. Wins over holidays and weekly hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: date
    closed: bool = False
    hours: Ranges = ()
    label: Annotated[str, StringConstraints(pattern=LABEL_RE, max_length=60)] = "exception"

    @model_validator(mode="after")
    def _closed_or_hours(self) -> DateException:
        if self.closed == bool(self.hours):
            raise ValueError("give either closed: true or hours, not both or neither")
        return self


class ScheduleConfig(BaseModel):
    """When a number or queue is open. Swedish public holidays come from `holidays`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekly: dict[DaySpec, Ranges]
    # Public holidays (nyårsdagen, långfredagen, ..., juldagen): closed or treated as weekdays.
    public_holidays: Literal["closed", "open"] = "closed"
    # De facto holidays: midsommarafton, julafton, nyårsafton.
    eves: Literal["closed", "open"] = "closed"
    # Days before holidays that close early (trettondagsafton, skärtorsdagen,
    # valborgsmässoafton, dag före midsommarafton, ...): these hours instead.
    short_days: Ranges | None = None
    exceptions: list[DateException] = Field(default_factory=list)

    @model_validator(mode="after")
    def _days_once(self) -> ScheduleConfig:
        seen: dict[int, str] = {}
        for spec in self.weekly:
            for day in parse_days(spec):
                if day in seen:
                    raise ValueError(
                        f"weekly: {DAYS[day - 1]} is in both {seen[day]!r} and {spec!r}"
                    )
                seen[day] = spec
        dates = [e.date for e in self.exceptions]
        dupes = sorted({d for d in dates if dates.count(d) > 1})
        if dupes:
            raise ValueError(f"exceptions: {dupes[0].isoformat()} is listed twice")
        return self

    def weekly_ranges(self) -> dict[int, tuple[Minutes, ...]]:
        """ISO weekday -> its opening ranges (absent days are closed)."""
        out: dict[int, tuple[Minutes, ...]] = {}
        for spec, ranges in self.weekly.items():
            for day in parse_days(spec):
                out[day] = ranges
        return out


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
