"""An event's cost with 10, 1,000 and 10,000 callers waiting: it must not grow.

    python bench/flat_cost.py

vaxeld's own per-event path (codec, reducer, ledger, metrics: bench/replay.py's
Pipeline), first given N callers waiting in a queue (each joined, never answered), then
the benchmark stream; CPU per event of the stream alone, best of three rounds. Then the
same with MQTT as configured: the bridge's build (what changed, payloads, JSON) after
every event that changed something, each build publishing at once (to its outbox: no
broker), as when events are further apart than min_interval_seconds.
"""

from __future__ import annotations

import time

from codec_throughput import ABANDONED, ANSWERED
from replay import CONFIG, Pipeline

from vaxeld.config.mqtt import MqttConfig
from vaxeld.mqtt import MqttBridge
from vaxeld.state.view import LinkHealth, PbxView

WAITING = (10, 1_000, 10_000)
STREAM_CALLS = 2_000


def waiting_callers(n: int) -> bytes:
    return "".join(
        "Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-w{i}\r\n"
        f"Uniqueid: 1600000000.{i}\r\nLinkedid: 1600000000.{i}\r\nQueue: fi\r\n"
        f"Position: {i + 1}\r\nCount: {i + 1}\r\n\r\n".replace("{i}", str(i))
        for i in range(n)
    ).encode()


def stream() -> bytes:
    parts = []
    for n in range(STREAM_CALLS):
        template = ABANDONED if n % 5 == 0 else ANSWERED
        parts.append(template.format(n=n, uid=f"1700000000.{n}"))
    return "".join(parts).encode()


class WithMqtt(Pipeline):
    """The pipeline with the MQTT bridge building after every event that changed the
    state, as the daemon's loop does at the end of a turn."""

    def __init__(self) -> None:
        super().__init__()
        mqtt = MqttConfig(host="127.0.0.1", min_interval_seconds=0.05)
        today = self.metrics.today_figures
        self.bridge = MqttBridge(CONFIG, mqtt, None, self._views, today, dict, _no)

    def _views(self) -> list[PbxView]:
        return [PbxView("main", self.core.state, LinkHealth(True), crisis_active=False)]

    def changed(self) -> None:
        self.bridge._last_sent.clear()  # sparse events: nothing held back
        self.bridge._build()
        self.bridge.outbox.reset(self.bridge.mqtt.queue_size)


async def _no(name: str, body: dict[str, object]) -> str:
    raise ValueError("no commands here")


def per_event_us(waiting: int, data: bytes, pipeline: type[Pipeline] = Pipeline) -> float:
    best = float("inf")
    for _ in range(3):
        pipe = pipeline()
        pipe.feed(waiting_callers(waiting))
        before = pipe.events
        start = time.process_time()
        pipe.feed(data, seconds_per_event=0.01)
        spent = time.process_time() - start
        best = min(best, spent / (pipe.events - before) * 1e6)
    return best


def run(pipeline: type[Pipeline] = Pipeline) -> dict[int, float]:
    data = stream()
    return {n: per_event_us(n, data, pipeline) for n in WAITING}


def rows() -> list[tuple[str, str, str, bool]]:
    out = []
    for name, pipeline in (("", Pipeline), (", MQTT as configured", WithMqtt)):
        r = run(pipeline)
        low, high = r[WAITING[0]], r[WAITING[-1]]
        shown = ", ".join(f"{n:,} waiting: {us:.1f} us" for n, us in r.items())
        out.append(
            (
                f"CPU per event with callers waiting{name}",
                f"{shown} ({high / low:.2f}x from {WAITING[0]} to {WAITING[-1]:,})",
                "flat (<= 1.2x)",
                high / low <= 1.2,
            )
        )
    return out


def main() -> None:
    for name, figure, target, ok in rows():
        print(f"{name}: {figure}  [{target}: {'yes' if ok else 'NO'}]")


if __name__ == "__main__":
    main()
