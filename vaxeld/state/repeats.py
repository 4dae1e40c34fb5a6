"""Repeat callers: a caller whose number called the centre within the window before.

Caller numbers are personal data: the window keeps only a keyed hash of each (HMAC-SHA256
with the city's own key, its first 64 bits), the time of its last call and that call's
Uniqueid, and forgets it once the window has passed. Numbers that are not numbers
(anonymous, withheld, "unknown", empty) are never grouped. Pure: time comes from the
caller (Unix seconds, as queue_log has them).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from vaxeld.state.changes import CallOffered, CallRepeated, Change

# A caller number that can be grouped: digits, perhaps a leading +.
GROUPABLE = re.compile(r"\+?[0-9]{3,20}")
REPEAT, CALLBACK = "repeat", "callback"


class CallerKey:
    """The keyed hash of caller numbers. The same function hashes them in the history
    store (vaxeld.history.store does it in SQL and a test holds the two equal)."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the caller key is empty")
        self._key = key

    def digest(self, number: str) -> int | None:
        """The hash of ``number`` (its first 64 bits, as a number: plenty to tell a city's
        callers apart, and cheap to group by), or None when it is no number to group by."""
        if not GROUPABLE.fullmatch(number):
            return None
        mac = hmac.new(self._key, number.encode("ascii"), hashlib.sha256).hexdigest()
        return int(mac[:16], 16)

    def fingerprint(self) -> str:
        """Names the key without giving it away (to notice that it changed)."""
        return hashlib.sha256(b"vaxeld caller key\0" + self._key).hexdigest()[:16]

    def pads(self) -> tuple[bytes, bytes]:
        """HMAC's inner and outer padded keys, for computing it where only SHA-256 is."""
        key = self._key if len(self._key) <= 64 else hashlib.sha256(self._key).digest()
        key = key.ljust(64, b"\0")
        return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


@dataclass
class RepeatWindow:
    key: CallerKey
    window_seconds: float
    callback_seconds: float
    known_since: float | None = None  # from when calls are known (queue_log or start)
    _last: dict[int, tuple[float, str]] = field(default_factory=dict)  # hash -> (time, uid)
    _pruned_at: float = 0.0

    def learn(self, number: str, when: float, uniqueid: str) -> None:
        """A call from before (queue_log read at start): remembered, not counted."""
        digest = self.key.digest(number)
        if digest is not None:
            self._remember(digest, when, uniqueid)
        if self.known_since is None or when < self.known_since:
            self.known_since = when

    def check(self, number: str, when: float, uniqueid: str) -> str | None:
        """repeat, callback or None for a caller's first queue at ``when``."""
        if self.known_since is None:
            self.known_since = when
        digest = self.key.digest(number)
        if digest is None:
            return None
        earlier = self._last.get(digest)
        self._remember(digest, when, uniqueid)
        if earlier is None or earlier[1] == uniqueid:
            return None
        ago = when - earlier[0]
        if ago < 0 or ago > self.window_seconds:
            return None
        return CALLBACK if ago <= self.callback_seconds else REPEAT

    def repeated(
        self, changes: Iterable[Change], when: dict[str, float], now: float
    ) -> list[Change]:
        """CallRepeated for each counted first offer in ``changes`` that is a repeat;
        ``when`` gives the time of those from queue_log lines (else ``now``)."""
        out: list[Change] = []
        for ch in changes:
            if isinstance(ch, CallOffered) and ch.first and ch.number:
                kind = self.check(ch.number, when.get(ch.uniqueid, now), ch.uniqueid)
                if kind is not None:
                    out.append(CallRepeated(ch.queue, ch.uniqueid, kind, ch.entry))
        return out

    def known_seconds(self, now: float) -> float:
        """How far back callers are known (at most the window): below the window, a
        repeat caller whose first call was earlier is not seen as one."""
        if self.known_since is None:
            return 0.0
        return max(0.0, min(self.window_seconds, now - self.known_since))

    def __len__(self) -> int:
        return len(self._last)

    def _remember(self, digest: int, when: float, uniqueid: str) -> None:
        old = self._last.get(digest)
        if old is None or when >= old[0]:
            self._last[digest] = (when, uniqueid)
        if when - self._pruned_at > 3600:
            self._pruned_at = when
            cut = when - self.window_seconds
            for d in [d for d, (t, _) in self._last.items() if t < cut]:
                del self._last[d]
