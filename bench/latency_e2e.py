"""End-to-end latency: an AMI event leaves "Asterisk" -> the change is visible on
vaxeld's /metrics, and in MQTT. A real `vaxeld run`, a real mosquitto, a fake AMI peer.

    python bench/latency_e2e.py [--samples 300]

MQTT: a subscriber on the queue's topic takes the time the new payload arrives.
/metrics: right after sending, the bench scrapes until a response shows the new
count; the figure is send -> that response read, so it includes one scrape.
The events alternate a caller joining queue sv and leaving it, spaced wider than
the MQTT rate limit (min_interval_seconds 0.05 here) so the limit never delays one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import aiomqtt
from daemon_replay import DaemonUnderTest

from lab.broker import Mosquitto
from lab.fake_ami import FakeAmi

QUEUE = "sv"
DELAYS = (0.0005, 0.001, 0.002, 0.005)  # seconds between the event and a scrape's start


def _event(*pairs: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


def join(uid: str) -> bytes:
    return _event(
        ("Event", "QueueCallerJoin"),
        ("Privilege", "agent,all"),
        ("Channel", f"PJSIP/trunk-{uid}"),
        ("Uniqueid", uid),
        ("Linkedid", uid),
        ("Queue", QUEUE),
        ("Position", "1"),
        ("Count", "1"),
    )


def leave_and_hang_up(uid: str) -> bytes:
    return _event(
        ("Event", "QueueCallerLeave"),
        ("Privilege", "agent,all"),
        ("Uniqueid", uid),
        ("Linkedid", uid),
        ("Queue", QUEUE),
        ("Position", "1"),
        ("Count", "0"),
    ) + _event(
        ("Event", "UserEvent"),
        ("Privilege", "user,all"),
        ("Uniqueid", uid),
        ("Linkedid", uid),
        ("UserEvent", "VaxeldHangup"),
        ("Queue", QUEUE),
    )


_OFFERED = re.compile(
    rf'^vaxeld_queue_calls_offered_total\{{[^}}]*queue="{QUEUE}"[^}}]*\}} (\S+)$', re.M
)


def offered(text: str) -> float:
    return sum(float(v) for v in _OFFERED.findall(text))


def quantiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max in milliseconds."""
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000, max(samples) * 1000


async def _mqtt_phase(
    ami: FakeAmi, client: aiomqtt.Client, samples: int, gap: float
) -> list[float]:
    topic = f"vaxeld/main/queue/{QUEUE}"
    await client.subscribe(topic)
    messages = client.messages

    async def waiting_becomes(expected: int) -> None:
        async for message in messages:
            payload = json.loads(bytes(message.payload))
            if str(message.topic) == topic and payload["waiting"] == expected:
                return

    await asyncio.wait_for(waiting_becomes(0), 10)  # the retained state first
    out = []
    for i in range(samples):
        uid = f"1800000000.{i}"
        for data, expected in ((join(uid), 1), (leave_and_hang_up(uid), 0)):
            await asyncio.sleep(gap)
            t0 = time.perf_counter()
            await ami.send(data)
            await asyncio.wait_for(waiting_becomes(expected), 5)
            out.append(time.perf_counter() - t0)
    return out


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


async def _metrics_phase(
    ami: FakeAmi, url: str, samples: int, gap: float
) -> tuple[list[float], list[float], dict[float, float]]:
    """Send a join, then scrape until a response shows it. Every other sample first
    waits a set delay and records whether the first scrape started then shows it."""
    latencies, scrapes = [], []
    shown: dict[float, list[bool]] = {d: [] for d in DELAYS}
    count = offered(_scrape(url))
    for i in range(samples):
        uid = f"1810000000.{i}"
        await asyncio.sleep(gap)
        delay = DELAYS[(i // 2) % len(DELAYS)] if i % 2 else None
        t0 = time.perf_counter()
        await ami.send(join(uid))
        if delay is not None:
            while time.perf_counter() - t0 < delay:
                pass  # a sleep this short would overshoot
        first = True
        while True:
            s0 = time.perf_counter()
            text = _scrape(url)
            now = time.perf_counter()
            scrapes.append(now - s0)
            visible = offered(text) > count
            if delay is not None and first:
                shown[delay].append(visible)
            first = False
            if visible:
                if delay is None:
                    latencies.append(now - t0)
                count = offered(text)
                break
        await ami.send(leave_and_hang_up(uid))
    return latencies, scrapes, {d: sum(v) / len(v) for d, v in shown.items() if v}


async def e2e_latency(samples: int = 300, gap: float = 0.06) -> dict[str, tuple[float, ...]]:
    work = Path(tempfile.mkdtemp(prefix="vaxeld-bench-latency-"))
    broker = Mosquitto(work / "broker").start()
    ami = await FakeAmi().start()
    section = (
        f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n  topic_prefix: vaxeld\n"
        "  min_interval_seconds: 0.05\n  commands: false\n"
    )
    daemon = DaemonUnderTest(ami.port, section)
    try:
        await daemon.start()
        url = f"http://127.0.0.1:{daemon.metrics_port}/metrics"
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="bench") as client:
            mqtt = await _mqtt_phase(ami, client, samples // 2, gap)
        metrics, scrapes, shown = await _metrics_phase(ami, url, samples, gap)
        size = len(_scrape(url).encode())
        return {
            "mqtt": (*quantiles(mqtt), len(mqtt)),
            "metrics": (*quantiles(metrics), len(metrics)),
            "scrape": (*quantiles(scrapes), len(scrapes), size),
            "shown_after": tuple(v for d in DELAYS for v in (d, shown.get(d, 0.0))),
        }
    finally:
        daemon.stop()
        await ami.close()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    result = asyncio.run(e2e_latency(args.samples))
    for name in ("mqtt", "metrics", "scrape"):
        p50, p99, worst, n = result[name][:4]
        print(f"{name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms ({n:.0f} samples)")
    print(f"/metrics response: {result['scrape'][4] / 1024:.0f} KiB")
    pairs = result["shown_after"]
    for delay, share in zip(pairs[::2], pairs[1::2], strict=True):
        print(f"a scrape started {delay * 1000:g} ms after the event shows it: {share:.0%}")


if __name__ == "__main__":
    main()
