"""vaxeld.web.board: the wallboard's picture built from views, pure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import immutables

from vaxeld.config import load_config
from vaxeld.state.model import Call, Member, Phase, SwitchboardState
from vaxeld.state.today import QueueToday
from vaxeld.state.view import LinkHealth, PbxView
from vaxeld.web.board import AgentClock, build_board

CONFIG = load_config(Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml")
WALL, MONO = 1_800_000_000.0, 500.0  # the wall clock and the monotonic clock, now


def view(
    name: str = "main",
    calls: dict[str, Call] | None = None,
    members: dict[tuple[str, str], Member] | None = None,
    connected: bool = True,
    crisis: bool | None = False,
) -> PbxView:
    state = SwitchboardState(
        pbx=name,
        calls=immutables.Map(calls or {}),
        members=immutables.Map(members or {}),
        synced=connected,
    )
    return PbxView(name, state, LinkHealth(connected=connected), crisis_active=crisis)


def board(views: list[PbxView], clock: AgentClock | None = None, **kw: Any) -> dict[str, Any]:
    return build_board(
        CONFIG,
        views,
        kw.get("today", {}),
        kw.get("since", {"main": WALL - 3600}),
        kw.get("opening", {"entry": "open"}),
        clock or AgentClock(),
        kw.get("wall", WALL),
        kw.get("mono", MONO),
    )


def queue(b: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in b["queues"] if q["name"] == name)


def test_waiting_callers_and_the_longest_wait_in_wall_time() -> None:
    calls = {
        "1": Call("1", queue="sv", phase=Phase.WAITING, joined_at=MONO - 30),
        "2": Call("2", queue="sv", phase=Phase.WAITING, joined_at=MONO - 5),
        "3": Call("3", queue="sv", phase=Phase.ANSWERED, joined_at=MONO - 99),  # not waiting
        "4": Call("4", queue="ar", phase=Phase.MENU),
    }
    b = board([view(calls=calls)])
    sv = queue(b, "sv")
    assert (sv["waiting"], sv["longest_since"]) == (2, round((WALL - 30) * 1000))
    assert (queue(b, "ar")["waiting"], queue(b, "ar")["longest_since"]) == (0, None)
    assert sv["language_name"] == "Svenska" and sv["target_seconds"] == 20
    assert b["live"] and not b["crisis"] and b["opening"] == "open"
    assert b["now"] == round(WALL * 1000)


def test_today_is_summed_over_pbxs_and_names_its_formula() -> None:
    today = {
        ("main", "sv"): QueueToday(3, 4, 3, 2, 1, 0),
        ("north", "sv"): QueueToday(1, 4, 1, 1, 2, 1),
    }
    b = board([view(), view("north")], today=today)
    sv = queue(b, "sv")
    assert sv["service_level"] == 4 / 8
    assert (sv["answered"], sv["answered_directly"], sv["abandoned"], sv["timed_out"]) == (
        4,
        3,
        3,
        1,
    )
    assert queue(b, "en")["service_level"] is None  # no call yet today
    assert b["formula"] == "offered" and "answered within target" in b["formula_text"]


def test_a_pbx_out_of_sight_makes_the_board_not_live() -> None:
    b = board([view(), view("b", connected=False, crisis=True)])
    assert not b["live"] and b["crisis"]
    assert [(p["name"], p["synced"]) for p in b["pbxs"]] == [("main", True), ("b", False)]


def test_agents_by_site_with_state_and_since_when() -> None:
    asa = Member("sv", "PJSIP/agent1001", "Åsa Lindqvist", status=1)
    johan = Member("sv", "PJSIP/agent1002", "Johan Berg", status=1, paused=True)
    clock = AgentClock()
    first = board(
        [view(members={("sv", asa.interface): asa, ("sv", johan.interface): johan})], clock
    )
    site = next(s for s in first["sites"] if any(a["name"] == "Åsa Lindqvist" for a in s["agents"]))
    agents = {a["name"]: a for a in site["agents"]}
    # First seen: the state began before vaxeld looked, so its start is not known.
    assert (
        agents["Åsa Lindqvist"]["state"] == "available" and agents["Åsa Lindqvist"]["since"] is None
    )
    assert agents["Johan Berg"]["state"] == "paused"
    assert site["counts"]["available"] >= 1 and site["counts"]["paused"] >= 1
    assert "Lars Holm" not in agents  # logged out: not on the board
    busy = asa._replace(in_call=True)
    later = board(
        [view(members={("sv", asa.interface): busy, ("sv", johan.interface): johan})],
        clock,
        wall=WALL + 7,
    )
    agents = {a["name"]: a for s in later["sites"] for a in s["agents"]}
    assert agents["Åsa Lindqvist"] == {
        "name": "Åsa Lindqvist",
        "state": "busy",
        "since": round((WALL + 7) * 1000),
        "pbx": "main",
    }
    assert agents["Johan Berg"]["since"] is None  # unchanged


def test_the_board_holds_no_caller_number() -> None:
    calls = {"1": Call("1", queue="sv", phase=Phase.WAITING, joined_at=MONO - 3)}
    text = repr(board([view(calls=calls)]))
    assert "uniqueid" not in text and "'1'" not in text
