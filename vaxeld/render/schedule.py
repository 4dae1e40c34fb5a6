"""Render opening hours as dialplan subroutines, so Asterisk decides open or closed
on its own, with vaxeld stopped.

`Gosub(vaxeld-schedule-NAME,s,1(EPOCH))` returns, in GOSUB_RETVAL, one of
open, closed-hours, closed-holiday or closed-exception for that instant. The
instant is an argument (the entry flow passes ${EPOCH}) so tests can ask the
real dialplan about any moment and compare with vaxeld.calendar.decide().

Special dates (holidays, eves, short days, exceptions) are rendered for the
current and the next calendar year; the [globals] variable
VAXELD_CALENDAR_END says when that runs out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from vaxeld.calendar import SpecialDay, calendar_end, special_days
from vaxeld.config import Config
from vaxeld.config.hours import Minutes, ScheduleConfig, format_minutes
from vaxeld.contract import CALENDAR_VARIABLE
from vaxeld.render.common import Context


def _hhmm(minutes: int) -> int:
    """Minutes after midnight -> HHMM as a number (08:30 -> 830), as STRFTIME %H%M gives."""
    return (minutes // 60) * 100 + minutes % 60


def _open_test(ranges: Iterable[Minutes]) -> str:
    parts = [f"(${{hm}} >= {_hhmm(a)} & ${{hm}} < {_hhmm(b)})" for a, b in ranges]
    return " | ".join(parts)


def _note(day: SpecialDay) -> str:
    # Holiday names from the library go into comments only, cleaned of anything odd.
    return re.sub(r"[^\w .()-]", "", day.note)


def render_schedule(name: str, schedule: ScheduleConfig, tz: str, years: Iterable[int]) -> str:
    main = Context(f"vaxeld-schedule-{name}", f"Opening hours '{name}'. ARG1: epoch seconds.")
    main.ext("s", f"Set(LOCAL(day)=${{STRFTIME(${{ARG1}},{tz},%Y%m%d)}})")
    main.then(f"Set(LOCAL(hm)=${{STRFTIME(${{ARG1}},{tz},%H%M)}})")
    main.then(f"Set(LOCAL(dow)=${{STRFTIME(${{ARG1}},{tz},%u)}})")
    days_ctx = f"vaxeld-schedule-{name}-days"
    main.then(f"GotoIf(${{DIALPLAN_EXISTS({days_ctx},${{day}},1)}}?{days_ctx},${{day}},1)")
    for dow, ranges in sorted(schedule.weekly_ranges().items()):
        spans = ", ".join(f"{format_minutes(a)}-{format_minutes(b)}" for a, b in ranges)
        main.comment(f"weekday {dow}: {spans}")
        main.then(f"GotoIf($[${{dow}} = {dow} & ({_open_test(ranges)})]?open)")
    main.then("Return(closed-hours)")
    main.then("Return(open)", label="open")

    days = Context(days_ctx, f"Special dates of '{name}' (holidays from the `holidays` library).")
    for day in special_days(schedule, years).values():
        exten = day.day.strftime("%Y%m%d")
        days.comment(_note(day))
        if day.ranges:
            days.ext(exten, f"GotoIf($[{_open_test(day.ranges)}]?vaxeld-schedule-{name},s,open)")
            days.then(f"Return(closed-{day.closed_reason})")
        else:
            days.ext(exten, f"Return(closed-{day.closed_reason})")
    return main.text() + "\n" + days.text()


def render_schedules(config: Config, today: date) -> str:
    years = (today.year, today.year + 1)
    end = calendar_end(years)
    parts = [
        "[globals]\n"
        f"; The special dates below run out after this day: re-render before it.\n"
        f"{CALENDAR_VARIABLE}={end.isoformat()}\n"
    ]
    for name, schedule in config.schedules.items():
        parts.append(render_schedule(name, schedule, config.timezone, years))
    return "\n".join(parts)
