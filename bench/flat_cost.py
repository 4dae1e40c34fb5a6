"""An event's cost with 10, 1,000 and 10,000 callers waiting: it must not grow.

    python bench/flat_cost.py

vaxeld's own per-event path (codec, reducer, ledger, metrics: bench/replay.py's
Pipeline), first given N callers waiting in a queue (each joined, never answered), then
the benchmark stream; CPU per event of the stream alone, best of three rounds.
"""

from __future__ import annotations

import time

from codec_throughput import ABANDONED, ANSWERED
from replay import Pipeline

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


def per_event_us(waiting: int, data: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        pipe = Pipeline()
        pipe.feed(waiting_callers(waiting))
        before = pipe.events
        start = time.process_time()
        pipe.feed(data, seconds_per_event=0.01)
        spent = time.process_time() - start
        best = min(best, spent / (pipe.events - before) * 1e6)
    return best


def run() -> dict[int, float]:
    data = stream()
    return {n: per_event_us(n, data) for n in WAITING}


def rows() -> list[tuple[str, str, str, bool]]:
    r = run()
    low, high = r[WAITING[0]], r[WAITING[-1]]
    shown = ", ".join(f"{n:,} waiting: {us:.1f} us" for n, us in r.items())
    return [
        (
            "CPU per event with callers waiting",
            f"{shown} ({high / low:.2f}x from {WAITING[0]} to {WAITING[-1]:,})",
            "flat (<= 1.2x)",
            high / low <= 1.2,
        )
    ]


def main() -> None:
    for name, figure, target, ok in rows():
        print(f"{name}: {figure}  [{target}: {'yes' if ok else 'NO'}]")


if __name__ == "__main__":
    main()
