"""Driving a lab Asterisk: originate simulated callers, set agents' behaviour in AstDB."""

from __future__ import annotations

from vaxeld.ami.blocking import BlockingAmi
from vaxeld.ami.codec import Message


class LabControl(BlockingAmi):
    def db_put(self, family: str, key: str, value: str) -> None:
        self.action("DBPut", [("Family", family), ("Key", key), ("Val", value)])

    def set_agent(self, agent_id: str, answer_after: float, talk: float) -> None:
        """Make lab agent Local/<agent_id>@vaxeld-lab-agents answer and talk as given."""
        self.db_put("vaxlab/answer", agent_id, f"{answer_after:g}")
        self.db_put("vaxlab/talk", agent_id, f"{talk:g}")

    def call(
        self,
        entry: str,
        digits: str,
        patience: float,
        delay: float = 1.0,
        caller_id: str = "0701234567",
    ) -> Message:
        """Place a simulated caller on the entry number; it presses ``digits`` and waits
        ``patience`` seconds in all before hanging up (unless the call ends first)."""
        headers = [
            ("Channel", "Local/caller@vaxeld-lab-callers/n"),
            ("Context", "vaxeld-entry"),
            ("Exten", entry),
            ("Priority", "1"),
            ("Async", "true"),
            ("CallerID", f"Lab <{caller_id}>"),
            ("Variable", f"VAXLAB_DIGITS={digits}"),
            ("Variable", f"VAXLAB_PATIENCE={patience:g}"),
            ("Variable", f"VAXLAB_DELAY={delay:g}"),
        ]
        return self.action("Originate", headers)
