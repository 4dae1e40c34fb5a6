"""The accuracy test: seeded random traffic on real Asterisk 22 while vaxeld's AMI
connection is cut at random moments and Asterisk is restarted once. At the end, per
queue, vaxeld's offered, answered, abandoned and timed-out counts and its
answered-within-service-level counts must equal what Asterisk wrote to queue_log.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.asterisk import count_queue_log
from lab.proxy import CuttableProxy
from lab.vaxeld_process import Samples, total
from vaxeld.config import parse_config

pytestmark = pytest.mark.asterisk

CALLS = 200
TRAFFIC_SECONDS = 60.0
CUTS = 5


@dataclass(frozen=True)
class Planned:
    at: float
    digits: str
    patience: float


def plan(rng: random.Random) -> list[Planned]:
    calls = []
    for i in range(CALLS):
        roll = rng.random()
        digits = rng.choice("0123455") if roll > 0.06 else rng.choice(["", "9"])
        patience = rng.choice([rng.uniform(3, 12), rng.uniform(12, 45)])
        calls.append(Planned(TRAFFIC_SECONDS * i / CALLS, digits, round(patience, 1)))
    return calls


def expected_from_queue_log(lab: Lab, sl: dict[str, int]) -> dict[str, dict[str, int]]:
    rows = lab.asterisk.queue_log_events()
    counts = count_queue_log(rows)
    out = {}
    for queue, target in sl.items():
        c = counts.get(queue, {})
        within = sum(
            1
            for r in rows
            if len(r) > 5
            and r[2] == queue
            and r[4] == "CONNECT"
            and r[5].isdigit()
            and int(r[5]) <= target
        )
        out[queue] = {
            "offered": c.get("ENTERQUEUE", 0),
            "answered": c.get("CONNECT", 0),
            "abandoned": c.get("ABANDON", 0),
            "timeout": c.get("EXITWITHTIMEOUT", 0),
            "leaveempty": c.get("EXITEMPTY", 0),
            "within_sl": within,
        }
    return out


def vaxeld_figures(s: Samples, sl: dict[str, int]) -> dict[str, dict[str, int]]:
    out = {}
    for queue, target in sl.items():

        def t(name: str, **labels: str) -> int:
            return int(total(s, name, queue=queue, **labels))  # noqa: B023

        out[queue] = {
            "offered": t("vaxeld_queue_calls_offered_total"),
            "answered": t("vaxeld_queue_calls_answered_total"),
            "abandoned": t("vaxeld_queue_calls_abandoned_total"),
            "timeout": t("vaxeld_queue_calls_exited_total", reason="timeout"),
            "leaveempty": t("vaxeld_queue_calls_exited_total", reason="leaveempty"),
            "within_sl": t("vaxeld_queue_answer_wait_seconds_bucket", le=f"{float(target)}"),
        }
    return out


@pytest.fixture
def accuracy_lab(tmp_path: Path) -> Iterator[Lab]:
    # A short max wait for Finnish, so some callers leave by timeout (EXITWITHTIMEOUT).
    lab = start_lab(
        tmp_path,
        "accuracy",
        queue_log=True,
        edit=lambda text: text.replace(
            "    language: fi\n    service_level_seconds: 30\n    max_wait_seconds: 900",
            "    language: fi\n    service_level_seconds: 30\n    max_wait_seconds: 8",
            1,
        ),
    )
    try:
        assert parse_config(lab.config_path.read_text()).queues["fi"].max_wait_seconds == 8
        yield lab
    finally:
        stop_lab(lab)


@pytest.mark.parametrize("seed", [11, 22, 33])
def test_counts_equal_queue_log_through_ami_cuts_and_an_asterisk_restart(
    accuracy_lab: Lab, seed: int
) -> None:
    lab = accuracy_lab
    rng = random.Random(seed)
    config = parse_config(lab.config_path.read_text())
    sl = {name: q.service_level_seconds for name, q in config.queues.items()}
    for agent in lab.agents:
        lab.control.set_agent(agent, answer_after=rng.randint(1, 6), talk=rng.randint(2, 9))
    proxy = CuttableProxy(lab.asterisk.ami_port)
    vaxeld = lab.vaxeld("accuracy", ami_port=proxy.port).start()
    try:
        vaxeld.wait_synced()
        calls = plan(rng)
        cuts = sorted(rng.uniform(3, TRAFFIC_SECONDS) for _ in range(CUTS))
        restart_at = rng.uniform(TRAFFIC_SECONDS * 0.3, TRAFFIC_SECONDS * 0.7)
        start = time.monotonic()
        restarted = False
        for call in calls:
            while (now := time.monotonic() - start) < call.at:
                time.sleep(min(0.05, call.at - now))
            while cuts and cuts[0] <= now:
                cuts.pop(0)
                if not proxy.cut():  # vaxeld was reconnecting: cut again a little later
                    cuts.append(now + 1.0)
            if not restarted and now >= restart_at:
                restarted = True
                lab.restart_asterisk()
            lab.control.call(
                lab.entry, call.digits, call.patience, caller_id=f"07{rng.randrange(10**8):08d}"
            )
        while proxy.cuts < CUTS:
            proxy.cut()
            time.sleep(1.0)
        assert restarted
        lab.asterisk.wait_idle(timeout=240)
        expected = expected_from_queue_log(lab, sl)
        assert sum(q["offered"] for q in expected.values()) >= CALLS * 0.8

        def settled(s: Samples) -> bool:
            return vaxeld_figures(s, sl) == expected

        try:
            final = vaxeld.wait_for(settled, timeout=60)
        except TimeoutError:
            final = vaxeld.scrape()
        got = vaxeld_figures(final, sl)
        print(f"seed {seed}: {proxy.cuts} cuts, 1 restart; queue_log per queue: {expected}")
        print(
            f"seed {seed}: recovered from queue_log: "
            f"{total(final, 'vaxeld_queue_log_recovered_total'):.0f}, duplicates suppressed: "
            f"{total(final, 'vaxeld_duplicate_outcomes_suppressed_total'):.0f}, AMI connects: "
            f"{total(final, 'vaxeld_ami_connects_total'):.0f}"
        )
        assert got == expected
        # A reconnect after the cuts (a cut can hit a connection still logging in, and the
        # restart can fall into a cut's reconnect, so not one connect per disruption).
        assert total(final, "vaxeld_ami_connects_total") >= proxy.cuts
        # queue_log was read all along: every outcome AMI also delivered was suppressed once.
        assert total(final, "vaxeld_duplicate_outcomes_suppressed_total") > 0
        answered = sum(q["answered"] for q in expected.values())
        abandoned = sum(q["abandoned"] for q in expected.values())
        assert answered > 20 and abandoned > 5
    finally:
        vaxeld.stop()
        proxy.close()
