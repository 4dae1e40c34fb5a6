"""Render queues_vaxeld.conf: one queue per language, static members from agent groups."""

from __future__ import annotations

from vaxeld.config import Config
from vaxeld.render.dialplan import HEADER


def render_queues(config: Config, version: str) -> str:
    out = [
        HEADER.format(filename="queues_vaxeld.conf", version=version),
        "; Include after [general] in queues.conf. Members are static, so they survive\n"
        "; an Asterisk restart without vaxeld.\n",
    ]
    for name, q in config.queues.items():
        lines = [
            f"[{name}]",
            f"; language: {q.language}",
            f"strategy = {q.strategy}",
            f"servicelevel = {q.service_level_seconds}",
            f"timeout = {q.ring_timeout_seconds}",
            f"retry = {q.retry_seconds}",
            f"wrapuptime = {q.wrapup_seconds}",
            f"musicclass = {q.music_class}",
            "joinempty = yes",
            "leavewhenempty = no",
            "ringinuse = no",
            "autofill = yes",
            "announce-frequency = 0",
            "announce-holdtime = no",
            "announce-position = no",
            "setinterfacevar = yes",
        ]
        for group in q.groups:
            for member in config.agent_groups[group].members:
                lines.append(f"member => {member.interface},{member.penalty},{member.name}")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)
