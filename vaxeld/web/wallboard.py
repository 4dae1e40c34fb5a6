"""The wallboard on the daemon's HTTP server: a page shipped in the package, and one
Server-Sent Events stream that pushes the board to every open page.

Pushing, not polling: a change marks the board dirty, and one build at most every
``interval`` seconds (250 ms) serves every page with the same bytes, so 200 wall
screens cost one build and 200 socket writes per update, never 200 builds. A page gets
the full picture when it connects and after every reconnect (the browser reconnects by
itself); each update is the full picture again (a few kB), so a page that missed one
is whole at the next. While pages are open a ping every few seconds tells them vaxeld
is alive, so that a page can grey its figures when the pings stop. With no page open
nothing wakes up but the builds that follow changes (they keep agents' "since when").
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import structlog

from vaxeld.web.server import Handler, Request, Response

log = structlog.get_logger("vaxeld.wallboard")

PATH = "/wallboard"
# Static files: the shipped code of the page, no data in them; no CDN, works offline.
STATIC = {
    f"{PATH}/board.js": ("board.js", "text/javascript; charset=utf-8"),
    f"{PATH}/board.css": ("board.css", "text/css; charset=utf-8"),
}
# The token travels in the page's URL: never pass it on to another site.
_HEADERS = [
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
]


def _static(name: str) -> bytes:
    return resources.files("vaxeld.web").joinpath("static", name).read_bytes()


@dataclass(eq=False, slots=True)
class _Page:
    """One open page's stream: the latest frame not yet written (older ones are
    replaced, so a slow page holds at most one), and a flag to wake its writer."""

    pending: bytes | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class BoardStats:
    builds: int = 0
    pushes: int = 0  # frames handed to pages
    unchanged: int = 0  # builds equal to the last one: nothing sent
    refused: int = 0  # over max_clients
    unauthorized: int = 0


class Wallboard:
    def __init__(
        self,
        build: Callable[[], dict[str, Any]],
        token: str | None,
        max_clients: int,
        interval: float = 0.25,
        ping_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build, self.token, self.max_clients = build, token, max_clients
        self.interval, self.ping_seconds, self._clock = interval, ping_seconds, clock
        self.pages: set[_Page] = set()
        self.stats = BoardStats()
        self._timer: asyncio.TimerHandle | None = None
        self._minute: asyncio.TimerHandle | None = None
        self._last_build = float("-inf")
        self._last_body = ""
        self._seq = 0
        self._page = _static("board.html")
        self._files = {path: (_static(name), kind) for path, (name, kind) in STATIC.items()}

    def routes(self, at_root: bool) -> dict[str, Handler]:
        routes: dict[str, Handler] = {
            PATH: self._page_handler,
            f"{PATH}/": self._page_handler,
            f"{PATH}/stream": self._stream_handler,
            f"{PATH}/board.json": self._json_handler,
        }
        routes.update(dict.fromkeys(self._files, self._file_handler))
        if at_root:
            routes["/"] = self._page_handler
        return routes

    # -- pushing ---------------------------------------------------------------------

    def notify(self) -> None:
        """Something changed: build and push within ``interval``, once for many changes."""
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_build + self.interval - self._clock())
        self._timer = loop.call_later(delay, self._push)

    def _push(self) -> None:
        self._timer = None
        self._last_build = self._clock()
        frame = self._frame(only_if_changed=True)
        if frame is None or not self.pages:
            return
        for page in self.pages:
            page.pending = frame
            page.ready.set()
        self.stats.pushes += len(self.pages)

    def _frame(self, only_if_changed: bool = False) -> bytes | None:
        """The board as one SSE frame (None: unchanged since the last build)."""
        board = self._build()
        self.stats.builds += 1
        now = board.pop("now")
        body = json.dumps(board, ensure_ascii=False, separators=(",", ":"))
        if only_if_changed and body == self._last_body:
            self.stats.unchanged += 1
            return None
        if body != self._last_body:
            self._seq += 1
            self._last_body = body
        data = f'{{"seq":{self._seq},"now":{now},"board":{body}}}'
        return f"event: board\nid: {self._seq}\ndata: {data}\n\n".encode()

    def _on_the_minute(self) -> None:
        """While a page is open, look again at each full minute: opening hours and the
        day change with time, not with events (an unchanged board sends nothing)."""
        self._minute = None
        if self.pages:
            self.notify()
            self._next_minute()

    def _next_minute(self) -> None:
        loop = asyncio.get_running_loop()
        self._minute = loop.call_later(60.05 - time.time() % 60, self._on_the_minute)

    def close(self) -> None:
        for timer in (self._timer, self._minute):
            if timer is not None:
                timer.cancel()
        self._timer = self._minute = None

    async def _events(self, page: _Page) -> AsyncIterator[bytes]:
        # Counted from the first write on: a generator never started never runs a finally.
        self.pages.add(page)
        if self._minute is None:
            self._next_minute()
        try:
            first = self._frame()
            assert first is not None
            yield b"retry: 2000\n\n" + first  # the browser reconnects after 2 s
            while True:
                try:
                    async with asyncio.timeout(self.ping_seconds):
                        await page.ready.wait()
                except TimeoutError:
                    now = round(time.time() * 1000)
                    yield f'event: ping\ndata: {{"now":{now}}}\n\n'.encode()
                    continue
                page.ready.clear()
                frame, page.pending = page.pending, None
                if frame is not None:
                    yield frame
        finally:
            self.pages.discard(page)

    # -- handlers --------------------------------------------------------------------

    def _allowed(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = parse_qs(request.query, max_num_fields=8).get("token", [""])[0]
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            given = auth[7:]
        ok = hmac.compare_digest(given.encode(), self.token.encode())
        if not ok:
            self.stats.unauthorized += 1
        return ok

    @staticmethod
    def _unauthorized() -> Response:
        return Response(
            401,
            b"This wallboard needs its access token: open it as /wallboard?token=...\n",
            headers=list(_HEADERS),
        )

    async def _page_handler(self, request: Request) -> Response:
        if not self._allowed(request):
            return self._unauthorized()
        return Response(200, self._page, "text/html; charset=utf-8", list(_HEADERS))

    async def _file_handler(self, request: Request) -> Response:
        body, kind = self._files[request.path]
        return Response(200, body, kind, [("X-Content-Type-Options", "nosniff")])

    async def _json_handler(self, request: Request) -> Response:
        if not self._allowed(request):
            return self._unauthorized()
        board = self._build()
        self.stats.builds += 1
        body = json.dumps(board, ensure_ascii=False).encode()
        return Response(200, body, "application/json", list(_HEADERS))

    async def _stream_handler(self, request: Request) -> Response:
        if not self._allowed(request):
            return self._unauthorized()
        if len(self.pages) >= self.max_clients:
            self.stats.refused += 1
            return Response(503, b"too many wallboards open\n", headers=[("Retry-After", "10")])
        return Response(
            200,
            content_type="text/event-stream; charset=utf-8",
            headers=[("X-Accel-Buffering", "no")],
            stream=self._events(_Page()),
        )
