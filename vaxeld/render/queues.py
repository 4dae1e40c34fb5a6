"""Render queues_vaxeld.conf: one section per queue, static members from agent groups."""

from __future__ import annotations

from vaxeld.config import Config
from vaxeld.render.common import HEADER


def render_queues(config: Config, version: str) -> str:
    out = [
        HEADER.format(filename="queues_vaxeld.conf", version=version),
        "; Include after [general] in queues.conf, which should say persistentmembers = yes\n"
        "; so agents logged in with `vaxeld agent login` stay logged in across restarts.\n",
    ]
    for name, q in config.queues.items():
        # With overflow when empty, a queue nobody can answer turns callers away at
        # once (QUEUESTATUS JOINEMPTY/LEAVEEMPTY) and the dialplan moves them on.
        empty = "unavailable,invalid" if q.overflow is not None and q.overflow.when_empty else ""
        lines = [
            f"[{name}]",
            f"; language: {q.language}",
            f"strategy = {q.strategy}",
            f"servicelevel = {q.service_level_seconds}",
            f"timeout = {q.ring_timeout_seconds}",
            f"retry = {q.retry_seconds}",
            f"wrapuptime = {q.wrapup_seconds}",
            f"musicclass = {q.music_class}",
            f"joinempty = {empty or 'no'}",
            f"leavewhenempty = {empty or 'no'}",
            "ringinuse = no",
            "autofill = yes",
            "announce-frequency = 0",
            "announce-holdtime = no",
            "announce-position = no",
            "setinterfacevar = yes",
        ]
        for gname, group, member, penalty in config.members_of_queue(name):
            if group.membership == "static":
                state = f",{member.state_interface}" if member.state_interface else ""
                lines.append(
                    f"member => {member.interface},{penalty},{member.name}{state}"
                    f"  ; group {gname}, site {group.site}"
                )
            else:
                lines.append(
                    f"; dynamic: {member.name} ({member.interface}), penalty {penalty}, "
                    f"group {gname}, site {group.site}"
                )
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)
