"""Transfers and repeat callers on real Asterisk 22: agents (Local channels pressing their
phone's transfer keys) answer callers and pass them on, blind to a department outside
the centre, blind to another queue, attended to another agent and to a department, and
one caller twice; callers with fixed numbers call again. vaxeld's live counters and the
history report must equal what the scenario did and what queue_log says, call by call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.control import attended_transfer_keys
from lab.vaxeld_process import Samples, total
from vaxeld.config import parse_config
from vaxeld.history.files import ingest_files
from vaxeld.history.reports import ReportQueries
from vaxeld.history.store import HistoryStore
from vaxeld.report.periods import parse_period
from vaxeld.state.repeats import CallerKey

pytestmark = pytest.mark.asterisk

AGENTS = ("1001", "1002", "1003", "1004", "1005", "1006")
SV = ("1001", "1002", "1003", "1004")


@pytest.fixture
def transfer_lab(tmp_path: Path) -> Iterator[Lab]:
    # Calls back after a drop: within a minute (the scenario's repeat comes later).
    the_lab = start_lab(
        tmp_path,
        "transfers",
        queue_log=True,
        edit=lambda text: text.replace("callback_minutes: 10", "callback_minutes: 1"),
    )
    yield the_lab
    stop_lab(the_lab)


def only_answering(lab: Lab, agent: str, talk: float, keys: str = "", clear: bool = True) -> None:
    """Of the Swedish queue's agents only ``agent`` answers (after a second), pressing
    ``keys`` a second later, then talking ``talk`` seconds before hanging up. ``clear``
    takes back keys not pressed (not while an agent who just answered reads its own)."""
    for other in AGENTS:
        lab.control.set_agent(other, answer_after=60, talk=3)
        if clear:
            lab.control.action("DBDel", [("Family", "vaxlab/keys"), ("Key", other)])
    lab.control.set_agent(agent, answer_after=1, talk=talk)
    if keys:
        lab.control.press_next_call(agent, keys)


def wait_queue_log(lab: Lab, start: int, predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = lab.asterisk.queue_log_events(start)
        if predicate(rows):  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise TimeoutError(f"queue_log never showed it: {rows[-8:]}")


def events(rows: list[list[str]], event: str, **where: str) -> list[list[str]]:
    cols = {"callid": 1, "queue": 2, "agent": 3}
    return [r for r in rows if r[4] == event and all(r[cols[k]] == v for k, v in where.items())]


def call_and_wait(lab: Lab, start: int, number: str, event: str, count: int) -> None:
    """One caller for the Swedish queue from ``number``; wait for its ``event`` line."""
    lab.control.call(lab.entry, "1", 90.0, caller_id=number)
    wait_queue_log(lab, start, lambda rows: len(events(rows, event)) >= count)


def test_transfers_and_repeat_callers_equal_the_scenario_and_queue_log(
    transfer_lab: Lab, tmp_path: Path
) -> None:
    lab = transfer_lab
    vaxeld = lab.vaxeld().start()
    try:
        vaxeld.wait_synced()
        start = len(lab.asterisk.queue_log_events())
        # a) blind to Bygglov (6100-6199), outside the centre.
        only_answering(lab, "1001", talk=3, keys="#1ww6150")
        call_and_wait(lab, start, "0701000001", "BLINDTRANSFER", 1)
        # b) blind to the switchboard queue (7100): in the centre; answered there by
        # Johan, who passes the caller on to Bygglov: a second transfer, out.
        only_answering(lab, "1001", talk=3, keys="#1ww7100")
        call_and_wait(lab, start, "0701000002", "CONNECT", 2)
        only_answering(lab, "1002", talk=3, keys="#1ww6151", clear=False)
        wait_queue_log(lab, start, lambda rows: len(events(rows, "BLINDTRANSFER")) >= 3)
        # The same number again within a minute: a call back after a drop.
        only_answering(lab, "1002", talk=2)
        call_and_wait(lab, start, "0701000002", "COMPLETEAGENT", 1)
        # c) attended to Lars's extension (1006): still in the centre. Åsa completes the
        # transfer with the complete key (atxfercomplete, *2 by default) once Lars has
        # answered, and Lars talks on. Not by hanging up: app_queue then looks up the
        # hung-up channel to see that it was transferring, and when the channel is already
        # gone (a loaded machine) queue_log says COMPLETEAGENT, not ATTENDEDTRANSFER.
        only_answering(lab, "1001", talk=30, keys=attended_transfer_keys("1006"))
        lab.control.set_agent("1006", answer_after=1, talk=30)
        call_and_wait(lab, start, "0701000003", "ATTENDEDTRANSFER", 1)
        # While the caller talks to Lars, Åsa is free again, and nobody shows her busy.
        samples = vaxeld.wait_for(
            lambda s: total(s, "vaxeld_agent_state", agent="Åsa Lindqvist", state="available") == 1
        )
        # d) attended to Socialtjänsten (0313652500), which talks 20 s: out.
        only_answering(lab, "1001", talk=30, keys=attended_transfer_keys("0313652500"))
        call_and_wait(lab, start, "0701000004", "ATTENDEDTRANSFER", 2)
        # e) answered and resolved, then the first number again (over a minute later):
        # a repeat caller; and a withheld number twice, never grouped.
        only_answering(lab, "1002", talk=2)
        call_and_wait(lab, start, "0701000005", "COMPLETEAGENT", 2)
        call_and_wait(lab, start, "0701000001", "COMPLETEAGENT", 3)
        call_and_wait(lab, start, "anonymous", "COMPLETEAGENT", 4)
        call_and_wait(lab, start, "anonymous", "COMPLETEAGENT", 5)
        lab.asterisk.wait_idle(60)
        rows = lab.asterisk.queue_log_events(start)
        samples = vaxeld.wait_for(
            lambda s: (
                total(s, "vaxeld_calls_answered_total") >= 9
                and total(s, "vaxeld_queue_transfers_total") >= 5
            )
        )
        check_live(samples, rows)
        check_report(lab, tmp_path, samples)
    finally:
        vaxeld.stop()


def check_report(lab: Lab, tmp_path: Path, samples: Samples) -> None:
    """The history report from the same queue_log says what the live counters said."""
    config = parse_config(lab.config_path.read_text())
    day = date.today()
    span = parse_period(
        f"{day - timedelta(days=1)}..{day + timedelta(days=1)}", config.timezone, day
    )
    key = CallerKey(lab.secrets["VAXELD_CALLER_KEY"].encode())
    with HistoryStore(tmp_path / "history.duckdb", caller_key=key) as store:
        ingest_files(store, "main", lab.asterisk.queue_log)
        report = ReportQueries(store, config).build(span, "queue", "60m", "t")
        numbers = {r[0] for r in store.query("select d2 from lines where event = 'ENTERQUEUE'")}
    assert not any(n and n.startswith("070") for n in numbers)  # never kept in clear
    rows = dict(report.rows)
    live = {
        (queue, kind): total(samples, "vaxeld_queue_transfers_total", queue=queue, kind=kind)
        for queue in ("sv", "vaxel")
        for kind in ("inside", "out", "unknown")
    }
    assert live == {
        (queue, kind): rows[queue][
            f"transferred_{kind}" if kind != "unknown" else "transfer_unknown"
        ]
        for queue in ("sv", "vaxel")
        for kind in ("inside", "out", "unknown")
    }
    assert report.total["answered_callers"] == total(samples, "vaxeld_calls_answered_total") == 9
    resolved = 9 - total(samples, "vaxeld_calls_not_resolved_total")
    assert report.total["resolved"] == resolved == 6
    assert report.total["repeat_calls"] == 1 and report.total["callbacks"] == 1
    # Nobody's seven days have passed yet: resolved at first contact is not known yet.
    assert report.total["first_contact_callers"] == 0
    assert report.total["first_contact_share"] is None


def transfers(samples: Samples, queue: str, kind: str, department: str) -> float:
    return total(
        samples, "vaxeld_queue_transfers_total", queue=queue, kind=kind, department=department
    )


def check_live(samples: Samples, rows: list[list[str]]) -> None:
    # What the scenario did, transfer by transfer.
    assert transfers(samples, "sv", "out", "Bygglov") == 1  # a
    assert transfers(samples, "sv", "inside", "centre") == 2  # b, c
    assert transfers(samples, "vaxel", "out", "Bygglov") == 1  # b's second
    assert transfers(samples, "sv", "out", "Socialtjänsten") == 1  # d
    assert total(samples, "vaxeld_queue_transfers_total", kind="unknown") == 0
    assert total(samples, "vaxeld_queue_transfers_not_logged_total") == 0  # all in queue_log
    # ... and what queue_log says: a transfer line for each, in the same queues.
    for queue in ("sv", "vaxel"):
        logged = sum(
            len(events(rows, e, queue=queue)) for e in ("BLINDTRANSFER", "ATTENDEDTRANSFER")
        )
        assert total(samples, "vaxeld_queue_transfers_total", queue=queue) == logged
    # Nine callers answered (b once although answered twice); a, b and d not resolved.
    callers = {r[1] for r in rows if r[4] == "CONNECT"}
    assert total(samples, "vaxeld_calls_answered_total") == len(callers) == 9
    assert total(samples, "vaxeld_calls_not_resolved_total", kind="out") == 3
    assert total(samples, "vaxeld_calls_not_resolved_total", kind="unknown") == 0
    # b's number again at once: a call back; a's number over a minute later: a repeat;
    # the withheld number is not grouped.
    assert total(samples, "vaxeld_queue_repeat_calls_total", kind="callback") == 1
    assert total(samples, "vaxeld_queue_repeat_calls_total", kind="repeat") == 1
    assert total(samples, "vaxeld_repeat_callers_known_seconds") > 0
