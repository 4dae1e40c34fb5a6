"""MQTT commands: a message on ``<prefix>/cmd/<name>`` checked (size, JSON object,
not retained), rate-limited for all clients together, carried out by the daemon's
command function, and answered (``ok``, ``result`` or ``error``) for the bridge to publish
on ``<prefix>/reply``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import structlog

from vaxeld.ratelimit import LogLimiter, TokenBucket

log = structlog.get_logger("vaxeld.mqtt")

MAX_COMMAND_BYTES = 4096
MAX_ERROR_CHARS = 300
# Commands are people acting: a burst of 20, then 5 a second, for all clients together
# (MQTT 3.1.1 does not say who published, so there is no client to count per).
COMMANDS_PER_SECOND, COMMAND_BURST = 5.0, 20.0

Command = Callable[[str, dict[str, Any]], Awaitable[str]]


class CommandAnswerer:
    """Answers commands and counts them: by command, failed, rate_limited and
    retained_ignored."""

    def __init__(self, command: Command) -> None:
        self._command = command
        self.counts: dict[str, int] = {}
        self.allowed = TokenBucket(COMMANDS_PER_SECOND, COMMAND_BURST)
        self._log_limit = LogLimiter()

    async def answer(self, name: str, message: aiomqtt.Message) -> dict[str, Any] | None:
        """The reply to the command ``name`` (None: none is due: a retained message,
        or over the rate). Any failure is answered, never raised."""
        if message.retain:
            # A retained command is the broker replaying an old one (after a restart of
            # either side): acting on it would undo what was done since, e.g. turn the
            # crisis switch on again after a `crisis off`.
            self._count("retained_ignored")
            if self._log_limit.allow("retained") is not None:
                log.warning("mqtt_command_retained_ignored", command=name)
            return None
        if not self.allowed.take():
            self._count("rate_limited")
            dropped = self._log_limit.allow("rate")
            if dropped is not None:
                log.warning("mqtt_commands_rate_limited", command=name, not_logged_since=dropped)
            return None
        reply: dict[str, Any] = {"command": name}
        sender = ""
        try:
            raw = message.payload if isinstance(message.payload, bytes) else b"{}"
            if len(raw) > MAX_COMMAND_BYTES:
                raise ValueError(f"the payload is {len(raw)} bytes; at most {MAX_COMMAND_BYTES}")
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the payload must be a JSON object")
            reply["request_id"] = str(body.get("request_id", ""))[:64]
            # MQTT 3.1.1 does not tell who published; a client may say so itself.
            sender = str(body.get("sender", ""))[:64]
            reply["result"] = await self._command(name, body)
            reply["ok"] = True
        except Exception as exc:  # any failure is answered, never fatal
            reply["ok"] = False
            reply["error"] = (str(exc) or type(exc).__name__)[:MAX_ERROR_CHARS]
        self._count(name if reply["ok"] else "failed")
        log.info(
            "mqtt_command",
            command=name,
            ok=reply["ok"],
            error=reply.get("error"),
            request_id=reply.get("request_id", ""),
            sender=sender,
        )
        return reply

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
