"""vaxeld.mqtt.commands without a broker: what a command message is answered."""

from __future__ import annotations

import json
from typing import Any

import aiomqtt

from vaxeld.mqtt.commands import COMMAND_BURST, MAX_COMMAND_BYTES, CommandAnswerer
from vaxeld.ratelimit import TokenBucket


def message(payload: bytes, retain: bool = False) -> aiomqtt.Message:
    return aiomqtt.Message("vaxeld/cmd/crisis/on", payload, 1, retain, 1, None)


async def test_commands_are_carried_out_and_every_failure_is_answered() -> None:
    done: list[tuple[str, dict[str, Any]]] = []

    async def command(name: str, body: dict[str, Any]) -> str:
        done.append((name, body))
        if body.get("fail"):
            raise RuntimeError("Asterisk said no")
        return "1 action(s) done on main"

    answerer = CommandAnswerer(command)
    body = json.dumps({"request_id": "r1", "sender": "ops"}).encode()
    reply = await answerer.answer("crisis/on", message(body))
    assert reply == {
        "command": "crisis/on",
        "request_id": "r1",
        "result": "1 action(s) done on main",
        "ok": True,
    }
    failed = await answerer.answer("crisis/on", message(b'{"fail": true}'))
    assert failed is not None and failed["ok"] is False and failed["error"] == "Asterisk said no"
    for bad, why in ((b"[1]", "JSON object"), (b"x" * (MAX_COMMAND_BYTES + 1), "at most")):
        reply = await answerer.answer("crisis/on", message(bad))
        assert reply is not None and reply["ok"] is False and why in reply["error"]
    assert len(done) == 2  # the bad ones never reached the daemon
    assert answerer.counts == {"crisis/on": 1, "failed": 3}


async def test_retained_commands_are_ignored_and_a_flood_is_cut() -> None:
    async def command(name: str, body: dict[str, Any]) -> str:
        return "done"

    answerer = CommandAnswerer(command)
    assert await answerer.answer("crisis/on", message(b"{}", retain=True)) is None
    answerer.allowed = TokenBucket(5.0, COMMAND_BURST, lambda: 0.0)  # time stands still
    replies = [await answerer.answer("crisis/off", message(b"{}")) for _ in range(50)]
    assert sum(r is not None for r in replies) == COMMAND_BURST
    assert answerer.counts == {
        "retained_ignored": 1,
        "crisis/off": COMMAND_BURST,
        "rate_limited": 50 - COMMAND_BURST,
    }
