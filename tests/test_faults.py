"""Faults on the real stack: a silent network stall, `manager reload`, SIGHUP reloads
good and bad. vaxeld must notice, recover, and keep its counts true."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.asterisk import count_queue_log
from lab.proxy import CuttableProxy
from lab.vaxeld_process import total

pytestmark = pytest.mark.asterisk


@pytest.fixture
def fault_lab(tmp_path: Path) -> Iterator[Lab]:
    # A one-second ping watchdog, so a stall is noticed quickly.
    lab = start_lab(
        tmp_path,
        "faults",
        queue_log=True,
        edit=lambda t: t.replace(
            "    site: stadshuset\n",
            "    site: stadshuset\n    ping_interval_seconds: 1\n    ping_timeout_seconds: 1\n",
            1,
        ),
    )
    yield lab
    stop_lab(lab)


def test_silent_stall_is_noticed_and_calls_during_it_are_still_counted(fault_lab: Lab) -> None:
    lab = fault_lab
    proxy = CuttableProxy(lab.asterisk.ami_port)
    vaxeld = lab.vaxeld("stall", ami_port=proxy.port).start()
    try:
        vaxeld.wait_synced()
        proxy.stall()
        vaxeld.wait_for(lambda s: total(s, "vaxeld_ami_connected") == 0, 20)
        for digit in "123":  # calls that happen while vaxeld hears nothing over AMI
            lab.control.call(lab.entry, digit, 6.0)
        lab.asterisk.wait_idle(60)
        proxy.resume()
        log = count_queue_log(lab.asterisk.queue_log_events())
        offered = sum(q.get("ENTERQUEUE", 0) for q in log.values())
        s = vaxeld.wait_for(
            lambda s: (
                total(s, "vaxeld_ami_connected") == 1
                and total(s, "vaxeld_queue_calls_offered_total") == offered
            ),
            30,
        )
        assert offered == 3
        answered = sum(q.get("CONNECT", 0) for q in log.values())
        assert total(s, "vaxeld_queue_calls_answered_total") == answered
        assert total(s, "vaxeld_queue_calls_outcome_unknown_total") == 0
        assert total(s, "vaxeld_ami_outage_seconds_total") > 0
        assert total(s, "vaxeld_queue_log_recovered_total") >= 3
    finally:
        vaxeld.stop()
        proxy.close()


def test_manager_reload_keeps_vaxeld_counting(fault_lab: Lab) -> None:
    lab = fault_lab
    vaxeld = lab.vaxeld("reload").start()
    try:
        vaxeld.wait_synced()
        lab.asterisk.cli("manager reload")
        lab.control.call(lab.entry, "2", 5.0)
        lab.asterisk.wait_idle(60)
        s = vaxeld.wait_for(
            lambda s: (
                total(s, "vaxeld_queue_calls_offered_total", queue="en") == 1
                and total(s, "vaxeld_ami_connected") == 1
            ),
            30,
        )
        assert total(s, "vaxeld_queue_calls_offered_total") == 1
    finally:
        vaxeld.stop()


def test_sighup_reload_takes_a_good_config_and_keeps_the_old_on_a_bad_one(
    fault_lab: Lab,
) -> None:
    lab = fault_lab
    vaxeld = lab.vaxeld("sighup").start()
    try:
        vaxeld.wait_synced()
        assert vaxeld.proc is not None
        config = vaxeld.config
        good = config.read_text().replace(
            "legacy_numbers:\n",
            'legacy_numbers:\n  - {number: "031-365 40 00", label: Kulturförvaltningen}\n',
            1,
        )
        config.write_text(good)
        vaxeld.proc.send_signal(signal.SIGHUP)
        s = vaxeld.wait_for(
            lambda s: total(s, "vaxeld_config_reloads_total", result="success") == 1, 20
        )
        assert total(s, "vaxeld_entry_info", entry="0313654000") == 1
        assert total(s, "vaxeld_config_last_reload_success") == 1

        config.write_text(good.replace("service_level_seconds: 20", "service_level_seconds: -5"))
        vaxeld.proc.send_signal(signal.SIGHUP)
        s = vaxeld.wait_for(
            lambda s: total(s, "vaxeld_config_reloads_total", result="failure") == 1, 20
        )
        assert total(s, "vaxeld_config_last_reload_success") == 0
        assert total(s, "vaxeld_entry_info", entry="0313654000") == 1  # old config kept
        assert total(s, "vaxeld_ami_connected") == 1
        lab.control.call(lab.entry, "1", 5.0)
        vaxeld.wait_for(lambda s: total(s, "vaxeld_queue_calls_offered_total", queue="sv") == 1, 30)
        assert "config_reload_failed" in vaxeld.log_path.read_text()
        assert "must be > 0" in vaxeld.log_path.read_text()
    finally:
        vaxeld.stop()
