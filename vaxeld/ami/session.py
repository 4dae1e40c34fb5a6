"""A small asyncio AMI session around the sans-I/O codec.

It logs in, maps ActionID to futures, collects event-list actions
(QueueStatus ... QueueStatusComplete), pings after a silence so a stalled
network is noticed (watchdog.py), and reconnects with jittered exponential backoff.

Two rules learned from other AMI clients:
- an action is sent once: after a reconnect nothing is re-sent; callers
  waiting on the old connection get ``AmiConnectionLost`` and decide;
- a handler that raises is logged and counted, and the session goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

import structlog

from vaxeld.ami.codec import DecodeError, Decoder, Greeting, Message, encode_action
from vaxeld.ami.stats import SessionStats
from vaxeld.ami.watchdog import PingWatchdog
from vaxeld.backoff import backoff_delays
from vaxeld.ratelimit import LogLimiter

log = structlog.get_logger("vaxeld.ami")

EventHandler = Callable[[Message], None]
# A session up this long (logged in and resynced) was healthy: its end resets the backoff.
HEALTHY_SECONDS = 10.0
# QueueStatus of 200 queues x 50 members is about 10,200 items.
MAX_LIST_ITEMS = 100_000
ConnectHook = Callable[["AmiSession"], Awaitable[None]]


class AmiError(Exception):
    """An action was answered with Response: Error."""


class AmiConnectionLost(ConnectionError):
    """The connection went away before the action was answered."""


class AmiAuthError(AmiError):
    """Asterisk refused the username or secret."""


@dataclass
class _PendingList:
    future: asyncio.Future[list[Message]]
    complete_event: str
    items: list[Message] = field(default_factory=list)


class AmiSession:
    """One AMI connection, kept up for as long as ``run()`` runs."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_event: EventHandler,
        on_connect: ConnectHook | None = None,
        on_disconnect: Callable[[], None] | None = None,
        event_filters: Iterable[str] = (),
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        action_timeout: float = 10.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        name: str = "main",
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.host, self.port, self.name = host, port, name
        self._username, self._secret = username, secret
        self._on_event, self._on_connect = on_event, on_connect
        self._on_disconnect = on_disconnect
        self._filters = list(event_filters)
        self._ping_interval, self._ping_timeout = ping_interval, ping_timeout
        self._action_timeout = action_timeout
        self._backoff_base, self._backoff_cap = backoff_base, backoff_cap
        self._rng = rng or random.Random()
        self._clock, self._sleep = clock, sleep
        self._healthy_since: float | None = None
        self._last_byte_at: float | None = None
        self._decoder = Decoder()
        self._transport: asyncio.Transport | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._lists: dict[str, _PendingList] = {}
        self._ready = asyncio.Event()
        self.stats = SessionStats()
        self.greeting = ""
        self._log_limit = LogLimiter()

    # -- public API -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def wait_connected(self) -> None:
        await self._ready.wait()

    async def action(
        self, name: str, headers: Mapping[str, str] | None = None, *, check: bool = True
    ) -> Message:
        """Send an action and wait for its Response. Raises AmiError on Response: Error."""
        reply = await asyncio.wait_for(self._request(name, headers or {}), self._action_timeout)
        if check and reply.response.lower() == "error":
            raise AmiError(f"{name}: {reply.get('Message', 'error')}")
        return reply

    async def list_action(
        self, name: str, complete_event: str, headers: Mapping[str, str] | None = None
    ) -> list[Message]:
        """Send an event-list action (e.g. QueueStatus) and return its events."""
        action_id = self._next_id()
        loop = asyncio.get_running_loop()
        pending = _PendingList(loop.create_future(), complete_event)
        self._lists[action_id] = pending
        try:
            self._write(encode_action(name, headers or {}, action_id))
            return await asyncio.wait_for(pending.future, self._action_timeout)
        finally:
            self._lists.pop(action_id, None)

    async def run(self) -> None:
        """Connect, log in and read until cancelled, reconnecting after every failure."""
        delays = iter(backoff_delays(self._backoff_base, self._backoff_cap, self._rng))
        while True:
            try:
                await self._connect_and_serve()
            except asyncio.CancelledError:
                self._drop_connection("stopped")
                raise
            except AmiAuthError as exc:
                self.stats.auth_failures += 1
                log.error(
                    "ami_login_refused",
                    pbx=self.name,
                    host=self.host,
                    port=self.port,
                    username=self._username,
                    reason=str(exc),
                )
            except (OSError, AmiConnectionLost, TimeoutError) as exc:
                log.warning(
                    "ami_connection_lost",
                    pbx=self.name,
                    host=self.host,
                    port=self.port,
                    error=f"{type(exc).__name__}: {exc}",
                )
            healthy = self._healthy_since
            if healthy is not None and self._clock() - healthy >= HEALTHY_SECONDS:
                # A session that ran well for a while ended: reconnect at once, not after
                # the long waits its earlier failures had built up (18-29 s were seen).
                delays = iter(backoff_delays(self._backoff_base, self._backoff_cap, self._rng))
            self._drop_connection("connection lost")
            delay = next(delays)
            log.info("ami_reconnect_scheduled", pbx=self.name, delay_seconds=round(delay, 2))
            await self._sleep(delay)
            self.stats.reconnects += 1

    # -- internals ------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"vaxeld-{self.name}-{next(self._ids)}"

    def _write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise AmiConnectionLost("not connected to Asterisk")
        self._transport.write(data)

    async def _connect_and_serve(self) -> None:
        loop = asyncio.get_running_loop()
        # A Protocol, not a StreamReader and a reading task: bytes go straight from the
        # socket callback to the decoder, which saved a task wake-up per read.
        closed: asyncio.Future[str] = loop.create_future()  # why the connection ended
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: _AmiProtocol(self, closed), self.host, self.port),
            self._action_timeout,
        )
        self._decoder.reset()
        self._transport = transport
        try:
            await self._login()
            for expr in self._filters:
                await self.action("Filter", {"Operation": "Add", "Filter": expr})
            self.stats.connected = True
            self.stats.connects += 1
            if self.stats.down_since is not None:
                self.stats.outage_seconds += self._clock() - self.stats.down_since
                self.stats.down_since = None
            self._ready.set()
            log.info(
                "ami_connected",
                pbx=self.name,
                host=self.host,
                port=self.port,
                asterisk=self.greeting,
            )
            if self._on_connect is not None:
                await self._on_connect(self)
            self._healthy_since = self._clock()  # logged in, filtered and resynced
            await self._watch(closed)
        finally:
            transport.abort()

    async def _login(self) -> None:
        try:
            await self.action(
                "Login", {"Username": self._username, "Secret": self._secret, "Events": "on"}
            )
        except AmiError as exc:
            raise AmiAuthError(str(exc).removeprefix("Login: ")) from None

    async def _watch(self, closed: asyncio.Future[str]) -> None:
        """Until the connection ends, by Asterisk closing it or a Ping going unanswered."""

        def lost(why: str) -> None:
            if not closed.done():
                closed.set_result(why)

        watchdog = PingWatchdog(
            self._ping_interval,
            self._ping_timeout,
            lambda: self._last_byte_at or 0.0,
            lambda: self._request("Ping", {}),
            lost,
            self._clock,
        )
        watchdog.start()
        try:
            why = await closed
        finally:
            watchdog.stop()
        raise AmiConnectionLost(why)

    def _request(self, name: str, headers: Mapping[str, str]) -> asyncio.Future[Message]:
        """Write an action; the future of its Response, failed when the connection goes
        and forgotten once done (answered, failed, or cancelled by a timeout)."""
        action_id = self._next_id()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._write(encode_action(name, headers, action_id))
        self._pending[action_id] = future
        future.add_done_callback(lambda _: self._pending.pop(action_id, None))
        return future

    def _received(self, data: bytes) -> None:
        self._last_byte_at = self._clock()
        self.stats.bytes_received += len(data)
        self.stats.reads += 1
        for item in self._decoder.feed(data):
            self._dispatch(item)

    def _dispatch(self, item: Message | Greeting | DecodeError) -> None:
        if isinstance(item, Greeting):
            self.greeting = item.version
            return
        if isinstance(item, DecodeError):
            self.stats.decode_errors += 1
            dropped = self._log_limit.allow("decode")
            if dropped is not None:
                log.warning(
                    "ami_decode_error",
                    pbx=self.name,
                    reason=item.reason,
                    bytes=item.size,
                    **({"not_logged_since": dropped} if dropped else {}),
                )
            return
        action_id = item.action_id
        if action_id:
            plist = self._lists.get(action_id)
            if plist is not None:
                if plist.future.done():
                    return
                if "Event" not in item:  # the Response that opens the list
                    if item.response.lower() == "error":
                        plist.future.set_exception(AmiError(item.get("Message", "error")))
                elif item.event == plist.complete_event or item.get("EventList") == "Complete":
                    plist.future.set_result(plist.items)
                else:
                    plist.items.append(item)
                    if len(plist.items) > MAX_LIST_ITEMS:
                        # A peer that never ends a list must not fill memory.
                        plist.items.clear()
                        plist.future.set_exception(
                            AmiError(f"event list longer than {MAX_LIST_ITEMS} items")
                        )
                return
            future = self._pending.get(action_id)
            if future is not None and "Response" in item:
                if not future.done():
                    future.set_result(item)
                return
        if "Event" not in item:
            return
        self.stats.events += 1
        self.stats.last_event_at = time.time()
        try:
            self._on_event(item)
        except Exception as exc:
            self.stats.handler_errors += 1
            dropped = self._log_limit.allow("handler")
            # Logging must not become a second failure that stops the read loop.
            with contextlib.suppress(Exception):
                if dropped is not None:
                    log.error(
                        "ami_event_handler_failed",
                        pbx=self.name,
                        event=item.event[:64],
                        error=f"{type(exc).__name__}: {exc}"[:500],
                        exc_info=exc,
                        **({"not_logged_since": dropped} if dropped else {}),
                    )

    def _drop_connection(self, why: str) -> None:
        was_connected = self._ready.is_set()
        self._ready.clear()
        self._healthy_since = None
        if self.stats.down_since is None:
            # From the last byte heard, not from when the loss was noticed: the watchdog
            # finds a silent stall 15 s after it began (10 s of silence, 5 s for a Pong).
            now = self._clock()
            last = self._last_byte_at
            self.stats.down_since = now if last is None or not was_connected else min(now, last)
        self.stats.connected = False
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AmiConnectionLost(why))
        for plist in self._lists.values():
            if not plist.future.done():
                plist.future.set_exception(AmiConnectionLost(why))
        self._pending.clear()
        self._lists.clear()
        if was_connected:
            log.info("ami_disconnected", pbx=self.name, reason=why)
            if self._on_disconnect is not None:
                # Readers (the wallboard) must show the loss at once, not at the next event.
                with contextlib.suppress(Exception):
                    self._on_disconnect()


class _AmiProtocol(asyncio.Protocol):
    """Hands received bytes to the session; resolves ``closed`` when the peer goes."""

    def __init__(self, session: AmiSession, closed: asyncio.Future[str]) -> None:
        self._session, self._closed = session, closed

    def data_received(self, data: bytes) -> None:
        self._session._received(data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            why = "connection closed by Asterisk" if exc is None else f"connection lost: {exc}"
            self._closed.set_result(why)
