"""Replay AMI traffic through vaxeld's own path (codec + reducer + ledger + metrics).

Used by bench/run.py for throughput, in-process latency and memory. The stream is
either a capture recorded from real Asterisk (bench/run.py makes one) or built from
Asterisk 22's event format for answered and abandoned queue calls.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from codec_throughput import ABANDONED, ANSWERED

from vaxeld.ami.codec import Decoder, Message
from vaxeld.config import load_config
from vaxeld.metrics import Metrics
from vaxeld.state.core import PbxCore

ROOT = Path(__file__).resolve().parents[1]
READ_SIZE = 256_000
CONFIG = load_config(ROOT / "config" / "vaxeld.example.yaml")


def synthetic_chunks(calls: int, per_chunk: int = 1000) -> Iterator[bytes]:
    """The stream of ``calls`` calls, a chunk at a time (1 M calls do not fit in memory)."""
    for start in range(0, calls, per_chunk):
        parts = []
        for n in range(start, min(calls, start + per_chunk)):
            template = ABANDONED if n % 5 == 0 else ANSWERED
            parts.append(template.format(n=n, uid=f"1700000000.{n}"))
        yield "".join(parts).encode()


class Pipeline:
    """vaxeld's per-event work, without sockets: what the daemon does for each read
    (the same PbxCore the tracker feeds)."""

    def __init__(self) -> None:
        self.core = PbxCore("main")
        # The metrics' clock follows the replay's time, as the daemon's follows the real
        # one: the last half hour of calls (staffing) is then what it would be.
        self.metrics = Metrics(CONFIG, lambda: [], clock=lambda: self.now)
        self.decoder = Decoder()
        self.events = 0
        self.now = 0.0

    def feed(self, data: bytes, seconds_per_event: float = 0.0) -> None:
        for item in self.decoder.feed(data):
            if isinstance(item, Message):
                self.now += seconds_per_event
                changes = self.core.on_event(item, self.now)
                if changes:
                    self.metrics.record("main", changes)
                if changes is not None:
                    self.changed()
                self.events += 1

    def changed(self) -> None:
        """After an event that changed the state (the MQTT build hooks in here)."""


def rss_mb() -> float:
    """Resident set size now, in MB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_after(calls: int) -> tuple[float, int, int]:
    """RSS after replaying ``calls`` calls, at one call every 20 s of simulated time
    (about 1.5 M calls a year): finished calls must not accumulate."""
    pipe = Pipeline()
    for chunk in synthetic_chunks(calls):
        # In reads no larger than the daemon's (uvloop reads up to 256 000 bytes).
        for i in range(0, len(chunk), READ_SIZE):
            pipe.feed(chunk[i : i + READ_SIZE], seconds_per_event=20.0 / 7)
    return rss_mb(), len(pipe.core.state.calls), len(pipe.core.ledger)


if __name__ == "__main__":
    # Run in a fresh process per figure, so one measurement does not inherit another's heap.
    n = int(sys.argv[1])
    t0 = time.perf_counter()
    rss, live, ledger = memory_after(n)
    print(f"{n} {rss:.1f} {live} {ledger} {time.perf_counter() - t0:.1f}")
