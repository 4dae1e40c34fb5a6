"""The planning section of the config: how `vaxeld plan` turns history into agents."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vaxeld.config.types import Strict


class PlanningConfig(Strict):
    interval_minutes: int = 30  # 15, 30 or 60
    weeks: int = Field(8, ge=1, le=52)  # of history each forecast averages
    # erlang_a counts callers who hang up (patience from the centre's own abandons);
    # erlang_c assumes nobody does and asks for more agents.
    model: Literal["erlang_a", "erlang_c"] = "erlang_a"
    # Paid time not on the phones (breaks, meetings, training): scheduled = needed / (1 - it).
    shrinkage: float = Field(0.3, ge=0, lt=1)
    max_occupancy: float = Field(0.85, gt=0, le=1)
    max_abandon_share: float | None = Field(None, gt=0, lt=1)
    # Handle time when a queue has no answered call in the history (seconds).
    default_handle_seconds: float = Field(180.0, gt=0, le=7200)

    @field_validator("interval_minutes")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value not in (15, 30, 60):
            raise ValueError("must be 15, 30 or 60")
        return value
