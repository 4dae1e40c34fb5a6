"""Real-stack fixtures: Asterisk 22 in a Debian sid chroot, vaxeld as a child process.

The chroot is built on first use (about a minute) and cached; each lab gets its
own config folders and loopback ports and is stopped by PID afterwards.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from lab.asterisk import AsteriskLab, ensure_chroot, free_port
from lab.control import LabControl, LabEvents
from lab.scenario import lab_agent_ids, lab_config_text
from lab.vaxeld_process import VaxeldProcess
from vaxeld.calendar import today_in
from vaxeld.config import Config, parse_config
from vaxeld.render import render_all, write_atomically

_lab_ids = itertools.count(1)


@dataclass
class Lab:
    asterisk: AsteriskLab
    control: LabControl
    config_path: Path
    dialplans: Path
    workdir: Path
    agents: list[str]

    @property
    def entry(self) -> str:
        return parse_config(self.config_path.read_text()).entry.number

    def restart_asterisk(self) -> None:
        """Stop and start this lab's Asterisk (AstDB, queue_log and members on disk stay)."""
        self.control.close()
        self.asterisk.stop()
        self.asterisk.start()
        self.control = LabControl(
            "127.0.0.1", self.asterisk.ami_port, "lab", self.asterisk.admin_secret
        )

    def events(self) -> LabEvents:
        return LabEvents("127.0.0.1", self.asterisk.ami_port, "lab", self.asterisk.admin_secret)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `vaxeld ARGS -c <lab config>` the way an operator would."""
        env = {**os.environ, **self.secrets}
        return subprocess.run(
            [sys.executable, "-m", "vaxeld", *args, "-c", str(self.config_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    def vaxeld(self, name: str = "vaxeld", ami_port: int | None = None) -> VaxeldProcess:
        """A vaxeld for this lab on a free metrics port (and another AMI port, e.g. a proxy)."""
        text = self.config_path.read_text()
        port = free_port()
        config = self.workdir / f"{name}.yaml"
        text = text.replace(f"port: {self.metrics_port}", f"port: {port}", 1)
        if ami_port is not None:
            text = text.replace(f"port: {self.asterisk.ami_port}", f"port: {ami_port}", 1)
        config.write_text(text)
        return VaxeldProcess(
            config,
            port,
            self.secrets,
            self.workdir / f"{name}.log",
        )

    @property
    def secrets(self) -> dict[str, str]:
        """The environment the example config reads the two AMI accounts' secrets from."""
        return self.asterisk.secrets

    @property
    def metrics_port(self) -> int:
        cfg = parse_config(self.config_path.read_text())
        return cfg.metrics.port


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the real Asterisk lab needs root (chroot); run the suite as root")


def start_lab(
    workdir: Path,
    name: str,
    config_text: Callable[[int, int], str] | None = None,
    render: Callable[[Config, date], dict[str, str]] = render_all,
    queue_log: bool = False,
    edit: Callable[[str], str] = lambda text: text,
    realtime_queue_log: tuple[int, str, str, str, str] | None = None,
) -> Lab:
    """Start a private Asterisk with ``config_text(ami_port, metrics_port)`` rendered
    (default: the example config with lab agents, always open)."""
    _require_root()
    chroot = ensure_chroot()
    asterisk = AsteriskLab(chroot, f"{name}-{os.getpid()}-{next(_lab_ids)}")
    asterisk.realtime_queue_log = realtime_queue_log
    log_path = asterisk.queue_log if queue_log else None
    make_text = config_text or (
        lambda ami, metrics: lab_config_text(ami, metrics, queue_log=log_path)
    )
    workdir.mkdir(parents=True, exist_ok=True)
    text = edit(make_text(asterisk.ami_port, free_port()))
    config_path = workdir / "vaxeld.yaml"
    config_path.write_text(text)
    dialplans = workdir / "dialplans"
    config = parse_config(text)
    write_atomically(dialplans, render(config, today_in(config.timezone)))
    asterisk.prepare(dialplans)
    asterisk.start()
    try:
        control = LabControl("127.0.0.1", asterisk.ami_port, "lab", asterisk.admin_secret)
        agents = lab_agent_ids(text)
        for agent in agents:
            control.set_agent(agent, answer_after=1, talk=3)
    except BaseException:
        asterisk.stop()  # never leave an Asterisk behind
        raise
    return Lab(asterisk, control, config_path, dialplans, workdir, agents)


def stop_lab(lab: Lab) -> None:
    try:
        lab.control.close()
    finally:
        lab.asterisk.stop()
        lab.asterisk.remove(keep_logs_in=lab.workdir / "asterisk-logs")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One real Asterisk 22 for the whole session, with the example config rendered."""
    the_lab = start_lab(tmp_path_factory.mktemp("lab"), "session")
    yield the_lab
    stop_lab(the_lab)


@pytest.fixture
def own_lab(tmp_path: Path) -> Iterator[Lab]:
    """A private Asterisk for tests that restart or break it."""
    the_lab = start_lab(tmp_path, "private")
    yield the_lab
    stop_lab(the_lab)


@pytest.fixture
def vaxeld(lab: Lab) -> Iterator[VaxeldProcess]:
    """A fresh vaxeld connected and synced to the session lab."""
    proc = lab.vaxeld().start()
    try:
        proc.wait_synced()
        yield proc
    finally:
        proc.stop()
