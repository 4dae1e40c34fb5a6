"""vaxeld's two manager.conf accounts on real Asterisk 22: each can do exactly what its
work needs, and a right left out fails clearly. The whole real-stack suite runs vaxeld
with these accounts (the lab's manager.conf is written from the same text the README
shows)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from lab_fixtures import Lab

from lab.asterisk import manager_accounts
from lab.vaxeld_process import total
from vaxeld.ami.blocking import BlockingAmi
from vaxeld.ami.codec import Decoder, Message, encode_action

pytestmark = pytest.mark.asterisk
README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_shows_the_accounts_the_tests_use() -> None:
    shown = manager_accounts("<run secret>", "<command secret>", "<apply secret>").rstrip("\n")
    indented = "\n".join(("  " + line) if line else "" for line in shown.split("\n"))
    assert indented.replace("read = \n", "read =\n") in README.read_text().replace(
        "read = \n", "read =\n"
    )


def answers(
    lab: Lab, username: str, secret: str, actions: list[tuple[str, list[tuple[str, str]]]]
) -> list[str]:
    with BlockingAmi("127.0.0.1", lab.asterisk.ami_port, username, secret) as ami:
        return [ami.action(name, headers).get("Message") for name, headers in actions]


AGENT = "Local/1001@vaxeld-lab-agents/n"


def test_the_run_account_reads_what_vaxeld_needs_and_can_change_nothing(lab: Lab) -> None:
    got = answers(
        lab,
        "vaxeld",
        lab.asterisk.vaxeld_secret,
        [
            ("QueueStatus", [("Queue", "sv")]),
            ("Getvar", [("Variable", "VAXELD_CALENDAR_END")]),
            ("DBGet", [("Family", "vaxeld/crisis"), ("Key", "mode")]),
            ("DBPut", [("Family", "vaxeld/crisis"), ("Key", "mode"), ("Val", "announce")]),
            ("QueuePause", [("Interface", AGENT), ("Paused", "true")]),
            ("Filter", [("Operation", "Add"), ("Filter", "Event: Newexten")]),
            ("Originate", [("Channel", "Local/x@y"), ("Application", "Wait"), ("Data", "1")]),
            ("Command", [("Command", "core show channels")]),
        ],
    )
    assert got[:3] == ["Queue status will follow", "", "Database entry not found"]
    assert got[3:] == ["Permission denied"] * 5


def test_the_run_account_hears_only_the_events_vaxeld_uses(lab: Lab) -> None:
    sock = socket.create_connection(("127.0.0.1", lab.asterisk.ami_port))
    login = [("Username", "vaxeld"), ("Secret", lab.asterisk.vaxeld_secret), ("Events", "on")]
    sock.sendall(encode_action("Login", login, "1"))
    decoder, events = Decoder(), []
    lab.control.call(lab.entry, "1", patience=3)
    sock.settimeout(0.5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "VaxeldHangup" not in events:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        for item in decoder.feed(data):
            if isinstance(item, Message) and item.event:
                events.append(item.get("UserEvent") or item.event)
    sock.close()
    assert {"VaxeldEntry", "QueueCallerJoin", "VaxeldHangup"} <= set(events)
    allowed = ("Queue", "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "Vaxeld")
    assert [e for e in events if not e.startswith(allowed)] == []


def test_the_command_account_switches_the_crisis_and_pauses_and_nothing_more(lab: Lab) -> None:
    got = answers(
        lab,
        "vaxeld-ops",
        lab.asterisk.ops_secret,
        [
            ("DBPut", [("Family", "vaxeld-test"), ("Key", "k"), ("Val", "v")]),
            ("DBDel", [("Family", "vaxeld-test"), ("Key", "k")]),
            ("QueuePause", [("Interface", AGENT), ("Paused", "false")]),
            ("UserEvent", [("UserEvent", "VaxeldTest")]),
            ("Originate", [("Channel", "Local/x@y"), ("Application", "Wait"), ("Data", "1")]),
            ("Command", [("Command", "core show channels")]),
        ],
    )
    assert got[4:] == ["Permission denied"] * 2
    assert "Permission denied" not in got[:4]


def test_a_right_left_out_fails_clearly(own_lab: Lab) -> None:
    """Without `reporting` the run account cannot read the crisis switch: vaxeld says so
    (and counts calls as before); without `agent` the command account cannot pause;
    without `user` it still sets the crisis switch, and says the news was not sent."""
    manager = own_lab.asterisk.etc / "manager.conf"
    text = manager.read_text()
    text = text.replace("write = reporting\neventfilter", "write = \neventfilter", 1)
    text = text.replace("write = system,agent,user\n", "write = system\n", 1)
    manager.write_text(text)
    own_lab.asterisk.cli("manager reload")
    refused = own_lab.cli("agent", "pause", "Åsa Lindqvist", "--reason", "Lunch")
    assert refused.returncode == 1
    assert "QueuePause" in refused.stderr and "Permission denied" in refused.stderr
    crisis = own_lab.cli("crisis", "on", "--message", "storm")
    assert crisis.returncode == 0, crisis.stderr
    assert "not announced" in crisis.stdout and "Permission denied" in crisis.stdout
    assert own_lab.cli("crisis", "off").returncode == 0
    proc = own_lab.vaxeld("no-reporting").start()
    try:
        proc.wait_synced()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Permission denied" not in proc.log_path.read_text():
            time.sleep(0.2)
        lines = [line for line in proc.log_path.read_text().splitlines() if "poll_failed" in line]
        assert lines and "Permission denied" in lines[0]
        own_lab.control.call(own_lab.entry, "1", patience=2)
        s = proc.wait_for(lambda s: total(s, "vaxeld_queue_calls_offered_total") == 1, 30)
        assert total(s, "vaxeld_ami_connected") == 1
    finally:
        assert proc.stop() == 0
