"""The staffing plan: staffing from member lines, the plan's averages and models
(vaxeld.planning.staffing and .plan), and `vaxeld plan` end to end on a generated year:
table, CSV, what if, and the HTML heat maps looked at in Debian's headless Chromium."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from lab.browser import chromium, console_errors
from lab.queue_log_year import example_config_with_year
from vaxeld.calendar import day_kinds
from vaxeld.config import load_config
from vaxeld.planning.erlang import erlang_a, erlang_c, required, scheduled
from vaxeld.planning.member_lines import MemberLine
from vaxeld.planning.plan import Slot, plan_queue
from vaxeld.planning.staffing import staffed

ROOT = Path(__file__).resolve().parents[1]
CONFIG = load_config(ROOT / "config" / "vaxeld.example.yaml")
KEY = "a-caller-key-for-the-tests"


def test_staffed_counts_members_in_and_not_paused_per_interval() -> None:
    lines = [
        MemberLine(100, "main", "vaxel", "Local/1006@x/n", "ADDMEMBER"),
        MemberLine(200, "main", "vaxel", "Lars Holm", "PAUSE"),
        MemberLine(300, "main", "vaxel", "Lars Holm", "UNPAUSE"),
        MemberLine(450, "main", "vaxel", "Local/1006@x/n", "REMOVEMEMBER"),
    ]
    buckets = [(t, t + 100.0) for t in (0.0, 100.0, 200.0, 300.0, 400.0, 500.0)]
    got = staffed(
        lines, {"Local/1006@x/n": "Lars Holm"}, {"vaxel": frozenset({"Åsa"})}, 0.0, buckets, 600.0
    )
    assert [got.get(("vaxel", b[0]), 0.0) for b in buckets] == [1.0, 2.0, 1.0, 2.0, 1.5, 1.0]


def slot(day: date, offered: int, abandoned: int = 2) -> Slot:
    answered = offered - abandoned
    waited, talk = 60.0 * offered, 170.0 * answered
    return Slot("sv", day, 18, 0.0, offered, answered, abandoned, offered, answered - 5,
                waited, talk, answered)  # fmt: skip


def test_the_plan_averages_each_kind_of_day_and_asks_both_models() -> None:
    last = date(2026, 11, 30)  # a Monday
    first = last - timedelta(days=7 * 8 - 1)
    mondays = [last - timedelta(days=7 * i) for i in range(8)]
    special = {mondays[3]: "holiday", **day_kinds([2026])}  # one Monday kept apart
    slots = [slot(d, 40) for d in mondays]
    plan = plan_queue(CONFIG, "sv", slots, special, first, last)
    b = plan.basis
    assert b.handle == pytest.approx(170.0 + CONFIG.queues["sv"].wrapup_seconds)
    assert b.patience == pytest.approx(60.0 * 40 * 8 / (2 * 8))  # waited / hung up
    assert set(plan.cells) == {("Mon", 18), ("holiday", 18)}
    cell = plan.cells[("Mon", 18)]
    assert cell.calls == pytest.approx(40.0 * 7 / b.days["Mon"])  # days without calls count
    rate = cell.calls / 1800
    p = CONFIG.planning
    a = required(rate, b.handle, 20, 0.8, b.patience, None, p.max_occupancy)
    c = required(rate, b.handle, 20, 0.8, None, None, p.max_occupancy)
    assert (cell.erlang_a.agents, cell.erlang_c.agents) == (a.agents, c.agents)
    assert cell.scheduled == scheduled(a.agents, p.shrinkage)
    assert cell.staffed is None and plan.check is None  # nothing looked back at


def test_looking_back_gives_the_gap_and_checks_the_models() -> None:
    last = date(2026, 11, 30)
    first = last - timedelta(days=6)
    day = date(2026, 11, 30)
    one = Slot("sv", day, 18, 1000.0, 40, 38, 2, 40, 30, 2400.0, 6460.0, 38)
    plan = plan_queue(CONFIG, "sv", [one], {}, first, last, {("sv", 1000.0): 4.0})
    cell = plan.cells[("Mon", 18)]
    b = plan.basis
    need = required(40 / 1800, b.handle, 20, 0.8, b.patience, None, 0.85).agents
    assert cell.staffed == 4.0 and cell.gap == pytest.approx(4.0 - need)
    assert plan.check is not None and plan.check.measured == pytest.approx(30 / 40)
    assert plan.check.erlang_c == pytest.approx(erlang_c(40 / 1800, b.handle, 4, 20).service_level)
    assert b.patience is not None
    assert plan.check.erlang_a == pytest.approx(
        erlang_a(40 / 1800, b.handle, b.patience, 4, 20).service_level
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_config_with_year(tmp_path_factory.mktemp("plan"), calls=60000, seed=5)


def plan(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxeld", "plan", "-c", str(config), "--until", "2026-11-30", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "VAXELD_CALLER_KEY": KEY},
    )


def test_the_plan_of_a_generated_year_as_a_table_and_csv(config: Path) -> None:
    res = plan(config, "--queue", "sv")
    assert res.returncode == 0, res.stderr
    assert "Queue sv: agents to schedule per interval" in res.stdout
    assert "Model check over" in res.stdout and "new lines" in res.stderr
    rows = list(csv.DictReader(io.StringIO(plan(config, "--format", "csv", "--no-ingest").stdout)))
    assert {r["queue"] for r in rows} == set(CONFIG.queues)
    weekdays = {r["day"] for r in rows}
    assert {"Mon", "Fri"} <= weekdays and "Sun" not in weekdays  # closed at weekends
    busy = [r for r in rows if r["queue"] == "sv" and float(r["calls"]) > 3]
    assert busy and all(int(r["agents_erlang_a"]) <= int(r["agents_erlang_c"]) for r in busy)
    assert all(float(r["service_level_erlang_a"]) >= 0.8 for r in busy)


def test_what_if_predicts_from_the_numbers_given(config: Path) -> None:
    res = plan(config, "--queue", "sv", "--calls-per-hour", "120", "--handle-time", "180",
               "--agents", "8", "--patience", "120")  # fmt: skip
    assert res.returncode == 0, res.stderr
    c = erlang_c(120 / 3600, 180, 8, 20)
    a = erlang_a(120 / 3600, 180, 120, 8, 20)
    assert f"Erlang C: {c.service_level:.1%} within 20 s" in res.stdout
    assert f"Erlang A: {a.service_level:.1%} within 20 s" in res.stdout
    assert f"{a.abandon_share:.1%} hang up" in res.stdout
    bad = plan(config, "--queue", "nope", "--calls-per-hour", "1", "--handle-time", "1",
               "--agents", "1")  # fmt: skip
    assert bad.returncode == 2 and "unknown queue nope" in bad.stderr
    huge = plan(config, "--queue", "sv", "--calls-per-hour", "1", "--handle-time", "1",
                "--agents", "1000000000")  # fmt: skip
    assert huge.returncode == 2 and "--agents is at most 2000" in huge.stderr


def test_the_plan_page_renders_its_heat_maps_in_a_real_browser(
    config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan.html"
    res = plan(config, "--format", "html", "--out", str(out), "--no-ingest", "--queue", "sv")
    assert res.returncode == 0, res.stderr
    page = out.read_text()
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    with chromium() as browser:
        browser.get(out.as_uri())
        assert browser.title == "Staffing plan"
        maps = browser.find_elements("css selector", "svg.heat")
        assert len(maps) == 2  # agents needed, and the gaps
        assert len(browser.find_elements("css selector", "svg.heat rect")) > 100
        assert console_errors(browser) == []
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        browser.set_window_size(1400, browser.execute_script("return document.body.scrollHeight"))
        browser.save_screenshot(str(artifacts / "plan.png"))


def test_agents_needed_now_from_the_last_half_hour() -> None:
    from lab.vaxeld_process import parse_metrics, total
    from vaxeld.metrics import Metrics
    from vaxeld.state.changes import (
        CallAbandoned,
        CallAnswered,
        CallCompleted,
        CallOffered,
        Change,
    )

    now = [0.0]
    metrics = Metrics(CONFIG, lambda: [], clock=lambda: now[0])
    changes: list[Change] = []
    for i in range(60):  # 60 callers in half an hour: 2 a minute
        changes.append(CallOffered("sv", f"1.{i}", 1))
        if i % 10 == 0:
            changes.append(CallAbandoned("sv", f"1.{i}", 30.0))
        else:
            changes.append(CallAnswered("sv", f"1.{i}", "Åsa Lindqvist", 10.0))
            changes.append(CallCompleted("sv", f"1.{i}", "Åsa Lindqvist", 170.0, "agent"))
    metrics.record("main", changes)
    now[0] = 600.0
    samples = parse_metrics(metrics.exposition().decode())
    got = {
        model: total(samples, "vaxeld_queue_agents_required", queue="sv", model=model)
        for model in ("erlang_c", "erlang_a")
    }
    handle = 170.0 + CONFIG.queues["sv"].wrapup_seconds
    patience = (54 * 10.0 + 6 * 30.0) / 6  # waited / hung up
    rate = 60 / 1800
    assert got["erlang_c"] == required(rate, handle, 20, 0.8, None, None, 0.85).agents
    assert got["erlang_a"] == required(rate, handle, 20, 0.8, patience, None, 0.85).agents
    now[0] = 2500.0  # half an hour later: nothing left in the window
    samples = parse_metrics(metrics.exposition().decode())
    assert total(samples, "vaxeld_queue_agents_required", queue="sv") == 0
