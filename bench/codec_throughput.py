"""Throughput of vaxeld's AMI path against a minimal reference parser, in one run.

    python bench/codec_throughput.py [--calls 20000]

The stream is built from Asterisk 22's event format for answered and abandoned
queue calls (what the server-side filter lets through). The reference splits on
CRLF and builds dicts, nothing else; vaxeld's path is codec + reducer + metrics.
Both read the same bytes in the same 64 KiB reads. The figure is the ratio of
their rates, measured in the same process, so machine speed cancels out.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vaxeld.ami.codec import Decoder, Message
from vaxeld.config import load_config
from vaxeld.metrics import Metrics
from vaxeld.state.core import PbxCore

ROOT = Path(__file__).resolve().parents[1]

ANSWERED = """Event: UserEvent\r\nPrivilege: user,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nUserEvent: VaxeldEntry\r\nEntry: 0313650000\r\n\r\n\
Event: UserEvent\r\nPrivilege: user,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nUserEvent: VaxeldLanguage\r\nLanguage: sv\r\nDigit: 1\r\nReason: chosen\r\n\r\n\
Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 0701234567\r\nCallerIDName: Åsa Öberg\r\nLanguage: sv\r\nContext: vaxeld-queue-sv\r\nExten: s\r\nPriority: 2\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nQueue: sv\r\nPosition: 1\r\nCount: 1\r\n\r\n\
Event: AgentCalled\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nQueue: sv\r\nInterface: PJSIP/agent1001\r\nMemberName: Åsa Lindqvist\r\n\r\n\
Event: AgentConnect\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nQueue: sv\r\nInterface: PJSIP/agent1001\r\nMemberName: Åsa Lindqvist\r\nHoldTime: 12\r\nRingTime: 2\r\n\r\n\
Event: QueueCallerLeave\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nQueue: sv\r\nPosition: 1\r\nCount: 0\r\n\r\n\
Event: AgentComplete\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nQueue: sv\r\nInterface: PJSIP/agent1001\r\nMemberName: Åsa Lindqvist\r\nHoldTime: 12\r\nTalkTime: 95\r\nReason: caller\r\n\r\n\
Event: UserEvent\r\nPrivilege: user,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nUserEvent: VaxeldHangup\r\nLanguage: sv\r\nQueue: sv\r\n\r\n"""

ABANDONED = """Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nQueue: en\r\nPosition: 2\r\nCount: 2\r\n\r\n\
Event: QueueCallerAbandon\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nQueue: en\r\nPosition: 1\r\nOriginalPosition: 2\r\nHoldTime: 31\r\n\r\n\
Event: QueueCallerLeave\r\nPrivilege: agent,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nQueue: en\r\nPosition: 1\r\nCount: 1\r\n\r\n\
Event: UserEvent\r\nPrivilege: user,all\r\nChannel: PJSIP/trunk-{n:08x}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nUserEvent: VaxeldHangup\r\nLanguage: en\r\nQueue: en\r\n\r\n"""


def make_stream(calls: int) -> bytes:
    parts = []
    for n in range(calls):
        template = ABANDONED if n % 5 == 0 else ANSWERED
        parts.append(template.format(n=n, uid=f"1700000000.{n}"))
    return "".join(parts).encode()


def split_into_dicts(frames: list[bytes]) -> int:
    """The reference parser's work on whole frames: split on CRLF, build a dict each."""
    for frame in frames:
        d = {}
        for line in frame.decode("utf-8").split("\r\n"):
            k, _, v = line.partition(": ")
            d[k] = v
    return len(frames)


def reference(stream: bytes, chunk: int) -> int:
    """Split on CRLF, build dicts: the least any AMI reader must do."""
    buf = b""
    count = 0
    for i in range(0, len(stream), chunk):
        buf += stream[i : i + chunk]
        *frames, buf = buf.split(b"\r\n\r\n")
        count += split_into_dicts(frames)
    return count


def vaxeld_path(stream: bytes, chunk: int) -> int:
    config = load_config(ROOT / "config" / "vaxeld.example.yaml")
    core = PbxCore("main")
    metrics = Metrics(config, lambda: [])
    decoder = Decoder()
    count = 0
    now = 0.0
    for i in range(0, len(stream), chunk):
        for item in decoder.feed(stream[i : i + chunk]):
            if isinstance(item, Message):
                changes = core.on_event(item, now)
                if changes:
                    metrics.record("main", changes)
                count += 1
        now += 0.001
    assert not core.state.calls, "finished calls must leave the state"
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    stream = make_stream(args.calls)
    chunk = 65536
    timings = {}
    for name, fn in (("reference", reference), ("vaxeld", vaxeld_path)):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            n = fn(stream, chunk)
            best = min(best, time.perf_counter() - t0)
        timings[name] = (n, best)
    (n_ref, t_ref), (n_vax, t_vax) = timings["reference"], timings["vaxeld"]
    assert n_ref == n_vax
    mb = len(stream) / 1e6
    print(f"stream: {args.calls} calls, {n_ref} events, {mb:.1f} MB")
    print(f"reference parser: {n_ref / t_ref:,.0f} events/s")
    print(f"vaxeld codec+reducer+metrics: {n_vax / t_vax:,.0f} events/s")
    print(f"ratio vaxeld/reference: {t_ref / t_vax:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
