"""Jittered exponential backoff, for every connection vaxeld keeps up (AMI, MQTT).

Pure: the random source is passed in, so tests can fix it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator


def backoff_delays(base: float, cap: float, rng: random.Random) -> Iterator[float]:
    """Exponential backoff with jitter: uniform(base / 2, min(cap, base * 2**n))."""
    for attempt in itertools.count():
        yield rng.uniform(base / 2, min(cap, base * 2 ** min(attempt, 30)))
