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
    assert "Queue(fi,t,,,900)" in text  # t: agents may transfer by keys
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


def test_crisis_is_checked_before_opening_hours_and_menu() -> None:
    text = render()[EXTENSIONS_FILE]
    start = text.split("[vaxeld-start]")[1].split("\n[")[0]
    crisis = start.index("DB(vaxeld/crisis/mode)")
    hours = start.index("Gosub(vaxeld-schedule-kontorstid,s,1(${EPOCH}))")
    assert crisis < hours < start.index("Goto(${VAXELD_NEXT},s,1)")
    assert "FILTER(a-z0-9_-,${DB(vaxeld/crisis/message)})" in start
    assert 'GotoIf($["${VAXELD_CRISIS_MODE}" = "announce_only"]?vaxeld-end,s,1)' in start


def test_legacy_numbers_route_to_menu_language_or_queue() -> None:
    entry = render()[EXTENSIONS_FILE].split("[vaxeld-entry]")[1].split("\n[")[0]
    assert "exten => 0313651000,1,Set(__VAXELD_ENTRY=0313651000)" in entry
    assert "Set(__VAXELD_NEXT=vaxeld-lang-sv)" in entry  # Socialtjänsten: Swedish directly
    assert "Set(__VAXELD_NEXT=vaxeld-queue-ar)" in entry  # Tolkförmedlingen: queue ar


def test_overflow_and_own_hours_in_queue_contexts() -> None:
    text = render()[EXTENSIONS_FILE]
    sv = text.split("[vaxeld-queue-sv]")[1].split("\n[")[0]
    assert "Queue(sv,t,,,300)" in sv  # overflow after 300 s, before max wait 900
    assert '"${QUEUESTATUS}" = "TIMEOUT" | "${QUEUESTATUS}" = "JOINEMPTY"' in sv
    assert "Goto(vaxeld-queue-vaxel,s,1)" in sv
    ar = text.split("[vaxeld-queue-ar]")[1].split("\n[")[0]
    assert "Gosub(vaxeld-schedule-tolkservice,s,1(${EPOCH}))" in ar
    assert "UserEvent(VaxeldClosed,Reason: ${VAXELD_CLOSED_REASON},Queue: ar)" in ar
    queues = render()[QUEUES_FILE]
    assert "joinempty = unavailable,invalid" in queues.split("[en]")[1].split("\n[")[0]
    assert "; dynamic: Lars Holm (PJSIP/agent1006)" in queues


def test_calendar_has_holidays_of_this_year_and_next() -> None:
    text = render()[EXTENSIONS_FILE]
    assert "VAXELD_CALENDAR_END=2027-12-31" in text
    assert "exten => 20261224,1,Return(closed-holiday)" in text  # julafton
    assert "exten => 20270625,1,Return(closed-holiday)" in text  # midsommarafton 2027
    assert "exten => 20261228,1,Return(closed-exception)" in text  # Klämdag
