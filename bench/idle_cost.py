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
from collections.abc import Callable
from pathlib import Path

from daemon_replay import DaemonUnderTest

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


def as_configured(broker_port: int, queue_log: Path) -> tuple[str, Callable[[str], str]]:
    """MQTT and a queue_log to follow, as the example has them."""
    section = f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker_port}\n  topic_prefix: vaxeld\n"

    def edit(text: str) -> str:
        line = "    site: stadshuset\n"
        return text.replace(line, f"{line}    queue_log: {queue_log}\n", 1)

    return section, edit


async def measure(
    seconds: float, extra: str = "", edit: Callable[[str], str] = str, hours: bool = False
) -> dict[str, float]:
    ami = await FakeAmi().start()
    daemon = DaemonUnderTest(ami.port, extra, edit, always_open=not hours)
    try:
        await daemon.start()
        await asyncio.sleep(5.0)  # start-up work done
        cpu0, runs0 = schedstat(daemon.pid)
        await asyncio.sleep(seconds)
        cpu1, runs1 = schedstat(daemon.pid)
        return {
            "cpu_seconds_per_hour": (cpu1 - cpu0) / seconds * 3600,
            "wakeups_per_hour": (runs1 - runs0) / seconds * 3600,
        }
    finally:
        daemon.stop()
        await ami.close()


def run(seconds: float = 60.0) -> dict[str, dict[str, float]]:
    plain = asyncio.run(measure(seconds))
    with tempfile.TemporaryDirectory(prefix="vaxeld-bench-idle-") as tmp:
        broker = Mosquitto(Path(tmp) / "mqtt").start()
        queue_log = Path(tmp) / "queue_log"
        queue_log.write_text("")
        try:
            extra, edit = as_configured(broker.port, queue_log)
            configured = asyncio.run(measure(seconds, extra, edit, hours=True))
        finally:
            broker.stop()
    return {"plain": plain, "as configured": configured}


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
