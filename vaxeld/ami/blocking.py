"""A small blocking AMI client for one-shot commands (`vaxeld crisis`, `vaxeld agent`)
and the lab. Built on vaxeld's own codec; it logs in with events off, so it only
ever sees answers to its own actions.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import time
from collections.abc import Iterable

from vaxeld.ami.codec import Decoder, Message, encode_action
from vaxeld.ami.session import MAX_LIST_ITEMS
from vaxeld.commands import Action, Plan, Reply, carry_out
from vaxeld.config import Config, PbxConfig
from vaxeld.config.load import read_command_account
from vaxeld.contract import CRISIS_FAMILY, CRISIS_MESSAGE_KEY, CRISIS_MODE_KEY


class AmiCommandError(RuntimeError):
    """Asterisk answered an action with Response: Error."""


class BlockingAmi:
    """Every action has ``timeout`` seconds in all for its answer: a peer that keeps
    sending other things (events, garbage) does not keep the command waiting."""

    def __init__(
        self, host: str, port: int, username: str, secret: str, timeout: float = 10.0
    ) -> None:
        self._timeout = timeout
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._decoder = Decoder()
        self._ids = itertools.count(1)
        self._backlog: list[Message] = []
        reply = self.action(
            "Login", [("Username", username), ("Secret", secret), ("Events", "off")]
        )
        if reply.response != "Success":
            raise AmiCommandError(f"AMI login failed: {reply.get('Message')}")

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> BlockingAmi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_until(self, action_id: str, until_event: str | None) -> list[Message]:
        got: list[Message] = []
        deadline = time.monotonic() + self._timeout
        while True:
            pending, self._backlog = self._backlog, []
            for msg in pending:
                if msg.action_id != action_id:
                    continue
                got.append(msg)
                if "Response" in msg and (until_event is None or msg.response == "Error"):
                    return got
                if until_event is not None and msg.event == until_event:
                    return got
            left = deadline - time.monotonic()
            late = TimeoutError(f"no complete answer from Asterisk within {self._timeout:g} s")
            if left <= 0 or len(got) > MAX_LIST_ITEMS:
                raise late
            self._sock.settimeout(left)
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                raise late from None
            if not data:
                raise ConnectionError("AMI connection closed by Asterisk")
            self._backlog = [m for m in self._decoder.feed(data) if isinstance(m, Message)]

    def action(self, name: str, headers: Iterable[tuple[str, str]] = ()) -> Message:
        action_id = f"vaxeld-cli-{next(self._ids)}"
        self._sock.sendall(encode_action(name, list(headers), action_id))
        return self._read_until(action_id, None)[-1]

    def list_action(
        self, name: str, complete_event: str, headers: Iterable[tuple[str, str]] = ()
    ) -> list[Message]:
        action_id = f"vaxeld-cli-{next(self._ids)}"
        self._sock.sendall(encode_action(name, list(headers), action_id))
        return [m for m in self._read_until(action_id, complete_event) if "Event" in m]


def crisis_status(ami: BlockingAmi) -> dict[str, str]:
    """The crisis switch's AstDB keys as they are now ("" when a key is not set)."""
    out = {}
    for key in (CRISIS_MODE_KEY, CRISIS_MESSAGE_KEY):
        items = ami.list_action("DBGet", "DBGetComplete", [("Family", CRISIS_FAMILY), ("Key", key)])
        values = [m.get("Val") for m in items if m.event == "DBGetResponse"]
        out[key] = values[0] if values else ""
    return out


def carry_out_blocking(
    config: Config, plan: Plan, environ: dict[str, str], timeout: float = 10.0
) -> list[str]:
    """A command's plan over one blocking connection per PBX, with each PBX's command
    account: what `vaxeld crisis` and `vaxeld agent` do, and what the daemon does (in a
    thread) for an MQTT command, so both have the same scope, rights and errors."""
    pbxs = {p.name: p for p in config.pbxs}
    with contextlib.ExitStack() as stack:
        connected: dict[str, BlockingAmi] = {}

        def send(pbx: str, action: Action) -> Reply:
            if pbx not in connected:
                connected[pbx] = stack.enter_context(
                    command_connection(pbxs[pbx], environ, timeout)
                )
            return connected[pbx].action(*action)

        return carry_out(plan, send)


def command_connection(pbx: PbxConfig, environ: dict[str, str], timeout: float) -> BlockingAmi:
    username, secret = read_command_account(pbx, environ)
    return BlockingAmi(pbx.host, pbx.port, username, secret, timeout)
