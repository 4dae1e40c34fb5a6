"""Two Asterisk 22 servers, one contact centre: site A holds the entry number and the
queues, site B's agents answer A's queues over a PJSIP trunk on loopback (remote members
``PJSIP/agent2001@trunk-b``). One vaxeld follows both. Site B's Asterisk is stopped and
started during calls: A's counts and MQTT go on, B shows as disconnected meanwhile (on
/metrics and the wallboard), the remote agents are not counted available while their
trunk is down, and each PBX's counts equal its own queue_log afterwards."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lab_fixtures import _require_root

from lab.asterisk import AsteriskLab, count_queue_log, ensure_chroot, free_port
from lab.broker import Mosquitto
from lab.control import LabControl
from lab.demo import MqttWatcher
from lab.scenario import lab_config_text
from lab.vaxeld_process import Samples, VaxeldProcess, total
from vaxeld.calendar import today_in
from vaxeld.config import parse_config
from vaxeld.render import render_all, write_atomically

pytestmark = pytest.mark.asterisk

REMOTE = {"2001": "Hodan Abdi", "2002": "Yusuf Haddad"}  # the interpreters, at site B

TRUNK_TO_B = """
[trunk-b]
type = endpoint
context = vaxeld-lab-sip
disallow = all
allow = ulaw
direct_media = no
rtp_symmetric = yes
aors = trunk-b

[trunk-b]
type = aor
contact = sip:127.0.0.1:{port}
qualify_frequency = 2
qualify_timeout = 1.0
"""

TRUNK_FROM_A = """
[trunk-a]
type = endpoint
context = vaxeld-lab-from-a
disallow = all
allow = ulaw
direct_media = no
rtp_symmetric = yes

