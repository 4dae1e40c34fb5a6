"""The wallboard in a real headless Chromium, against real Asterisk calls: the page
follows callers as they join and wait, equals /metrics, says at once when vaxeld loses
Asterisk or the page loses vaxeld, and recovers by itself."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_fixtures import Lab
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from lab.browser import chromium, console_errors
from lab.control import LabEvents
from lab.proxy import CuttableProxy
from lab.vaxeld_process import Samples, VaxeldProcess, total

pytestmark = pytest.mark.asterisk

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SV_AGENTS = ("1001", "1002", "1003", "1004")  # everyone who answers the sv queue
# (1004 answers en too: the other callers go to ar and fi)

# Records, in the page, when each queue's waiting figure changed (the page's own clock
# is the system's, like the AMI listener's below).
WATCH = """
window.__changes = [];
const seen = {};
new MutationObserver(() => {
  for (const card of document.querySelectorAll('.queue')) {
    const v = card.querySelector('.waiting .value').textContent;
    if (seen[card.dataset.queue] !== v) {
      seen[card.dataset.queue] = v;
      window.__changes.push({queue: card.dataset.queue, waiting: Number(v), at: Date.now()});
    }
  }
}).observe(document.getElementById('queues'), {childList: true, subtree: true});
"""


def page_queue(browser: WebDriver, queue: str) -> dict[str, Any]:
    result: dict[str, Any] = browser.execute_script(
        """
        const card = document.querySelector(`.queue[data-queue="${arguments[0]}"]`);
        const text = (sel) => card.querySelector(sel).textContent;
        return {
          waiting: Number(text('.waiting .value')), longest: text('.longest .value'),
          level: card.querySelector('.longest').className, sl: text('.sl .value'),
          answered: Number(text('.answered')), direct: Number(text('.direct')),
          abandoned: Number(text('.abandoned')), timed_out: Number(text('.timed-out')),
        };
        """,
        queue,
    )
    return result


def status(browser: WebDriver) -> str:
    return str(browser.execute_script("return document.body.dataset.status"))


def wait_until(
    browser: WebDriver, check: Callable[[WebDriver], bool], timeout: float, what: str
) -> None:
    WebDriverWait(browser, timeout, poll_frequency=0.05).until(check, message=what)


def metrics_queue(samples: Samples, queue: str) -> dict[str, Any]:
    ratio = [v for (n, labels), v in samples.items() if n.endswith("today_ratio") and
             ("queue", queue) in labels]  # fmt: skip
    return {
        "waiting": int(total(samples, "vaxeld_queue_calls_waiting", queue=queue)),
        "sl": f"{math.floor(ratio[0] * 100 + 0.5)} %" if ratio else "\u2013",  # as Math.round
        "answered": int(
            total(samples, "vaxeld_queue_calls_today", queue=queue, outcome="answered")
        ),
        "direct": int(total(samples, "vaxeld_queue_answered_directly_today", queue=queue)),
        "abandoned": int(
            total(samples, "vaxeld_queue_calls_today", queue=queue, outcome="abandoned")
        ),
        "timed_out": int(total(samples, "vaxeld_queue_calls_today", queue=queue, outcome="exited")),
    }


def shown(browser: WebDriver, queue: str) -> dict[str, Any]:
    got = page_queue(browser, queue)
    return {k: got[k] for k in ("waiting", "sl", "answered", "direct", "abandoned", "timed_out")}


@pytest.fixture
def slow_sv(lab: Lab) -> Iterator[None]:
    """The sv queue's agents let the phone ring a minute: its callers wait. The others
    answer at once (whatever tests before left them at)."""
    for agent in lab.agents:
        lab.control.set_agent(agent, answer_after=60 if agent in SV_AGENTS else 1, talk=3)
        # Not paused either (an earlier test on the shared lab may have left one so).
        interface = f"Local/{agent}@vaxeld-lab-agents/n"
        lab.control.action("QueuePause", [("Interface", interface), ("Paused", "false")])
    try:
        yield
    finally:
        for agent in SV_AGENTS:
            lab.control.set_agent(agent, answer_after=1, talk=3)


def test_the_wallboard_follows_real_calls_in_a_real_browser(lab: Lab, slow_sv: None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    proxy = CuttableProxy(lab.asterisk.ami_port)
    vaxeld: VaxeldProcess = lab.vaxeld("wallboard", ami_port=proxy.port).start()
    events = LabEvents(
        "127.0.0.1", lab.asterisk.ami_port, "lab", lab.asterisk.admin_secret,
        timed=("QueueCallerJoin",),
    )  # fmt: skip
    figures: dict[str, Any] = {}
    try:
        vaxeld.wait_synced()
        url = f"http://127.0.0.1:{vaxeld.metrics_port}/wallboard"
        with chromium(1600, 1000) as browser:
            browser.get(url)
            wait_until(browser, lambda b: status(b) == "live", 15, "the page goes live")
            assert browser.find_element("css selector", "h1").text == "Kontaktcenter"
            assert "Väntar" in browser.find_element("css selector", "main").text  # Swedish
            browser.execute_script(WATCH)

            # A caller joins: the waiting count changes, and the longest wait counts up.
            lab.control.call(lab.entry, "1", 32.0)
            wait_until(browser, lambda b: page_queue(b, "sv")["waiting"] == 1, 10, "caller shown")
            joined = events.arrived("QueueCallerJoin", Queue="sv")
            assert len(joined) == 1
            changes = browser.execute_script("return window.__changes")
            shown_at = next(c["at"] for c in changes if c["queue"] == "sv" and c["waiting"] == 1)
            figures["join_to_page_ms"] = shown_at - joined[0][0] * 1000
            wait_until(
                browser, lambda b: page_queue(b, "sv")["longest"] != "0:00", 5, "wait counts up"
            )
            for digits in ("1", "1", "3", "5"):  # more callers, for the picture
                lab.control.call(lab.entry, digits, 24.0 if digits == "1" else 15.0)
            wait_until(browser, lambda b: page_queue(b, "sv")["waiting"] == 3, 15, "3 in sv")
            # Amber from half the target (20 s), red beyond it.
            wait_until(browser, lambda b: "amber" in page_queue(b, "sv")["level"], 20, "amber")
            wait_until(browser, lambda b: "red" in page_queue(b, "sv")["level"], 20, "red")
            browser.save_screenshot(str(ARTIFACTS / "wallboard.png"))

            # The callers give up or are answered; the page equals /metrics.
            lab.asterisk.wait_idle(60)
            for queue in ("sv", "ar", "fi", "en"):
                wait_until(
                    browser,
                    lambda b, q=queue: shown(b, q) == metrics_queue(vaxeld.scrape(), q),  # type: ignore[misc]
                    15,
                    f"{queue} on the page equals /metrics",
                )
            sv = shown(browser, "sv")
            assert sv["abandoned"] >= 3 and sv["waiting"] == 0, sv
            assert shown(browser, "ar")["answered"] >= 1
            figures["sv"] = sv
            samples = vaxeld.scrape()
            available = total(samples, "vaxeld_agent_state", site="stadshuset", state="available")
            counted = browser.find_element(
                "css selector", '.site[data-site="stadshuset"] .count-available b'
            ).text
            assert int(counted) == available

            # vaxeld loses Asterisk: the page says so at once, and greys its figures.
            proxy.refuse(4.0)
            wait_until(browser, lambda b: status(b) == "ami", 10, "AMI loss shown")
            grey = browser.execute_script(
                "return getComputedStyle(document.querySelector('main')).filter"
            )
            assert "grayscale" in grey
            wait_until(browser, lambda b: status(b) == "live", 30, "live again after AMI")

            # The page loses vaxeld: disconnected at once; back by itself when it returns.
            vaxeld.stop()
            started = time.monotonic()
            wait_until(browser, lambda b: status(b) == "disconnected", 10, "disconnected")
            figures["stop_to_disconnected_s"] = round(time.monotonic() - started, 2)
            assert "Frånkopplad" in browser.find_element("id", "status").text
            browser.save_screenshot(str(ARTIFACTS / "wallboard-disconnected.png"))
            english = vaxeld.config.read_text().replace(
                "  language: sv              # the page", "  language: en  # the page"
            )
            vaxeld.config.write_text(english)  # and in English this time
            vaxeld.start()
            wait_until(browser, lambda b: status(b) == "live", 40, "live again after restart")
            assert "Waiting" in browser.find_element("css selector", "main").text

            # A phone: one column, nothing wider than the screen.
            browser.set_window_size(390, 844)
            widest = browser.execute_script(
                "return Math.max(...[...document.querySelectorAll('body *')]"
                ".map((e) => e.getBoundingClientRect().right))"
                " - document.documentElement.clientWidth"
            )
            assert widest <= 0
            browser.save_screenshot(str(ARTIFACTS / "wallboard-phone.png"))
            assert console_errors(browser) == [] or all(
                "wallboard/stream" in e for e in console_errors(browser)
            )  # only the stream's own errors while vaxeld was away
    finally:
        events.close()
        vaxeld.stop()
        proxy.close()
        (ARTIFACTS / "wallboard-figures.json").write_text(json.dumps(figures, indent=2))
    print("wallboard figures:", figures)
