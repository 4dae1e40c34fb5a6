"""Asterisk's queue_log lines, parsed: pure, shared by recovery, the day-so-far seed
and (later) the history reader.

    time|uniqueid|queue|agent|EVENT|data1|data2|data3
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE = 4096


@dataclass(frozen=True, slots=True)
class QueueLogEntry:
    time: int
    uniqueid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]

    def field(self, n: int) -> str:
        """data1 is field(1)."""
        return self.data[n - 1] if len(self.data) >= n else ""

    def int_field(self, n: int) -> int:
        try:
            return int(self.field(n))
        except ValueError:
            return 0


def parse_line(line: str) -> QueueLogEntry | None:
    """One queue_log line, or None when it is not a well-formed line."""
    parts = line.rstrip("\r\n").split("|")
    if len(parts) < 5 or not (parts[0].isascii() and parts[0].isdigit()):
        return None
    return QueueLogEntry(int(parts[0]), parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))
