"""Rates that bound what a peer can make vaxeld do: a token bucket, and a log limiter
built on it. Pure: the clock is passed in.

A peer sending garbage used to get one warning line per bad frame (620 KB in, 3.2 MB
of logs out); an MQTT client could have 5,000 QueuePause actions sent in 2.7 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``burst`` at once, then ``rate`` per second."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class LogLimiter:
    """Per kind of log line: the first ``burst`` through, then one per ``1 / rate``
    seconds. ``allow`` returns None for a line to drop, or how many were dropped since
    the last one let through (to say so in it)."""

    def __init__(
        self,
        rate: float = 0.1,
        burst: float = 10,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 256,
    ) -> None:
        self._rate, self._burst, self._clock, self._max = rate, burst, clock, max_kinds
        self._buckets: dict[str, TokenBucket] = {}
        self._dropped: dict[str, int] = {}

    def allow(self, kind: str) -> int | None:
        bucket = self._buckets.get(kind)
        if bucket is None:
            if len(self._buckets) >= self._max:
                kind = "other"  # kinds come from a peer too: bounded
                bucket = self._buckets.get(kind)
            if bucket is None:
                bucket = self._buckets[kind] = TokenBucket(self._rate, self._burst, self._clock)
        if bucket.take():
            return self._dropped.pop(kind, 0)
        self._dropped[kind] = self._dropped.get(kind, 0) + 1
        return None
