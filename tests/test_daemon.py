"""vaxeld.daemon on real Asterisk 22: restarts, refused logins, secrets kept out of logs."""

from __future__ import annotations

import json
import time

import pytest
from lab_fixtures import Lab

from lab.vaxeld_process import VaxeldProcess, total

pytestmark = pytest.mark.asterisk


def test_asterisk_restart_is_followed_by_reconnect_and_resync(own_lab: Lab) -> None:
    proc = own_lab.vaxeld().start()
    try:
        proc.wait_synced()
        own_lab.control.close()
        own_lab.asterisk.stop()
        down = proc.wait_for(lambda s: total(s, "vaxeld_ami_connected") == 0, 20)
        assert total(down, "vaxeld_state_synced") == 0
        own_lab.asterisk.start()
        up = proc.wait_for(
            lambda s: (
                total(s, "vaxeld_ami_connects_total") >= 2 and total(s, "vaxeld_state_synced") == 1
            ),
            60,
        )
        assert total(up, "vaxeld_queue_members_logged_in", queue="sv") == 4
        assert proc.proc is not None and proc.proc.poll() is None
    finally:
        assert proc.stop() == 0


def test_wrong_secret_gives_clear_log_lines_and_retries(lab: Lab) -> None:
    proc = lab.vaxeld("wrong-secret")
    proc._env["VAXELD_AMI_SECRET"] = "not-the-secret"
    proc.start()
    try:
        samples = proc.wait_for(lambda s: total(s, "vaxeld_ami_login_failures_total") >= 2, 30)
        assert total(samples, "vaxeld_ami_connected") == 0
        assert proc.proc is not None and proc.proc.poll() is None  # retrying, not crashed
    finally:
        assert proc.stop() == 0
    lines = [
        json.loads(line) for line in proc.log_path.read_text().splitlines() if line.startswith("{")
    ]
    refused = [e for e in lines if e["event"] == "ami_login_refused"]
    assert len(refused) >= 2
    assert refused[0]["level"] == "error" and refused[0]["username"] == "vaxeld"
    assert "Authentication failed" in refused[0]["reason"]
    assert "not-the-secret" not in proc.log_path.read_text()


def test_logs_are_json_lines_without_the_secret(lab: Lab, vaxeld: VaxeldProcess) -> None:
    lab.control.call(lab.entry, "2", 5.0)
    time.sleep(1)
    lab.asterisk.wait_idle(timeout=60)
    vaxeld.stop()
    text = vaxeld.log_path.read_text()
    events = [json.loads(line)["event"] for line in text.splitlines()]
    assert events[:3] == ["metrics_listening", "ami_connected", "state_resynced"]
    assert events[-1] == "stopped"
    assert lab.asterisk.vaxeld_secret not in text