[trunk-a-identify]
type = identify
endpoint = trunk-a
match = 127.0.0.1
"""

# Site B: a call from A for agentNNNN goes to lab agent NNNN (who answers as set). Not
# a pattern: in one, the n of "agent" would mean a digit 2-9.
FROM_A = "\n[vaxeld-lab-from-a]\n" + "".join(
    f"exten => agent{agent},1,Goto(vaxeld-lab-agents,{agent},1)\n" for agent in REMOTE
)


@dataclass
class Sites:
    a: AsteriskLab
    b: AsteriskLab
    control_a: LabControl
    config: Path
    vaxeld: VaxeldProcess
    entry: str
    mqtt: MqttWatcher

    def control_b(self) -> LabControl:
        return LabControl("127.0.0.1", self.b.ami_port, "lab", self.b.admin_secret)


def two_site_config(a: AsteriskLab, b: AsteriskLab, metrics_port: int) -> str:
    text = lab_config_text(a.ami_port, metrics_port, queue_log=a.queue_log)
    for agent in REMOTE:
        text = text.replace(f"Local/{agent}@vaxeld-lab-agents/n", f"PJSIP/agent{agent}@trunk-b")
    site_b = (
        f"  - name: b\n    host: 127.0.0.1\n    port: {b.ami_port}\n    username: vaxeld\n"
        "    secret_env: VAXELD_AMI_SECRET\n    command_username: vaxeld-ops\n"
        f"    command_secret_env: VAXELD_OPS_SECRET\n    site: angered\n"
        f"    queue_log: {b.queue_log}\n"
    )
    return text.replace("\nmetrics:\n", f"{site_b}\nmetrics:\n", 1)


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[Sites]:
    _require_root()
    chroot = ensure_chroot()
    b = AsteriskLab(chroot, f"site-b-{os.getpid()}", sipp_identify=False, pjsip_extra=TRUNK_FROM_A)
    a = AsteriskLab(chroot, f"site-a-{os.getpid()}")
    a.pjsip_extra = TRUNK_TO_B.format(port=b.sip_port)
    metrics_port = free_port()
    broker = Mosquitto(tmp_path / "mqtt").start()
    text = two_site_config(a, b, metrics_port) + (
        f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n  topic_prefix: vaxeld\n"
        "  min_interval_seconds: 0.2\n"
    )
    config_path = tmp_path / "vaxeld.yaml"
    config_path.write_text(text)
    config = parse_config(text)
    write_atomically(tmp_path / "dialplans-a", render_all(config, today_in(config.timezone)))
    # Site B routes nothing of its own: empty renderings to include.
    write_atomically(
        tmp_path / "dialplans-b", {"extensions_vaxeld.conf": "", "queues_vaxeld.conf": ""}
    )
    b.prepare(tmp_path / "dialplans-b", extra_extensions=FROM_A)
    a.prepare(tmp_path / "dialplans-a")
    b.start()
    a.start()
    control_a = LabControl("127.0.0.1", a.ami_port, "lab", a.admin_secret)
    vaxeld = VaxeldProcess(config_path, metrics_port, a.secrets, tmp_path / "vaxeld.log")
    watcher = MqttWatcher(broker.port)
    try:
        for agent in re.findall(r"Local/(\d+)@vaxeld-lab-agents", text):
            control_a.set_agent(agent, answer_after=1, talk=3)
        remote_agents_answer(LabControl("127.0.0.1", b.ami_port, "lab", b.admin_secret))
        vaxeld.start()
        yield Sites(a, b, control_a, config_path, vaxeld, config.entry.number, watcher)
    finally:
        vaxeld.stop()
        watcher.stop()
        broker.stop()
        control_a.close()
        for lab in (a, b):
            lab.stop()
            lab.remove(keep_logs_in=tmp_path / f"logs-{lab.name}")


def remote_agents_answer(control: LabControl) -> None:
    try:
        for agent in REMOTE:
            control.set_agent(agent, answer_after=1, talk=3)
    finally:
        control.close()


def agent_state(samples: Samples, name: str) -> str:
    states = [
        dict(labels)["state"]
        for (metric, labels), v in samples.items()
        if metric == "vaxeld_agent_state" and v == 1 and ("agent", name) in labels
    ]
    return states[0] if states else "?"


def counts_equal_queue_log(samples: Samples, pbx: str, lab: AsteriskLab) -> list[str]:
    """Per queue and figure, where vaxeld's counters for ``pbx`` and the queue_log differ."""
    log = count_queue_log(lab.queue_log_events())
    problems = []
    for queue in {"sv", "en", "ar", "so", "fi", "vaxel"}:
        for figure, event in (("offered", "ENTERQUEUE"), ("answered", "CONNECT"),
                              ("abandoned", "ABANDON")):  # fmt: skip
            ours = total(samples, f"vaxeld_queue_calls_{figure}_total", pbx=pbx, queue=queue)
            theirs = log.get(queue, {}).get(event, 0)
            if ours != theirs:
                problems.append(f"{pbx} {queue} {figure}: vaxeld {ours:g}, queue_log {theirs}")
    return problems


