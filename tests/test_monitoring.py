"""monitoring/: the rules pass promtool's own checks and unit tests, and every PromQL
expression in the rules and Grafana dashboards parses in a real Prometheus that
scraped vaxeld during real calls; the recording rules and dashboard queries return data."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lab_fixtures import Lab

from lab.asterisk import free_port
from lab.vaxeld_process import VaxeldProcess, total

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "monitoring"
RULES = MONITORING / "rules" / "vaxeld.rules.yml"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool missing: install the Debian package prometheus (scripts/setup.sh)")
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=MONITORING, timeout=60)


def test_promtool_checks_the_config_and_rules() -> None:
    res = promtool("check", "config", "prometheus.yml")
    assert res.returncode == 0, res.stdout + res.stderr
    records, alerts = rule_exprs()
    assert f"SUCCESS: {len(records) + len(alerts)} rules found" in res.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    res = promtool("test", "rules", "tests/vaxeld.rules.test.yml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


QUEUES = ("sv", "en", "ar", "so", "fi", "vaxel")


def dashboard_exprs() -> list[list[str]]:
    """Each dashboard expression, with the $queue variable filled in for every queue."""
    exprs: list[list[str]] = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                # Every PBX and site ("All" in Grafana is the regex .*), or one of each.
                pbx, site = ("main", "stadshuset") if len(exprs) % 2 else (".*", ".*")
                expr = target["expr"].replace("$pbx", pbx).replace("$site", site)
                exprs.append(
                    [expr.replace("$queue", q) for q in QUEUES] if "$queue" in expr else [expr]
                )
    return exprs


def rule_exprs() -> tuple[list[tuple[str, str]], list[str]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    records = [(r["record"], r["expr"]) for g in groups for r in g["rules"] if "record" in r]
    alerts = [r["expr"] for g in groups for r in g["rules"] if "alert" in r]
    return records, alerts


def test_dashboards_are_provisionable_json() -> None:
    assert {p.name for p in DASHBOARDS} == {"vaxeld-overview.json", "vaxeld-queue.json"}
    uids = {json.loads(p.read_text())["uid"] for p in DASHBOARDS}
    assert uids == {"vaxeld-overview", "vaxeld-queue"}
    assert len(dashboard_exprs()) >= 20
    for path in DASHBOARDS:  # every panel can be narrowed to one PBX (and site)
        board = json.loads(path.read_text())
        assert [v["name"] for v in board["templating"]["list"]][:2] == ["pbx", "site"]
        for panel in board["panels"]:
            for target in panel["targets"]:
                assert '$pbx"' in target["expr"] or "_info" in target["expr"], target["expr"]
    for variants in dashboard_exprs():
        for expr in variants:
            assert "$" not in expr, expr


class Prometheus:
    def __init__(self, tmp: Path, target_port: int) -> None:
        exe = shutil.which("prometheus")
        if exe is None:
            pytest.fail("prometheus missing: install the Debian package (scripts/setup.sh)")
        self.port = free_port()
        config = tmp / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [
                        {
                            "job_name": "vaxeld",
                            "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                        }
                    ],
                }
            )
        )
        self.log = open(tmp / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def query(self, expr: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expr}
        )
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return dict(json.loads(resp.read()))
        except urllib.error.HTTPError as exc:  # 400: the expression does not parse
            return dict(json.loads(exc.read()))

    def wait_for(self, expr: str, timeout: float = 60) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                result = self.query(expr)
                if result.get("status") == "success" and result["data"]["result"]:
                    return list(result["data"]["result"])
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"Prometheus returned nothing for {expr}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


@pytest.fixture
def prometheus(vaxeld: VaxeldProcess, tmp_path: Path) -> Iterator[Prometheus]:
    prom = Prometheus(tmp_path, vaxeld.metrics_port)
    yield prom
    prom.stop()


@pytest.mark.asterisk
def test_every_expression_parses_and_returns_data_from_a_real_prometheus(
    lab: Lab, vaxeld: VaxeldProcess, prometheus: Prometheus
) -> None:
    prometheus.wait_for("vaxeld_build_info")
    for agent in ("1001", "1002", "1003", "1004"):
        lab.control.set_agent(agent, answer_after=1, talk=2)
    for digits, patience in [("1", 20.0), ("2", 20.0), ("1", 20.0), ("", 20.0)]:
        lab.control.call(lab.entry, digits, patience)
        time.sleep(1.5)
    lab.asterisk.wait_idle(60)
    vaxeld.wait_for(lambda s: total(s, "vaxeld_queue_calls_answered_total", queue="sv") >= 3)
    prometheus.wait_for('sum(vaxeld_queue_calls_answered_total{queue="sv"}) >= 3')
    records, alerts = rule_exprs()
    for name, _ in records:
        prometheus.wait_for(name, timeout=30)
    for variants in dashboard_exprs():
        # The query must parse for every queue and return data for at least one of them
        # (nothing overflows into some queues, for example).
        answers = [prometheus.query(v) for v in variants]
        assert all(a["status"] == "success" for a in answers), (variants, answers)
        if not any(a["data"]["result"] for a in answers):
            prometheus.wait_for(variants[0], timeout=30)
    for expr in alerts:
        answer = prometheus.query(expr)
        assert answer["status"] == "success", (expr, answer)
