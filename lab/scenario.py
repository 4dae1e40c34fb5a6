"""Lab scenarios: the example config rewired to lab agents and ports, and call mixes."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from lab.asterisk import REPO

EXAMPLE_CONFIG = REPO / "config" / "vaxeld.example.yaml"


def lab_config_text(
    ami_port: int,
    metrics_port: int,
    *,
    menu_timeout: int = 2,
    example: Path = EXAMPLE_CONFIG,
    secret_env: str = "VAXELD_AMI_SECRET",
    always_open: bool = True,
    queue_log: Path | None = None,
) -> str:
    """The example config with lab ports and Local-channel agents instead of phones.

    PJSIP/agentNNNN becomes Local/NNNN@vaxeld-lab-agents/n, so a lab agent with the
    same number answers and talks as set in AstDB (see LabControl.set_agent).
    With ``always_open`` the opening hours are dropped, so tests run at any hour;
    ``queue_log`` lets vaxeld recover from Asterisk's queue_log.
    """
    text = example.read_text(encoding="utf-8")
    text = re.sub(r"(\n    port:) \d+", rf"\1 {ami_port}", text, count=1)
    text = re.sub(r"(\n  port:) \d+", rf"\1 {metrics_port}", text, count=1)
    text = re.sub(r"(?<!\w)secret_env: \w+", f"secret_env: {secret_env}", text)
    text = re.sub(r"PJSIP/agent(\d+)(@[\w-]+)?", r"Local/\1@vaxeld-lab-agents/n", text)
    if queue_log is not None:
        text = text.replace(
            "    site: stadshuset\n", f"    site: stadshuset\n    queue_log: {queue_log}\n", 1
        )
    if always_open:
        text = re.sub(r"\n +schedule: [\w-]+(?=\n)", "", text)
    text = re.sub(r"timeout_seconds: \d+", f"timeout_seconds: {menu_timeout}", text, count=1)
    return text


def lab_agent_ids(config_text: str) -> list[str]:
    return sorted(set(re.findall(r"Local/(\d+)@vaxeld-lab-agents", config_text)))


@dataclass(frozen=True)
class PlannedCall:
    digits: str  # what the caller presses in the language menu ("" = nothing)
    patience: float  # seconds before the caller gives up
    start_after: float  # seconds after the start of the run


def mixed_calls(
    count: int, rng: random.Random, digits: str = "12345", spread_seconds: float = 20.0
) -> list[PlannedCall]:
    """A reproducible mix: mostly patient callers, some impatient, some who press
    nothing or a digit that is not on the menu."""
    calls = []
    for i in range(count):
        roll = rng.random()
        pressed = rng.choice(digits) if roll > 0.1 else rng.choice(["", "9"])
        patience = rng.choice([60.0, 60.0, 60.0, 9.0])
        calls.append(PlannedCall(pressed, patience, round(spread_seconds * i / count, 2)))
    return calls
