"""Is the benchmark's call load cheap for Asterisk? Asterisk's CPU per call for the
load's callers (Local channels originated over AMI) against SIP callers with media
(SIPp sending A-law RTP and an RFC 4733 digit, as a trunk would), same dialplan,
agents, digit, rate and call length, one after the other on one Asterisk.

    python bench/caller_cost.py [--calls 100]     # as root (real Asterisk, SIPp)

The CPU ratio in bench/run.py divides by Asterisk's CPU; if real SIP callers cost
Asterisk much more, the Local-channel load would make vaxeld look worse than it is.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

from asterisk_load import CALLS_PER_SECOND, BenchLab
from daemon_replay import cpu_seconds

from lab.asterisk import free_port

SCENARIO = Path(__file__).with_name("sipp") / "caller_rtp.xml"
# As the SIPp scenario: the digit 1.5 s after the answer, hang-up 8.5 s after the digit.
DIGIT_AFTER, HANG_UP_AFTER = 1.5, 8.5


def local_callers(bench: BenchLab, calls: int) -> None:
    start = time.monotonic()
    for i in range(calls):
        while time.monotonic() - start < i / CALLS_PER_SECOND:
            time.sleep(0.01)
        bench.control.call(bench.config.entry.number, "1", HANG_UP_AFTER, delay=DIGIT_AFTER)


def sip_callers(bench: BenchLab, calls: int) -> None:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise RuntimeError("SIPp missing: install the Debian package sip-tester")
    args = [sipp, f"127.0.0.1:{bench.lab.sip_port}", "-sf", str(SCENARIO)]
    args += ["-s", bench.config.entry.number, "-m", str(calls), "-r", f"{CALLS_PER_SECOND:g}"]
    args += ["-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port() & ~1)]
    args += ["-timeout", "300s", "-timeout_error"]
    res = subprocess.run(
        args, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=bench.work
    )
    if res.returncode != 0:  # 0: every call went through the whole scenario
        raise RuntimeError(f"SIPp: exit {res.returncode}: {res.stdout[-1500:]}")


def asterisk_ms_per_call(calls: int = 100) -> dict[str, float]:
    bench = BenchLab.start()
    try:
        assert bench.lab.proc is not None
        # Agents talk longer than callers stay, so the caller always hangs up first: SIPp
        # counts a call that Asterisk ends in the middle of a pause as failed.
        for agent in bench.agents:
            bench.control.set_agent(agent, answer_after=1, talk=30)
        out = {}
        for name, place in (("local", local_callers), ("sip", sip_callers)):
            time.sleep(2)
            before = cpu_seconds(bench.lab.proc.pid)
            place(bench, calls)
            bench.lab.wait_idle(timeout=300)
            out[name] = (cpu_seconds(bench.lab.proc.pid) - before) / calls * 1000
        return out
    finally:
        bench.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    ms = asterisk_ms_per_call(args.calls)
    print(
        f"Asterisk CPU per call: Local callers {ms['local']:.1f} ms, SIP callers {ms['sip']:.1f} ms"
    )


if __name__ == "__main__":
    main()
