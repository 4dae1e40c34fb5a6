"""Operator commands: the crisis switch and agent membership, one path for the CLI and
MQTT.

A command is turned into a plan by a pure function: which AMI actions, on which PBXs,
and which answers from Asterisk still count as done. Every value is checked against
the config first: a crisis message must be one the config names, an agent a configured
member, a pause reason must match a strict pattern. The CLI (blocking) and the daemon
(its own AMI sessions) only carry plans out, and judge Asterisk's answers with the same
``reply_problem``, so a command has the same scope and the same errors either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from vaxeld.config import Config
from vaxeld.config.load import shown
from vaxeld.config.models import AgentGroupConfig, MemberConfig
from vaxeld.contract import (
    CRISIS_FAMILY,
    CRISIS_MESSAGE_KEY,
    CRISIS_MODE_KEY,
    CRISIS_MODES,
    CRISIS_OFF,
    CRISIS_POLL_SECONDS,
    CRISIS_SWITCH,
)

REASON_RE = r"[\w .-]{1,40}"
Action = tuple[str, tuple[tuple[str, str], ...]]
COMMANDS = (
    "agent/login",
    "agent/logout",
    "agent/pause",
    "agent/unpause",
    "crisis/on",
    "crisis/off",
)


class CommandError(ValueError):
    """The command cannot be carried out as asked; the message says why."""


class CommandRefused(CommandError):
    """Asterisk answered an action of the command with an error."""


class Reply(Protocol):
    """What a plan needs of Asterisk's answer to an action."""

    @property
    def response(self) -> str: ...

    def get(self, key: str, default: str = "") -> str: ...


@dataclass(frozen=True, slots=True)
class Plan:
    command: str
    actions: tuple[Action, ...]
    pbxs: tuple[str, ...]  # carried out on each of these, in order
    # Answers that still mean done: deleting a crisis key that is not there is "off".
    tolerate: tuple[str, ...] = ()


def crisis_on_actions(message: str, mode: str) -> tuple[Action, ...]:
    # The message first: a caller arriving in between must never see a mode without one.
    return (
        ("DBPut", (("Family", CRISIS_FAMILY), ("Key", CRISIS_MESSAGE_KEY), ("Val", message))),
        ("DBPut", (("Family", CRISIS_FAMILY), ("Key", CRISIS_MODE_KEY), ("Val", mode))),
        _announced(mode, message),
    )


def crisis_off_actions() -> tuple[Action, ...]:
    return (
        ("DBDel", (("Family", CRISIS_FAMILY), ("Key", CRISIS_MODE_KEY))),
        ("DBDel", (("Family", CRISIS_FAMILY), ("Key", CRISIS_MESSAGE_KEY))),
        _announced(CRISIS_OFF, ""),
    )


def _announced(mode: str, message: str) -> Action:
    """Tells every `vaxeld run` that the switch changed (it would otherwise see it at
    its next look at AstDB, within CRISIS_POLL_SECONDS)."""
    headers = (("UserEvent", CRISIS_SWITCH.name), ("Mode", mode))
    return ("UserEvent", headers + ((("Message", message),) if message else ()))


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
        raise CommandError(f"no agent {shown(who)} in agent_groups (give a name or an interface)")
    if len({a.member.interface for a in found}) > 1:
        raise CommandError(f"{shown(who)} matches several interfaces: give the interface")
    return found[0]


def agent_actions(
    config: Config, who: str, verb: str, reason: str | None = None
) -> tuple[Action, ...]:
    agent = find_agent(config, who)
    interface = agent.member.interface
    if verb in ("login", "logout"):
        if agent.group.membership == "static":
            raise CommandError(
                f"{agent.member.name} is a static member of group "
                f"{agent.group_name} (always logged in via queues.conf); "
                "use pause/unpause, or set membership: dynamic"
            )
        if verb == "login":
            return tuple(
                (
                    "QueueAdd",
                    (
                        ("Queue", queue),
                        ("Interface", interface),
                        ("Penalty", str(penalty + agent.member.penalty)),
                        ("MemberName", agent.member.name),
                        ("Paused", "false"),
                        *(
                            (("StateInterface", agent.member.state_interface),)
                            if agent.member.state_interface
                            else ()
                        ),
                    ),
                )
                for queue, penalty in agent.group.queues.items()
            )
        return tuple(
            ("QueueRemove", (("Queue", queue), ("Interface", interface)))
            for queue in agent.group.queues
        )
    if verb in ("pause", "unpause"):
        headers = [("Interface", interface), ("Paused", "true" if verb == "pause" else "false")]
        if reason is not None:
            if not re.fullmatch(REASON_RE, reason):
                raise CommandError(
                    f"reason {shown(reason)} must be 1-40 letters, digits, spaces, '.', '_' or '-'"
                )
            headers.append(("Reason", reason))
        return (("QueuePause", tuple(headers)),)
    raise CommandError(f"unknown agent command {shown(verb)}")


