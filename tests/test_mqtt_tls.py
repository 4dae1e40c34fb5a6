"""vaxeld.mqtt over TLS, against a real mosquitto with a TLS-only listener: state
arrives when the broker's certificate verifies against `ca_file`, and nothing is
sent (and the refusal is logged) when it does not."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import immutables
import pytest
import trustme
from structlog.testing import capture_logs

from lab.broker import Mosquitto
from vaxeld.config import load_config
from vaxeld.config.mqtt import MqttConfig
from vaxeld.mqtt import MqttBridge
from vaxeld.state.model import Call, Phase, SwitchboardState
from vaxeld.state.view import LinkHealth, PbxView

CONFIG = load_config(Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml")
WAITING = SwitchboardState(
    calls=immutables.Map({"1": Call("1", queue="sv", phase=Phase.WAITING, joined_at=1.0)})
)


@pytest.fixture
def broker_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_broker(tmp_path: Path, broker_ca: trustme.CA) -> Iterator[Mosquitto]:
    cert = broker_ca.issue_cert("127.0.0.1")  # the address vaxeld connects to
    cert_file, key_file = tmp_path / "broker.pem", tmp_path / "broker.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    mosq = Mosquitto(tmp_path / "broker", tls=(cert_file, key_file)).start()
    yield mosq
    mosq.stop()


def write_ca(ca: trustme.CA, path: Path) -> Path:
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
async def viewer(tls_broker: Mosquitto, broker_ca: trustme.CA) -> AsyncIterator[aiomqtt.Client]:
    """A subscriber that trusts the broker's real CA."""
    context = ssl.create_default_context()
    broker_ca.configure_trust(context)
    async with aiomqtt.Client(
        "127.0.0.1", tls_broker.port, identifier="viewer", tls_context=context, timeout=10
    ) as client:
        await client.subscribe("vaxeld/#")
        yield client


async def no_command(name: str, body: dict[str, object]) -> str:
    return ""


def bridge_for(broker: Mosquitto, ca_file: Path) -> MqttBridge:
    mqtt = MqttConfig(port=broker.port, tls=True, ca_file=ca_file, min_interval_seconds=0.05)

    def views() -> list[PbxView]:
        return [PbxView("main", WAITING, LinkHealth(connected=True))]

    return MqttBridge(CONFIG, mqtt, None, views, dict, dict, no_command)


async def test_state_reaches_a_broker_whose_certificate_verifies(
    tls_broker: Mosquitto, broker_ca: trustme.CA, viewer: aiomqtt.Client, tmp_path: Path
) -> None:
    bridge = bridge_for(tls_broker, write_ca(broker_ca, tmp_path / "ca.pem"))
    task = asyncio.create_task(bridge.run())
    seen: dict[str, bytes] = {}
    try:
        async with asyncio.timeout(15):
            async for message in viewer.messages:
                seen[str(message.topic)] = bytes(message.payload)
                if "vaxeld/status" in seen and "vaxeld/main/queue/sv" in seen:
                    break
    finally:
        task.cancel()
    assert seen["vaxeld/status"] == b"online"
    assert json.loads(seen["vaxeld/main/queue/sv"])["waiting"] == 1
    assert bridge.connects == 1


async def test_a_broker_whose_certificate_does_not_verify_gets_nothing(
    tls_broker: Mosquitto, viewer: aiomqtt.Client, tmp_path: Path
) -> None:
    """Another CA's certificate in ca_file: vaxeld refuses the broker, says why in its
    log, keeps trying, and not one message (not even its online status) is published."""
    bridge = bridge_for(tls_broker, write_ca(trustme.CA(), tmp_path / "other-ca.pem"))
    with capture_logs() as logs:
        task = asyncio.create_task(bridge.run())
        try:
            async with asyncio.timeout(20):
                while not any(e["event"] == "mqtt_unavailable" for e in logs):
                    await asyncio.sleep(0.1)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(2):
                    async for message in viewer.messages:
                        pytest.fail(f"published despite a failed verification: {message.topic}")
        finally:
            task.cancel()
    refusals = [e for e in logs if e["event"] == "mqtt_unavailable"]
    assert "CERTIFICATE_VERIFY_FAILED" in refusals[0]["error"]
    assert bridge.connects == 0 and not bridge.connected
