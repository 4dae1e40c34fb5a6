"""vaxeld.render: deterministic output, committed dialplans/ kept fresh, atomic writes."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest

from vaxeld.config import load_config
from vaxeld.render import render_all, write_atomically
from vaxeld.render.files import EXTENSIONS_FILE, QUEUES_FILE

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "vaxeld.example.yaml"


TODAY = date(2026, 11, 23)


def render(config_path: Path = EXAMPLE) -> dict[str, str]:
    return render_all(load_config(config_path), TODAY)


def test_same_config_gives_byte_identical_output() -> None:
    assert render() == render()


def test_committed_dialplans_match_the_example_config() -> None:
    """Fails when config/vaxeld.example.yaml or a renderer changed without re-rendering.
    Fix with: vaxeld render config/vaxeld.example.yaml --out dialplans"""
    committed = (ROOT / "dialplans" / EXTENSIONS_FILE).read_text(encoding="utf-8")
    years = re.search(r"^; calendar years (\d{4})-", committed, re.MULTILINE)
    assert years, "no calendar years in the committed rendering"
    rendered_on = date(int(years.group(1)), 1, 1)  # the same years, whatever today is
    for name, content in render_all(load_config(EXAMPLE), rendered_on).items():
        assert (ROOT / "dialplans" / name).read_text(encoding="utf-8") == content, name


def test_dialplan_routes_entry_through_menu_to_language_queues() -> None:
    text = render()[EXTENSIONS_FILE]
    assert "exten => 0313650000,1,Set(__VAXELD_ENTRY=0313650000)" in text
    assert "Read(VAXELD_DIGIT,${VAXELD_PROMPTS},1,,1,4)" in text
    assert 'GotoIf($["${VAXELD_DIGIT}" = "3"]?vaxeld-lab-ar' not in text
    assert 'GotoIf($["${VAXELD_DIGIT}" = "3"]?vaxeld-lang-ar,s,1)' in text
    assert "GotoIf($[${VAXELD_TRY} < 3]?ask)" in text
    assert "Goto(vaxeld-lang-sv,s,1)" in text  # default language after the last try
    assert "UserEvent(VaxeldLanguage,Language: so," in text
    assert "Queue(fi,,,,900)" in text
    assert "UserEvent(VaxeldQueueResult,Queue: fi,Status: ${QUEUESTATUS})" in text
    assert "Set(CHANNEL(hangup_handler_push)=vaxeld-hangup,s,1)" in text
    assert "Set(VAXELD_SOUND=beep)" in text  # fallback for a missing prompt


def test_queue_config_has_service_level_and_members() -> None:
    text = render()[QUEUES_FILE]
    sv = text.split("[sv]")[1].split("\n[")[0]
    assert "servicelevel = 20" in sv
    assert "member => PJSIP/agent1001,0,Åsa Lindqvist" in sv
    assert "member => PJSIP/agent1003,1,Maria Öberg" in sv
    assert "servicelevel = 30" in text.split("[ar]")[1]


def test_write_is_atomic_and_reports_only_changed_files(tmp_path: Path) -> None:
    files = {"a.conf": "one\n", "b.conf": "two\n"}
    assert {p.name for p in write_atomically(tmp_path, files)} == {"a.conf", "b.conf"}
    assert write_atomically(tmp_path, files) == []
    changed = write_atomically(tmp_path, {"a.conf": "one\n", "b.conf": "three\n"})
    assert [p.name for p in changed] == ["b.conf"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_write_leaves_old_files_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_atomically(tmp_path, {"a.conf": "old a\n", "b.conf": "old b\n"})
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second new file fails mid-way (disk full, say)
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        write_atomically(tmp_path, {"a.conf": "new a\n", "b.conf": "new b\n"})
    assert (tmp_path / "a.conf").read_text() == "old a\n"
    assert (tmp_path / "b.conf").read_text() == "old b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.conf", "b.conf"]
