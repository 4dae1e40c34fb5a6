"""vaxeld.checks: missing prompts on the Asterisk side, a calendar about to run out."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from vaxeld.checks import calendar_warning, missing_prompts, prompts_in
from vaxeld.cli import main
from vaxeld.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"


def test_every_missing_prompt_is_reported_and_present_ones_are_not(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    sounds = tmp_path / "sounds"
    (sounds / "sv" / "vaxeld").mkdir(parents=True)
    (sounds / "en").mkdir()
    (sounds / "sv" / "vaxeld" / "menu-sv.gsm").write_bytes(b"x")
    (sounds / "en" / "beep.gsm").write_bytes(b"x")
    problems = missing_prompts(config, sounds)
    assert len(problems) == len(list(prompts_in(config))) - 2
    assert not any(p.startswith("languages.sv.prompt:") for p in problems)
    assert any(
        p.startswith("languages.ar.prompt: prompt 'vaxeld/menu-ar' not found") for p in problems
    )
    assert any(p.startswith("crisis.messages.storm.prompt") for p in problems)


def test_calendar_warning_within_60_days() -> None:
    text = "[globals]\nVAXELD_CALENDAR_END=2027-12-31\n"
    assert calendar_warning(text, date(2027, 10, 1)) is None
    warning = calendar_warning(text, date(2027, 11, 15))
    assert warning is not None and "runs out on 2027-12-31 (46 days)" in warning


def test_check_prints_prompt_warnings_and_strict_fails(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.yaml"
    (tmp_path / "sounds").mkdir()
    config.write_text(
        EXAMPLE.read_text().replace(
            "  fallback: beep", f"  fallback: beep\n  directory: {tmp_path / 'sounds'}"
        )
    )
    assert main(["check", str(config)]) == 0
    captured = capsys.readouterr()
    assert "warning: languages.sv.prompt: prompt 'vaxeld/menu-sv' not found" in captured.err
    assert "warning(s)" in captured.out
    assert main(["check", str(config), "--strict"]) == 1
