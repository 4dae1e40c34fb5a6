"""vaxeld.web.wallboard: the page and its event stream on the daemon's HTTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import h11
import pytest

from vaxeld.web.server import HttpServer
from vaxeld.web.wallboard import Wallboard

TOKEN = "s3cret-token-for-tests"


class Board:
    """A build function whose picture the test changes, counting its builds."""

    def __init__(self) -> None:
        self.value = 0
        self.builds = 0

    def __call__(self) -> dict[str, Any]:
        self.builds += 1
        return {"now": 1000 * self.builds, "value": self.value}


class SseClient:
    """A page's stream, read with h11 as a browser would (chunked, event by event)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h11.Connection(h11.CLIENT)
        self.status = 0
        self.headers: dict[str, str] = {}
        self._buffer = b""

    @classmethod
    async def open(cls, port: int, target: str) -> SseClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        request = h11.Request(method="GET", target=target, headers=[("Host", "wallboard")])
        writer.write(client.conn.send(request) + client.conn.send(h11.EndOfMessage()))
        while True:
            event = await client._next()
            if isinstance(event, h11.Response):
                client.status = event.status_code
                client.headers = {k.decode(): v.decode() for k, v in event.headers}
                return client

    async def _next(self) -> h11.Event:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await asyncio.wait_for(self.reader.read(65536), 10))
                continue
            return event  # type: ignore[return-value]

    async def event(self) -> tuple[str, dict[str, Any]]:
        """The next event's name and data (a retry line alone is skipped)."""
        while True:
            while b"\n\n" in self._buffer:
                block, self._buffer = self._buffer.split(b"\n\n", 1)
                fields = dict(
                    line.split(": ", 1) for line in block.decode().split("\n") if ": " in line
                )
                if "data" in fields:
                    return fields.get("event", "message"), json.loads(fields["data"])
            event = await self._next()
            assert isinstance(event, h11.Data), event
            self._buffer += bytes(event.data)

    async def body(self) -> bytes:
        out = b""
        while not isinstance(event := await self._next(), h11.EndOfMessage):
            if isinstance(event, h11.Data):
                out += bytes(event.data)
        return out

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def served() -> AsyncIterator[tuple[Wallboard, Board, int]]:
    build = Board()
    board = Wallboard(build, TOKEN, max_clients=3, interval=0.05, ping_seconds=0.2)
    server = await HttpServer("127.0.0.1", 0, board.routes(at_root=True)).start()
    yield board, build, server.port
    board.close()
    await server.close()


async def test_a_page_gets_the_whole_picture_then_one_update_per_burst(
    served: tuple[Wallboard, Board, int],
) -> None:
    board, build, port = served
    page = await SseClient.open(port, f"/wallboard/stream?token={TOKEN}")
    assert page.status == 200 and page.headers["content-type"].startswith("text/event-stream")
    name, first = await page.event()
    assert name == "board" and first["board"] == {"value": 0}
    builds = build.builds
    build.value = 1
    for _ in range(50):  # a burst of changes: one build, one frame
        board.notify()
    name, second = await page.event()
    assert (name, second["board"], second["seq"]) == ("board", {"value": 1}, first["seq"] + 1)
    assert build.builds - builds == 1
    board.notify()  # nothing changed: nothing is sent, only the next ping
    name, ping = await page.event()
    assert name == "ping" and isinstance(ping["now"], int)
    assert board.stats.unchanged == 1
    page.close()


async def test_every_page_gets_the_same_frame_from_one_build(
    served: tuple[Wallboard, Board, int],
) -> None:
    board, build, port = served
    pages = [await SseClient.open(port, f"/wallboard/stream?token={TOKEN}") for _ in range(3)]
    for page in pages:
        await page.event()
    builds = build.builds
    build.value = 7
    board.notify()
    got = [await page.event() for page in pages]
    assert {json.dumps(g) for g in got} == {json.dumps(got[0])}
    assert got[0][1]["board"] == {"value": 7} and build.builds - builds == 1
    for page in pages:
        page.close()


async def test_a_page_that_connects_before_a_push_does_not_take_it_from_the_others() -> None:
    build = Board()
    board = Wallboard(build, None, max_clients=3, interval=1.0, ping_seconds=30)
    server = await HttpServer("127.0.0.1", 0, board.routes(at_root=True)).start()
    try:
        first = await SseClient.open(server.port, "/wallboard/stream")
        await first.event()
        build.value = 1
        board.notify()  # pushed at once (nothing was pushed before)...
        await first.event()
        build.value = 5
        board.notify()  # ...and this one a second after it
        second = await SseClient.open(server.port, "/wallboard/stream")  # meanwhile
        assert (await second.event())[1]["board"] == {"value": 5}
        name, data = await first.event()
        assert (name, data["board"]) == ("board", {"value": 5})
        for page in (first, second):
            page.close()
    finally:
        board.close()
        await server.close()


async def test_a_fourth_page_is_refused_and_a_closed_page_frees_its_place(
    served: tuple[Wallboard, Board, int],
) -> None:
    board, _, port = served
    pages = [await SseClient.open(port, f"/wallboard/stream?token={TOKEN}") for _ in range(3)]
    for page in pages:
        await page.event()
    refused = await SseClient.open(port, f"/wallboard/stream?token={TOKEN}")
    assert refused.status == 503 and board.stats.refused == 1
    refused.close()
    pages[0].close()
    for _ in range(100):  # the server notices at its next write (a ping)
        if len(board.pages) < 3:
            break
        await asyncio.sleep(0.05)
    again = await SseClient.open(port, f"/wallboard/stream?token={TOKEN}")
    assert again.status == 200
    for page in [*pages[1:], again]:
        page.close()


@pytest.mark.parametrize("path", ["/wallboard", "/", "/wallboard/stream", "/wallboard/board.json"])
async def test_without_the_token_nothing_but_the_shipped_code_is_served(
    served: tuple[Wallboard, Board, int], path: str
) -> None:
    board, _, port = served
    for target in (path, f"{path}?token=wrong-token-0123456789", f"{path}?{'&x=1' * 20}"):
        page = await SseClient.open(port, target)
        assert page.status == 401, target
        page.close()
    assert board.stats.unauthorized == 3
    page = await SseClient.open(port, f"{path}?token={TOKEN}")
    assert page.status == 200
    page.close()


async def test_the_page_and_its_files_come_from_the_package_with_strict_headers(
    served: tuple[Wallboard, Board, int],
) -> None:
    _, _, port = served
    page = await SseClient.open(port, f"/wallboard?token={TOKEN}")
    html = await page.body()
    assert b'src="/wallboard/board.js"' in html and b"http" not in html.split(b"<body")[1]
    assert page.headers["referrer-policy"] == "no-referrer"  # the token is in the URL
    assert "default-src 'self'" in page.headers["content-security-policy"]
    page.close()
    for name, kind in (("board.js", "text/javascript"), ("board.css", "text/css")):
        static = await SseClient.open(port, f"/wallboard/{name}")  # code, no data: no token
        assert static.status == 200 and static.headers["content-type"].startswith(kind)
        body = await static.body()
        assert b"http://" not in body and b"https://" not in body  # no CDN: works offline
        static.close()


async def test_the_json_view_is_the_same_picture(served: tuple[Wallboard, Board, int]) -> None:
    _, build, port = served
    build.value = 3
    page = await SseClient.open(port, "/wallboard/board.json")
    assert page.status == 401
    page.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /wallboard/board.json HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    reply = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["value"] == 3
