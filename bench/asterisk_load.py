"""The real-Asterisk part of the benchmarks: a generated call load on Asterisk 22 with
vaxeld watching, CPU seconds of both processes, and AMI captures with and without the
server-side event filter (the filtered one is replayed by the throughput benchmark)."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from daemon_replay import cpu_seconds
from idle_cost import schedstat

from lab.asterisk import AsteriskLab, ensure_chroot, free_port
from lab.control import LabControl
from lab.scenario import lab_agent_ids, lab_config_text
from lab.vaxeld_process import VaxeldProcess, total
from vaxeld.ami.codec import encode_action
from vaxeld.calendar import today_in
from vaxeld.config import Config, parse_config
from vaxeld.render import render_all, write_atomically

CALLS = 1000
SECOND_PHASE_CALLS = 300
CALLS_PER_SECOND = 5.0
Row = tuple[str, str, str, bool]


class Recorder:
    """A raw AMI connection that writes every byte it receives to a file, and notes when
    each read came (a thread doing nothing else reads as the bytes arrive)."""

    def __init__(self, port: int, username: str, secret: str, path: Path) -> None:
        """``username``: vaxeld's run account (its eventfilter lines give what vaxeld
        gets) or the lab's admin account (every event)."""
        self.sock = socket.create_connection(("127.0.0.1", port))
        login = [("Username", username), ("Secret", secret), ("Events", "on")]
        self.sock.sendall(encode_action("Login", login, "rec-1"))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.out = path.open("wb")
        self.bytes = 0
        self.read_times: list[float] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while data := self.sock.recv(65536):
                self.read_times.append(time.monotonic())
                self.out.write(data)
                self.bytes += len(data)
        except OSError:
            pass  # closed by close()

    def reads_after_quiet(self, quiet: float = 0.005) -> int:
        """Reads that came after at least ``quiet`` seconds without one: the reads that
        wake a reader from sleep, which is what costs a Python process most per event."""
        times = self.read_times
        gaps = (b - a for a, b in itertools.pairwise([float("-inf"), *times]))
        return sum(1 for gap in gaps if gap >= quiet)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self.sock.close()
        self.out.close()


@dataclass
class BenchLab:
    """A lab Asterisk with the example config rendered and its agents answering (after 1
    or 2 s, talking 2 to 4 s); `vaxeld.yaml` in ``work`` points a vaxeld at it."""

    lab: AsteriskLab
    control: LabControl
    config: Config
    work: Path
    metrics_port: int
    agents: list[str]

    @classmethod
    def start(cls, seed: int = 7) -> BenchLab:
        rng = random.Random(seed)
        work = Path(tempfile.mkdtemp(prefix="vaxeld-bench-"))
        lab = AsteriskLab(ensure_chroot(), f"bench-{os.getpid()}")
        metrics_port = free_port()
        text = lab_config_text(lab.ami_port, metrics_port)
        config = parse_config(text)
        (work / "vaxeld.yaml").write_text(text)
        write_atomically(work / "dialplans", render_all(config, today_in(config.timezone)))
        lab.prepare(work / "dialplans")
        lab.start()
        try:
            control = LabControl("127.0.0.1", lab.ami_port, "lab", lab.admin_secret)
            agents = lab_agent_ids(text)
            for agent in agents:
                control.set_agent(
                    agent, answer_after=rng.choice([1, 2]), talk=rng.choice([2, 3, 4])
                )
        except BaseException:
            lab.stop()
            raise
        return cls(lab, control, config, work, metrics_port, agents)

    def stop(self) -> None:
        try:
            self.control.close()
        finally:
            self.lab.stop()
            self.lab.remove(keep_logs_in=self.work / "asterisk-logs")


def place_calls(control: LabControl, lab: AsteriskLab, entry: str, calls: int, seed: int) -> None:
    """``calls`` simulated callers at CALLS_PER_SECOND; returns when all have ended."""
    rng = random.Random(seed)
    start = time.monotonic()
    for i in range(calls):
        while time.monotonic() - start < i / CALLS_PER_SECOND:
            time.sleep(0.01)
        digits = rng.choice("123450") if rng.random() > 0.05 else ""
        control.call(
            entry, digits, round(rng.uniform(3, 15), 1), caller_id=f"07{rng.randrange(10**8):08d}"
        )
    lab.wait_idle(timeout=300)
    time.sleep(2)


IDLE_WINDOW = 30.0


