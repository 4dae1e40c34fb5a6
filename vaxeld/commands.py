"""Operator commands over AMI: the crisis switch and agent membership.

Every value is checked against the config before anything is sent: a crisis
message must be one the config names, an agent must be a configured member,
a pause reason must match a strict pattern. The actions themselves are built
by pure functions, so what is sent can be tested without Asterisk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from vaxeld.ami.blocking import AmiCommandError, BlockingAmi
from vaxeld.config import Config
from vaxeld.config.models import AgentGroupConfig, MemberConfig
from vaxeld.contract import CRISIS_FAMILY

REASON_RE = r"[\w .-]{1,40}"
CrisisMode = Literal["announce", "announce_only"]
Action = tuple[str, list[tuple[str, str]]]


class CommandError(ValueError):
    """The command cannot be carried out as asked; the message says why."""


def crisis_on_actions(config: Config, message: str, mode: CrisisMode) -> list[Action]:
    if message not in config.crisis.messages:
        known = ", ".join(config.crisis.messages) or "none configured"
        raise CommandError(f"unknown crisis message {message!r} (configured: {known})")
    if mode not in ("announce", "announce_only"):
        raise CommandError(f"mode must be announce or announce_only, not {mode!r}")
    # The message first: a caller arriving in between must never see a mode without one.
    return [
        ("DBPut", [("Family", CRISIS_FAMILY), ("Key", "message"), ("Val", message)]),
        ("DBPut", [("Family", CRISIS_FAMILY), ("Key", "mode"), ("Val", mode)]),
    ]


def crisis_off_actions() -> list[Action]:
    return [
        ("DBDel", [("Family", CRISIS_FAMILY), ("Key", "mode")]),
        ("DBDel", [("Family", CRISIS_FAMILY), ("Key", "message")]),
    ]


@dataclass(frozen=True)
class Agent:
    group_name: str
    group: AgentGroupConfig
    member: MemberConfig


def find_agent(config: Config, who: str) -> Agent:
    """A configured member by name (case-insensitive) or interface."""
    found = [
        Agent(gname, g, m)
        for gname, g in config.agent_groups.items()
        for m in g.members
        if who.casefold() in (m.name.casefold(), m.interface.casefold())
    ]
    if not found:
        raise CommandError(f"no agent {who!r} in agent_groups (give a name or an interface)")
    if len({a.member.interface for a in found}) > 1:
        raise CommandError(f"{who!r} matches several interfaces: give the interface")
    return found[0]


def agent_actions(config: Config, who: str, verb: str, reason: str | None = None) -> list[Action]:
    agent = find_agent(config, who)
    interface = agent.member.interface
    if verb in ("login", "logout"):
        if agent.group.membership == "static":
            raise CommandError(
                f"{agent.member.name} is a static member of group "
                f"{agent.group_name} (always logged in via queues.conf); "
                "use pause/unpause, or set membership: dynamic"
            )
        actions: list[Action] = []
        for queue, penalty in agent.group.queues.items():
            if verb == "login":
                actions.append(
                    (
                        "QueueAdd",
                        [
                            ("Queue", queue),
                            ("Interface", interface),
                            ("Penalty", str(penalty + agent.member.penalty)),
                            ("MemberName", agent.member.name),
                            ("Paused", "false"),
                        ],
                    )
                )
            else:
                actions.append(("QueueRemove", [("Queue", queue), ("Interface", interface)]))
        return actions
    if verb in ("pause", "unpause"):
        headers = [("Interface", interface), ("Paused", "true" if verb == "pause" else "false")]
        if reason is not None:
            if not re.fullmatch(REASON_RE, reason):
                raise CommandError(
                    f"reason {reason!r} must be 1-40 letters, digits, spaces, '.', '_' or '-'"
                )
            headers.append(("Reason", reason))
        return [("QueuePause", headers)]
    raise CommandError(f"unknown agent command {verb!r}")


def run_actions(
    ami: BlockingAmi, actions: Sequence[Action], tolerate: Sequence[str] = ()
) -> list[str]:
    """Send each action; return a line per action. Errors named in ``tolerate`` pass."""
    lines = []
    for name, headers in actions:
        reply = ami.action(name, headers)
        text = reply.get("Message") or reply.response
        if reply.response.lower() != "success" and not any(t in text for t in tolerate):
            raise AmiCommandError(f"{name} {dict(headers)}: {text}")
        lines.append(f"{name} {' '.join(v for k, v in headers if k != 'Val')}: {text}")
    return lines


def crisis_status(ami: BlockingAmi) -> dict[str, str]:
    out = {}
    for key in ("mode", "message"):
        items = ami.list_action("DBGet", "DBGetComplete", [("Family", CRISIS_FAMILY), ("Key", key)])
        values = [m.get("Val") for m in items if m.event == "DBGetResponse"]
        out[key] = values[0] if values else ""
    return out


def command_actions(config: Config, name: str, body: dict[str, object]) -> list[Action]:
    """The actions for an MQTT command (`agent/pause`, `agent/unpause`, `crisis/on`,
    `crisis/off`), checked exactly like the CLI's."""

    def text(key: str, default: str | None = None) -> str | None:
        value = body.get(key, default)
        if value is not None and not isinstance(value, str):
            raise CommandError(f"{key} must be a string")
        return value

    if name in ("agent/pause", "agent/unpause"):
        agent = text("agent")
        if not agent:
            raise CommandError("agent is required")
        return agent_actions(config, agent, name.split("/")[1], text("reason"))
    if name == "crisis/on":
        mode = (text("mode", "announce") or "announce").replace("-", "_")
        return crisis_on_actions(config, text("message") or "", mode)  # type: ignore[arg-type]
    if name == "crisis/off":
        return crisis_off_actions()
    raise CommandError(
        f"unknown command {name!r} (agent/pause, agent/unpause, crisis/on, crisis/off)"
    )
