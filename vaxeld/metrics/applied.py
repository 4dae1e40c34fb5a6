"""When `vaxeld apply` last put each PBX's rendering into Asterisk: read from the
record it leaves in its state folder, at scrape time, again only when the file changed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MAX_RECORD_BYTES = 64 * 1024


class AppliedCollector(Collector):
    def __init__(self, state_dir: Path, pbxs: list[str]) -> None:
        self.state_dir, self.pbxs = state_dir, pbxs
        self._seen: dict[str, tuple[float, float | None]] = {}  # pbx -> (mtime, applied at)

    def _applied_at(self, pbx: str) -> float | None:
        path = self.state_dir / pbx / "applied.json"
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        seen = self._seen.get(pbx)
        if seen is not None and seen[0] == mtime:
            return seen[1]
        at = None
        try:
            with open(path, "rb") as fh:
                record = json.loads(fh.read(MAX_RECORD_BYTES))
            value = record.get("at") if isinstance(record, dict) else None
            at = float(value) if isinstance(value, int | float) else None
        except (OSError, ValueError):
            pass  # unreadable or half a record: as if never applied
        self._seen[pbx] = (mtime, at)
        return at

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "vaxeld_config_applied_timestamp_seconds",
            "When `vaxeld apply` last installed (or found unchanged) and verified this "
            "PBX's rendering (absent: never, or apply keeps its state elsewhere).",
            labels=["pbx"],
        )
        for pbx in self.pbxs:
            at = self._applied_at(pbx)
            if at is not None:
                family.add_metric([pbx], at)
        yield family
