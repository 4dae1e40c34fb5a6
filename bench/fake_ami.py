"""A fake AMI server for the benchmarks: answers QueueStatus for many queues and members
in Asterisk 22's format (resync), and sends whatever events it is given (the daemon
replay and latency benchmarks). Fakes are for benchmarks and faults only."""

from __future__ import annotations

import asyncio

from vaxeld.ami.codec import Decoder, Message


def _frame(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"


class QueueStatusServer:
    def __init__(self, queues: int = 0, members: int = 0) -> None:
        self.queues, self.members = queues, members
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> QueueStatusServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def send(self, data: bytes) -> None:
        """Send ``data`` (whole AMI frames) to every connected client."""
        for writer in self.writers:
            writer.write(data)
            await writer.drain()

    def _queue_status(self, aid: str) -> bytes:
        out = [
            _frame(
                [
                    ("Response", "Success"),
                    ("ActionID", aid),
                    ("EventList", "start"),
                    ("Message", "Queue status will follow"),
                ]
            )
        ]
        for q in range(self.queues):
            queue = f"q{q:03d}"
            out.append(
                _frame(
                    [
                        ("Event", "QueueParams"),
                        ("Queue", queue),
                        ("Max", "0"),
                        ("Strategy", "rrmemory"),
                        ("Calls", "0"),
                        ("Holdtime", "0"),
                        ("TalkTime", "0"),
                        ("Completed", "0"),
                        ("Abandoned", "0"),
                        ("ServiceLevel", "20"),
                        ("ServicelevelPerf", "0.0"),
                        ("ServicelevelPerf2", "0.0"),
                        ("Weight", "0"),
                        ("ActionID", aid),
                    ]
                )
            )
            for m in range(self.members):
                out.append(
                    _frame(
                        [
                            ("Event", "QueueMember"),
                            ("Queue", queue),
                            ("Name", f"Agent {m:02d}"),
                            ("Location", f"PJSIP/agent{m:04d}"),
                            ("StateInterface", f"PJSIP/agent{m:04d}"),
                            ("Membership", "static"),
                            ("Penalty", "0"),
                            ("CallsTaken", "0"),
                            ("LastCall", "0"),
                            ("LastPause", "0"),
                            ("LoginTime", "1795420843"),
                            ("InCall", "0"),
                            ("Status", "1"),
                            ("Paused", "0"),
                            ("PausedReason", ""),
                            ("Wrapuptime", "0"),
                            ("ActionID", aid),
                        ]
                    )
                )
        out.append(
            _frame(
                [
                    ("Event", "QueueStatusComplete"),
                    ("ActionID", aid),
                    ("EventList", "Complete"),
                    ("ListItems", str(self.queues * (self.members + 1))),
                ]
            )
        )
        return "".join(out).encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        decoder = Decoder()
        self.writers.append(writer)
        try:
            while data := await reader.read(65536):
                for msg in decoder.feed(data):
                    if not isinstance(msg, Message):
                        continue
                    action, aid = msg.get("Action"), msg.action_id
                    if action == "QueueStatus":
                        writer.write(self._queue_status(aid))
                    elif action in ("DBGet", "Getvar"):
                        writer.write(
                            _frame(
                                [("Response", "Error"), ("ActionID", aid), ("Message", "not found")]
                            ).encode()
                        )
                    else:
                        writer.write(_frame([("Response", "Success"), ("ActionID", aid)]).encode())
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the benchmark is over
        finally:
            self.writers.remove(writer)
            writer.close()
