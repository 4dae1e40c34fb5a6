"""The transfers and repeat-callers sections of the config: where agents send callers
on, which of those places are the centre's own, and how repeat callers are grouped."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from vaxeld.config.types import (
    LABEL_RE,
    CredentialName,
    EnvName,
    FilePath,
    Name,
    Strict,
)

# A number an agent dials to transfer: digits only (it is an extension in the dialplan).
TransferNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,20}$")]
# A number, or a range of numbers of one length ("6100-6199").
NumberPattern = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,20}(-[0-9]{2,20})?$")]
DepartmentName = Annotated[str, StringConstraints(pattern=LABEL_RE, max_length=64)]


def number_range(pattern: str) -> tuple[str, str]:
    """('6100', '6199') for '6100-6199', ('0313652500',) * 2 for a single number."""
    low, _, high = pattern.partition("-")
    return low, high or low


class TransfersConfig(Strict):
    """Transfers by agents: every blind transfer and consultation call of a centre caller
    goes through the rendered context vaxeld-transfer, which knows these numbers."""

    # Let agents transfer with their phone's keys as well (Queue() option t; the keys are
    # features.conf's blindxfer and atxfer). A phone's own transfer button needs no option.
    keypad: bool = False
    # Numbers that put the transferred caller in one of the centre's queues.
    queues: dict[TransferNumber, Name] = Field(default_factory=dict, max_length=200)
    # Departments outside the centre, by name: their numbers or number ranges.
    departments: dict[DepartmentName, list[NumberPattern]] = Field(
        default_factory=dict, max_length=100
    )

    @model_validator(mode="after")
    def _ranges(self) -> TransfersConfig:
        for name, patterns in self.departments.items():
            for pattern in patterns:
                low, high = number_range(pattern)
                if len(low) != len(high) or high < low:
                    raise ValueError(
                        f"departments.{name}: {pattern!r} needs both ends of one length, low first"
                    )
        return self


class RepeatCallersConfig(Strict):
    """Callers who call again: grouped by a keyed hash of their number, never the number."""

    window_days: int = Field(7, ge=1, le=90)
    # A second call this soon after the first is a call back after a drop, counted apart.
    callback_minutes: int = Field(10, ge=0, le=240)
    # The HMAC key, like the AMI secret never in this file. Without one, repeat callers
    # are not followed (and reports say so).
    key_env: EnvName | None = None
    key_file: FilePath | None = None
    key_credential: CredentialName | None = None

    @model_validator(mode="after")
    def _one_key(self) -> RepeatCallersConfig:
        given = (self.key_env, self.key_file, self.key_credential)
        if sum(k is not None for k in given) > 1:
            raise ValueError("set at most one of key_env, key_file or key_credential")
        return self

    @property
    def keyed(self) -> bool:
        return any(k is not None for k in (self.key_env, self.key_file, self.key_credential))


def overlapping(transfers: TransfersConfig) -> list[str]:
    """Queue transfer numbers that also fall in a department's numbers."""
    out = []
    for number in transfers.queues:
        for name, patterns in transfers.departments.items():
            for pattern in patterns:
                low, high = number_range(pattern)
                if len(number) == len(low) and low <= number <= high:
                    out.append(f"{number} is both a queue number and in department {name}")
    return out
