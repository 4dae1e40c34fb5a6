"""CPU per event when events arrive one at a time, as at a real call rate.

    python bench/wakeup_cost.py [--events 1000] [--rate 50]

The throughput benchmark runs back to back, with everything in the CPU's caches. At a
real call rate each AMI event wakes the process from sleep, and on a virtual machine
code run just after a wake-up costs several times more. This measures, in one run and
on the same event loop vaxeld uses (uvloop), what one event read costs when it does:

- nothing (the wake-up and the read alone),
- the reference parser's work (split on CRLF, build a dict),
- vaxeld's work (codec, reducer, ledger and metrics, as in bench/replay.py),
- the same with MQTT's build after each event that changed the state (as in
  bench/flat_cost.py: the topics it touched, published to the outbox).

A client process sends the recorded events one per write at ``rate`` per second; the
figure is the reading process's CPU time per event (time.process_time).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import uvloop
from codec_throughput import split_into_dicts
from daemon_replay import event_frames
from flat_cost import WithMqtt
from replay import Pipeline, synthetic_chunks

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "bench" / "capture" / "ami-filtered.bin"


def reference_work(data: bytes) -> None:
    """One whole event per read here, so no buffer: split it into a dict."""
    split_into_dicts(data.split(b"\r\n\r\n")[:-1])


def send(port: int, frames: list[bytes], rate: float) -> None:
    """The client side (run in its own process): one event per write, paced."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.monotonic()
        for i, frame in enumerate(frames):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sock.sendall(frame)


async def cpu_per_event(
    work: Callable[[bytes], None], frames: list[bytes], rate: float, source: Path
) -> float:
    """Microseconds of this process's CPU per event while ``work`` handles each read."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    class Reader(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            work(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if not done.done():
                done.set_result(None)

    server = await loop.create_server(Reader, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    options = {"--send": port, "--rate": rate, "--events": len(frames), "--source": source}
    client = subprocess.Popen(
        [sys.executable, __file__, *(str(x) for kv in options.items() for x in kv)]
    )
    start = time.process_time()
    await done
    used = time.process_time() - start
    client.wait(timeout=30)
    server.close()
    return used / len(frames) * 1e6


def load_frames(source: Path, events: int) -> list[bytes]:
    stream = source.read_bytes() if source.exists() else b"".join(synthetic_chunks(500))
    return event_frames(stream)[:events]


async def measure(events: int, rate: float, source: Path) -> dict[str, float]:
    frames = load_frames(source, events)
    pipeline, with_mqtt = Pipeline(), WithMqtt()
    for pipe in (pipeline, with_mqtt):
        pipe.decoder.feed(b"Asterisk Call Manager/9.0.0\r\n")
    works: dict[str, Callable[[bytes], None]] = {
        "nothing": lambda data: None,
        "reference parser": reference_work,
        "vaxeld": lambda data: pipeline.feed(data, seconds_per_event=0.05),
        "vaxeld with MQTT": lambda data: with_mqtt.feed(data, seconds_per_event=0.05),
    }
    return {name: await cpu_per_event(w, frames, rate, source) for name, w in works.items()}


def run(events: int = 1000, rate: float = 50.0, source: Path = CAPTURE) -> dict[str, float]:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(measure(events, rate, source))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--source", type=Path, default=CAPTURE)
    parser.add_argument("--send", type=int, help=argparse.SUPPRESS)  # the client process
    args = parser.parse_args()
    if args.send:
        send(args.send, load_frames(args.source, args.events), args.rate)
        return
    for name, us in run(args.events, args.rate, args.source).items():
        print(f"{name}: {us:.0f} us per event")


if __name__ == "__main__":
    main()
