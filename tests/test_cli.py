"""vaxeld.cli: check, render and --version as ops use them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.fake_ami import FakeAmi
from vaxeld import __version__
from vaxeld.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "vaxeld.example.yaml"


def test_check_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "OK (6 queues, 5 languages, 4 numbers, entry number 0313650000)" in out


def test_check_prints_every_error_on_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    text = EXAMPLE.read_text().replace("service_level_seconds: 20", "service_level_seconds: 0")
    bad.write_text(text)
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    lines = [n for n, line in enumerate(text.splitlines(), 1) if "service_level_seconds: 0" in line]
    assert err[0] == f"{bad}: 3 error(s)"
    assert err[1].strip() == f"queues.sv.service_level_seconds (line {lines[0]}): must be > 0"
    assert err[2].strip() == f"queues.en.service_level_seconds (line {lines[1]}): must be > 0"


def test_render_writes_then_reports_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dp"
    assert main(["render", str(EXAMPLE), "--out", str(out)]) == 0
    assert (out / "extensions_vaxeld.conf").exists() and (out / "queues_vaxeld.conf").exists()
    assert main(["render", str(EXAMPLE), "--out", str(out)]) == 0
    assert "already up to date" in capsys.readouterr().out


def test_render_of_a_bad_config_keeps_the_old_files(tmp_path: Path) -> None:
    out = tmp_path / "dp"
    main(["render", str(EXAMPLE), "--out", str(out)])
    before = (out / "extensions_vaxeld.conf").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace('"1": sv', '"1": xx'))
    assert main(["render", str(bad), "--out", str(out)]) == 1
    assert (out / "extensions_vaxeld.conf").read_text() == before


def test_version_and_console_script() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "vaxeld", "--version"], capture_output=True, text=True, check=True
    )
    assert res.stdout.strip() == f"vaxeld {__version__}"


async def test_a_command_ends_at_its_deadline_when_asterisk_only_chatters(
    tmp_path: Path,
) -> None:
    """`vaxeld crisis status` never returned while the peer kept sending other events."""
    fake = await FakeAmi(custom={"DBGet": lambda msg: None}).start()  # never answered
    config = tmp_path / "vaxeld.yaml"
    config.write_text(EXAMPLE.read_text().replace("port: 5038", f"port: {fake.port}", 1))

    async def chatter() -> None:
        while True:
            await fake.send(b"Event: Newexten\r\nUniqueid: 1.1\r\n\r\n" * 20)
            await asyncio.sleep(0.01)

    noise = asyncio.create_task(chatter())
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vaxeld", "crisis", "status", "-c", str(config),
            "--timeout", "1",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "VAXELD_AMI_SECRET": "secret",
                "VAXELD_OPS_SECRET": "secret",
                "VAXELD_CALLER_KEY": "a-caller-key-for-the-tests",
            },
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        noise.cancel()
        await fake.close()
    assert proc.returncode == 1
    assert "no complete answer from Asterisk within 1 s" in err.decode()
