"""MQTT on a real mosquitto (password file and ACL): retained live state after calls,
a command round trip, an ACL refusal, the last will, and a stopped broker that changes
nothing in the AMI path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.asterisk import count_queue_log
from lab.broker import Mosquitto
from lab.vaxeld_process import VaxeldProcess, total

pytestmark = pytest.mark.asterisk

ACL = """\
# vaxeld publishes state and reads commands; ops may command; viewers only read.
user vaxeld
topic readwrite vaxeld/#

user ops
topic write vaxeld/cmd/#
topic read vaxeld/#

user viewer
topic read vaxeld/#
"""
PASSWORDS = {"vaxeld": "vaxeld-mqtt-secret", "ops": "ops-secret", "viewer": "viewer-secret"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    mosq = Mosquitto(tmp_path, PASSWORDS, ACL).start()
    yield mosq
    mosq.stop()


@pytest.fixture
def mqtt_lab(tmp_path: Path, broker: Mosquitto) -> Iterator[Lab]:
    section = (
        f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n  username: vaxeld\n"
        "  password_env: VAXELD_MQTT_PASSWORD\n  topic_prefix: vaxeld\n"
        "  min_interval_seconds: 0.2\n"
    )
    lab = start_lab(tmp_path / "lab", "mqtt", queue_log=True, edit=lambda t: t + section)
    yield lab
    stop_lab(lab)


def start_vaxeld(lab: Lab) -> VaxeldProcess:
    proc = lab.vaxeld("mqtt-vaxeld")
    proc._env["VAXELD_MQTT_PASSWORD"] = PASSWORDS["vaxeld"]
    proc.start().wait_synced()
    return proc


async def retained(
    port: int, user: str, topics: str = "vaxeld/#", settle: float = 1.0
) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    async with aiomqtt.Client("127.0.0.1", port, username=user, password=PASSWORDS[user]) as client:
        await client.subscribe(topics)
        try:
            async with asyncio.timeout(settle):
                async for msg in client.messages:
                    if msg.retain and isinstance(msg.payload, bytes):
                        out[str(msg.topic)] = msg.payload
        except TimeoutError:
            pass
    return out


async def command(
    port: int, user: str, name: str, body: dict[str, str], wait: float = 5.0
) -> dict[str, object] | None:
    async with aiomqtt.Client("127.0.0.1", port, username=user, password=PASSWORDS[user]) as client:
        await client.subscribe("vaxeld/reply")
        await asyncio.sleep(0.2)
        await client.publish(f"vaxeld/cmd/{name}", json.dumps(body), qos=1)
        try:
            async with asyncio.timeout(wait):
                async for msg in client.messages:
                    reply = json.loads(msg.payload if isinstance(msg.payload, bytes) else b"{}")
                    if reply.get("request_id") == body.get("request_id"):
                        return dict(reply)
        except TimeoutError:
            return None
    return None


async def test_retained_state_after_calls_and_last_will(mqtt_lab: Lab, broker: Mosquitto) -> None:
    vaxeld = start_vaxeld(mqtt_lab)
    try:
        mqtt_lab.control.set_agent("2001", answer_after=60, talk=3)
        mqtt_lab.control.set_agent("2002", answer_after=60, talk=3)
        mqtt_lab.control.call(mqtt_lab.entry, "4", 12.0)  # waits in Somali, nobody answers
        vaxeld.wait_for(lambda s: total(s, "vaxeld_queue_calls_waiting", queue="so") == 1)
        state = await retained(broker.port, "viewer")
        assert state["vaxeld/status"] == b"online"
        so = json.loads(state["vaxeld/main/queue/so"])
        assert so["waiting"] == 1 and so["members_logged_in"] == 2 and so["language"] == "so"
        agent = json.loads(state["vaxeld/main/agent/asa-lindqvist"])
        assert agent == {
            "name": "Åsa Lindqvist",
            "state": "available",
            "queues": ["sv", "vaxel"],
            "site": "stadshuset",
            "group": "kontaktcenter-sv",
        }
        assert json.loads(state["vaxeld/main/crisis"]) == {"active": False}
        assert json.loads(state["vaxeld/main/opening"])["state"] == "open"
        mqtt_lab.asterisk.wait_idle(60)
        await asyncio.sleep(1.0)
        state = await retained(broker.port, "viewer")
        assert json.loads(state["vaxeld/main/queue/so"])["waiting"] == 0
    finally:
        assert vaxeld.proc is not None
        vaxeld.proc.kill()  # dies without a goodbye: the broker sends the last will
        vaxeld.proc.wait()
    await asyncio.sleep(1.0)
    assert (await retained(broker.port, "viewer", "vaxeld/status"))["vaxeld/status"] == b"offline"


async def test_command_round_trip_and_acl_refusal(mqtt_lab: Lab, broker: Mosquitto) -> None:
    vaxeld = start_vaxeld(mqtt_lab)
    try:
        reply = await command(
            broker.port,
            "ops",
            "agent/pause",
            {
                "agent": "Åsa Lindqvist",
                "reason": "Lunch",
                "request_id": "r1",
                "sender": "ops-console",
            },
        )
        assert reply is not None and reply["ok"] is True, reply
        assert "paused" in mqtt_lab.asterisk.cli("queue show sv").split("Åsa Lindqvist")[1][:120]
        bad = await command(
            broker.port,
            "ops",
            "agent/pause",
            {"agent": "Åsa Lindqvist", "reason": "x\r\nAction: Hangup", "request_id": "r2"},
        )
        assert bad is not None and bad["ok"] is False and "reason" in str(bad["error"])
        unknown = await command(
            broker.port, "ops", "crisis/on", {"message": "flood", "request_id": "r3"}
        )
        assert unknown is not None and "unknown crisis message" in str(unknown["error"])
        refused = await command(
            broker.port,
            "viewer",
            "agent/unpause",
            {"agent": "Åsa Lindqvist", "request_id": "r4"},
            wait=3.0,
        )
        assert refused is None  # the broker's ACL dropped it: vaxeld never saw it
        assert "paused" in mqtt_lab.asterisk.cli("queue show sv").split("Åsa Lindqvist")[1][:120]
        ok = await command(
            broker.port, "ops", "agent/unpause", {"agent": "Åsa Lindqvist", "request_id": "r5"}
        )
        assert ok is not None and ok["ok"] is True
        s = vaxeld.wait_for(lambda s: total(s, "vaxeld_mqtt_commands_total") >= 3)
        assert total(s, "vaxeld_mqtt_commands_total", command="failed") == 2
        assert '"sender": "ops-console"' in vaxeld.log_path.read_text()
    finally:
        vaxeld.stop()


def test_stopped_broker_changes_nothing_in_the_ami_path(mqtt_lab: Lab, broker: Mosquitto) -> None:
    vaxeld = start_vaxeld(mqtt_lab)
    try:
        vaxeld.wait_for(lambda s: total(s, "vaxeld_mqtt_connected") == 1)
        broker.stop()
        vaxeld.wait_for(lambda s: total(s, "vaxeld_mqtt_connected") == 0, 30)
        for digit in "1215":
            mqtt_lab.control.call(mqtt_lab.entry, digit, 6.0)
        mqtt_lab.asterisk.wait_idle(60)
        log = count_queue_log(mqtt_lab.asterisk.queue_log_events())
        offered = sum(q.get("ENTERQUEUE", 0) for q in log.values())
        answered = sum(q.get("CONNECT", 0) for q in log.values())
        s = vaxeld.wait_for(
            lambda s: (
                total(s, "vaxeld_queue_calls_offered_total") == offered
                and total(s, "vaxeld_queue_calls_answered_total") == answered
            ),
            30,
        )
        assert offered == 4 and total(s, "vaxeld_ami_connected") == 1
        assert total(s, "vaxeld_queue_log_recovered_total") == 0  # all came live over AMI
        broker.start()
        vaxeld.wait_for(lambda s: total(s, "vaxeld_mqtt_connected") == 1, 60)
        state = asyncio.run(retained(broker.port, "viewer"))
        assert state["vaxeld/status"] == b"online"
        assert "vaxeld/main/queue/sv" in state
    finally:
        vaxeld.stop()