def _pbxs(config: Config, pbx: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if pbx is None:
        return default
    if pbx not in {p.name for p in config.pbxs}:
        raise CommandError(f"no pbx named {shown(pbx)} in the config")
    return (pbx,)


def crisis_pbxs(config: Config, pbx: str | None = None) -> tuple[str, ...]:
    """The crisis switch is on every PBX of the centre, unless one is named."""
    return _pbxs(config, pbx, tuple(p.name for p in config.pbxs))


def agent_pbxs(config: Config, pbx: str | None = None, who: str | None = None) -> tuple[str, ...]:
    """An agent is on their group's PBX (the default PBX when the group names none),
    unless another is named."""
    group = find_agent(config, who).group if who else None
    home = group.pbx if group is not None and group.pbx else config.default_pbx.name
    return _pbxs(config, pbx, (home,))


def plan(config: Config, command: str, body: Mapping[str, object]) -> Plan:
    """The plan for ``command`` with its arguments in ``body`` (as an MQTT command's JSON
    object, or the CLI's options): ``agent`` and ``reason`` for agent/*, ``message`` and
    ``mode`` for crisis/on, and ``pbx`` for any of them.

    Scope: the crisis switch goes to every PBX (or the one named), an agent command to
    the agent's group's PBX (or the one named)."""

    def text(key: str) -> str | None:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise CommandError(f"{key} must be a string")
        return value

    if command.startswith("agent/") and command in COMMANDS:
        agent = text("agent")
        if not agent:
            raise CommandError("agent is required")
        actions = agent_actions(config, agent, command.split("/")[1], text("reason"))
        return Plan(command, actions, agent_pbxs(config, text("pbx"), agent))
    if command == "crisis/on":
        message = text("message") or ""
        mode = (text("mode") or "announce").replace("-", "_")
        if message not in config.crisis.messages:
            known = ", ".join(config.crisis.messages) or "none configured"
            raise CommandError(f"unknown crisis message {shown(message)} (configured: {known})")
        if mode not in CRISIS_MODES:
            raise CommandError(f"mode must be announce or announce_only, not {shown(mode)}")
        return Plan(command, crisis_on_actions(message, mode), crisis_pbxs(config, text("pbx")))
    if command == "crisis/off":
        actions = crisis_off_actions()
        return Plan(command, actions, crisis_pbxs(config, text("pbx")), ("not found",))
    raise CommandError(f"unknown command {shown(command)} ({', '.join(COMMANDS)})")


def reply_problem(plan: Plan, action: Action, reply: Reply) -> str | None:
    """Why Asterisk's ``reply`` to ``action`` means the command failed, or None."""
    text = reply.get("Message") or reply.response
    if reply.response.lower() == "success" or any(t in text for t in plan.tolerate):
        return None
    return f"{action[0]} {dict(action[1])}: {text}"


def done_line(action: Action, reply: Reply) -> str:
    """One line per action carried out, for people (AstDB values left out)."""
    name, headers = action
    text = reply.get("Message") or reply.response
    return f"{name} {' '.join(v for k, v in headers if k != 'Val')}: {text}"


Send = Callable[[str, Action], Reply]


def carry_out(plan: Plan, send: Send) -> list[str]:
    """Send each action of ``plan`` to each of its PBXs through ``send(pbx, action)``;
    a line per action done, or CommandError at the first one Asterisk refused."""
    lines = []
    for pbx in plan.pbxs:
        for action in plan.actions:
            lines.append(_judged(plan, pbx, action, send(pbx, action)))
    return lines


def _judged(plan: Plan, pbx: str, action: Action, reply: Reply) -> str:
    problem = reply_problem(plan, action, reply)
    if problem is not None and action[0] == "UserEvent":
        # The switch itself is set; only the news of it was refused (an account from
        # before `write = user`): vaxeld run sees it at its next look.
        minutes = round(CRISIS_POLL_SECONDS / 60)
        return f"{pbx}: not announced ({problem}); vaxeld run sees it within {minutes} minutes"
    if problem is not None:
        raise CommandRefused(f"{pbx}: {problem}")
    return f"{pbx}: {done_line(action, reply)}"
