"""vaxeld.web.server: routes on the event loop, and every input bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from vaxeld.web.server import HttpServer, Limits, PushSink, Request, Response


async def hello(request: Request) -> Response:
    return Response(200, f"hello {request.query}".encode())


async def boom(request: Request) -> Response:
    raise RuntimeError("handler bug")


async def start(limits: Limits | None = None) -> HttpServer:
    return await HttpServer("127.0.0.1", 0, {"/hello": hello, "/boom": boom}, limits).start()


async def exchange(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    srv = await start()
    yield srv
    await srv.close()


async def test_a_route_answers_with_its_body(server: HttpServer) -> None:
    reply = await exchange(
        server.port, b"GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert reply.endswith(b"\r\n\r\nhello x=1")


async def test_keep_alive_serves_several_requests_on_one_connection(server: HttpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    for _ in range(3):
        writer.write(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert await reader.readexactly(len(b"hello ")) == b"hello "
    writer.close()
    assert server.stats.connections == 1 and server.stats.requests == 3


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", b"404"),
        (
            b"POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            b"405",
        ),
        (
            b"GET /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
            b"Connection: close\r\n\r\nhello",
            b"413",
        ),
        (b"GET /boom HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", b"500"),
    ],
)
async def test_what_is_not_served_gets_a_clear_status(
    server: HttpServer, raw: bytes, status: bytes
) -> None:
    reply = await exchange(server.port, raw)
    assert reply.split(b" ")[1] == status
    # The server goes on after each of them.
    ok = await exchange(server.port, b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 ")


async def test_an_oversize_request_head_is_cut_off() -> None:
    srv = await start(Limits(max_head_bytes=1024))
    try:
        raw = b"GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: " + b"y" * 4096 + b"\r\n\r\n"
        reply = await exchange(srv.port, raw)
        assert b"200" not in reply.split(b"\r\n")[0]
        assert srv.stats.bad_requests == 1
    finally:
        await srv.close()


async def test_a_client_sending_its_head_a_byte_at_a_time_is_cut_off_at_the_deadline() -> None:
    """The deadline is for the whole head, not per read: trickling bytes does not extend it."""
    srv = await start(Limits(head_timeout_seconds=0.5))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        head = b"GET /hello HTTP/1.1\r\nHost: a\r\n" + b"X-Slow: " + b"z" * 200
        closed = False
        for byte in head:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.02)
            if reader.at_eof():
                closed = True
                break
        if not closed:
            closed = await asyncio.wait_for(reader.read(), 5) == b""
        assert closed
        assert srv.stats.timeouts == 1 and srv.stats.requests == 0
        writer.close()
    finally:
        await srv.close()


async def test_connections_beyond_the_limit_are_refused_with_503() -> None:
    srv = await start(Limits(max_connections=2, idle_timeout_seconds=30))
    try:
        idle = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(2)]
        await asyncio.sleep(0.1)  # both accepted and waiting for a request
        reply = await exchange(srv.port, b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 503 ")
        assert srv.stats.refused == 1
        for _, writer in idle:
            writer.close()
        await asyncio.sleep(0.1)
        ok = await exchange(
            srv.port, b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        assert ok.startswith(b"HTTP/1.1 200 ")
    finally:
        await srv.close()


async def test_a_pushed_stream_is_sent_as_it_comes_until_it_ends(server: HttpServer) -> None:
    def push(sink: PushSink) -> None:
        async def later() -> None:
            for n in range(3):
                await asyncio.sleep(0.01)
                assert sink.write(f"data: {n}\n\n".encode())
            sink.close()

        tasks.append(asyncio.create_task(later()))

    tasks: list[asyncio.Task[None]] = []

    async def stream(request: Request) -> Response:
        return Response(200, content_type="text/event-stream", push=push)

    server.routes["/events"] = stream
    reply = await exchange(server.port, b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b"text/event-stream" in reply
    body = reply.split(b"\r\n\r\n", 1)[1]
    assert body.index(b"data: 0") < body.index(b"data: 1") < body.index(b"data: 2")
    assert body.endswith(b"0\r\n\r\n")  # chunked, and ended


async def test_a_pushed_stream_ends_when_its_client_goes_and_a_slow_one_is_cut(
    server: HttpServer,
) -> None:
    sinks: list[PushSink] = []
    closed: list[PushSink] = []

    def push(sink: PushSink) -> None:
        sink.on_close(lambda: closed.append(sink))
        sinks.append(sink)

    async def stream(request: Request) -> Response:
        return Response(200, content_type="text/event-stream", push=push)

    server.routes["/events"] = stream
    server.limits = Limits(max_push_backlog_bytes=64 * 1024)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /events HTTP/1.0\r\nHost: a\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 ") and b"chunked" not in head.lower()  # HTTP/1.0
    assert sinks[0].write(b"data: 1\n\n")
    assert await asyncio.wait_for(reader.readexactly(9), 5) == b"data: 1\n\n"  # not chunked
    writer.close()  # the client goes: noticed at once, with nothing written
    await asyncio.wait_for(sinks[0].ended, 5)
    assert closed == [sinks[0]] and not sinks[0].write(b"late")
    # A client that reads nothing: its backlog grows to the limit, then it is closed.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    slow = sinks[1]
    sent = 0
    while slow.write(b"x" * 65536):
        sent += 1
        await asyncio.sleep(0)
        assert sent < 10_000
    assert closed[-1] is slow
    writer.close()


async def test_close_ends_open_connections() -> None:
    srv = await start()
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    await asyncio.sleep(0.05)
    await srv.close()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
