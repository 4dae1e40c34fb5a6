"""vaxeld.report.text and .html, and `vaxeld report` end to end: a report of a generated
year as a table, CSV, JSON and HTML, the HTML looked at in a real headless Chromium
(Debian's), with a screenshot kept in test-artifacts/."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.browser import chromium, console_errors
from lab.queue_log_year import example_config_with_year
from vaxeld.report.html import CARDS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_config_with_year(tmp_path_factory.mktemp("report"), calls=6000, seed=3)


def report(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxeld", "report", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "VAXELD_CALLER_KEY": "a-caller-key-for-the-tests",
        },
    )


def test_the_table_puts_two_periods_side_by_side(config: Path) -> None:
    res = report(config, "--period", "2026-11", "--compare", "2026-10")
    assert res.returncode == 0, res.stderr
    assert "2026-10 against 2026-11" in res.stdout
    assert "Service level" in res.stdout and "queue sv" in res.stdout
    assert "new lines" in res.stderr  # it said what it read
    assert "07000" not in res.stdout  # no caller numbers


def test_csv_and_json_carry_every_figure_for_machines(config: Path) -> None:
    res = report(config, "--period", "2026", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    offered = {
        r["group"]: float(r["value"])
        for r in rows
        if r["figure"] == "offered" and r["section"] == "queue"
    }
    total = next(
        float(r["value"]) for r in rows if r["section"] == "total" and r["figure"] == "offered"
    )
    assert sum(offered.values()) == total > 5000
    data = json.loads(
        report(
            config, "--period", "2026-W10", "--by", "entry", "--format", "json", "--no-ingest"
        ).stdout
    )
    assert data["period"]["first"] == "2026-03-02" and data["group_by"] == "entry"
    assert set(data["groups"]) <= {"0313650000", "0313651000", "0313652000", "0313653000"}
    assert "07000" not in json.dumps(data)


def test_a_period_that_cannot_be_read_is_a_clear_error(config: Path) -> None:
    res = report(config, "--period", "someday", "--no-ingest")
    assert res.returncode == 2 and "is not a period" in res.stderr and "Traceback" not in res.stderr


def test_the_html_report_renders_in_a_real_browser_with_its_charts(
    config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    res = report(config, "--period", "2026-11", "--compare", "2026-10", "--format", "html",
                 "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    page = out.read_text()
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")  # offline
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        browser.get(out.as_uri())
        assert browser.title.startswith("Contact centre report")
        charts = {
            c.get_attribute("class") for c in browser.find_elements("css selector", "svg.chart")
        }
        assert charts == {"chart sl", "chart heat", "chart waits"}
        bars = browser.find_elements("css selector", "svg.sl rect")
        assert len(bars) == 21  # the weekdays of November 2026 with calls
        assert browser.find_elements("css selector", "svg.sl line.goal")
        assert len(browser.find_elements("css selector", ".card")) == len(CARDS)
        height = browser.execute_script("return document.body.scrollHeight")
        assert height > 1000
        assert console_errors(browser) == []
        browser.set_window_size(1400, height)
        browser.save_screenshot(str(ARTIFACTS / "report.png"))
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
