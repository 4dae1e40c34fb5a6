"""A scriptable fake AMI server for fault tests (garbage, stalls, refused logins).

Fakes are for faults only; behaviour against Asterisk itself is tested on the
real Asterisk 22 in test_e2e_asterisk.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from vaxeld.ami.codec import Decoder, Message

Reply = Callable[[Message], bytes | None]


def response(msg: Message, **headers: str) -> bytes:
    lines = [("Response", headers.pop("Response", "Success")), ("ActionID", msg.action_id)]
    lines += list(headers.items())
    return ("".join(f"{k}: {v}\r\n" for k, v in lines) + "\r\n").encode()


@dataclass
class FakeAmi:
    secret: str = "secret"
    answer_pings: bool = True
    actions: list[Message] = field(default_factory=list)
    connections: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    custom: dict[str, Reply] = field(default_factory=dict)
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> FakeAmi:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        for w in self.writers:
            w.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def action_names(self) -> list[str]:
        return [m.get("Action") for m in self.actions]

    async def send(self, data: bytes) -> None:
        """Send raw bytes to the newest client."""
        writer = self.writers[-1]
        writer.write(data)
        await writer.drain()

    def drop_clients(self) -> None:
        for w in self.writers:
            w.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        decoder = Decoder()
        decoder._expect_greeting = False
        try:
            while data := await reader.read(4096):
                for msg in decoder.feed(data):
                    if not isinstance(msg, Message):
                        continue
                    self.actions.append(msg)
                    reply = self._reply(msg)
                    if reply:
                        writer.write(reply)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _reply(self, msg: Message) -> bytes | None:
        action = msg.get("Action")
        if action in self.custom:
            return self.custom[action](msg)
        if action == "Login":
            if msg.get("Secret") != self.secret:
                return response(msg, Response="Error", Message="Authentication failed")
            return response(msg, Message="Authentication accepted")
        if action == "Ping":
            return response(msg, Ping="Pong") if self.answer_pings else None
        if action == "QueueStatus":
            aid = msg.action_id
            return (
                response(msg, EventList="start", Message="Queue status will follow")
                + f"Event: QueueParams\r\nQueue: sv\r\nActionID: {aid}\r\n\r\n".encode()
                + (
                    f"Event: QueueMember\r\nQueue: sv\r\nName: Åsa\r\nLocation: PJSIP/1\r\n"
                    f"Status: 1\r\nPaused: 0\r\nActionID: {aid}\r\n\r\n"
                ).encode()
                + (
                    f"Event: QueueStatusComplete\r\nEventList: Complete\r\nListItems: 2\r\n"
                    f"ActionID: {aid}\r\n\r\n"
                ).encode()
            )
        return response(msg)
