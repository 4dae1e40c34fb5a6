"""vaxeld.calendar and the rendered schedule subroutines: for any instant exactly one of
open / closed-hours / closed-holiday / closed-exception applies, and real Asterisk's
dialplan decides the same as the Python reference."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lab_fixtures import Lab, start_lab, stop_lab

from lab.scenario import lab_config_text
from vaxeld.calendar import DECISIONS, SpecialDay, decide, special_days, today_in
from vaxeld.config import load_config, parse_config
from vaxeld.config.hours import ScheduleConfig

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
CONFIG = load_config(EXAMPLE)
TZ = CONFIG.timezone


def schedule(**kw: object) -> ScheduleConfig:
    return ScheduleConfig.model_validate({"weekly": {"mon-fri": "08:00-17:00"}, **kw})


def at(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(TZ))


def test_weekday_hours_and_weekend() -> None:
    s = schedule()
    special = special_days(s, [2026])
    assert decide(s, special, at(2026, 11, 23, 8, 0)) == "open"  # Monday 08:00
    assert decide(s, special, at(2026, 11, 23, 7, 59)) == "closed-hours"
    assert decide(s, special, at(2026, 11, 23, 17, 0)) == "closed-hours"
    assert decide(s, special, at(2026, 11, 28, 12, 0)) == "closed-hours"  # Saturday


def test_swedish_holidays_and_eves_come_from_the_library() -> None:
    s = schedule()
    special = special_days(s, [2026])
    assert decide(s, special, at(2026, 12, 24, 10, 0)) == "closed-holiday"  # julafton
    assert decide(s, special, at(2026, 6, 19, 10, 0)) == "closed-holiday"  # midsommarafton
    assert decide(s, special, at(2026, 12, 31, 10, 0)) == "closed-holiday"  # nyårsafton
    assert decide(s, special, at(2026, 4, 3, 10, 0)) == "closed-holiday"  # långfredagen
    assert decide(s, special, at(2026, 5, 14, 10, 0)) == "closed-holiday"  # Kristi himmelsfärd
    eves_open = schedule(eves="open")
    assert decide(eves_open, special_days(eves_open, [2026]), at(2026, 12, 24, 10, 0)) == "open"


def test_short_days_before_holidays_close_early() -> None:
    s = schedule(short_days="08:00-15:00")
    special = special_days(s, [2026])
    assert decide(s, special, at(2026, 12, 23, 14, 59)) == "open"  # dag före julafton
    assert decide(s, special, at(2026, 12, 23, 15, 0)) == "closed-hours"
    assert decide(s, special, at(2026, 4, 30, 16, 0)) == "closed-hours"  # valborgsmässoafton


def test_exceptions_win_over_holidays_and_weekly_hours() -> None:
    s = schedule(
        exceptions=[
            {"date": "2026-12-24", "hours": "09:00-12:00", "label": "Öppet"},
            {"date": "2026-11-24", "closed": "true", "label": "Klämdag"},
        ]
    )
    special = special_days(s, [2026])
    assert decide(s, special, at(2026, 12, 24, 10, 0)) == "open"
    assert decide(s, special, at(2026, 12, 24, 13, 0)) == "closed-exception"
    assert decide(s, special, at(2026, 11, 24, 10, 0)) == "closed-exception"


@pytest.mark.parametrize(
    ("weekly", "error"),
    [
        ({"mon-fri": "17:00-08:00"}, "ends before it starts"),
        ({"mon-fri": ["08:00-12:00", "11:00-16:00"]}, "overlap"),
        ({"mon-fri": "08:00-17:00", "fri": "08:00-12:00"}, "fri is in both"),
        ({"fri-mon": "08:00-17:00"}, "must run forwards"),
        ({"weekdays": "08:00-17:00"}, "days are mon"),
        ({"mon": "8-17"}, "not a time range"),
    ],
)
def test_bad_hours_are_config_errors(weekly: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ScheduleConfig.model_validate({"weekly": weekly})


@pytest.fixture(scope="module")
def schedule_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The example config with its opening hours kept, loaded into real Asterisk."""
    lab = start_lab(
        tmp_path_factory.mktemp("calendar"),
        "calendar",
        lambda ami, metrics: lab_config_text(ami, metrics, always_open=False),
    )
    yield lab
    stop_lab(lab)


def _boundary_instants(year: int) -> list[int]:
    """Instants that are easy to get wrong: around opening and closing, holidays, DST."""
    out = []
    for day in (
        date(year, 12, 23),
        date(year, 12, 24),
        date(year, 3, 29),
        date(year, 10, 25),
        date(year, 6, 19),
        date(year, 1, 7),
        date(year, 12, 28),
    ):
        for hh, mm in ((7, 59), (8, 0), (9, 59), (10, 0), (14, 59), (15, 0), (16, 59), (17, 0)):
            out.append(int(at(day.year, day.month, day.day, hh, mm).timestamp()))
    return out


