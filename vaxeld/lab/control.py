"""A blocking AMI client for driving a lab Asterisk: originate callers, set AstDB.

Built on vaxeld's own codec; it logs in with events off, so it only ever sees
answers to its own actions.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterable

from vaxeld.ami.codec import Decoder, Greeting, Message, encode_action


class LabControl:
    def __init__(
        self, host: str, port: int, username: str, secret: str, timeout: float = 10.0
    ) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._decoder = Decoder()
        self._ids = itertools.count(1)
        self._backlog: list[Message] = []
        reply = self.action(
            "Login", [("Username", username), ("Secret", secret), ("Events", "off")]
        )
        if reply.response != "Success":
            raise RuntimeError(f"lab AMI login failed: {reply.get('Message')}")

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> LabControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_until(self, action_id: str, until_event: str | None) -> list[Message]:
        got: list[Message] = []
        while True:
            pending, self._backlog = self._backlog, []
            for msg in pending:
                if msg.action_id != action_id:
                    continue
                got.append(msg)
                if until_event is None and "Response" in msg:
                    return got
                if until_event is not None and msg.event == until_event:
                    return got
            data = self._sock.recv(65536)
            if not data:
                raise ConnectionError("lab AMI connection closed")
            self._backlog = [m for m in self._decoder.feed(data) if isinstance(m, Message)]
            self._backlog = [m for m in self._backlog if not isinstance(m, Greeting)]

    def action(self, name: str, headers: Iterable[tuple[str, str]] = ()) -> Message:
        action_id = f"lab-{next(self._ids)}"
        self._sock.sendall(encode_action(name, list(headers), action_id))
        return self._read_until(action_id, None)[-1]

    def list_action(
        self, name: str, complete_event: str, headers: Iterable[tuple[str, str]] = ()
    ) -> list[Message]:
        action_id = f"lab-{next(self._ids)}"
        self._sock.sendall(encode_action(name, list(headers), action_id))
        return [m for m in self._read_until(action_id, complete_event) if "Event" in m]

    def db_put(self, family: str, key: str, value: str) -> None:
        self.action("DBPut", [("Family", family), ("Key", key), ("Val", value)])

    def set_agent(self, agent_id: str, answer_after: float, talk: float) -> None:
        """Make lab agent Local/<agent_id>@vaxeld-lab-agents answer and talk as given."""
        self.db_put("vaxlab/answer", agent_id, f"{answer_after:g}")
        self.db_put("vaxlab/talk", agent_id, f"{talk:g}")

    def call(
        self,
        entry: str,
        digits: str,
        patience: float,
        delay: float = 1.0,
        caller_id: str = "0701234567",
    ) -> Message:
        """Place a simulated caller on the entry number; it presses ``digits`` and waits
        ``patience`` seconds in all before hanging up (unless the call ends first)."""
        headers = [
            ("Channel", "Local/caller@vaxeld-lab-callers/n"),
            ("Context", "vaxeld-entry"),
            ("Exten", entry),
            ("Priority", "1"),
            ("Async", "true"),
            ("CallerID", f"Lab <{caller_id}>"),
            ("Variable", f"VAXLAB_DIGITS={digits}"),
            ("Variable", f"VAXLAB_PATIENCE={patience:g}"),
            ("Variable", f"VAXLAB_DELAY={delay:g}"),
        ]
        return self.action("Originate", headers)
