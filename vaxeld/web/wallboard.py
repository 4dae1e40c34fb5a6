"""The wallboard on the daemon's HTTP server: a page shipped in the package, and one
Server-Sent Events stream that pushes the board to every open page.

Pushing, not polling: a change marks the board dirty, and one build at most every
``interval`` seconds (250 ms) serves every page with the same bytes, framed once, so 200
wall screens cost one build and 200 socket writes per update (in one loop: no task per
page), never 200 builds. A page gets
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
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import structlog

from vaxeld.web.server import Handler, PushSink, Request, Response, chunk

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
        self.pages: set[PushSink] = set()
        self.stats = BoardStats()
        self._timer: asyncio.TimerHandle | None = None
        self._minute: asyncio.TimerHandle | None = None
        self._ping: asyncio.TimerHandle | None = None
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
        """Something changed: build and push within ``interval``, once for many changes.
        With no page open nothing is built (a page that opens gets the whole picture)."""
        if self._timer is not None or not self.pages:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_build + self.interval - self._clock())
        self._timer = loop.call_later(delay, self._push)

    def _push(self) -> None:
        self._timer = None
        self._last_build = self._clock()
        frame = self._frame(only_if_changed=True)
        if frame is not None:
            self._send_all(frame)

    def _send_all(self, frame: bytes) -> None:
        chunked = chunk(frame)  # framed once for every HTTP/1.1 page
        for page in list(self.pages):  # a page too slow to keep up is closed, and leaves
            if page.write(frame, chunked):
                self.stats.pushes += 1

    def _send_ping(self) -> None:
        """While pages are open: every few seconds a sign of life (and the clock)."""
        self._ping = None
        if not self.pages:
            return
        now = round(time.time() * 1000)
        self._send_all(f'event: ping\ndata: {{"now":{now}}}\n\n'.encode())
        self._ping = asyncio.get_running_loop().call_later(self.ping_seconds, self._send_ping)

    def _frame(self, only_if_changed: bool = False) -> bytes | None:
        """The board as one SSE frame (None: unchanged since the last push). Only a
        push is remembered as sent: a page that connects meanwhile gets the picture of
        its moment, and the pages before it still get the push."""
        board = self._build()
        self.stats.builds += 1
        now = board.pop("now")
        body = json.dumps(board, ensure_ascii=False, separators=(",", ":"))
        if only_if_changed and body == self._last_body:
            self.stats.unchanged += 1
            return None
        if only_if_changed:
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
        for timer in (self._timer, self._minute, self._ping):
            if timer is not None:
                timer.cancel()
        self._timer = self._minute = self._ping = None

    def _open(self, page: PushSink) -> None:
        """A page connected: the whole picture now, then every update and ping."""
        first = self._frame()
        assert first is not None
        if not page.write(b"retry: 2000\n\n" + first):  # the browser reconnects after 2 s
            return
        self.pages.add(page)
        page.on_close(lambda: self.pages.discard(page))
        if self._minute is None:
            self._next_minute()
        if self._ping is None:
            loop = asyncio.get_running_loop()
            self._ping = loop.call_later(self.ping_seconds, self._send_ping)

    # -- handlers --------------------------------------------------------------------

    def _allowed(self, request: Request) -> bool:
        if self.token is None:
            return True
        try:
            given = parse_qs(request.query, max_num_fields=8).get("token", [""])[0]
        except ValueError:  # more fields than a page sends
            given = ""
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
            push=self._open,
        )
