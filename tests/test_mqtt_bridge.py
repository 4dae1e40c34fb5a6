"""vaxeld.mqtt.bridge's commands against a real mosquitto: retained commands are never
carried out, commands are rate-limited, and oversize input is refused and echoed only as
a prefix. (The command itself is the daemon's; here it is recorded.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest

from lab.broker import Mosquitto
from vaxeld.config import load_config
from vaxeld.config.mqtt import MqttConfig
from vaxeld.mqtt import MqttBridge
from vaxeld.mqtt.commands import COMMAND_BURST, COMMANDS_PER_SECOND, MAX_ERROR_CHARS
from vaxeld.ratelimit import TokenBucket
from vaxeld.state.model import SwitchboardState
from vaxeld.state.view import LinkHealth, PbxView

CONFIG = load_config(Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    mosq = Mosquitto(tmp_path / "broker").start()
    yield mosq
    mosq.stop()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []

    async def __call__(self, name: str, body: dict[str, object]) -> str:
        self.calls.append((name, body))
        if len(str(body.get("agent", ""))) > 100:
            raise ValueError(f"no agent {body['agent']!r} in agent_groups")
        return "done"


@pytest.fixture
async def bridge(broker: Mosquitto) -> AsyncIterator[tuple[MqttBridge, Recorder]]:
    recorder = Recorder()
    views = lambda: [PbxView("main", SwitchboardState(), LinkHealth(connected=True))]  # noqa: E731
    mqtt = MqttConfig(port=broker.port, min_interval_seconds=0.05)
    bridge = MqttBridge(CONFIG, mqtt, None, views, dict, dict, recorder)
    task = asyncio.create_task(bridge.run())
    async with asyncio.timeout(10):
        while not bridge.connected:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # subscribed to the command topics
    yield bridge, recorder
    task.cancel()


Publish = list[tuple[str, bytes, bool]]


async def replies(port: int, n: int, publish: Publish) -> list[dict[str, object]]:
    """Publish (topic, payload, retain) and collect ``n`` replies (or what came in 3 s)."""
    got: list[dict[str, object]] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier="ops") as client:
        await client.subscribe("vaxeld/reply")
        for topic, payload, retain in publish:
            await client.publish(topic, payload, qos=1, retain=retain)
        try:
            async with asyncio.timeout(3):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    got.append(json.loads(message.payload))
                    if len(got) >= n:
                        break
        except TimeoutError:
            pass
    return got


async def test_a_retained_command_is_never_carried_out(broker: Mosquitto) -> None:
    """A retained crisis/on was carried out again after every restart of vaxeld or the
    broker, undoing any later `crisis off`."""
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="old") as client:
        await client.publish("vaxeld/cmd/crisis/on", b'{"message": "storm"}', qos=1, retain=True)
    recorder = Recorder()
    views = lambda: [PbxView("main", SwitchboardState(), LinkHealth(connected=True))]  # noqa: E731
    mqtt = MqttConfig(port=broker.port, min_interval_seconds=0.05)
    bridge = MqttBridge(CONFIG, mqtt, None, views, dict, dict, recorder)
    task = asyncio.create_task(bridge.run())
    try:
        async with asyncio.timeout(10):
            while bridge.commands.get("retained_ignored", 0) < 1:
                await asyncio.sleep(0.02)
        got = await replies(broker.port, 1, [("vaxeld/cmd/crisis/off", b"{}", False)])
        assert [r["command"] for r in got] == ["crisis/off"]  # live ones still work
        assert recorder.calls == [("crisis/off", {})]
    finally:
        task.cancel()


async def test_a_flood_of_commands_is_cut_to_the_rate(
    bridge: tuple[MqttBridge, Recorder], broker: Mosquitto
) -> None:
    """5,000 QueuePause actions were once sent in 2.7 s from one client."""
    the_bridge, recorder = bridge
    # The bucket's clock stands still, so the count does not hang on how fast this runs.
    the_bridge._answerer.allowed = TokenBucket(COMMANDS_PER_SECOND, COMMAND_BURST, lambda: 0.0)
    flood = [
        ("vaxeld/cmd/agent/pause", json.dumps({"agent": "Åsa Lindqvist"}).encode(), False)
    ] * 200
    got = await replies(broker.port, 200, flood)
    assert len(recorder.calls) == len(got) == COMMAND_BURST
    assert the_bridge.commands["rate_limited"] == 200 - COMMAND_BURST


async def test_oversize_commands_are_refused_and_echoed_as_a_prefix(
    bridge: tuple[MqttBridge, Recorder], broker: Mosquitto
) -> None:
    huge = json.dumps({"agent": "x" * (20 * 1024 * 1024)}).encode()  # a 20 MiB name
    long = json.dumps({"agent": "y" * 3000}).encode()  # fits, but is no agent
    topic = "vaxeld/cmd/agent/pause"
    got = await replies(broker.port, 2, [(topic, huge, False), (topic, long, False)])
    assert [r["ok"] for r in got] == [False, False]
    assert "at most 4096" in str(got[0]["error"])
    assert all(len(str(r["error"])) <= MAX_ERROR_CHARS for r in got)
    assert len(bridge[1].calls) == 1  # the 20 MiB one never reached the command
