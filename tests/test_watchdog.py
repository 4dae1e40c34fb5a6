"""vaxeld.ami.watchdog: a Ping only after silence, and a lost connection when none is
answered. The clock the watchdog reads is the test's: "silence" is what the test says,
and the loop's timers only decide when the watchdog looks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from vaxeld.ami.watchdog import PingWatchdog


class Line:
    """A connection as the watchdog sees it: when it last heard a byte, the Pings it
    wrote (answered or not, as the test decides) and why it was given up."""

    def __init__(self) -> None:
        self.now = 100.0
        self.heard = 100.0
        self.looks = 0  # how often the watchdog read the clock: it looked
        self.pings: list[asyncio.Future[Any]] = []
        self.lost: list[str] = []
        self.answer = True
        self.broken = False

    def clock(self) -> float:
        self.looks += 1
        return self.now

    def send_ping(self) -> asyncio.Future[Any]:
        if self.broken:
            raise ConnectionError("not connected to Asterisk")
        ping: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pings.append(ping)
        if self.answer:
            ping.get_loop().call_soon(ping.set_result, "Pong")
        return ping

    def watchdog(self, interval: float = 0.02, timeout: float = 0.02) -> PingWatchdog:
        return PingWatchdog(
            interval, timeout, lambda: self.heard, self.send_ping, self.lost.append, self.clock
        )


def silent(line: Line, timeout: float = 0.02) -> PingWatchdog:
    """A watchdog started on a line that has been silent for a second."""
    dog = line.watchdog(timeout=timeout)
    line.now += 1.0
    dog.start()
    return dog


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_a_line_that_stays_silent_is_pinged_again_after_each_pong() -> None:
    line = Line()
    dog = silent(line)
    await until(lambda: len(line.pings) >= 3)
    dog.stop()
    assert line.lost == [] and all(p.done() for p in line.pings)


async def test_no_ping_while_bytes_keep_coming() -> None:
    line = Line()
    dog = line.watchdog()
    dog.start()
    # Every look finds a byte just heard: the line is busy, a Ping would prove nothing.
    await until(lambda: line.looks >= 6)
    assert line.pings == []
    line.now += 1.0  # then silence
    await until(lambda: len(line.pings) == 1)
    dog.stop()
    assert line.lost == []


async def test_an_unanswered_ping_gives_the_connection_up_once() -> None:
    line = Line()
    line.answer = False
    dog = silent(line)
    await until(lambda: bool(line.lost))
    assert line.lost == ["no answer to Ping within 0.02 s"]
    assert len(line.pings) == 1  # and no second Ping on a line already given up
    dog.stop()


async def test_a_ping_that_cannot_be_written_gives_the_connection_up() -> None:
    line = Line()
    line.broken = True
    dog = silent(line)
    await until(lambda: bool(line.lost))
    assert line.lost == ["not connected to Asterisk"]
    dog.stop()


async def test_a_ping_failed_by_the_connection_ending_is_left_to_whoever_ended_it() -> None:
    line = Line()
    line.answer = False
    dog = silent(line, timeout=60.0)
    await until(lambda: len(line.pings) == 1)
    line.pings[0].set_exception(ConnectionError("connection closed by Asterisk"))
    looks = line.looks
    await asyncio.sleep(0.1)  # five intervals: nothing more may happen
    assert line.lost == [] and len(line.pings) == 1 and line.looks == looks
    dog.stop()


async def test_stop_ends_every_timer() -> None:
    line = Line()
    line.answer = False
    dog = silent(line)
    await until(lambda: len(line.pings) == 1)
    dog.stop()
    await asyncio.sleep(0.1)
    assert line.lost == [] and len(line.pings) == 1
    line.pings[0].set_result("Pong")  # a late answer after stop re-arms nothing
    await asyncio.sleep(0.05)
    assert len(line.pings) == 1
