"""Counts that stay whole through every fault, on real Asterisk 22 with SIP callers.

About 300 SIPp callers at about 2 a second, on the entry and legacy numbers, choosing
languages, the switchboard, a wrong digit or none, some hanging up in the menu, some in
queues that time out or overflow; meanwhile vaxeld's AMI connection is closed, reset,
frozen past the watchdog, black-holed, refused, and cut during a login and during a
resync, Asterisk is restarted (`core restart now`) and killed (`kill -9`), and vaxeld
itself is killed and started again. At the end every counter family of the last vaxeld
(offered per entry, answered directly, overflow, menu, per queue) equals an independent
count of queue_log from where that vaxeld began counting, every caller is accounted
for, and no reconnect after a healthy session waited more than half a second.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from lab_fixtures import Lab, start_lab, stop_lab

from lab.asterisk import free_port
from lab.proxy import CuttableProxy
from lab.queue_log_truth import (
    expected_figures,
    line_index_of_offset,
    queue_families,
    report_figures,
    vaxeld_figures,
)
from lab.vaxeld_process import Samples, VaxeldProcess, total
from vaxeld.config import parse_config
from vaxeld.history.files import ingest_files
from vaxeld.history.reports import ReportQueries
from vaxeld.history.store import HistoryStore
from vaxeld.report.periods import parse_period

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

SEED = 15
TRAFFIC_SECONDS = 150.0
TEMPLATE = (Path(__file__).parent / "sipp" / "caller_profile.xml").read_text()


@dataclass(frozen=True)
class Profile:
    number: str  # dialled
    digit: str  # pressed in the menu ("" none)
    patience: tuple[int, int]  # ms, uniform
    calls: int


PROFILES = [
    Profile("0313650000", "1", (2000, 25000), 50),  # Swedish; overflow after 6 s
    Profile("0313650000", "2", (2000, 20000), 35),  # English
    Profile("0313650000", "3", (2000, 20000), 25),  # Arabic
    Profile("0313650000", "5", (4000, 20000), 30),  # Finnish: times out after 8 s
    Profile("0313650000", "0", (2000, 20000), 30),  # the switchboard
    Profile("0313650000", "9", (3000, 20000), 20),  # a wrong digit, then the default
    Profile("0313650000", "", (1500, 20000), 30),  # no digit: menu abandons and defaults
    Profile("0313651000", "4", (3000, 20000), 25),  # a legacy number with the menu: Somali
    Profile("0313652000", "", (2000, 20000), 30),  # a legacy number straight to Swedish
    Profile("0313653000", "", (2000, 20000), 25),  # a legacy number straight to a queue
]


def scenario(profile: Profile, folder: Path, n: int) -> Path:
    dtmf = (
        f'  <nop><action><exec play_dtmf="{profile.digit}"/></action></nop>'
        if profile.digit
        else ""
    )
    text = TEMPLATE.format(
        dtmf=dtmf,
        digit_text=profile.digit or "nothing",
        lo_ms=profile.patience[0],
        hi_ms=profile.patience[1],
    )
    path = folder / f"caller-{n}.xml"
    path.write_text(text)
    return path


def start_sipp(lab: Lab, profile: Profile, folder: Path, n: int) -> subprocess.Popen[bytes]:
    sipp = shutil.which("sipp")
    assert sipp is not None, "SIPp missing: install the Debian package sip-tester"
    period_ms = int(TRAFFIC_SECONDS * 1000 / profile.calls)
    args = [
        sipp,
        f"127.0.0.1:{lab.asterisk.sip_port}",
        "-sf", str(scenario(profile, folder, n)),
        "-s", profile.number,
        "-m", str(profile.calls),
        "-r", "1", "-rp", str(period_ms),
        "-l", "40",
        "-i", "127.0.0.1",
        "-p", str(free_port()),
        "-mp", str(free_port() & ~1),
        "-timeout", f"{int(TRAFFIC_SECONDS + 120)}s",
        # A caller whose INVITE got "100 Trying" from an Asterisk then killed waits for
        # its answer forever (SIPp stops resending after a provisional reply): give up.
        "-recv_timeout", "30000",
        "-nostdin",
        "-bg",
    ]  # fmt: skip
    return subprocess.Popen(
        args,
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def sipp_pids(folder: Path) -> list[int]:
    """SIPp with -bg forks; find its own processes by the scenarios in this folder."""
    out = subprocess.run(["pgrep", "-f", str(folder / "caller-")], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def edit(text: str) -> str:
    text = text.replace(
        "    language: fi\n    service_level_seconds: 30\n    max_wait_seconds: 900",
        "    language: fi\n    service_level_seconds: 30\n    max_wait_seconds: 8",
        1,
    )
    text = text.replace(
        "overflow: {to: vaxel, after_seconds: 300, when_empty: true}",
        "overflow: {to: vaxel, after_seconds: 6, when_empty: true}",
        1,
    )
    # A watchdog that notices a frozen connection within about two seconds.
    return text.replace(
        "    site: stadshuset\n",
        "    site: stadshuset\n    ping_interval_seconds: 1\n    ping_timeout_seconds: 1\n",
        1,
    )


@pytest.fixture
def fault_lab(tmp_path: Path) -> Iterator[Lab]:
    lab = start_lab(tmp_path, "faultcounts", queue_log=True, edit=edit)
    try:
        yield lab
    finally:
        stop_lab(lab)


def counted_from(vaxeld: VaxeldProcess, lab: Lab) -> int:
    """The queue_log line from which this vaxeld counts (it logs the byte offset)."""
    for line in vaxeld.log_path.read_text().splitlines():
        if '"queue_log_followed"' in line:
            offset = int(json.loads(line)["offset"])
            return line_index_of_offset(lab.asterisk.queue_log.read_bytes(), offset)
    raise AssertionError("vaxeld did not say where it follows queue_log from")


def reconnect_waits_after_healthy_sessions(log: Path) -> list[float]:
    """Each reconnect delay that followed a session logged in for 11 s or more."""
    waits, connected_at = [], None
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        stamp = time.mktime(time.strptime(entry["timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
        if entry["event"] == "ami_connected":
            connected_at = stamp
        elif entry["event"] == "ami_reconnect_scheduled":
            if connected_at is not None and stamp - connected_at >= 11:
                waits.append(float(entry["delay_seconds"]))
            connected_at = None
    return waits


def test_every_count_equals_queue_log_through_every_kind_of_fault(
    fault_lab: Lab, tmp_path: Path
) -> None:
    lab = fault_lab
    rng = random.Random(SEED)
    config = parse_config(lab.config_path.read_text())
    for agent in lab.agents:
        lab.control.set_agent(agent, answer_after=rng.randint(1, 7), talk=rng.randint(2, 9))
    proxy = CuttableProxy(lab.asterisk.ami_port)
    vaxeld = lab.vaxeld("faults-1", ami_port=proxy.port).start()
    folder = tmp_path / "sipp"
    folder.mkdir()

    def kill_asterisk() -> None:
        assert lab.asterisk.proc is not None
        os.killpg(lab.asterisk.proc.pid, signal.SIGKILL)
        lab.asterisk.proc.wait(timeout=20)
        lab.asterisk.start()

    def restart_asterisk() -> None:
        lab.asterisk.cli("core restart now", check=False)
        time.sleep(2)
        lab.asterisk.cli("core waitfullybooted", check=False, timeout=60)

    def restart_vaxeld() -> None:
        nonlocal vaxeld
        assert vaxeld.proc is not None
        vaxeld.proc.send_signal(signal.SIGKILL)
        vaxeld.proc.wait(timeout=20)
        vaxeld = lab.vaxeld("faults-2", ami_port=proxy.port).start()

    def cut_during(marker: bytes, forward: bool) -> None:
        proxy.cut_when_sent(marker, forward)  # the reconnect's login (or resync) is cut
        proxy.cut()

    def blackhole() -> None:
        proxy.stall()  # what is up goes silent, and what connects hears nothing
        time.sleep(6)
        proxy.resume()

    def freeze() -> None:
        proxy.stall()
        time.sleep(4)  # the watchdog notices after about two seconds
        proxy.resume()

    faults: list[tuple[str, Callable[[], object]]] = [
        ("close", proxy.cut),
        ("reset", lambda: proxy.cut(reset=True)),
        ("freeze past the watchdog", freeze),
        ("refuse for 4 s", lambda: proxy.refuse(4.0)),
        ("cut during login", lambda: cut_during(b"Action: Login", False)),
        ("cut during resync", lambda: cut_during(b"Action: QueueStatus", True)),
        ("black hole", blackhole),
        ("Asterisk core restart now", restart_asterisk),
        ("close", proxy.cut),
        ("Asterisk kill -9", kill_asterisk),
        ("reset", lambda: proxy.cut(reset=True)),
    ]
    at = sorted(rng.uniform(14, TRAFFIC_SECONDS - 10) for _ in faults)
    # vaxeld is killed early, with callers in flight: the one that starts again counts the
    # rest, and its counts are held to queue_log from where it began.
    schedule: list[tuple[float, str, Callable[[], object]]] = [
        (6.0, "vaxeld kill -9 and start", restart_vaxeld)
    ]
    schedule += [(t, name, act) for t, (name, act) in zip(at, faults, strict=True)]
    try:
        vaxeld.wait_synced()
        for n, profile in enumerate(PROFILES):
            start_sipp(lab, profile, folder, n).wait(timeout=10)  # -bg: returns at once
        start = time.monotonic()
        for t, name, act in schedule:
            time.sleep(max(0.0, start + t - time.monotonic()))
            print(f"fault at {time.monotonic() - start:5.1f} s: {name}", flush=True)
            act()
        deadline = time.monotonic() + TRAFFIC_SECONDS + 120
        while sipp_pids(folder) and time.monotonic() < deadline:
            time.sleep(1)
        assert not sipp_pids(folder), "SIPp callers still running"
        lab.asterisk.wait_idle(timeout=120)
        assert proxy.armed_cuts == 2  # a login and a resync were cut
        vaxeld.wait_synced(timeout=60)
        rows = lab.asterisk.queue_log_events()
        first = counted_from(vaxeld, lab)
        expected = expected_figures(rows, first, config)
        callers = {r[1] for r in rows if len(r) > 4 and r[4] == "VAXELDENTRY"}
        print(f"{len(callers)} callers in queue_log, {len(rows)} lines, counted from {first}")
        # 300 placed at about 2/s; those placed while Asterisk restarts or starts after
        # kill -9 (5-8 s each on a loaded machine) never reach it: 270 were seen.
        assert len(callers) >= 250
        assert expected[("offered", "sv")] > 20 and expected[("menu_abandoned", "0313650000")] > 0
        assert expected[("exited", "fi", "timeout")] > 0
        assert expected[("overflow_out", "sv", "vaxel")] > 0

        def settled(s: Samples) -> bool:
            return vaxeld_figures(s) == expected

        try:
            final = vaxeld.wait_for(settled, timeout=60)
        except TimeoutError:
            final = vaxeld.scrape()
        got = vaxeld_figures(final)
        pairs = {k: (got.get(k, 0), expected.get(k, 0)) for k in set(got) | set(expected)}
        print("figures (vaxeld, queue_log):", dict(sorted(pairs.items())))
        assert {k: v for k, v in pairs.items() if v[0] != v[1]} == {}
        for queue in config.queues:
            assert total(final, "vaxeld_queue_calls_unaccounted", queue=queue) == 0, queue
        waits = [
            w
            for log in (lab.workdir / "faults-1.log", vaxeld.log_path)
            if log.exists()
            for w in reconnect_waits_after_healthy_sessions(log)
        ]
        print(f"reconnect waits after healthy sessions: {waits}")
        assert waits and max(waits) <= 0.5
        # The history report of the whole run, from the same queue_log, equals it too.
        day = date.today()
        span = parse_period(
            f"{day - timedelta(days=1)}..{day + timedelta(days=1)}", config.timezone, day
        )
        with HistoryStore(tmp_path / "history.duckdb") as store:
            ingest_files(store, "main", lab.asterisk.queue_log)
            report = ReportQueries(store, config).build(span, "queue", "day", "faults")
        assert report_figures(report) == queue_families(expected_figures(rows, 0, config))
    finally:
        for pid in sipp_pids(folder):
            os.kill(pid, signal.SIGKILL)
        vaxeld.stop()
        proxy.close()
