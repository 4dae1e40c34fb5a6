"""A real `vaxeld run` process fed a recorded AMI stream by a fake Asterisk.

Used by bench/run.py for the figures that need the whole daemon: CPU per event with
the asyncio shell included, and end-to-end latency from an event leaving "Asterisk"
to the change being visible on /metrics and in MQTT.

    python bench/daemon_replay.py [--rate 500] [--profile x.txt] [--mqtt]   # CPU per event only

The fake server (lab/fake_ami.py, with no queues) speaks just enough AMI for vaxeld to
log in and resync; fakes are for benchmarks and faults only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from lab.asterisk import free_port
from lab.broker import Mosquitto
from lab.fake_ami import FakeAmi
from lab.scenario import lab_config_text
from lab.vaxeld_process import VaxeldProcess

ROOT = Path(__file__).resolve().parents[1]


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    return sum(cpu_split(pid))


def event_frames(capture: bytes) -> list[bytes]:
    """The events of a capture, each as its raw frame; replies to the recorder dropped."""
    out = []
    for frame in capture.split(b"\r\n\r\n"):
        useful = not frame.startswith((b"Event: FullyBooted", b"Event: Shutdown"))
        if useful and frame.startswith(b"Event: ") and b"\r\nActionID: " not in frame:
            out.append(frame + b"\r\n\r\n")
    return out


class DaemonUnderTest:
    """`vaxeld run` on the example config, pointed at a fake AMI server."""

    def __init__(
        self,
        ami_port: int,
        extra_config: str = "",
        edit: Callable[[str], str] = str,
        always_open: bool = True,
    ) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="vaxeld-bench-daemon-"))
        self.metrics_port = free_port()
        text = lab_config_text(ami_port, self.metrics_port, always_open=always_open)
        text = edit(text) + extra_config
        (self.work / "vaxeld.yaml").write_text(text)
        self.process = VaxeldProcess(
            self.work / "vaxeld.yaml",
            self.metrics_port,
            {
                "VAXELD_AMI_SECRET": FakeAmi.secret,
                "VAXELD_CALLER_KEY": "bench-caller-key-0123456789",
                "VAXELD_OPS_SECRET": FakeAmi.secret,
            },
            self.work / "vaxeld.log",
        )

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    async def start(self) -> None:
        self.process.start()
        await asyncio.to_thread(self.process.wait_synced)

    def stop(self) -> None:
        self.process.stop()


def paced(frames: list[bytes], rate: float) -> Iterator[tuple[float, bytes]]:
    """(send time offset, frame) at ``rate`` events per second."""
    for i, frame in enumerate(frames):
        yield i / rate, frame


# Given the running daemon, set something up before the idle window (e.g. wallboards);
# returns how to take it down again.
Attach = Callable[[DaemonUnderTest], Awaitable[Callable[[], Awaitable[None]]]]
# Runs beside the replay (e.g. probe events), given the fake Asterisk.
Alongside = Callable[[FakeAmi], Coroutine[Any, Any, None]]


async def cpu_per_event(
    frames: list[bytes],
    rate: float,
    profile: Path | None = None,
    extra_config: str = "",
    edit: Callable[[str], str] = str,
    attach: Attach | None = None,
    alongside: Alongside | None = None,
) -> dict[str, float]:
    """Stream ``frames`` into a real daemon at ``rate``/s, one frame per write, and
    return vaxeld's CPU per event, with the same daemon's idle CPU subtracted."""
    ami = await FakeAmi().start()
    daemon = DaemonUnderTest(ami.port, extra_config, edit)
    spy = None
    detach = None
    beside: asyncio.Task[None] | None = None
    try:
        await daemon.start()
        if attach is not None:
            detach = await attach(daemon)
        duration = len(frames) / rate
        idle_window = min(duration, 10.0)
        await asyncio.sleep(3.0)  # let start-up work (first polls, first scrape) finish
        idle0 = cpu_seconds(daemon.pid)
        await asyncio.sleep(idle_window)
        idle = (cpu_seconds(daemon.pid) - idle0) / idle_window
        if profile is not None:
            spy_exe = str(Path(sys.executable).parent / "py-spy")
            fmt = "raw" if profile.suffix == ".txt" else "speedscope"  # raw: collapsed stacks
            spy = subprocess.Popen(
                [
                    spy_exe,
                    "record",
                    "-r",
                    "1000",
                    "-p",
                    str(daemon.pid),
                    "-o",
                    str(profile),
                    "-f",
                    fmt,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1)
        busy0 = cpu_seconds(daemon.pid)
        split0 = cpu_split(daemon.pid)
        start = time.monotonic()
        if alongside is not None:
            beside = asyncio.create_task(alongside(ami))
        for offset, frame in paced(frames, rate):
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await ami.send(frame)
        if beside is not None:
            await beside
        await asyncio.sleep(1.0)  # let the last events be read
        elapsed = time.monotonic() - start
        busy = cpu_seconds(daemon.pid) - busy0
        split = [b - a for a, b in zip(split0, cpu_split(daemon.pid), strict=True)]
        return {
            "events": len(frames),
            "seconds": elapsed,
            "cpu_seconds": busy,
            "idle_cpu_per_second": idle,
            "user_seconds": split[0],
            "system_seconds": split[1],
            "us_per_event": (busy - idle * elapsed) / len(frames) * 1e6,
        }
    finally:
        if beside is not None:
            beside.cancel()
        if detach is not None:
            await detach()
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=60)
        daemon.stop()
        await ami.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--profile", type=Path, help="write a py-spy speedscope profile here")
    parser.add_argument("--events", type=int, default=0, help="only the first N events")
    parser.add_argument("--capture", type=Path, default=ROOT / "bench/capture/ami-filtered.bin")
    parser.add_argument("--mqtt", action="store_true", help="publish to a real mosquitto too")
    args = parser.parse_args()
    frames = event_frames(args.capture.read_bytes())
    if args.events:
        frames = frames[: args.events]
    with tempfile.TemporaryDirectory(prefix="vaxeld-bench-broker-") as tmp:
        broker = Mosquitto(Path(tmp)).start() if args.mqtt else None
        extra = f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n" if broker else ""
        try:
            result = asyncio.run(cpu_per_event(frames, args.rate, args.profile, extra))
        finally:
            if broker is not None:
                broker.stop()
    for key, value in result.items():
        print(f"{key}: {value:,.3f}")


if __name__ == "__main__":
    main()
