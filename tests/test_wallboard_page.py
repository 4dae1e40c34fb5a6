"""The wallboard page's own behaviour in a real headless Chromium, fed pictures the
test chooses: banners, colours, a PBX out of sight, English labels, a stream that goes
silent. (The real-call test is tests/test_wallboard_browser.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import immutables
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from lab.browser import chromium, console_errors
from vaxeld.config import load_config
from vaxeld.state.model import Call, Member, Phase, SwitchboardState
from vaxeld.state.today import QueueToday
from vaxeld.state.view import LinkHealth, PbxView
from vaxeld.web.board import AgentClock, build_board
from vaxeld.web.server import HttpServer
from vaxeld.web.wallboard import Wallboard

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"


class Picture:
    """What the board shows; the test changes it and notifies. Between changes it stays
    the same, as a real one does: the board's once-a-minute look sends nothing then (a
    frame from it would keep a silent stream looking alive)."""

    def __init__(self) -> None:
        self.config = load_config(EXAMPLE)
        self.opening = {"entry": "open"}
        self.crisis = False
        self.connected = [True, True]
        self.waits = [3.0]
        self.clock = AgentClock()
        self.today_since = time.time() - 3600

    @property
    def waits(self) -> list[float]:
        """Seconds the sv callers have waited, when set (their waits grow from there)."""
        return [time.monotonic() - joined for joined in self._joined]

    @waits.setter
    def waits(self, seconds: list[float]) -> None:
        now = time.monotonic()
        self._joined = [now - w for w in seconds]

    def __call__(self) -> dict[str, Any]:
        mono = time.monotonic()
        calls = {
            str(i): Call(str(i), queue="sv", phase=Phase.WAITING, joined_at=joined)
            for i, joined in enumerate(self._joined)
        }
        asa = Member("sv", "PJSIP/agent1001", "Åsa Lindqvist", status=1, paused=True)
        views = [
            PbxView(
                name,
                SwitchboardState(
                    pbx=name,
                    calls=immutables.Map(calls if name == "main" else {}),
                    members=immutables.Map({("sv", asa.interface): asa} if name == "main" else {}),
                    synced=up,
                ),
                LinkHealth(connected=up),
                crisis_active=self.crisis,
            )
            for name, up in zip(("main", "north"), self.connected, strict=True)
        ]
        today = {("main", "sv"): QueueToday(6, 10, 7, 5, 3, 0)}
        return build_board(
            self.config, views, today, {"main": self.today_since}, self.opening,
            self.clock, time.time(), mono,
        )  # fmt: skip


@pytest.fixture
async def page() -> AsyncIterator[tuple[Wallboard, Picture, int]]:
    picture = Picture()
    board = Wallboard(picture, None, max_clients=4, ping_seconds=1.0)
    server = await HttpServer("127.0.0.1", 0, board.routes(at_root=True)).start()
    yield board, picture, server.port
    board.close()
    await server.close()


def js(browser: WebDriver, script: str) -> Any:
    return browser.execute_script(f"return {script}")


def until(browser: WebDriver, script: str, what: str, timeout: float = 10) -> None:
    WebDriverWait(browser, timeout, poll_frequency=0.05).until(
        lambda b: js(b, script), message=what
    )


async def test_banners_colours_and_a_lost_pbx_as_a_person_sees_them(
    page: tuple[Wallboard, Picture, int],
) -> None:
    board, picture, port = page

    def look() -> None:
        with chromium(1400, 900) as browser:
            browser.get(f"http://127.0.0.1:{port}/")
            until(browser, "document.body.dataset.status === 'live'", "live")
            sv = "document.querySelector('.queue[data-queue=\"sv\"]')"
            assert js(browser, f"{sv}.querySelector('.sl .value').textContent") == "60 %"
            assert "below" in js(browser, f"{sv}.querySelector('.sl').className")  # < 80 %
            assert js(browser, "document.getElementById('banners').children.length") == 0
            agent = "document.querySelector('.agent[data-agent=\"Åsa Lindqvist\"]')"
            assert js(browser, f"{agent}.dataset.state") == "paused"
            assert js(browser, "document.title") == "Kontaktcenter"

            picture.crisis, picture.opening = True, {"entry": "closed-holiday"}
            picture.waits = [12.0, 25.0]
            asyncio.run_coroutine_threadsafe(_notify(board), loop).result(5)
            until(browser, "!!document.getElementById('crisis')", "crisis banner")
            assert "KRISLÄGE" in js(browser, "document.getElementById('crisis').textContent")
            assert js(browser, "document.getElementById('opening').dataset.opening") == (
                "closed-holiday"
            )
            assert "helgdag" in js(browser, "document.getElementById('opening').textContent")
            assert "red" in js(browser, f"{sv}.querySelector('.longest').className")  # 25 s > 20

            picture.waits = [12.0]
            asyncio.run_coroutine_threadsafe(_notify(board), loop).result(5)
            until(
                browser,
                f"{sv}.querySelector('.longest').className.includes('amber')",
                "amber from half the target",
            )

            picture.connected = [True, False]  # one PBX out of sight: greyed, and named
            asyncio.run_coroutine_threadsafe(_notify(board), loop).result(5)
            until(browser, "document.body.dataset.status === 'ami'", "AMI lost")
            assert "(north)" in js(browser, "document.getElementById('status').textContent")
            assert "grayscale" in js(
                browser, "getComputedStyle(document.querySelector('main')).filter"
            )

            # A stream that goes silent (no frame, no ping) is not trusted for long.
            board.ping_seconds = 3600.0
            picture.connected = [True, True]
            asyncio.run_coroutine_threadsafe(_notify(board), loop).result(5)
            until(browser, "document.body.dataset.status === 'live'", "live again")
            until(browser, "document.body.dataset.status === 'disconnected'", "silent", 20)
            assert console_errors(browser) == []

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(look)


async def test_labels_follow_the_config_in_english(page: tuple[Wallboard, Picture, int]) -> None:
    _, picture, port = page
    text = EXAMPLE.read_text().replace("  language: sv              # the page", "  language: en #")
    picture.config = load_config_text(text)

    def look() -> None:
        with chromium(390, 844) as browser:
            browser.get(f"http://127.0.0.1:{port}/wallboard")
            until(browser, "document.body.dataset.status === 'live'", "live")
            main = js(browser, "document.querySelector('main').textContent")
            assert "Waiting" in main and "Service level today" in main and "Väntar" not in main
            assert js(browser, "document.documentElement.lang") == "en"

    await asyncio.to_thread(look)


async def _notify(board: Wallboard) -> None:
    board.notify()


def load_config_text(text: str) -> Any:
    from vaxeld.config import parse_config

    return parse_config(text)