@pytest.mark.asterisk
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.integers(min_value=0, max_value=2 * 366 * 24 * 60 - 1), min_size=40, max_size=80)
)
def test_dialplan_decides_like_the_calendar_for_any_instant(
    schedule_lab: Lab, minutes: list[int]
) -> None:
    config = parse_config(schedule_lab.config_path.read_text())
    year = today_in(config.timezone).year
    start = int(at(year, 1, 1, 0, 0).timestamp())
    epochs = sorted({start + m * 60 for m in minutes} | set(_boundary_instants(year)))
    from zoneinfo import ZoneInfo

    for name, sched in config.schedules.items():
        special = special_days(sched, (year, year + 1))
        got = schedule_lab.control.schedule_decisions(name, epochs)
        for epoch in epochs:
            local = datetime.fromtimestamp(epoch, ZoneInfo(config.timezone))
            expected = decide(sched, special, local)
            assert expected in DECISIONS
            assert got[epoch] == expected, f"{name} at {local.isoformat()}: dialplan {got[epoch]}"
    assert timedelta(minutes=max(minutes)) < timedelta(days=732)


def test_opening_now_computes_each_schedules_holidays_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MQTT asks for the opening state on every change; the holidays behind each
    schedule are computed once, not again for every call."""
    import vaxeld.calendar as calendar

    computed: list[ScheduleConfig] = []
    real = calendar.special_days

    def counting(schedule: ScheduleConfig, years: Iterable[int]) -> dict[date, SpecialDay]:
        computed.append(schedule)
        return real(schedule, years)

    monkeypatch.setattr(calendar, "special_days", counting)
    calendar._SPECIAL_CACHE.clear()
    now = at(2026, 12, 24, 10, 0)
    first = calendar.opening_now(CONFIG, now)
    assert first["entry"] == "closed-holiday"  # julafton
    assert len(computed) == 2  # kontorstid (entry) and tolkservice (two queues)
    for _ in range(5):
        assert calendar.opening_now(CONFIG, now) == first
    assert len(computed) == 2


def test_a_reloaded_schedule_never_gets_the_old_schedules_days() -> None:
    """The cache is keyed by the schedule's content. Keyed by id(), a new schedule object
    that reuses a freed one's id (CPython does this at once) got the old one's days."""
    from vaxeld.calendar import _SPECIAL_CACHE, cached_special_days

    _SPECIAL_CACHE.clear()
    years = (2026, 2027)
    christmas = date(2026, 12, 25)
    closed = schedule(public_holidays="closed")
    old_id = id(closed)
    assert christmas in cached_special_days(closed, years)
    del closed
    reloaded = None
    for _ in range(1000):  # a schedule object in the freed slot, open on holidays
        candidate = schedule(public_holidays="open")
        if id(candidate) == old_id:
            reloaded = candidate
            break
        del candidate
    if reloaded is None:
        pytest.skip("this interpreter did not reuse the id")
    assert christmas not in cached_special_days(reloaded, years)


def _first_change_by_scanning(config: object, start: float) -> float | None:
    """The reference: opening_now() at every minute after ``start``, for 8 days."""
    from zoneinfo import ZoneInfo

    from vaxeld.calendar import opening_now

    zone = ZoneInfo(TZ)
    now = opening_now(CONFIG, datetime.fromtimestamp(start, zone))
    minute = (int(start) // 60 + 1) * 60
    for when in range(minute, minute + 8 * 24 * 3600, 60):
        if opening_now(CONFIG, datetime.fromtimestamp(when, zone)) != now:
            return float(when)
    return None


@pytest.mark.parametrize(
    "start",
    [
        at(2026, 11, 23, 7, 59).timestamp() + 30,  # a weekday morning
        at(2026, 11, 27, 16, 0).timestamp(),  # a Friday, the weekend ahead
        at(2026, 12, 23, 12, 0).timestamp(),  # Christmas: eve, holidays, short days
        at(2026, 12, 30, 9, 15).timestamp(),  # New Year
        at(2026, 3, 28, 12, 0).timestamp(),  # the spring's lost hour
        at(2026, 10, 24, 22, 0).timestamp(),  # the autumn's hour twice
        at(2026, 6, 18, 20, 0).timestamp(),  # midsommar
    ],
)
def test_the_next_opening_change_is_the_first_minute_that_differs(start: float) -> None:
    """vaxeld sleeps until opening_changes_at() instead of looking every minute: it must
    name exactly the first minute at which open/closed (or why) changes."""
    from vaxeld.calendar import opening_changes_at

    assert opening_changes_at(CONFIG, start) == _first_change_by_scanning(CONFIG, start)
