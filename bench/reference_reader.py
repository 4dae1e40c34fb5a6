"""The least a Python AMI client can do: log in (as vaxeld's run account, whose
eventfilter lines give it vaxeld's events) and split every event into a dict, on the
same event loop vaxeld uses (uvloop). Nothing else.

    python bench/reference_reader.py PORT USERNAME   # secret from VAXELD_AMI_SECRET

bench/asterisk_load.py runs it during the second phase of its call load (same call mix
and rate as the first, where vaxeld's CPU is measured), so the CPU a Python process
needs just to hear the same events on this machine is measured per event beside
vaxeld's: the floor any design in this language starts from.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import uvloop

from vaxeld.ami.codec import encode_action


class MinimalReader(asyncio.Protocol):
    """Split on blank lines, then on CRLF, build dicts: the reference parser's work."""

    def __init__(self) -> None:
        self.buf = b""
        self.events = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        *frames, self.buf = (self.buf + data).split(b"\r\n\r\n")
        for frame in frames:
            fields = {}
            for line in frame.decode("utf-8", "replace").split("\r\n"):
                key, _, value = line.partition(": ")
                fields[key] = value
            if "Event" in fields:
                self.events += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def main(port: int, username: str, secret: str) -> None:
    loop = asyncio.get_running_loop()
    transport, reader = await loop.create_connection(MinimalReader, "127.0.0.1", port)
    transport.write(
        encode_action(
            "Login", [("Username", username), ("Secret", secret), ("Events", "on")], "ref-1"
        )
    )
    loop.add_signal_handler(signal.SIGTERM, reader.connection_lost, None)  # stop like a close
    await reader.closed
    transport.close()
    print(reader.events, flush=True)


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(int(sys.argv[1]), sys.argv[2], os.environ["VAXELD_AMI_SECRET"]))
