"""What an idle vaxeld costs: CPU seconds and wake-ups per hour with no call at all.

    python bench/idle_cost.py [--seconds 60]

A real `vaxeld run` against a fake AMI peer (which answers its pings and polls), in two
set-ups: plain, and as the example configures it (MQTT to a real mosquitto, a queue_log
to follow, opening hours). Per-thread scheduler statistics (/proc/PID/task/*/schedstat:
CPU nanoseconds and the number of times each thread was run) give CPU and wake-ups;
the city's real load is 0.06 calls a second, so most of vaxeld's life looks like this.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from daemon_replay import ROOT, DaemonUnderTest, event_frames

from lab.broker import Mosquitto
from lab.fake_ami import FakeAmi


def schedstat(pid: int) -> tuple[float, int]:
    """(CPU seconds, times run) over every thread of ``pid``."""
    cpu, runs = 0, 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
        except OSError:
            continue  # a thread that just ended
        cpu += int(fields[0])
        runs += int(fields[2])
    return cpu / 1e9, runs


def host_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def wait_for_a_quiet_machine(limit: float = 0.05, longest: float = 120.0) -> float:
    """Sleep until the machine is busy less than ``limit`` of the time over 5 s (work
    just finished, such as a lab's teardown, made an idle vaxeld's wake-ups cost ten
    times more); returns the last share measured."""
    end = time.monotonic() + longest
    while True:
        b0, t0 = host_busy()
        time.sleep(5.0)
        b1, t1 = host_busy()
        share = (b1 - b0) / max(1, t1 - t0)
        if share < limit or time.monotonic() > end:
            return share


def as_configured(broker_port: int, queue_log: Path) -> tuple[str, Callable[[str], str]]:
    """MQTT and a queue_log to follow, as the example has them."""
    section = f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker_port}\n  topic_prefix: vaxeld\n"

    def edit(text: str) -> str:
        line = "    site: stadshuset\n"
        return text.replace(line, f"{line}    queue_log: {queue_log}\n", 1)

    return section, edit


def caller_joins() -> list[bytes]:
    """The first caller's entry and queue join from the real capture: a caller who then
    waits for as long as the measurement lasts."""
    frames = event_frames((ROOT / "bench" / "capture" / "ami-filtered.bin").read_bytes())
    join = next(i for i, f in enumerate(frames) if f.startswith(b"Event: QueueCallerJoin"))
    return frames[: join + 1]


async def measure(
    seconds: float,
    extra: str = "",
    edit: Callable[[str], str] = str,
    hours: bool = False,
    events: list[bytes] | None = None,
) -> dict[str, float]:
    ami = await FakeAmi().start()
    daemon = DaemonUnderTest(ami.port, extra, edit, always_open=not hours)
    try:
        await daemon.start()
        for frame in events or ():
            await ami.send(frame)
        await asyncio.sleep(5.0)  # start-up work done
        cpu0, runs0 = schedstat(daemon.pid)
        busy0, total0 = host_busy()
        await asyncio.sleep(seconds)
        cpu1, runs1 = schedstat(daemon.pid)
        busy1, total1 = host_busy()
        return {
            "cpu_seconds_per_hour": (cpu1 - cpu0) / seconds * 3600,
            "wakeups_per_hour": (runs1 - runs0) / seconds * 3600,
            "host_busy": (busy1 - busy0) / max(1, total1 - total0),
        }
    finally:
        daemon.stop()
        await ami.close()


def run(seconds: float = 60.0) -> dict[str, dict[str, float]]:
    wait_for_a_quiet_machine()
    plain = asyncio.run(measure(seconds))
    with tempfile.TemporaryDirectory(prefix="vaxeld-bench-idle-") as tmp:
        broker = Mosquitto(Path(tmp) / "mqtt").start()
        queue_log = Path(tmp) / "queue_log"
        queue_log.write_text("")
        try:
            extra, edit = as_configured(broker.port, queue_log)
            configured = asyncio.run(measure(seconds, extra, edit, hours=True))
            # At the city's rate most calls meet an idle vaxeld, and a caller who waits
            # has its queue's wait republished every wait_refresh_seconds.
            waiting = asyncio.run(measure(seconds, extra, edit, True, caller_joins()))
        finally:
            broker.stop()
    return {"plain": plain, "as configured": configured, "as configured, a caller waiting": waiting}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    for name, r in run(args.seconds).items():
        print(
            f"idle, {name}: {r['cpu_seconds_per_hour']:.2f} CPU s/hour, "
            f"{r['wakeups_per_hour']:,.0f} wake-ups/hour"
        )


if __name__ == "__main__":
    main()
