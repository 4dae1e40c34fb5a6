"""One vaxeld following many PBXs: 1 and then 20 fake Asterisk servers, each replaying
the benchmark stream at the centre's peak call rate, into one real `vaxeld run`.

    python bench/many_pbxs.py [--pbxs 20] [--seconds 60]

Figures: vaxeld's CPU per second and per PBX, and its RSS per PBX (the growth from 1 to
20 PBXs, divided by the 19 added), with the same stream and rate per PBX.

The centre's peak rate: 2,000,000 calls a year in about 2,500 opening hours is 800 calls
an hour on average; the busiest hours bring some 2.5 times that, 0.56 calls a second.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from daemon_replay import DaemonUnderTest, cpu_seconds, event_frames

from lab.fake_ami import FakeAmi
from lab.vaxeld_process import total

ROOT = Path(__file__).resolve().parents[1]
PEAK_CALLS_PER_SECOND = 2_000_000 / 2_500 / 3600 * 2.5


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def more_pbxs(ports: list[int]) -> Callable[[str], str]:
    """A config edit: PBXs p2, p3, ... on ``ports``, beside the first."""

    def edit(text: str) -> str:
        extra = "".join(
            f"  - name: p{i}\n    host: 127.0.0.1\n    port: {port}\n    username: vaxeld\n"
            f"    secret_env: VAXELD_AMI_SECRET\n    site: site{i}\n"
            for i, port in enumerate(ports, 2)
        )
        return text.replace("\nmetrics:\n", f"{extra}\nmetrics:\n", 1)

    return edit


async def run(pbxs: int, seconds: float, frames: list[bytes], calls: int) -> dict[str, float]:
    servers = [await FakeAmi().start() for _ in range(pbxs)]
    daemon = DaemonUnderTest(servers[0].port, edit=more_pbxs([s.port for s in servers[1:]]))
    rate = PEAK_CALLS_PER_SECOND * len(frames) / calls  # events per second per PBX
    try:
        await daemon.start()
        proc = daemon.process
        await asyncio.to_thread(
            proc.wait_for, lambda m: total(m, "vaxeld_state_synced") == pbxs, 60
        )
        await asyncio.sleep(3.0)
        events0 = total(proc.scrape(), "vaxeld_ami_events_total")
        rss_before = rss_mb(daemon.pid)
        cpu0 = cpu_seconds(daemon.pid)
        start = time.monotonic()
        sent = [0] * pbxs

        async def feed(i: int, server: FakeAmi) -> None:
            # Each PBX its own place in the stream and its own phase in time, so that
            # their events do not arrive in lockstep (that would flatter the CPU figure).
            offset, phase = i * len(frames) // pbxs, i / (pbxs * rate)
            while (due := start + phase + sent[i] / rate) < start + seconds:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await server.send(frames[(offset + sent[i]) % len(frames)])
                sent[i] += 1

        await asyncio.gather(*(feed(i, server) for i, server in enumerate(servers)))
        elapsed = time.monotonic() - start
        cpu = cpu_seconds(daemon.pid) - cpu0
        await asyncio.sleep(1.0)
        heard = total(proc.scrape(), "vaxeld_ami_events_total") - events0
        assert heard >= sum(sent), f"sent {sum(sent)} events, vaxeld heard {heard}"
        return {
            "pbxs": pbxs,
            "events_per_second_per_pbx": rate,
            "cpu_per_second": cpu / elapsed,
            "rss_mb": rss_mb(daemon.pid),
            "rss_before_mb": rss_before,
        }
    finally:
        daemon.stop()
        for server in servers:
            await server.close()


def load(events: int = 0) -> tuple[list[bytes], int]:
    capture = ROOT / "bench" / "capture" / "ami-filtered.bin"
    if capture.exists():
        stream = capture.read_bytes()
        calls = max(1, stream.count(b"UserEvent: VaxeldEntry"))
    else:
        from replay import synthetic_chunks

        calls = 1000
        stream = b"".join(synthetic_chunks(calls))
    return event_frames(stream), calls


def rows(pbxs: int = 20, seconds: float = 60.0) -> list[tuple[str, str, str, bool]]:
    frames, calls = load()
    one = asyncio.run(run(1, seconds, frames, calls))
    many = asyncio.run(run(pbxs, seconds, frames, calls))
    per_pbx_cpu = many["cpu_per_second"] / pbxs
    per_pbx_rss = (many["rss_mb"] - one["rss_mb"]) / (pbxs - 1)
    return [
        (
            f"{pbxs} PBXs at the centre's peak rate each",
            f"CPU {many['cpu_per_second'] * 100:.1f} % of a core in all, "
            f"{per_pbx_cpu * 1000:.1f} ms/s per PBX (1 PBX: {one['cpu_per_second'] * 1000:.1f} "
            f"ms/s); {one['events_per_second_per_pbx']:.1f} events/s per PBX",
            "(reported)",
            True,
        ),
        (
            f"{pbxs} PBXs: memory",
            f"RSS {many['rss_mb']:.1f} MB ({one['rss_mb']:.1f} MB with 1): "
            f"{per_pbx_rss:.2f} MB per PBX added",
            "(reported)",
            True,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pbxs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    for name, figure, _, _ in rows(args.pbxs, args.seconds):
        print(f"{name}: {figure}")


if __name__ == "__main__":
    main()