def run_load(capture: Path) -> tuple[list[Row], dict[str, float]]:
    """Two phases on one Asterisk. First the CPU figures, with vaxeld Asterisk's only AMI
    client besides the call generator (every extra client costs Asterisk CPU too, which
    would flatter the ratio): both idle, then under CALLS calls. Then a shorter load
    with the peers attached (bench/per_call.py): vaxeld with MQTT, the minimal reader,
    panoramisk, and the recorders for the captures and the bytes per call.
    Also returns the figures the yearly ratio is worked out from."""
    from per_call import rows as per_call_rows
    from per_call import side_by_side

    bench = BenchLab.start()
    lab, control, config, work = bench.lab, bench.control, bench.config, bench.work
    vaxeld = VaxeldProcess(
        work / "vaxeld.yaml",
        bench.metrics_port,
        lab.secrets,
        work / "vaxeld.log",
    )
    try:
        vaxeld.start().wait_synced()
        assert vaxeld.proc is not None and lab.proc is not None
        time.sleep(3)
        # Asterisk's from /proc/PID/stat: a thread per call, whose CPU the per-thread
        # figures lose when it ends; vaxeld's threads live on, and schedstat is exact.
        idle_v0, idle_a0 = schedstat(vaxeld.proc.pid)[0], cpu_seconds(lab.proc.pid)
        time.sleep(IDLE_WINDOW)
        idle_v = (schedstat(vaxeld.proc.pid)[0] - idle_v0) / IDLE_WINDOW
        idle_a = (cpu_seconds(lab.proc.pid) - idle_a0) / IDLE_WINDOW
        before = vaxeld.scrape()
        events0, reads0 = (total(before, f"vaxeld_ami_{n}_total") for n in ("events", "reads"))
        cpu_v0, cpu_a0 = schedstat(vaxeld.proc.pid)[0], cpu_seconds(lab.proc.pid)
        print(
            f"bench: placing {CALLS} calls at {CALLS_PER_SECOND:g}/s on real Asterisk ...",
            flush=True,
        )
        start = time.monotonic()
        place_calls(control, lab, config.entry.number, CALLS, seed=8)
        elapsed = time.monotonic() - start
        cpu_v = schedstat(vaxeld.proc.pid)[0] - cpu_v0
        cpu_a = cpu_seconds(lab.proc.pid) - cpu_a0
        samples = vaxeld.scrape()
        offered = total(samples, "vaxeld_calls_offered_total")
        entered = total(samples, "vaxeld_entry_calls_total")
        events, reads = (total(samples, f"vaxeld_ami_{n}_total") for n in ("events", "reads"))
        events, reads = events - events0, reads - reads0
        peers = side_by_side(bench, vaxeld, SECOND_PHASE_CALLS, capture)
        ratio = cpu_v / cpu_a
        figures = {
            "asterisk_idle_s_per_hour": idle_a * 3600,
            "asterisk_ms_per_call": (cpu_a - idle_a * elapsed) / CALLS * 1000,
            "vaxeld_idle_s_per_hour": idle_v * 3600,
            "vaxeld_ms_per_call": (cpu_v - idle_v * elapsed) / CALLS * 1000,
            "vaxeld_mqtt_ms_per_call": peers["vaxeld, MQTT on"]["cpu_ms_per_call"],
            "events_per_call": peers["minimal reader"]["events_per_call"],
        }
        filtered, unfiltered = peers["filtered account"], peers["unfiltered account"]
        rows: list[Row] = [
            (
                "CPU vaxeld / Asterisk, 5 calls/s",
                f"{ratio:.4f} ({cpu_v:.2f} s / {cpu_a:.2f} s, "
                f"{int(entered)} calls, {int(offered)} queued)",
                "(reported)",
                True,
            ),
            (
                "Asterisk CPU, vaxeld its only AMI client",
                f"{figures['asterisk_ms_per_call']:.1f} ms per call, idle "
                f"{figures['asterisk_idle_s_per_hour']:.1f} CPU s/hour",
                "(reported)",
                True,
            ),
            (
                "vaxeld CPU per AMI event, real load",
                f"{cpu_v / events * 1e6:.0f} us ({int(events)} events in {int(reads)} reads)",
                "(reported)",
                True,
            ),
            *per_call_rows(peers),
            (
                "AMI bytes per call",
                f"{filtered['bytes_per_call']:,.0f} B filtered, "
                f"{unfiltered['bytes_per_call']:,.0f} B unfiltered",
                "(reported)",
                True,
            ),
            (
                "AMI reads per call, filtered",
                f"{filtered['reads_per_call']:.1f}, of which "
                f"{filtered['wakeups_per_call']:.1f} after >= 5 ms quiet",
                "(reported)",
                True,
            ),
        ]
        return rows, figures
    finally:
        vaxeld.stop()
        bench.stop()
