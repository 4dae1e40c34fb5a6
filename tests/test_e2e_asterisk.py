"""End to end on real Asterisk 22: callers dial the entry number, choose a language,
wait in that language's queue and are answered or give up. vaxeld's figures must
equal what Asterisk itself wrote to queue_log and reports for each queue."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.asterisk import count_queue_log
from lab.vaxeld_process import Samples, VaxeldProcess, total
from vaxeld.calendar import local_midnight

pytestmark = pytest.mark.asterisk

QUEUES = ("sv", "en", "ar", "so", "fi", "vaxel")


def queue_params(lab: Lab) -> dict[str, dict[str, int]]:
    """Asterisk's own figures per queue; completed within service level is derived from
    ServicelevelPerf (a percentage of Completed, one decimal: exact for these counts)."""
    items = lab.control.list_action("QueueStatus", "QueueStatusComplete")
    out = {}
    for m in items:
        if m.event != "QueueParams":
            continue
        completed = int(m.get("Completed"))
        perf = float(m.get("ServicelevelPerf") or 0)
        out[m.get("Queue")] = {
            "completed": completed,
            "abandoned": int(m.get("Abandoned")),
            "within_sl": round(perf * completed / 100),
        }
    return out


def vaxeld_counts(samples: Samples, queue: str) -> dict[str, float]:
    return {
        "offered": total(samples, "vaxeld_queue_calls_offered_total", queue=queue),
        "answered": total(samples, "vaxeld_queue_calls_answered_total", queue=queue),
        "abandoned": total(samples, "vaxeld_queue_calls_abandoned_total", queue=queue),
        "timeout": total(samples, "vaxeld_queue_calls_exited_total", queue=queue, reason="timeout"),
        "answer_waits": total(samples, "vaxeld_queue_answer_wait_seconds_count", queue=queue),
        "within_sl": total(samples, "vaxeld_queue_service_level_met_total", queue=queue),
    }


def test_twenty_four_calls_match_queue_log_and_asterisk_queue_stats(
    lab: Lab, vaxeld: VaxeldProcess
) -> None:
    # Interpreters for Arabic and Somali never answer within the ring timeout, so
    # those callers give up; the other queues answer after one second.
    for agent in ("2001", "2002"):
        lab.control.set_agent(agent, answer_after=60, talk=3)
    for agent in ("1001", "1002", "1003", "1004", "1005"):
        lab.control.set_agent(agent, answer_after=1, talk=4)
    log_start = len(lab.asterisk.queue_log_events())
    before = vaxeld.scrape()
    params_before = queue_params(lab)

    plan = (
        [("1", 40.0)] * 6
        + [("2", 40.0)] * 4
        + [("5", 40.0)] * 3  # answered, some wait
        + [("3", 8.0)] * 3
        + [("4", 8.0)] * 3  # abandoned while waiting
        + [("", 40.0)] * 2
        + [("9", 40.0)]  # no digit / invalid digit -> default (sv)
        + [("1", 6.0)] * 2  # impatient Swedish callers: answered or abandoned
    )
    assert len(plan) >= 20
    for i, (digits, patience) in enumerate(plan):
        lab.control.call(lab.entry, digits, patience, caller_id=f"07000000{i:02d}")
        time.sleep(0.3)

    during = vaxeld.wait_for(lambda s: total(s, "vaxeld_queue_calls_waiting") > 0, 30)
    assert total(during, "vaxeld_queue_members_logged_in", queue="sv") == 4
    assert total(during, "vaxeld_queue_members_logged_in", queue="ar") == 2

    lab.asterisk.wait_idle(timeout=150)
    counts = count_queue_log(lab.asterisk.queue_log_events(log_start))
    entered = sum(c.get("ENTERQUEUE", 0) for c in counts.values())
    assert entered == len(plan)

    def settled(s: Samples) -> bool:
        return (
            total(s, "vaxeld_queue_calls_offered_total")
            - total(before, "vaxeld_queue_calls_offered_total")
        ) == entered

    after = vaxeld.wait_for(settled, 15)
    params_after = queue_params(lab)

    figures = {}
    for queue in QUEUES:
        got = {
            k: vaxeld_counts(after, queue)[k] - vaxeld_counts(before, queue)[k]
            for k in vaxeld_counts(after, queue)
        }
        log = counts.get(queue, {})
        expected = {
            "offered": log.get("ENTERQUEUE", 0),
            "answered": log.get("CONNECT", 0),
            "abandoned": log.get("ABANDON", 0),
            "timeout": log.get("EXITWITHTIMEOUT", 0),
            "answer_waits": log.get("CONNECT", 0),
        }
        assert {k: v for k, v in got.items() if k != "within_sl"} == expected, (
            f"queue {queue}: vaxeld {got} != queue_log {expected}"
        )
        asterisk_completed = params_after[queue]["completed"] - params_before[queue]["completed"]
        asterisk_abandoned = params_after[queue]["abandoned"] - params_before[queue]["abandoned"]
        assert got["answered"] == asterisk_completed, queue
        # Asterisk's own "abandoned" figure includes callers who left by timeout.
        assert got["abandoned"] + got["timeout"] == asterisk_abandoned, queue
        asterisk_within = params_after[queue]["within_sl"] - params_before[queue]["within_sl"]
        assert got["within_sl"] == asterisk_within, f"{queue}: service level differs"
        figures[queue] = got
    print("figures per queue (vaxeld == queue_log):", figures)

    answered = sum(f["answered"] for f in figures.values())
    abandoned = sum(f["abandoned"] for f in figures.values())
    assert answered >= 13 and abandoned >= 6
    assert figures["ar"]["abandoned"] == 3 and figures["so"]["abandoned"] == 3
    assert total(after, "vaxeld_queue_calls_waiting") == 0
    defaults = total(after, "vaxeld_menu_language_selections_total", reason="default") - total(
        before, "vaxeld_menu_language_selections_total", reason="default"
    )
    assert defaults == 3
    entries = total(after, "vaxeld_entry_calls_total", entry=lab.entry) - total(
        before, "vaxeld_entry_calls_total", entry=lab.entry
    )
    assert entries == len(plan)


def test_vaxeld_started_while_callers_wait_rebuilds_them_from_asterisk(lab: Lab) -> None:
    for agent in ("2001", "2002"):
        lab.control.set_agent(agent, answer_after=60, talk=3)
    for i in range(2):
        lab.control.call(lab.entry, "4", 25.0, caller_id=f"07100000{i:02d}")
    deadline = time.monotonic() + 20
    while "2 calls" not in lab.asterisk.cli("queue show so") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "2 calls" in lab.asterisk.cli("queue show so")
    time.sleep(2)  # so the rebuilt waits are visibly older than vaxeld itself
    proc = lab.vaxeld("late-vaxeld").start()
    try:
        samples = proc.wait_synced()
        assert total(samples, "vaxeld_queue_calls_waiting", queue="so") == 2
        assert total(samples, "vaxeld_queue_longest_wait_seconds", queue="so") >= 1
        assert total(samples, "vaxeld_queue_members_logged_in", queue="so") == 2
        # Nobody was offered while vaxeld watched: counters start at zero, not guessed.
        assert total(samples, "vaxeld_queue_calls_offered_total") == 0
    finally:
        proc.stop()
        lab.asterisk.wait_idle(timeout=60)


def test_event_filter_keeps_only_what_vaxeld_uses(lab: Lab, vaxeld: VaxeldProcess) -> None:
    before = vaxeld.scrape()
    lab.control.call(lab.entry, "1", 10.0)
    lab.asterisk.wait_idle(timeout=60)
    after = vaxeld.wait_for(
        lambda s: (
            total(s, "vaxeld_queue_calls_offered_total", queue="sv")
            > total(before, "vaxeld_queue_calls_offered_total", queue="sv")
        ),
        10,
    )
    events = total(after, "vaxeld_ami_events_total") - total(before, "vaxeld_ami_events_total")
    # One answered call is about 76 events unfiltered; vaxeld asks for the queue,
    # agent and its own user events only.
    assert 4 <= events <= 25, events


def test_a_vaxeld_started_during_the_day_shows_the_day_so_far_from_queue_log(
    tmp_path: Path,
) -> None:
    """Today's service level survives a restart of vaxeld: the new one takes the day so
    far from queue_log, equal to what the old one counted live and to queue_log itself,
    while its counters start from zero."""
    lab = start_lab(tmp_path, "today", queue_log=True)
    first = lab.vaxeld("first").start()
    try:
        first.wait_synced()
        for agent in ("1001", "1002", "1003", "1004"):  # the Swedish queue's agents
            lab.control.set_agent(agent, answer_after=1, talk=2)
        for i in range(3):
            lab.control.call(lab.entry, "1", 12.0, caller_id=f"07200000{i:02d}")
        first.wait_for(lambda s: sl_calls(s) == 3, 40)
        for agent in ("1001", "1002", "1003", "1004"):
            lab.control.set_agent(agent, answer_after=60, talk=2)
        for i in range(2):
            lab.control.call(lab.entry, "1", 7.0, caller_id=f"07300000{i:02d}")
        lab.asterisk.wait_idle(timeout=60)
        live = first.wait_for(lambda s: sl_calls(s) == 5, 20)
        first.stop()

        rows = [r for r in lab.asterisk.queue_log_events() if len(r) > 5 and r[2] == "sv"]
        ended = [r for r in rows if r[4] in ("CONNECT", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY")]
        met = [r for r in rows if r[4] == "CONNECT" and int(r[5]) <= 20]
        assert (len(met), len(ended)) == (3, 5)

        second = lab.vaxeld("second").start()
        try:
            samples = second.wait_synced()
            today = "vaxeld_queue_service_level_today_ratio"
            assert total(samples, today, queue="sv") == total(live, today, queue="sv") == 3 / 5
            assert total(samples, "vaxeld_queue_service_level_calls_total", queue="sv") == 0
            first_line = int(lab.asterisk.queue_log_events()[0][0])
            midnight = local_midnight("Europe/Stockholm", time.time())
            since = total(samples, "vaxeld_service_level_today_since_timestamp_seconds")
            assert since == max(first_line, midnight)
        finally:
            second.stop()
    finally:
        first.stop()
        stop_lab(lab)


def sl_calls(samples: Samples) -> float:
    return total(samples, "vaxeld_queue_service_level_calls_total", queue="sv")
