"""Routing rules on real Asterisk 22: each test places a call and asserts where it went.

Opening hours, holidays, crisis switch (with vaxeld stopped, and across an
Asterisk restart), legacy numbers, the operator digit, staff extensions,
overflow, and agents paused or logged in. Where vaxeld runs, its figures are
compared with Asterisk's own queue_log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.asterisk import count_queue_log
from lab.scenario import lab_config_text
from lab.vaxeld_process import Samples, total
from vaxeld import calendar as calendar_module
from vaxeld.config import Config
from vaxeld.render import render_all

pytestmark = pytest.mark.asterisk
TZ = ZoneInfo("Europe/Stockholm")


def with_entry_schedule(weekly: str) -> Callable[[int, int], str]:
    """Lab config whose entry number follows a schedule 'lab' with these weekly hours."""

    def make(ami: int, metrics: int) -> str:
        text = lab_config_text(ami, metrics)
        text = text.replace("schedules:\n", f"schedules:\n  lab:\n    weekly: {weekly}\n", 1)
        text = text.replace(
            "  label: Kontaktcenter\n", "  label: Kontaktcenter\n  schedule: lab\n", 1
        )
        return text.replace(
            "    action: hangup ", "    action: transfer\n    number: 0313659999 ", 1
        )

    return make


@pytest.fixture
def lab_for(tmp_path: Path) -> Iterator[list[Lab]]:
    labs: list[Lab] = []
    yield labs
    for lab in labs:
        stop_lab(lab)


def test_call_outside_opening_hours_gets_closed_handling(
    lab_for: list[Lab], tmp_path: Path
) -> None:
    now = datetime.now(TZ)
    hours = '"20:00-23:00"' if now.hour < 12 else '"01:00-03:00"'
    lab = start_lab(tmp_path, "hours", with_entry_schedule(f"{{mon-sun: {hours}}}"))
    lab_for.append(lab)
    events = lab.events()
    try:
        lab.control.call(lab.entry, "1", 20.0)
        (closed,) = events.wait_for("VaxeldClosed")
        assert closed.get("Reason") == "hours" and closed.get("Queue") == ""
        # The configured action: transfer to another number through the dial context.
        (dialled,) = events.wait_for("VaxeldLabDialled")
        assert dialled.get("Number") == "0313659999"
        lab.asterisk.wait_idle(30)
        assert not events.named("VaxeldLanguage")
        # No queue saw the caller; vaxeld's own lines record the call and why it was closed.
        log = count_queue_log(lab.asterisk.queue_log_events())
        assert log == {"vaxeld": {"VAXELDENTRY": 1, "VAXELDCLOSED": 1}}
    finally:
        events.close()


def test_holiday_today_closes_the_entry_number(lab_for: list[Lab], tmp_path: Path) -> None:
    today = datetime.now(TZ).date()

    def render_with_today_a_holiday(config: Config, day: date) -> dict[str, str]:
        # Swedish holidays come from the `holidays` library; make today one of them.
        real = calendar_module._swedish

        def swedish(years: object, category: str) -> dict[date, str]:
            found = real(years, category)  # type: ignore[arg-type]
            return {**found, today: "Testdagen"} if category == "public" else found

        with mock.patch.object(calendar_module, "_swedish", swedish):
            return render_all(config, day)

    lab = start_lab(
        tmp_path,
        "holiday",
        with_entry_schedule('{mon-sun: "00:00-24:00"}'),
        render=render_with_today_a_holiday,
    )
    lab_for.append(lab)
    assert (
        f"exten => {today:%Y%m%d},1,Return(closed-holiday)"
        in (lab.dialplans / "extensions_vaxeld.conf").read_text()
    )
    vaxeld = lab.vaxeld().start()
    events = lab.events()
    try:
        vaxeld.wait_synced()
        lab.control.call(lab.entry, "1", 20.0)
        (closed,) = events.wait_for("VaxeldClosed")
        assert closed.get("Reason") == "holiday"
        samples = vaxeld.wait_for(lambda s: total(s, "vaxeld_calls_closed_total") == 1, 20)
        assert (
            total(
                samples, "vaxeld_calls_closed_total", at="entry", reason="holiday", entry=lab.entry
            )
            == 1
        )
        assert total(samples, "vaxeld_calendar_valid_until_timestamp_seconds") >= (
            datetime(today.year + 1, 12, 31, 23, 0, tzinfo=TZ).timestamp()
        )
    finally:
        events.close()
        vaxeld.stop()


def test_crisis_works_with_vaxeld_stopped_and_survives_a_restart(
    lab_for: list[Lab], tmp_path: Path
) -> None:
    lab = start_lab(tmp_path, "crisis")
    lab_for.append(lab)
    res = lab.cli("crisis", "on", "--message", "storm", "--mode", "announce-only")
    assert res.returncode == 0, res.stderr
    assert "crisis on (storm, announce-only)" in res.stdout
    bad = lab.cli("crisis", "on", "--message", "flood")
    assert bad.returncode == 2 and "unknown crisis message 'flood'" in bad.stderr

    events = lab.events()
    try:
        lab.control.call(lab.entry, "1", 15.0)  # no vaxeld running
        (crisis,) = events.wait_for("VaxeldCrisis")
        assert (crisis.get("Mode"), crisis.get("Message")) == ("announce_only", "storm")
        lab.asterisk.wait_idle(30)
        assert not events.named("VaxeldLanguage")  # announcement only: no menu, no queue
    finally:
        events.close()

    lab.restart_asterisk()
    status = lab.cli("crisis", "status")
    assert (
        status.returncode == 0 and "crisis on, mode announce_only, message storm" in status.stdout
    )

    vaxeld = lab.vaxeld().start()
    events = lab.events()
    try:
        samples = vaxeld.wait_for(lambda s: total(s, "vaxeld_crisis_active") == 1, 30)
        assert total(samples, "vaxeld_crisis_active") == 1
        lab.control.call(lab.entry, "1", 15.0)
        events.wait_for("VaxeldCrisis")
        assert lab.cli("crisis", "off").returncode == 0
        lab.control.call(lab.entry, "2", 15.0)
        (chosen,) = events.wait_for("VaxeldLanguage")
        assert chosen.get("Language") == "en"
        assert len(events.named("VaxeldCrisis")) == 1
        vaxeld.wait_for(lambda s: total(s, "vaxeld_crisis_active") == 0, 30)
    finally:
        events.close()
        vaxeld.stop()


def test_legacy_numbers_reach_the_flow_with_their_own_entry_label(lab: Lab) -> None:
    vaxeld = lab.vaxeld("legacy").start()
    events = lab.events()
    try:
        before = vaxeld.wait_synced()
        lab.control.call("0313652000", "", 8.0)  # Socialtjänsten: straight to Swedish
        lab.control.call("0313653000", "", 8.0)  # Tolkförmedlingen: straight to queue ar
        lab.control.call("0313651000", "2", 8.0)  # Stadsbyggnadskontoret: the menu
        (direct,) = events.wait_for("VaxeldLanguage", Reason="direct")
        assert direct.get("Language") == "sv"
        events.wait_for("VaxeldLanguage", Reason="chosen", Language="en")
        lab.asterisk.wait_idle(60)

        def delta(name: str, **labels: str) -> float:
            return total(after, name, **labels) - total(before, name, **labels)

        after = vaxeld.wait_for(
            lambda s: (
                total(s, "vaxeld_calls_offered_total") - total(before, "vaxeld_calls_offered_total")
                == 3
            ),
            20,
        )
        assert delta("vaxeld_queue_calls_offered_total", queue="sv", entry="0313652000") == 1
        assert delta("vaxeld_queue_calls_offered_total", queue="ar", entry="0313653000") == 1
        assert delta("vaxeld_queue_calls_offered_total", queue="en", entry="0313651000") == 1
        assert delta("vaxeld_entry_calls_total", entry="0313653000") == 1
        assert (
            total(after, "vaxeld_entry_info", entry="0313652000", label="Socialtjänsten växel") == 1
        )
    finally:
        events.close()
        vaxeld.stop()


def test_operator_digit_and_direct_staff_extension(lab: Lab) -> None:
    events = lab.events()
    try:
        lab.control.call(lab.entry, "0", 8.0)
        lab.control.call(lab.entry, "6123", 8.0)
        lab.control.call(lab.entry, "7", 8.0)  # not a choice and not an extension range
        events.wait_for("VaxeldLabDialled", Number="6123")
        events.wait_for("VaxeldExtension", Extension="6123")
        events.wait_for("VaxeldMenu", Result="chosen", Digit="0")
        events.wait_for("VaxeldMenu", Result="invalid", Digit="7")
        lab.asterisk.wait_idle(60)
    finally:
        events.close()
    log = lab.asterisk.queue_log_events()
    assert any(row[2] == "vaxel" and row[4] == "ENTERQUEUE" for row in log)


def test_overflow_after_a_short_wait_counts_the_caller_once(
    lab_for: list[Lab], tmp_path: Path
) -> None:
    def make(ami: int, metrics: int) -> str:
        text = lab_config_text(ami, metrics)
        return text.replace(
            "overflow: {to: vaxel, when_empty: true}", "overflow: {to: vaxel, after_seconds: 3}", 1
        )

    lab = start_lab(tmp_path, "overflow", make)
    lab_for.append(lab)
    lab.control.set_agent("1004", answer_after=60, talk=3)  # nobody answers in English
    vaxeld = lab.vaxeld().start()
    events = lab.events()
    try:
        vaxeld.wait_synced()
        lab.control.call(lab.entry, "2", 30.0)
        (moved,) = events.wait_for("VaxeldOverflow")
        assert (moved.get("From"), moved.get("To"), moved.get("Status")) == (
            "en",
            "vaxel",
            "TIMEOUT",
        )
        lab.asterisk.wait_idle(60)
        s = vaxeld.wait_for(
            lambda s: total(s, "vaxeld_queue_calls_answered_total", queue="vaxel") == 1, 20
        )
        log = count_queue_log(lab.asterisk.queue_log_events())
        assert log["en"]["ENTERQUEUE"] == 1 and log["en"]["EXITWITHTIMEOUT"] == 1
        assert log["vaxel"]["ENTERQUEUE"] == 1 and log["vaxel"]["CONNECT"] == 1
        assert total(s, "vaxeld_queue_calls_offered_total", queue="en") == 1
        assert total(s, "vaxeld_queue_calls_exited_total", queue="en", reason="timeout") == 1
        assert total(s, "vaxeld_queue_calls_offered_total", queue="vaxel") == 1
        assert total(s, "vaxeld_queue_overflow_out_total", queue="en", to_queue="vaxel") == 1
        assert total(s, "vaxeld_queue_overflow_in_total", queue="vaxel", from_queue="en") == 1
        assert total(s, "vaxeld_calls_offered_total", entry=lab.entry) == 1
        assert total(s, "vaxeld_queue_calls_answered_directly_total") == 0
    finally:
        events.close()
        vaxeld.stop()


def test_the_hang_up_tells_a_timeout_from_an_abandon_also_after_an_overflow(
    lab_for: list[Lab], tmp_path: Path
) -> None:
    """The hang-up handler's Status is this queue's QUEUESTATUS: TIMEOUT for a caller
    whose Queue() timed out, empty for one who hung up waiting, even in a second queue
    after the first one timed out (the dialplan clears it before each Queue())."""

    def make(ami: int, metrics: int) -> str:
        text = lab_config_text(ami, metrics)
        text = text.replace(
            "overflow: {to: vaxel, when_empty: true}", "overflow: {to: vaxel, after_seconds: 3}", 1
        )
        return text.replace(
            "    language: fi\n    service_level_seconds: 30\n    max_wait_seconds: 900",
            "    language: fi\n    service_level_seconds: 30\n    max_wait_seconds: 3",
            1,
        )

    lab = start_lab(tmp_path, "hangupstatus", make)
    lab_for.append(lab)
    for agent in lab.agents:
        lab.control.set_agent(agent, answer_after=60, talk=3)  # nobody answers
    vaxeld = lab.vaxeld().start()
    events = lab.events()
    try:
        vaxeld.wait_synced()
        lab.control.call(lab.entry, "2", 9.0)  # English times out, hangs up in vaxel
        lab.control.call(lab.entry, "5", 20.0)  # Finnish times out, the end sound, hang-up
        hangups = events.wait_for("VaxeldHangup", count=2, timeout=60)
        by_queue = {m.get("Queue"): m.get("Status") for m in hangups}
        assert by_queue == {"vaxel": "", "fi": "TIMEOUT"}
        lab.asterisk.wait_idle(60)
        log = count_queue_log(lab.asterisk.queue_log_events())
        assert log["en"]["EXITWITHTIMEOUT"] == 1 and log["vaxel"]["ABANDON"] == 1
        assert log["fi"]["EXITWITHTIMEOUT"] == 1 and "ABANDON" not in log["fi"]

        def counted(s: Samples) -> bool:
            return total(s, "vaxeld_queue_calls_exited_total", queue="fi") == 1

        s = vaxeld.wait_for(counted, 20)
        assert total(s, "vaxeld_queue_calls_abandoned_total", queue="vaxel") == 1
        assert total(s, "vaxeld_queue_calls_abandoned_total", queue="fi") == 0
        assert total(s, "vaxeld_queue_calls_exited_total", queue="en", reason="timeout") == 1
    finally:
        events.close()
        vaxeld.stop()


def test_agents_pause_unpause_and_dynamic_login_survive_restart(
    lab_for: list[Lab], tmp_path: Path
) -> None:
    lab = start_lab(tmp_path, "agents")
    lab_for.append(lab)
    vaxeld = lab.vaxeld().start()
    try:
        vaxeld.wait_synced()
        res = lab.cli("agent", "pause", "Åsa Lindqvist", "--reason", "Lunch")
        assert res.returncode == 0, res.stderr
        s = vaxeld.wait_for(lambda s: total(s, "vaxeld_queue_members_paused", queue="sv") == 1)
        assert total(s, "vaxeld_queue_members_paused", queue="vaxel", site="stadshuset") == 1
        assert any(
            r[4] == "PAUSE" and r[3] == "Åsa Lindqvist" and r[5:6] == ["Lunch"]
            for r in lab.asterisk.queue_log_events()
        )
        # An agent can be named by interface as well as by name.
        assert lab.cli("agent", "unpause", "Local/1001@vaxeld-lab-agents/n").returncode == 0
        vaxeld.wait_for(lambda s: total(s, "vaxeld_queue_members_paused") == 0)

        refused = lab.cli("agent", "logout", "Åsa Lindqvist")
        assert refused.returncode == 2 and "static member" in refused.stderr
        bad = lab.cli("agent", "pause", "Åsa Lindqvist", "--reason", "x\nAction: Originate")
        assert bad.returncode == 2 and "reason" in bad.stderr

        vaxel_before = total(vaxeld.scrape(), "vaxeld_queue_members_logged_in", queue="vaxel")
        assert lab.cli("agent", "login", "Lars Holm").returncode == 0
        vaxeld.wait_for(
            lambda s: total(s, "vaxeld_queue_members_logged_in", queue="vaxel") == vaxel_before + 1
        )
        lab.restart_asterisk()
        assert "Lars Holm" in lab.asterisk.cli("queue show vaxel")  # persistentmembers
        s = vaxeld.wait_for(
            lambda s: (
                total(s, "vaxeld_ami_connects_total") >= 2 and total(s, "vaxeld_state_synced") == 1
            ),
            60,
        )
        assert total(s, "vaxeld_queue_members_logged_in", queue="vaxel") == vaxel_before + 1
        assert lab.cli("agent", "logout", "Lars Holm").returncode == 0
        assert "Lars Holm" not in lab.asterisk.cli("queue show vaxel")
    finally:
        vaxeld.stop()


def test_rendered_calendar_is_for_this_year_and_next(lab: Lab) -> None:
    text = (lab.dialplans / "extensions_vaxeld.conf").read_text()
    year = datetime.now(TZ).year
    assert re.search(rf"^VAXELD_CALENDAR_END={year + 1}-12-31$", text, re.MULTILINE)


def test_a_paused_agent_gets_no_calls_and_gets_them_again_when_unpaused(
    lab_for: list[Lab], tmp_path: Path
) -> None:
    # Swedish rings every free member at once; only Åsa answers (the others would take a
    # minute), so who answers shows whether the pause is honoured.
    lab = start_lab(
        tmp_path,
        "pause",
        edit=lambda t: t.replace(
            "  sv:\n    language: sv\n", "  sv:\n    language: sv\n    strategy: ringall\n", 1
        ),
    )
    lab_for.append(lab)
    for agent in ("1002", "1003", "1004"):
        lab.control.set_agent(agent, answer_after=60, talk=3)
    lab.control.set_agent("1001", answer_after=1, talk=2)
    assert lab.cli("agent", "pause", "Åsa Lindqvist", "--reason", "Lunch").returncode == 0
    lab.control.call(lab.entry, "1", 8.0)
    lab.asterisk.wait_idle(60)
    rows = lab.asterisk.queue_log_events()
    assert not [r for r in rows if r[4] == "CONNECT"]
    assert [r for r in rows if r[2] == "sv" and r[4] == "ABANDON"]
    assert lab.cli("agent", "unpause", "Åsa Lindqvist").returncode == 0
    lab.control.call(lab.entry, "1", 20.0)
    lab.asterisk.wait_idle(60)
    connects = [r for r in lab.asterisk.queue_log_events() if r[4] == "CONNECT"]
    assert [(r[2], r[3]) for r in connects] == [("sv", "Åsa Lindqvist")]


def test_an_empty_queue_sends_its_callers_on_and_vaxeld_counts_it_like_queue_log(
    lab_for: list[Lab], tmp_path: Path
) -> None:
    """`when_empty` overflow on real Asterisk: a caller who meets an empty queue moves on
    at once (JOINEMPTY: no ENTERQUEUE at all), and one waiting when the last member logs
    out leaves it (EXITEMPTY), both to the switchboard queue. vaxeld counts the exit from
    AMI and both overflows, equal to queue_log, and every caller is accounted for."""

    def make(ami: int, metrics: int) -> str:
        text = lab_config_text(ami, metrics)
        return text.replace(
            "    queues: {en: 0, sv: 2}\n", "    queues: {en: 0}\n    membership: dynamic\n", 1
        )

    lab = start_lab(tmp_path, "empty", make)
    lab_for.append(lab)
    vaxeld = lab.vaxeld().start()
    events = lab.events()
    try:
        vaxeld.wait_synced()
        lab.control.call(lab.entry, "2", 20.0)  # nobody in English yet
        (first,) = events.wait_for("VaxeldOverflow")
        assert (first.get("From"), first.get("Status")) == ("en", "JOINEMPTY")
        lab.asterisk.wait_idle(60)
        lab.control.set_agent("1004", answer_after=60, talk=3)  # logged in, never answers
        assert lab.cli("agent", "login", "Sara Khan").returncode == 0
        lab.control.call(lab.entry, "2", 30.0)
        vaxeld.wait_for(lambda s: total(s, "vaxeld_queue_calls_waiting", queue="en") == 1, 30)
        assert lab.cli("agent", "logout", "Sara Khan").returncode == 0
        second = events.wait_for("VaxeldOverflow", count=2)[1]
        assert (second.get("From"), second.get("Status")) == ("en", "LEAVEEMPTY")
        lab.asterisk.wait_idle(60)
        log = count_queue_log(lab.asterisk.queue_log_events())
        assert log["en"].get("ENTERQUEUE") == 1 and log["en"].get("EXITEMPTY") == 1
        assert log["vaxel"]["ENTERQUEUE"] == 2
        s = vaxeld.wait_for(
            lambda s: total(s, "vaxeld_queue_calls_answered_total", queue="vaxel") == 2, 20
        )
        assert total(s, "vaxeld_queue_calls_offered_total", queue="en") == 1
        assert total(s, "vaxeld_queue_calls_exited_total", queue="en", reason="leaveempty") == 1
        assert total(s, "vaxeld_queue_overflow_out_total", queue="en", to_queue="vaxel") == 2
        assert total(s, "vaxeld_calls_offered_total") == 2  # each caller once
        for queue in ("en", "vaxel"):
            assert total(s, "vaxeld_queue_calls_unaccounted", queue=queue) == 0
    finally:
        events.close()
        vaxeld.stop()