def test_one_vaxeld_follows_two_sites_through_a_restart_of_one(sites: Sites) -> None:
    s = sites
    both_up = s.vaxeld.wait_for(
        lambda m: (
            total(m, "vaxeld_state_synced", pbx="main") == 1
            and total(m, "vaxeld_state_synced", pbx="b") == 1
            and agent_state(m, "Hodan Abdi") == "available"
        ),
        60,
    )
    assert total(both_up, "vaxeld_ami_connected") == 2
    # Callers for the interpreters are answered at site B, over the trunk.
    for digit in "3311":
        s.control_a.call(s.entry, digit, 15.0)
        time.sleep(0.5)
    s.a.wait_idle(90)
    done = s.vaxeld.wait_for(lambda m: not counts_equal_queue_log(m, "main", s.a), 30)
    answered_at_b = [row for row in s.a.queue_log_events() if row[4:5] == ["CONNECT"]
                     and row[3] in REMOTE.values()]  # fmt: skip
    assert len(answered_at_b) >= 1, s.a.queue_log_events()
    assert total(done, "vaxeld_agent_calls_answered_total", pbx="main", site="angered") >= 1

    # The crisis switch reaches both sites.
    res = _cli(s, "crisis", "on", "--message", "storm")
    assert res.returncode == 0, res.stderr
    with s.control_b() as control_b:
        found = control_b.list_action(
            "DBGet", "DBGetComplete", [("Family", "vaxeld"), ("Key", "crisis/mode")]
        )
        assert any(m.event == "DBGetResponse" for m in found), found
    assert _cli(s, "crisis", "off").returncode == 0

    # Site B goes down during calls: A goes on; B is out of sight; the remote agents
    # are not available while their trunk is down.
    s.control_a.call(s.entry, "1", 10.0)
    s.b.stop()
    for digit in "1213":
        s.control_a.call(s.entry, digit, 8.0)
        time.sleep(0.3)
    down = s.vaxeld.wait_for(
        lambda m: (
            total(m, "vaxeld_ami_connected", pbx="b") == 0
            and agent_state(m, "Hodan Abdi") != "available"
        ),
        30,
    )
    assert total(down, "vaxeld_ami_connected", pbx="main") == 1
    board = _board(s)  # the wallboard says which site it cannot see
    assert not board["live"] and [(p["name"], p["synced"]) for p in board["pbxs"]] == [
        ("main", True),
        ("b", False),
    ]
    assert {site["name"] for site in board["sites"]} >= {"stadshuset", "angered"}
    assert agent_state(down, "Yusuf Haddad") in ("unavailable", "logged_out"), agent_state(
        down, "Yusuf Haddad"
    )
    s.a.wait_idle(90)
    during = s.vaxeld.wait_for(lambda m: not counts_equal_queue_log(m, "main", s.a), 30)
    # MQTT goes on for site A meanwhile, with the same figures.
    answered = total(during, "vaxeld_queue_calls_today", pbx="main", queue="sv", outcome="answered")
    assert answered >= 3
    deadline = time.monotonic() + 15
    while mqtt_sv(s).get("answered_today") != answered and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mqtt_sv(s)["answered_today"] == answered, mqtt_sv(s)
    assert "vaxeld/b/crisis" in s.mqtt.latest  # site B has its own topics

    # Back up: followed again, the agents available again, every count still true.
    s.b.start()
    remote_agents_answer(s.control_b())
    s.vaxeld.wait_for(
        lambda m: (
            total(m, "vaxeld_state_synced", pbx="b") == 1
            and agent_state(m, "Hodan Abdi") == "available"
        ),
        60,
    )
    s.control_a.call(s.entry, "3", 15.0)
    s.a.wait_idle(90)
    final = s.vaxeld.wait_for(lambda m: not counts_equal_queue_log(m, "main", s.a), 30)
    assert counts_equal_queue_log(final, "b", s.b) == []
    assert total(final, "vaxeld_queue_calls_offered_total", pbx="b") == 0  # B routes nothing
    assert total(final, "vaxeld_queue_calls_unaccounted", pbx="main") == 0


def mqtt_sv(s: Sites) -> dict[str, Any]:
    raw = s.mqtt.latest.get("vaxeld/main/queue/sv")
    return dict(json.loads(raw)) if raw else {}


def _board(s: Sites) -> dict[str, Any]:
    url = f"http://127.0.0.1:{s.vaxeld.metrics_port}/wallboard/board.json"
    with urllib.request.urlopen(url, timeout=5) as resp:
        board: dict[str, Any] = json.loads(resp.read())
    return board


def _cli(s: Sites, *args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "vaxeld", *args, "-c", str(s.config)],
        capture_output=True,
        text=True,
        env={**os.environ, **s.a.secrets},
        timeout=60,
    )
