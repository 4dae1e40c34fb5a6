"""Run `vaxeld run` as a child process and read its /metrics, for the demo and tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Samples:
    """Prometheus text -> {(sample name, sorted labels): value}."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of every sample called ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= set(lab))


class VaxeldProcess:
    def __init__(
        self, config: Path, metrics_port: int, env: Mapping[str, str], log_path: Path
    ) -> None:
        self.config, self.metrics_port, self.log_path = config, metrics_port, log_path
        self._env = {**os.environ, **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> VaxeldProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vaxeld", "run", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env,
        )
        log.close()
        return self

    def scrape(self) -> Samples:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return parse_metrics(resp.read().decode())

    def wait_for(self, predicate: Callable[[Samples], bool], timeout: float = 30.0) -> Samples:
        deadline = time.monotonic() + timeout
        last: Samples = {}
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"vaxeld exited with {self.proc.returncode}: "
                    f"{self.log_path.read_text()[-2000:]}"
                )
            try:
                last = self.scrape()
                if predicate(last):
                    return last
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(
            f"condition not met in {timeout} s; last scrape had "
            f"{len(last)} samples; log tail: {self.log_path.read_text()[-1500:]}"
        )

    def wait_synced(self, timeout: float = 30.0) -> Samples:
        return self.wait_for(
            lambda s: (
                total(s, "vaxeld_ami_connected") >= 1 and total(s, "vaxeld_state_synced") >= 1
            ),
            timeout,
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=5)
