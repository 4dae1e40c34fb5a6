"""A real SIP caller (SIPp) on loopback: INVITE to the entry number through a PJSIP
endpoint, English chosen with RFC 4733 DTMF, answered in the English queue."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lab_fixtures import Lab

from lab.asterisk import free_port
from lab.vaxeld_process import VaxeldProcess, total

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

SCENARIO = Path(__file__).parent / "sipp" / "caller_dtmf.xml"


def test_sip_caller_chooses_english_by_rfc4733_dtmf(
    lab: Lab, vaxeld: VaxeldProcess, tmp_path: Path
) -> None:
    sipp = shutil.which("sipp")
    if sipp is None:
        pytest.fail("SIPp missing: install the Debian package sip-tester (scripts/setup.sh does)")
    for agent in ("1002", "1004"):  # the English group; talk longer than the caller stays
        lab.control.set_agent(agent, answer_after=1, talk=30)
    before = vaxeld.scrape()
    res = subprocess.run(
        [
            sipp,
            f"127.0.0.1:{lab.asterisk.sip_port}",
            "-sf",
            str(SCENARIO),
            "-s",
            lab.entry,
            "-m",
            "1",
            "-l",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-mp",
            str(free_port() & ~1),
            "-timeout",
            "40s",
            "-timeout_error",
            "-trace_err",
            "-error_file",
            str(tmp_path / "sipp-errors.log"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-2000:])
    lab.asterisk.wait_idle(timeout=60)

    def delta(name: str, **labels: str) -> float:
        return total(vaxeld.scrape(), name, **labels) - total(before, name, **labels)

    vaxeld.wait_for(
        lambda s: (
            total(s, "vaxeld_queue_calls_answered_total", queue="en")
            > total(before, "vaxeld_queue_calls_answered_total", queue="en")
        ),
        15,
    )
    assert delta("vaxeld_menu_language_selections_total", language="en", reason="chosen") == 1
    assert delta("vaxeld_queue_calls_offered_total", queue="en") == 1
    assert delta("vaxeld_queue_calls_answered_total", queue="en") == 1
    assert delta("vaxeld_entry_calls_total", entry=lab.entry) == 1
