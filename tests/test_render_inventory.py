"""vaxeld.render.inventory: what a rendering puts into Asterisk, and what changes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from vaxeld.config import load_config, parse_config
from vaxeld.render import render_all
from vaxeld.render.inventory import differences, inventory_of, unreadable

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
TODAY = date(2026, 12, 1)


def rendered(text: str | None = None, today: date = TODAY) -> dict[str, str]:
    config = load_config(EXAMPLE) if text is None else parse_config(text)
    return render_all(config, today)


def test_a_rendering_reads_back_into_contexts_priorities_globals_and_queues() -> None:
    inv = inventory_of(rendered())
    entry = inv.contexts["vaxeld-entry"]
    assert entry[("0313650000", 1)] == "Set" and entry[("0313650000", 3)] == "Goto"
    for steps in inv.contexts.values():  # priorities count up from 1 per extension
        for exten in {e for e, _ in steps} - {"include"}:
            numbers = sorted(p for e, p in steps if e == exten)
            assert numbers == list(range(1, len(numbers) + 1)), exten
    assert inv.globals == {"VAXELD_CALENDAR_END": "2027-12-31"}
    sv = inv.queues["sv"]
    assert sv.settings["strategy"] == "rrmemory" and sv.settings["servicelevel"] == "20"
    assert ("PJSIP/agent1001", 0, "Åsa Lindqvist") in sv.members
    assert inv.as_live().queues["sv"].settings == {"strategy": "rrmemory", "servicelevel": "20"}
    assert differences(inv, inventory_of(rendered())) == []


def test_what_changes_is_said_per_context_schedule_global_queue_and_member() -> None:
    text = EXAMPLE.read_text()
    changed = text.replace('    "1": sv\n', '    "1": en\n', 1).replace(
        '      - {interface: PJSIP/agent1002, extension: "1002", name: Johan Berg}\n', "", 1
    )
    lines = differences(inventory_of(rendered()), inventory_of(rendered(changed, date(2027, 1, 2))))
    assert any(line.startswith("~ context vaxeld-menu:") for line in lines), lines
    assert any(
        line.startswith("~ schedule vaxeld-schedule-kontorstid-days:") and "(20280101" in line
        for line in lines
    ), lines
    assert "~ global VAXELD_CALENDAR_END: 2027-12-31 -> 2028-12-31" in lines
    assert "~ queue sv: - member PJSIP/agent1002 (Johan Berg, penalty 0)" in lines
    fewer = text.replace(
        "  fi:\n    language: fi\n", "  fi:\n    language: fi\n    strategy: linear\n"
    )
    lines = differences(inventory_of(rendered()), inventory_of(rendered(fewer)))
    assert lines == ["~ queue fi: strategy rrmemory -> linear"], lines
    assert differences(inventory_of({}), inventory_of(rendered()))[0].startswith("+ ")


def test_lines_no_renderer_writes_are_found_with_where() -> None:
    files = rendered()
    assert unreadable(files) == []
    cut = files["extensions_vaxeld.conf"].replace("[vaxeld-menu]", "[vaxeld-menu", 1)
    found = unreadable({**files, "extensions_vaxeld.conf": cut})
    assert len(found) == 1 and found[0].startswith("extensions_vaxeld.conf:")
    assert "'[vaxeld-menu'" in found[0]
    assert unreadable({"queues_vaxeld.conf": "[sv]\nstrategy=ringall\n"}) == [
        "queues_vaxeld.conf:2: 'strategy=ringall'"
    ]
