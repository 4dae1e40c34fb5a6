"""Wallboards under the benchmark load: a real `vaxeld run` fed the benchmark's AMI
stream by a fake Asterisk, once with no page open and once with 200 pages on its event
stream and one real Chromium showing the page.

    python bench/wallboard_load.py [--pages 200] [--rate 50] [--events 1500]

Figures: vaxeld's CPU per AMI event with the pages against without (the same stream,
a fresh daemon each time), its idle CPU with them (their pings), and the latency from
an AMI event leaving "Asterisk" to the page's figure: to the event stream's bytes
arriving at each of the 200 pages, and to the real browser's DOM. Probe events put a
caller in, and take them out of, a queue of its own ("probe", that the stream never
touches) at random moments during the replay, so the 250 ms coalescing is included.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from daemon_replay import DaemonUnderTest, cpu_per_event, event_frames
from latency_e2e import _event

from lab.fake_ami import FakeAmi

ROOT = Path(__file__).resolve().parents[1]
PROBE = "probe"
_WAITING = re.compile(rb'"name":"probe"[^}]*?"waiting":(\d+)')


def with_probe_queue(text: str) -> str:
    assert "\nqueues:\n" in text
    return text.replace("\nqueues:\n", f"\nqueues:\n  {PROBE}:\n    language: sv\n", 1)


def probe_join(uid: str) -> bytes:
    return _event(
        ("Event", "QueueCallerJoin"), ("Privilege", "agent,all"),
        ("Channel", f"PJSIP/trunk-{uid}"), ("Uniqueid", uid), ("Linkedid", uid),
        ("Queue", PROBE), ("Position", "1"), ("Count", "1"),
    )  # fmt: skip


def probe_leave(uid: str) -> bytes:
    return _event(
        ("Event", "QueueCallerLeave"), ("Privilege", "agent,all"), ("Uniqueid", uid),
        ("Linkedid", uid), ("Queue", PROBE), ("Position", "1"), ("Count", "0"),
    )  # fmt: skip


class Page:
    """One wallboard's event stream, read raw (HTTP/1.0: no chunks), noting when the
    probe queue's waiting figure changed."""

    def __init__(self) -> None:
        self.changes: list[tuple[float, int]] = []
        self.frames = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, port: int) -> None:
        self._task = asyncio.create_task(self._read(port))

    async def _read(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /wallboard/stream HTTP/1.0\r\nHost: bench\r\n\r\n")
        buffer = b""
        last = -1
        try:
            while data := await reader.read(65536):
                now = time.time()
                buffer += data
                *frames, buffer = buffer.split(b"\n\n")
                for frame in frames:
                    found = _WAITING.search(frame)
                    if found is None:
                        continue
                    self.frames += 1
                    self.connected.set()
                    waiting = int(found.group(1))
                    if waiting != last:
                        self.changes.append((now, waiting))
                        last = waiting
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


WATCH = """
window.__changes = [];
let last = null;
new MutationObserver(() => {
  const card = document.querySelector('.queue[data-queue="probe"] .waiting .value');
  if (card && card.textContent !== last) {
    last = card.textContent;
    window.__changes.push([Date.now() / 1000, Number(last)]);
  }
}).observe(document.getElementById('queues'), {childList: true, subtree: true});
"""


class Browser:
    """One real Chromium showing the page, on a thread (selenium blocks)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.changes: list[tuple[float, int]] = []
        self._cm: Any = None
        self._driver: Any = None

    def open(self) -> None:
        from lab.browser import chromium

        self._cm = chromium(1600, 1000)
        self._driver = self._cm.__enter__()
        self._driver.get(self.url)
        deadline = time.monotonic() + 20
        while self._driver.execute_script("return document.body.dataset.status") != "live":
            if time.monotonic() > deadline:
                raise TimeoutError("the page did not go live")
            time.sleep(0.1)
        self._driver.execute_script(WATCH)

    def close(self) -> None:
        if self._driver is not None:
            self.changes = [
                tuple(c) for c in self._driver.execute_script("return window.__changes")
            ]
            self._cm.__exit__(None, None, None)


def latencies(sent: list[tuple[float, int]], seen: list[tuple[float, int]]) -> list[float]:
    """Per probe (time sent, waiting after it): seconds until a page first showed it."""
    out = []
    for i, (at, value) in enumerate(sent):
        until = sent[i + 1][0] if i + 1 < len(sent) else float("inf")
        shown = [t for t, v in seen if v == value and at <= t < until + 2]
        if shown:
            out.append(shown[0] - at)
    return out


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


async def run(pages: int, rate: float, frames: list[bytes], browser: bool = True) -> dict[str, Any]:
    without = await cpu_per_event(frames, rate, edit=with_probe_queue)
    open_pages: list[Page] = []
    chrome: Browser | None = None
    sent: list[tuple[float, int]] = []

    async def attach(daemon: DaemonUnderTest) -> Callable[[], Awaitable[None]]:
        nonlocal chrome
        for _ in range(pages):
            page = Page()
            page.start(daemon.metrics_port)
            open_pages.append(page)
        await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in open_pages)), 60)
        if browser:
            chrome = Browser(f"http://127.0.0.1:{daemon.metrics_port}/wallboard")
            await asyncio.to_thread(chrome.open)

        async def detach() -> None:
            for page in open_pages:
                await page.stop()
            if chrome is not None:
                await asyncio.to_thread(chrome.close)

        return detach

    async def probes(ami: FakeAmi) -> None:
        rng = random.Random(7)
        end = time.monotonic() + len(frames) / rate - 1.0
        n = 0
        while time.monotonic() < end:
            await asyncio.sleep(rng.uniform(0.3, 0.9))
            uid = f"1800000000.{n}"
            sent.append((time.time(), 1))
            await ami.send(probe_join(uid))
            await asyncio.sleep(rng.uniform(0.3, 0.9))
            sent.append((time.time(), 0))
            await ami.send(probe_leave(uid))
            n += 1

    with_pages = await cpu_per_event(
        frames, rate, edit=with_probe_queue, attach=attach, alongside=probes
    )
    sse = [lat for page in open_pages for lat in latencies(sent, page.changes)]
    dom = latencies(sent, chrome.changes) if chrome is not None else []
    return {
        "without": without,
        "with": with_pages,
        "probes": len(sent),
        "sse": sse,
        "dom": dom,
        "frames_per_page": statistics.mean(p.frames for p in open_pages) if open_pages else 0,
    }


def summary(r: dict[str, Any], pages: int) -> list[tuple[str, str, str, bool]]:
    """Rows for bench/run.py's table."""
    w, wo = r["with"], r["without"]
    sse, dom = r["sse"], r["dom"]
    ratio = w["us_per_event"] / wo["us_per_event"]
    # The pages' extra CPU, per update every page was sent.
    extra = (w["us_per_event"] - wo["us_per_event"]) * w["events"]
    per_update = extra / max(1.0, r["frames_per_page"]) / 1000
    rows = [
        (
            f"wallboard: CPU per AMI event, {pages} pages open",
            f"{w['us_per_event']:.0f} us against {wo['us_per_event']:.0f} us without: "
            f"{ratio:.2f}x ({per_update:.1f} ms per update to all {pages}); idle "
            f"{w['idle_cpu_per_second'] * 1000:.1f} against "
            f"{wo['idle_cpu_per_second'] * 1000:.1f} ms CPU/s",
            "(reported)",
            True,
        ),
        (
            "wallboard: latency event -> page's stream",
            f"p50 {quantile(sse, 0.5) * 1000:.0f} ms, p99 {quantile(sse, 0.99) * 1000:.0f} ms "
            f"({len(sse)} page updates, {r['probes']} probes)",
            "p99 < 1 s",
            quantile(sse, 0.99) < 1.0,
        ),
    ]
    if len(dom) >= 2:
        rows.append(
            (
                "wallboard: latency event -> Chromium's DOM",
                f"p50 {quantile(dom, 0.5) * 1000:.0f} ms, p99 {quantile(dom, 0.99) * 1000:.0f} ms "
                f"({len(dom)} changes, beside the {pages} pages)",
                "p99 < 1 s",
                quantile(dom, 0.99) < 1.0,
            )
        )
    return rows


def load_frames(events: int) -> list[bytes]:
    capture = ROOT / "bench" / "capture" / "ami-filtered.bin"
    if capture.exists():
        stream = capture.read_bytes()
    else:
        from replay import synthetic_chunks

        stream = b"".join(synthetic_chunks(1000))
    return event_frames(stream)[:events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="AMI events per second")
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    frames = load_frames(args.events)
    r = asyncio.run(run(args.pages, args.rate, frames, browser=not args.no_browser))
    for name, figure, target, ok in summary(r, args.pages):
        print(f"{name}: {figure}  [{target}: {'yes' if ok else 'NO'}]")


if __name__ == "__main__":
    main()
