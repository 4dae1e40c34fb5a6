"""`vaxeld apply` against a real Asterisk 22: a good apply changes the routing of the
next call and is verified over AMI; applying again changes nothing; a rendering
Asterisk does not take is rolled back while callers keep being routed; the apply
account's rights are exactly what it needs."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.asterisk import count_queue_log
from vaxeld.apply_command import APPLIED_FILE, LOG_FILE, apply, read_files
from vaxeld.config import Config
from vaxeld.render import render_all

pytestmark = pytest.mark.asterisk


@pytest.fixture
def apply_lab(tmp_path: Path) -> Iterator[Lab]:
    lab = start_lab(tmp_path / "lab", "apply", queue_log=True)
    text = lab.config_path.read_text().replace(
        "    site: stadshuset\n",
        f"    site: stadshuset\n    asterisk_config_dir: {lab.asterisk.etc}\n",
        1,
    )
    lab.config_path.write_text(text + f"\napply:\n  state_dir: {tmp_path / 'state'}\n")
    yield lab
    stop_lab(lab)


def run(lab: Lab, *flags: str) -> tuple[int, str]:
    res = lab.cli("apply", *flags)
    return res.returncode, res.stdout + res.stderr


def entered(lab: Lab) -> dict[str, int]:
    counts = count_queue_log(lab.asterisk.queue_log_events())
    return {q: c.get("ENTERQUEUE", 0) for q, c in counts.items() if c.get("ENTERQUEUE")}


def wait_entered(lab: Lab, total: int, timeout: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = entered(lab)
        if sum(got.values()) >= total:
            return got
        time.sleep(0.2)
    raise TimeoutError(f"{total} callers did not reach a queue: {entered(lab)}")


def args_for(lab: Lab, *flags: str) -> argparse.Namespace:
    return argparse.Namespace(
        config=lab.config_path,
        yes="--yes" in flags,
        dry_run="--dry-run" in flags,
        rollback="--rollback" in flags,
        pbx=None,
    )


def test_apply_changes_the_next_call_verifies_and_is_idempotent(apply_lab: Lab) -> None:
    lab = apply_lab
    # The lab loaded this config's rendering: Asterisk holds exactly it.
    rc, out = run(lab, "--dry-run")
    assert rc == 0 and "0 changes against what Asterisk has loaded" in out, out
    rc, out = run(lab)  # no --yes: show, install nothing
    assert rc == 0 and "0 changes" in out and "--yes" in out, out

    # Digit 1 now leads to the English queue.
    text = lab.config_path.read_text()
    lab.config_path.write_text(text.replace('    "1": sv\n', '    "1": en\n', 1))
    rc, out = run(lab, "--dry-run")
    assert rc == 0 and "~ context vaxeld-menu" in out, out
    before = read_files(lab.asterisk.etc)
    rc, out = run(lab, "--yes")
    assert rc == 0 and "applied" in out and "verified over AMI" in out, out
    assert read_files(lab.asterisk.etc) != before
    lab.control.call(lab.entry, "1", 4.0)
    assert wait_entered(lab, 1) == {"en": 1}

    rc, out = run(lab, "--yes")
    assert rc == 0 and "unchanged" in out, out
    rc, out = run(lab, "--dry-run")
    assert "0 changes against what Asterisk has loaded" in out, out
    state = lab.config_path.parent.parent / "state"
    log = (state / LOG_FILE).read_text().splitlines()
    assert [line.split('"result": "')[1].split('"')[0] for line in log] == ["applied", "unchanged"]
    assert (state / "main" / APPLIED_FILE).exists()
    assert read_files(state / "main" / "last-good") == read_files(lab.asterisk.etc)

    # vaxeld run says when it was applied.
    vaxeld = lab.vaxeld().start()
    try:
        samples = vaxeld.wait_synced()
        applied = [v for (n, _), v in samples.items() if n.startswith("vaxeld_config_applied")]
        assert applied and time.time() - 120 < applied[0] <= time.time()
    finally:
        vaxeld.stop()

    # An edited file is put back from the last good set.
    (lab.asterisk.etc / "extensions_vaxeld.conf").write_text("; emptied by hand\n")
    rc, out = run(lab, "--rollback", "--yes")
    assert rc == 0 and "applied" in out, out
    lab.control.call(lab.entry, "1", 4.0)
    assert wait_entered(lab, 2) == {"en": 2}
    lab.asterisk.wait_idle(60)  # no caller left behind when the lab stops


def _cut_header(config: Config, today: date) -> dict[str, str]:
    """A rendering with a context header cut short (as if edited or truncated)."""
    files = render_all(config, today)
    text = files["extensions_vaxeld.conf"]
    assert "\n[vaxeld-transfer]\n" in text
    files["extensions_vaxeld.conf"] = text.replace("\n[vaxeld-transfer]\n", "\n[vaxeld-transfer\n")
    return files


def _twice(config: Config, today: date) -> dict[str, str]:
    """A rendering Asterisk does not take whole: a priority of the transfer context
    given twice (Asterisk keeps the first and refuses the second)."""
    files = render_all(config, today)
    lines = files["extensions_vaxeld.conf"].split("\n")
    at = lines.index("[vaxeld-transfer]") + 1
    while not lines[at].startswith("exten => "):
        at += 1
    exten = lines[at].split(",", 2)
    lines.insert(at + 1, f"{exten[0]},{exten[1]},NoOp(given twice)")
    files["extensions_vaxeld.conf"] = "\n".join(lines)
    return files


def test_a_rendering_of_an_unknown_shape_is_never_shown_to_asterisk(apply_lab: Lab) -> None:
    lab = apply_lab
    before = read_files(lab.asterisk.etc)
    lines: list[str] = []
    rc = apply(args_for(lab, "--yes"), lab.secrets, render=_cut_header, out=lines.append)
    out = "\n".join(lines)
    assert rc == 1 and "not installed" in out and "[vaxeld-transfer" in out, out
    assert read_files(lab.asterisk.etc) == before


def test_a_rendering_asterisk_rejects_is_rolled_back_while_callers_are_routed(
    apply_lab: Lab,
) -> None:
    lab = apply_lab
    before = read_files(lab.asterisk.etc)
    placed = 0
    stop = threading.Event()

    def callers() -> None:
        nonlocal placed
        while not stop.is_set():
            lab.control.call(lab.entry, "2", 8.0)
            placed += 1
            time.sleep(0.4)

    thread = threading.Thread(target=callers)
    thread.start()
    lines: list[str] = []
    try:
        time.sleep(1.0)
        rc = apply(args_for(lab, "--yes"), lab.secrets, render=_twice, out=lines.append)
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join()
    out = "\n".join(lines)
    assert rc == 1 and "NOT APPLIED, rolled back" in out and "vaxeld-transfer" in out, out
    assert "the previous set is back" in out, out
    print(out)
    assert read_files(lab.asterisk.etc) == before
    # Every caller placed before, during and after reached the English queue.
    assert wait_entered(lab, placed, timeout=60) == {"en": placed}
    lab.asterisk.wait_idle(60)
    rc, shown = run(lab, "--dry-run")
    assert "0 changes against what Asterisk has loaded" in shown, shown
    log = (lab.config_path.parent.parent / "state" / LOG_FILE).read_text()
    assert '"result": "rolled back"' in log


def test_apply_needs_exactly_its_rights(apply_lab: Lab) -> None:
    """With the run account (write = reporting, no system) the reload is refused: the
    apply says why, puts the files back, and Asterisk keeps the plan it had."""
    lab = apply_lab
    text = lab.config_path.read_text()
    lab.config_path.write_text(
        text.replace("apply_username: vaxeld-apply", "apply_username: vaxeld", 1)
        .replace("apply_secret_env: VAXELD_APPLY_SECRET", "apply_secret_env: VAXELD_AMI_SECRET", 1)
        .replace('    "1": sv\n', '    "1": en\n', 1)
    )
    before = read_files(lab.asterisk.etc)
    rc, out = run(lab, "--yes")
    assert rc == 1 and "Permission denied" in out and "rolled back" in out, out
    assert read_files(lab.asterisk.etc) == before
    lab.control.call(lab.entry, "1", 3.0)
    assert wait_entered(lab, 1) == {"sv": 1}
    lab.asterisk.wait_idle(60)  # no caller left behind when the lab stops
