"""systemd/: the unit is hardened (systemd-analyze exposure <= 1.1) and vaxeld speaks the
notify protocol: READY once /metrics listens, WATCHDOG from the event loop, STOPPING."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.asterisk import free_port

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "vaxeld.service"
EXAMPLE = ROOT / "config" / "vaxeld.example.yaml"


def test_unit_exposure_is_at_most_1_1() -> None:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.fail("systemd-analyze missing: install the Debian package systemd")
    res = subprocess.run(
        [exe, "security", "--offline=true", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    m = re.search(r"Overall exposure level for vaxeld\.service: ([0-9.]+)", res.stdout)
    assert m, res.stdout[-2000:] + res.stderr
    assert float(m.group(1)) <= 1.1


def test_unit_is_notify_with_watchdog_and_reload() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "User=vaxeld",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "MemoryMax=",
        "OOMScoreAdjust=500",
        "TasksMax=",
        "LoadCredential=ami-secret:",
    ):
        assert line in text, line
    assert "ReadWritePaths" not in text  # not even the dialplan folder


def test_ready_watchdog_and_stopping_reach_the_notify_socket(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(0.5)
    port = free_port()
    config = tmp_path / "vaxeld.yaml"
    # No Asterisk at all: READY must not wait for it.
    # The secret as the unit hands it over: a credential (LoadCredential=).
    config.write_text(
        EXAMPLE.read_text()
        .replace("port: 9468", f"port: {port}")
        .replace("port: 5038", f"port: {free_port()}")
        .replace("secret_env: VAXELD_AMI_SECRET", "secret_credential: ami-secret")
    )
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "ami-secret").write_text("x\n")
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(sock_path),
        "WATCHDOG_USEC": "400000",
        "CREDENTIALS_DIRECTORY": str(credentials),
        "VAXELD_CALLER_KEY": "a-caller-key-for-the-tests",
    }
    env.pop("VAXELD_AMI_SECRET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaxeld", "run", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    got: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and got.count("WATCHDOG=1") < 3:
            try:
                got.append(server.recv(4096).decode())
            except TimeoutError:
                continue
        assert (got and got[0] == "WATCHDOG=1") or "READY=1" in got
        assert "READY=1" in got and got.count("WATCHDOG=1") >= 3
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # /metrics was listening when READY came
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "STOPPING=1" not in got:
            try:
                got.append(server.recv(4096).decode())
            except TimeoutError:
                continue
        assert "STOPPING=1" in got
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()


def test_the_apply_timer_reapplies_monthly_with_a_hardened_oneshot() -> None:
    exe = shutil.which("systemd-analyze")
    assert exe is not None
    service = ROOT / "systemd" / "vaxeld-apply.service"
    timer = (ROOT / "systemd" / "vaxeld-apply.timer").read_text()
    assert "Unit=vaxeld-apply.service" in timer and "Persistent=true" in timer
    calendar = re.search(r"^OnCalendar=(.+)$", timer, re.M)
    assert calendar is not None
    res = subprocess.run([exe, "calendar", calendar.group(1)], capture_output=True, text=True)
    assert res.returncode == 0 and "Next elapse" in res.stdout, res.stdout + res.stderr
    text = service.read_text()
    assert "Type=oneshot" in text and "apply --config /etc/vaxeld/vaxeld.yaml --yes" in text
    res = subprocess.run(
        [exe, "security", "--offline=true", str(service)], capture_output=True, text=True
    )
    m = re.search(r"Overall exposure level for vaxeld-apply\.service: ([0-9.]+)", res.stdout)
    assert m, res.stdout[-2000:] + res.stderr
    assert float(m.group(1)) <= 1.5
