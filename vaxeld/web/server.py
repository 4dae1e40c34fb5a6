"""A small HTTP/1.1 server on the daemon's own event loop, for /metrics (and the
wallboard): h11 parses, this module bounds.

Serving on the loop means a handler reads the live state between two AMI events,
never during one, so nothing needs a lock or a copy. Every input is bounded: a
limited number of connections (one more is answered 503 and closed), a request head
of limited size that must arrive within a deadline (a client sending a byte at a time
is cut off, not waited for), no request bodies, and a deadline on every write. Nothing
here wakes up unless a client connects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h11
import structlog

log = structlog.get_logger("vaxeld.web")


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int = 64
    head_timeout_seconds: float = 10.0  # the whole request head, from the first byte
    idle_timeout_seconds: float = 30.0  # a kept-alive connection between requests
    write_timeout_seconds: float = 10.0
    max_head_bytes: int = 16 * 1024
    # A pushed stream whose client reads slower than it is written is closed once this
    # much waits unsent: a slow page costs memory up to here, then its connection.
    max_push_backlog_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lower-case names; a repeated name keeps the last value
    http_version: str = "1.1"


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # A pushed stream (Server-Sent Events): after the head, ``push`` is given the
    # connection's sink and writes to it whenever it likes, until either side ends it.
    push: Callable[[PushSink], None] | None = None


Handler = Callable[[Request], Awaitable[Response]]


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class PushSink:
    """Where a pushed stream's body goes: written straight to the connection, with no
    task per client and no wait. Many clients are sent the same bytes by one loop (the
    chunked form can be given ready-made, to frame it once for all). A client whose
    unsent backlog passes the limit is closed, never waited for."""

    def __init__(self, writer: asyncio.StreamWriter, chunked: bool, max_backlog: int) -> None:
        self._writer, self.chunked, self._max_backlog = writer, chunked, max_backlog
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._on_close: list[Callable[[], None]] = []

    def write(self, data: bytes, chunked: bytes | None = None) -> bool:
        """Send ``data`` (``chunked``: the same as one chunk); False once closed."""
        if self.ended.done():
            return False
        transport = self._writer.transport
        if transport.is_closing() or transport.get_write_buffer_size() > self._max_backlog:
            self.close()
            return False
        if self.chunked:
            data = chunked if chunked is not None else chunk(data)
        self._writer.write(data)
        return True

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def close(self) -> None:
        if self.ended.done():
            return
        self.ended.set_result(None)
        for callback in self._on_close:
            callback()


@dataclass
class ServerStats:
    connections: int = 0
    refused: int = 0  # over max_connections
    timeouts: int = 0  # head or write not done in time
    bad_requests: int = 0
    requests: int = 0


_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _bad_request(status: int) -> bytes:
    return (
        f"HTTP/1.1 {status} Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
    )


def _has_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") != "0" or "transfer-encoding" in (
        request.headers
    )


class HttpServer:
    """Serve ``routes`` (exact paths) on ``address``:``port`` (0: a free port)."""

    def __init__(
        self,
        address: str,
        port: int,
        routes: dict[str, Handler],
        limits: Limits | None = None,
    ) -> None:
        self.address, self._port = address, port
        self.routes = routes
        self.limits = limits or Limits()
        self.stats = ServerStats()
        self._server: asyncio.Server | None = None
        self._open: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> HttpServer:
        self._server = await asyncio.start_server(
            self._connection, self.address, self._port, limit=self.limits.max_head_bytes
        )
        return self

    async def close(self) -> None:
        """Stop listening and end every open connection (streams included)."""
        if self._server is not None:
            self._server.close()
        for writer in self._open.values():
            writer.close()  # a reader waiting on it sees the end and finishes
        if self._open:
            _, late = await asyncio.wait(list(self._open), timeout=1.0)
            for task in late:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.stats.connections += 1
        try:
            if len(self._open) >= self.limits.max_connections:
                self.stats.refused += 1
                await self._write(writer, _REFUSED)
                await self._linger(reader, writer)
                return
            self._open[task] = writer
            await self._serve(reader, writer)
        except TimeoutError:
            self.stats.timeouts += 1  # too slow to send its request, or to read our answer
        except (ConnectionError, h11.ProtocolError):
            self.stats.bad_requests += 1  # went away mid-request, or spoke something else
        except asyncio.CancelledError:
            pass  # close() gave up waiting: this connection simply ends
        finally:
            self._open.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Before closing with unread input, say we are done and read what is left for a
        moment: closing at once would reset the connection and lose our answer."""
        with contextlib.suppress(Exception):
            writer.write_eof()
            async with asyncio.timeout(1.0):
                while await reader.read(65536):
                    pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head_bytes)
        while True:
            try:
                request = await self._read_request(conn, reader)
            except h11.RemoteProtocolError as exc:
                self.stats.bad_requests += 1
                await self._write(writer, _bad_request(exc.error_status_hint))
                await self._linger(reader, writer)
                return
            if request is None:
                return
            response = await self._respond_to(request)
            if response.push is not None:
                await self._push(conn, reader, writer, request, response)
                return  # a pushed stream ends its connection
            await self._send(conn, writer, response)
            if conn.their_state is not h11.DONE:
                await self._linger(reader, writer)  # a body we did not read
                return
            if conn.our_state is not h11.DONE:
                return  # Connection: close, or a stream that ended
            conn.start_next_cycle()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> Request | None:
        """The next request head, or None when the client closed between requests."""
        first = True
        async with asyncio.timeout(self.limits.idle_timeout_seconds) as deadline:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(4096)
                    if first and data:
                        # From the first byte on, the whole head has its own deadline.
                        first = False
                        loop = asyncio.get_running_loop()
                        deadline.reschedule(loop.time() + self.limits.head_timeout_seconds)
                    conn.receive_data(data)
                    if not data and conn.their_state is h11.IDLE:
                        return None
                    continue
                if isinstance(event, h11.Request):
                    request = self._request_of(event)
                    if not _has_body(request):
                        # The request's end is already parsed: take it, so that the
                        # connection can serve the next one.
                        end = conn.next_event()
                        if not isinstance(end, h11.EndOfMessage):
                            raise h11.RemoteProtocolError("a body where none was declared")
                    return request
                if isinstance(event, h11.ConnectionClosed):
                    return None
                raise h11.RemoteProtocolError("unexpected event before a request")

    @staticmethod
    def _request_of(event: h11.Request) -> Request:
        target = event.target.decode("ascii", "replace")
        path, _, query = target.partition("?")
        headers = {k.decode("ascii").lower(): v.decode("latin-1") for k, v in event.headers}
        method, version = event.method.decode("ascii", "replace"), event.http_version.decode()
        return Request(method, path, query, headers, version)

    async def _respond_to(self, request: Request) -> Response:
        self.stats.requests += 1
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"only GET\n", headers=[("Allow", "GET, HEAD")])
        if _has_body(request):
            self.stats.bad_requests += 1
            return Response(413, b"no request bodies here\n")
        handler = self.routes.get(request.path)
        if handler is None:
            return Response(404, b"not found\n")
        try:
            return await handler(request)
        except Exception as exc:  # a failing handler answers 500; the server goes on
            log.error("http_handler_failed", path=request.path, error=repr(exc), exc_info=exc)
            return Response(500, b"internal error\n")

    async def _send(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, response: Response
    ) -> None:
        headers = [("Content-Type", response.content_type), *response.headers]
        headers.append(("Content-Length", str(len(response.body))))
        reason = h11.Response(status_code=response.status, headers=headers)
        await self._write(writer, conn.send(reason))
        await self._write(writer, conn.send(h11.Data(data=response.body)))
        await self._write(writer, conn.send(h11.EndOfMessage()))

    async def _push(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: Request,
        response: Response,
    ) -> None:
        """The head, then whatever ``response.push`` writes, until the client goes (its
        end of the connection is read, so a closed page frees its place at once) or the
        writer closes the sink."""
        assert response.push is not None
        headers = [("Content-Type", response.content_type), *response.headers]
        headers += [("Cache-Control", "no-store"), ("Connection", "close")]
        # No Content-Length: h11 frames the body chunked for HTTP/1.1, until close for 1.0.
        head = conn.send(h11.Response(status_code=response.status, headers=headers))
        await self._write(writer, head)
        sink = PushSink(writer, request.http_version == "1.1", self.limits.max_push_backlog_bytes)
        gone = asyncio.ensure_future(_until_eof(reader))
        try:
            response.push(sink)
            await asyncio.wait([gone, sink.ended], return_when=asyncio.FIRST_COMPLETED)
            if sink.chunked and not gone.done():
                writer.write(b"0\r\n\r\n")  # the writer ended it: a clean end of body
        finally:
            gone.cancel()
            sink.close()

    async def _write(self, writer: asyncio.StreamWriter, data: bytes | None) -> None:
        if not data:
            return
        writer.write(data)
        async with asyncio.timeout(self.limits.write_timeout_seconds):
            await writer.drain()


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """Read and drop what a client sends after its request, until it closes."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass
