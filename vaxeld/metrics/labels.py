"""Every label value a metric may carry comes from the config: the lookups that bound
them, computed once per config and shared by the counters and the scrape-time gauges.
A queue, number, agent or digit the config does not know becomes ``other``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from vaxeld.config import Config

OTHER = "other"
_DIGIT = re.compile(r"[0-9*#A-D]")
T = TypeVar("T")

# Values the dialplan and Asterisk send in headers that become label values: anything
# else is "other", so no AMI input can add a series.
LANGUAGE_REASONS = frozenset({"chosen", "default", "direct"})
CRISIS_MODES = frozenset({"announce", "announce_only"})
MENU_RESULTS = frozenset({"timeout", "invalid"})
CLOSED_REASONS = frozenset({"hours", "holiday", "exception"})
# QUEUESTATUS lowercased (CallExited.reason), and "leaveempty" from queue_log EXITEMPTY.
EXIT_REASONS = frozenset(
    {"timeout", "full", "joinempty", "leaveempty", "joinunavail", "leaveunavail", "continue"}
    | {"withdraw", "unknown"}
)


@dataclass(frozen=True, slots=True)
class LabelRules:
    languages: dict[str, str]  # queue -> its language
    entries: dict[str, str]  # entry or legacy number -> its label
    agents: dict[str, tuple[str, str]]  # member name -> (site, group), first group wins
    sites: dict[tuple[str, str], str]  # (queue, interface) -> the member's site
    service_levels: dict[str, int]  # queue -> service_level_seconds
    scheduled_queues: tuple[str, ...]  # queues with hours of their own
    overflows: tuple[tuple[str, str], ...]  # (queue, to_queue)
    spoken: frozenset[str]  # the configured languages
    departments: frozenset[str]  # transfer departments of the config

    @classmethod
    def from_config(cls, config: Config) -> LabelRules:
        agents: dict[str, tuple[str, str]] = {}
        for gname, group in config.agent_groups.items():
            for member in group.members:
                agents.setdefault(member.name, (group.site, gname))
        return cls(
            languages={name: q.language for name, q in config.queues.items()},
            entries=config.entries(),
            agents=agents,
            sites={
                (queue, m.interface): g.site
                for queue in config.queues
                for _, g, m, _ in config.members_of_queue(queue)
            },
            service_levels={name: q.service_level_seconds for name, q in config.queues.items()},
            scheduled_queues=tuple(q for q, c in config.queues.items() if c.schedule),
            overflows=tuple(
                (name, q.overflow.to) for name, q in config.queues.items() if q.overflow
            ),
            spoken=frozenset(config.languages),
            departments=frozenset(config.transfers.departments),
        )

    def entry(self, entry: str) -> str:
        return entry if entry in self.entries else (OTHER if entry else "unknown")

    def queue(self, queue: str) -> str:
        return queue if queue in self.languages else OTHER

    def queue_labels(self, pbx: str, queue: str, entry: str) -> tuple[str, str, str, str]:
        """(pbx, queue, language, entry)."""
        return (pbx, self.queue(queue), self.languages.get(queue, OTHER), self.entry(entry))

    def agent_labels(self, pbx: str, member: str) -> tuple[str, str, str, str]:
        """(pbx, agent, site, group)."""
        site, group = self.agents.get(member, (OTHER, OTHER))
        return (pbx, member if member in self.agents else OTHER, site, group)

    def department(self, kind: str, where: str) -> str:
        """The department label of a transfer: the config's name for a department, "other"
        for a number out of the centre it does not list, "centre" inside, "unknown"."""
        if kind == "inside":
            return "centre"
        if kind == "out":
            return where if where in self.departments else OTHER
        return "unknown"

    def language(self, language: str) -> str:
        return language if language in self.spoken else OTHER

    @staticmethod
    def digit(digit: str) -> str:
        return digit if _DIGIT.fullmatch(digit) else OTHER

    @staticmethod
    def one_of(value: str, allowed: frozenset[str]) -> str:
        return value if value in allowed else OTHER

    def by_queue_label(self, grouped: Mapping[str, list[T]]) -> dict[str, list[T]]:
        """Lists per queue, those of queues the config does not know merged as "other"."""
        out: dict[str, list[T]] = {}
        for queue, items in grouped.items():
            out.setdefault(self.queue(queue), []).extend(items)
        return out
