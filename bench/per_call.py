"""CPU per call of vaxeld beside the peers, all following the same calls on one Asterisk.

    python bench/per_call.py [--calls 300]     # as root: a lab Asterisk of its own

Attached at once, so every client hears the very same load: vaxeld (plain), vaxeld with
MQTT to a real mosquitto, the minimal reader (bench/reference_reader.py: the floor a
Python client starts from), panoramisk counting three events on vaxeld's filtered
account, and panoramisk handed every event of an unfiltered account (what open-source
exporters do). Each process's CPU comes from per-thread schedstat; its idle rate,
measured just before, is taken off. bench/asterisk_load.py runs this as its second phase.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from asterisk_load import BenchLab, Recorder, place_calls
from daemon_replay import cpu_seconds
from idle_cost import schedstat

from lab.asterisk import free_port
from lab.broker import Mosquitto
from lab.scenario import lab_config_text
from lab.vaxeld_process import VaxeldProcess, total

HERE = Path(__file__).resolve().parent
IDLE_WINDOW = 20.0


@dataclass
class Peer:
    name: str
    pid: int
    stop_and_count: object  # () -> events handed to the client, or None
    cpu0: float = 0.0
    idle_rate: float = 0.0

    def cpu(self) -> float:
        # Asterisk runs a thread per call, and an ended thread's CPU is in /proc/PID/stat
        # only; the Python peers' threads live on, and schedstat counts nanoseconds.
        return cpu_seconds(self.pid) if self.name == "asterisk" else schedstat(self.pid)[0]


def _child(script: str, *args: str, secret: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / script), *args],
        env={**os.environ, "VAXELD_AMI_SECRET": secret},
        stdout=subprocess.PIPE,
        text=True,
    )


def _counted(proc: subprocess.Popen[str]) -> int:
    proc.terminate()
    return int(proc.communicate(timeout=10)[0].strip() or 0)


def side_by_side(
    bench: BenchLab, plain: VaxeldProcess, calls: int, capture: Path
) -> dict[str, dict[str, float]]:
    """{peer: {cpu_ms_per_call, events_per_call}} for ``calls`` calls at the bench rate,
    plus {"asterisk": {...}} and the bytes and reads per call of the two accounts;
    ``plain`` is a running vaxeld on the lab's config; the filtered stream is recorded
    to ``capture`` (the throughput benchmarks replay it)."""
    lab = bench.lab
    assert lab.proc is not None and plain.proc is not None
    procs: list[subprocess.Popen[str]] = []
    recorders: list[Recorder] = []
    with tempfile.TemporaryDirectory(prefix="vaxeld-bench-peers-") as tmp:
        broker = Mosquitto(Path(tmp) / "mqtt").start()
        port = free_port()
        text = lab_config_text(lab.ami_port, port)
        text += f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n  topic_prefix: vaxeld\n"
        (Path(tmp) / "mqtt.yaml").write_text(text)
        with_mqtt = VaxeldProcess(Path(tmp) / "mqtt.yaml", port, lab.secrets, Path(tmp) / "log")
        try:
            with_mqtt.start().wait_synced()
            assert with_mqtt.proc is not None
            reader = _child(
                "reference_reader.py", str(lab.ami_port), "vaxeld", secret=lab.vaxeld_secret
            )
            counter = _child(
                "panoramisk_peer.py",
                str(lab.ami_port),
                "vaxeld",
                "counter",
                secret=lab.vaxeld_secret,
            )
            everything = _child(
                "panoramisk_peer.py", str(lab.ami_port), "lab", "all", secret=lab.admin_secret
            )
            procs += [reader, counter, everything]
            filtered = Recorder(lab.ami_port, "vaxeld", lab.vaxeld_secret, capture)
            recorders.append(filtered)
            unfiltered = Recorder(lab.ami_port, "lab", lab.admin_secret, Path(tmp) / "all.bin")
            recorders.append(unfiltered)
            peers = [
                Peer("vaxeld", plain.proc.pid, None),
                Peer("vaxeld, MQTT on", with_mqtt.proc.pid, None),
                Peer("minimal reader", reader.pid, lambda: _counted(reader)),
                Peer("panoramisk, 3 events counted", counter.pid, lambda: _counted(counter)),
                Peer("panoramisk, every event", everything.pid, lambda: _counted(everything)),
                Peer("asterisk", lab.proc.pid, None),
            ]
            time.sleep(3)  # logins and first polls done
            for peer in peers:
                peer.cpu0 = peer.cpu()
            time.sleep(IDLE_WINDOW)
            for peer in peers:
                now = peer.cpu()
                peer.idle_rate, peer.cpu0 = (now - peer.cpu0) / IDLE_WINDOW, now
            events0 = total(plain.scrape(), "vaxeld_ami_events_total")
            print(f"bench: {calls} calls with vaxeld, vaxeld+MQTT and three peers ...", flush=True)
            start = time.monotonic()
            place_calls(bench.control, lab, bench.config.entry.number, calls, seed=9)
            elapsed = time.monotonic() - start
            used = {p.name: p.cpu() - p.cpu0 - p.idle_rate * elapsed for p in peers}
            vaxeld_events = total(plain.scrape(), "vaxeld_ami_events_total") - events0
            out: dict[str, dict[str, float]] = {}
            for peer in peers:
                events = peer.stop_and_count() if callable(peer.stop_and_count) else vaxeld_events
                out[peer.name] = {
                    "cpu_ms_per_call": used[peer.name] / calls * 1000,
                    "idle_cpu_s_per_hour": peer.idle_rate * 3600,
                    "events_per_call": float(events) / calls,
                }
            out["asterisk"]["events_per_call"] = 0.0
            for rec in recorders:
                rec.close()
            out["unfiltered account"] = {"bytes_per_call": unfiltered.bytes / calls}
            out["filtered account"] = {
                "bytes_per_call": filtered.bytes / calls,
                "reads_per_call": len(filtered.read_times) / calls,
                "wakeups_per_call": filtered.reads_after_quiet() / calls,
            }
            return out
        finally:
            for rec in recorders:
                with contextlib.suppress(Exception):
                    rec.close()
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            with_mqtt.stop()
            broker.stop()


def rows(figures: dict[str, dict[str, float]]) -> list[tuple[str, str, str, bool]]:
    floor = figures["minimal reader"]["cpu_ms_per_call"]
    out = []
    for name in ("vaxeld", "vaxeld, MQTT on"):
        ratio = figures[name]["cpu_ms_per_call"] / floor
        out.append(
            (
                f"per call, {name} / minimal reader",
                f"{ratio:.2f} ({figures[name]['cpu_ms_per_call']:.3f} vs {floor:.3f} ms CPU)",
                "<= 1.5",
                ratio <= 1.5,
            )
        )
    mine = figures["vaxeld"]["cpu_ms_per_call"]
    for name in ("panoramisk, 3 events counted", "panoramisk, every event"):
        theirs = figures[name]["cpu_ms_per_call"]
        out.append(
            (
                f"per call, vaxeld / {name}",
                f"{mine / theirs:.2f} ({mine:.3f} vs {theirs:.3f} ms CPU, idle "
                f"{figures[name]['idle_cpu_s_per_hour']:.2f} CPU s/hour)",
                "< 1",
                mine < theirs,
            )
        )
    events = figures["minimal reader"]["events_per_call"]
    everything = figures["panoramisk, every event"]["events_per_call"]
    out.append(
        (
            "AMI events per call",
            f"{events:.1f} on vaxeld's account ({figures['vaxeld']['events_per_call']:.1f} "
            f"counted by vaxeld), {everything:.1f} unfiltered",
            "(reported)",
            True,
        )
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    bench = BenchLab.start()
    plain = VaxeldProcess(
        bench.work / "vaxeld.yaml", bench.metrics_port, bench.lab.secrets, bench.work / "log"
    )
    try:
        plain.start().wait_synced()
        figures = side_by_side(bench, plain, args.calls, HERE / "capture" / "ami-filtered.bin")
    finally:
        plain.stop()
        bench.stop()
    for name, values in figures.items():
        print(name, {k: round(v, 3) for k, v in values.items()})
    for row in rows(figures):
        print("  ".join(str(x) for x in row[:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
