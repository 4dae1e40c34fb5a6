"""What an AMI client built on panoramisk (the library vaxeld chose not to use) costs on
the same events: the peer bench/per_call.py runs beside vaxeld and the minimal reader.

    python bench/panoramisk_peer.py PORT USERNAME counter   # vaxeld's account, 3 events
    python bench/panoramisk_peer.py PORT lab all            # every event, no filter

``counter`` counts callers joining, leaving and abandoning, as a small queue exporter
would; ``all`` registers for every event, as open-source exporters on an unfiltered
account do. Both print the number of events they were handed when told to stop
(SIGTERM). The secret comes from VAXELD_AMI_SECRET. Bench-only: panoramisk is not a
dependency of vaxeld.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import uvloop
from panoramisk import Manager

COUNTED = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon")


async def main(port: int, username: str, mode: str, secret: str) -> None:
    loop = asyncio.get_running_loop()
    counts: dict[str, int] = {}
    manager = Manager(host="127.0.0.1", port=port, username=username, secret=secret, loop=loop)

    def count(_manager: Any, message: Any) -> None:
        name = message.get("Event", "")
        counts[name] = counts.get(name, 0) + 1

    for pattern in COUNTED if mode == "counter" else ("*",):
        manager.register_event(pattern, count)
    await manager.connect()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    manager.close()
    print(sum(counts.values()), flush=True)


if __name__ == "__main__":
    port, username, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(port, username, mode, os.environ["VAXELD_AMI_SECRET"]))
