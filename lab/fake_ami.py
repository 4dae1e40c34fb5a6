"""A scriptable fake AMI server, for fault tests and benchmarks only.

It answers Login (checking the secret), Ping (unless told to go quiet), QueueStatus for
``queues`` x ``members`` in Asterisk 22's format, DBGet and Getvar as "not found", any
action in ``custom`` as that function says, and everything else with Success; and it
sends whatever raw bytes it is given. Behaviour against Asterisk itself is tested on
the real Asterisk 22.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vaxeld.ami.codec import Decoder, Message

Reply = Callable[[Message], bytes | None]


def frame(pairs: Sequence[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


def response(msg: Message, **headers: str) -> bytes:
    lines = [("Response", headers.pop("Response", "Success")), ("ActionID", msg.action_id)]
    return frame(lines + list(headers.items()))


@dataclass
class FakeAmi:
    secret: str = "secret"
    queues: int = 0
    members: int = 0
    member_names: Sequence[str] = ()  # names of the first members (default "Agent NN")
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
        self.drop_clients()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def action_names(self) -> list[str]:
        return [m.get("Action") for m in self.actions]

    async def send(self, data: bytes) -> None:
        """Send raw bytes (whole frames or not) to every connected client."""
        for writer in [w for w in self.writers if not w.is_closing()]:
            writer.write(data)
            await writer.drain()

    def drop_clients(self) -> None:
        for writer in self.writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        decoder = Decoder(expect_greeting=False)  # clients send actions, no banner
        try:
            while data := await reader.read(65536):
                for msg in decoder.feed(data):
                    if not isinstance(msg, Message):
                        continue
                    self.actions.append(msg)
                    reply = self._reply(msg)
                    if reply:
                        writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client or the test is done
        finally:
            self.writers.remove(writer)
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
            return self._queue_status(msg.action_id)
        if action in ("DBGet", "Getvar"):
            return response(msg, Response="Error", Message="not found")
        return response(msg)

    def _member_name(self, m: int) -> str:
        return self.member_names[m] if m < len(self.member_names) else f"Agent {m:02d}"

    def _queue_status(self, aid: str) -> bytes:
        out = [
            frame(
                [
                    ("Response", "Success"),
                    ("ActionID", aid),
                    ("EventList", "start"),
                    ("Message", "Queue status will follow"),
                ]
            )
        ]
        for q in range(self.queues):
            queue = "sv" if self.queues == 1 else f"q{q:03d}"
            out.append(
                frame(
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
                    frame(
                        [
                            ("Event", "QueueMember"),
                            ("Queue", queue),
                            ("Name", self._member_name(m)),
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
            frame(
                [
                    ("Event", "QueueStatusComplete"),
                    ("ActionID", aid),
                    ("EventList", "Complete"),
                    ("ListItems", str(self.queues * (self.members + 1))),
                ]
            )
        )
        return b"".join(out)
