"""The service-level rule, once, for every figure that uses it: the counters, today's
ratio, its seed from queue_log, MQTT and the reports.

Asterisk's own rule for the numerator: answered with HoldTime <= the queue's
``servicelevel``. The denominator follows ``metrics.service_level_formula``:
``offered`` counts every caller who left the queue (answered, abandoned, timed out);
``answered_and_long_abandoned`` leaves out short abandons and timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vaxeld.config import Config
from vaxeld.state.changes import CallAbandoned, CallAnswered, CallExited

Outcome = CallAnswered | CallAbandoned | CallExited

# Each formula in words, for every place that shows a service level to say which it is.
FORMULAS = {
    "offered": "answered within target / answered, abandoned and timed out",
    "answered_and_long_abandoned": (
        "answered within target / answered and abandoned after the short-abandon time"
    ),
}


@dataclass(frozen=True, slots=True)
class ServiceLevelRule:
    targets: Mapping[str, int]  # queue -> service_level_seconds
    formula: str
    short_abandon_seconds: float

    @classmethod
    def from_config(cls, config: Config) -> ServiceLevelRule:
        return cls(
            {name: q.service_level_seconds for name, q in config.queues.items()},
            config.metrics.service_level_formula,
            config.metrics.short_abandon_seconds,
        )

    def met(self, ch: Outcome) -> bool | None:
        """Whether a call that left a queue met the target; None when the formula
        leaves the call out of the denominator."""
        if isinstance(ch, CallAnswered):
            return ch.wait_seconds <= self.targets.get(ch.queue, 0)
        if self.formula == "offered":
            return False
        if isinstance(ch, CallAbandoned) and ch.wait_seconds >= self.short_abandon_seconds:
            return False
        return None
