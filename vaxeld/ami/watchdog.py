"""Noticing a silent AMI connection: a Ping once Asterisk has said nothing for a while.

A stalled network (or a hung Asterisk) keeps the socket open and sends nothing; only an
unanswered request shows it. Bytes that arrive already prove the line alive, so a Ping
goes out only after ``interval`` seconds of silence, and no Pong within ``timeout``
ends the connection: a stall is noticed ``interval + timeout`` after the last byte.

Plain loop callbacks rather than a task: at the city's rate this is most of what an
idle vaxeld does, and a task that sleeps, sends and waits took five loop turns a round
where a timer and the Pong take two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

# A timer may fire this early (the loop's clock is coarser than time.monotonic()).
_EARLY = 0.01


class PingWatchdog:
    """Pings after ``interval`` s of silence; calls ``lost`` when a Ping goes unanswered
    for ``timeout`` s or cannot be sent. ``heard_at`` is when the last byte came, on the
    ``clock`` (monotonic seconds); ``send_ping`` writes a Ping and returns the future of
    its response (which fails when the connection goes)."""

    def __init__(
        self,
        interval: float,
        timeout: float,
        heard_at: Callable[[], float],
        send_ping: Callable[[], asyncio.Future[Any]],
        lost: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval, self.timeout = interval, timeout
        self._heard_at, self._send_ping, self._lost = heard_at, send_ping, lost
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._ping: asyncio.Future[Any] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._arm(self.interval - (self._clock() - self._heard_at()))

    def stop(self) -> None:
        for handle in (self._timer, self._deadline):
            if handle is not None:
                handle.cancel()
        self._timer = self._deadline = self._ping = None
        self._loop = None

    def _arm(self, delay: float) -> None:
        if self._loop is not None:
            self._timer = self._loop.call_later(max(delay, 0.0), self._due)

    def _due(self) -> None:
        self._timer = None
        quiet = self._clock() - self._heard_at()
        if quiet < self.interval - _EARLY:
            self._arm(self.interval - quiet)  # something came meanwhile: not silent yet
            return
        try:
            ping = self._send_ping()
        except ConnectionError as exc:
            self._lost(str(exc))
            return
        self._ping = ping
        assert self._loop is not None
        self._deadline = self._loop.call_later(self.timeout, self._missed)
        ping.add_done_callback(self._answered)

    def _answered(self, ping: asyncio.Future[Any]) -> None:
        if ping is not self._ping:
            return  # stopped meanwhile
        self._ping = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if ping.cancelled() or ping.exception() is not None:
            return  # the connection ended; whoever ended it says why
        self._arm(self.interval)

    def _missed(self) -> None:
        self._deadline = None
        self._ping = None
        self._lost(f"no answer to Ping within {self.timeout} s")
