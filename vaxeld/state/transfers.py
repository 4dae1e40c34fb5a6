"""Where a transfer took the caller: still in the centre (one of its queues or agents)
or out of it (a department, or a number the config does not know). Pure: the config's
numbers in, a classification out; the reducer, recovery and the reports all ask here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from vaxeld.config import Config
from vaxeld.config.transfers import number_range

INSIDE, OUT, UNKNOWN = "inside", "out", "unknown"
KINDS = (INSIDE, OUT, UNKNOWN)
OTHER = "other"  # a number outside the centre that no department lists
HOW = ("blind", "attended")


class Target(NamedTuple):
    kind: str  # inside | out | unknown (an attended transfer whose target no source named)
    where: str  # the queue, the agent, the department, OTHER, or "" when unknown


@dataclass(frozen=True)
class TransferRules:
    queues: dict[str, str]  # number -> queue
    agents: dict[str, str]  # extension -> agent name
    departments: tuple[tuple[str, str, str], ...]  # (name, low, high)

    @classmethod
    def from_config(cls, config: Config) -> TransferRules:
        agents = {
            m.extension: m.name
            for g in config.agent_groups.values()
            for m in g.members
            if m.extension is not None
        }
        departments = tuple(
            (name, *number_range(pattern))
            for name, patterns in config.transfers.departments.items()
            for pattern in patterns
        )
        return cls(dict(config.transfers.queues), agents, departments)

    def classify(self, target: str) -> Target:
        if not target:
            return Target(UNKNOWN, "")
        if target in self.queues:
            return Target(INSIDE, self.queues[target])
        if target in self.agents:
            return Target(INSIDE, self.agents[target])
        for name, low, high in self.departments:
            if len(target) == len(low) and low <= target <= high:
                return Target(OUT, name)
        return Target(OUT, OTHER)

    @property
    def department_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for name, _, _ in self.departments))

    def sql(self, column: str) -> str:
        """A SQL expression classifying ``column`` (a target number, '' or NULL when not
        known) like classify(), as a code for decode(). Numbers and queue names match
        the config's strict patterns, so they are written into the query as they are;
        department names (free labels) are not: a department is its index."""
        cases = [f"when coalesce({column}, '') = '' then 'unknown:'"]
        for number, queue in self.queues.items():
            cases.append(f"when {column} = '{number}' then 'inside:q:{queue}'")
        for number in self.agents:
            cases.append(f"when {column} = '{number}' then 'inside:a:{number}'")
        for i, (_, low, high) in enumerate(self.departments):
            cases.append(
                f"when length({column}) = {len(low)} and {column} between '{low}' and '{high}' "
                f"then 'out:d:{i}'"
            )
        return "case " + " ".join(cases) + " else 'out:o:' end"

    def decode(self, code: str) -> Target:
        kind, _, rest = code.partition(":")
        tag, _, value = rest.partition(":")
        if kind == INSIDE:
            return Target(INSIDE, value if tag == "q" else self.agents.get(value, OTHER))
        if kind == OUT and tag == "d":
            return Target(OUT, self.departments[int(value)][0])
        if kind == OUT:
            return Target(OUT, OTHER)
        return Target(UNKNOWN, "")
