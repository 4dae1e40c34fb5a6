"""The MQTT bridge: live state as retained JSON, and a few validated commands.

The AMI path never waits for the broker. Trackers only call `notify()`, which
schedules one build at the end of the loop turn; the build (vaxeld.mqtt.payloads) takes
the latest views, only for the queues and agents that changed since the last one (and
waiting queues once per `wait_refresh_seconds`), skips topics whose payload did not
change, waits `min_interval_seconds` between publishes per topic, and hands them to the
connected client, or to a bounded outbox while the broker is slow or down, which drops
the oldest message (and counts it) when full. The
connection is kept up with jittered backoff; a last will marks `<prefix>/status` offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiomqtt
import structlog

from vaxeld.backoff import backoff_delays
from vaxeld.calendar import local_midnight, opening_changes_at
from vaxeld.config import Config
from vaxeld.config.mqtt import MqttConfig
from vaxeld.mqtt.client import KEEPALIVE_SECONDS, QuietClient
from vaxeld.mqtt.commands import Command, CommandAnswerer
from vaxeld.mqtt.outbox import Outbox
from vaxeld.mqtt.payloads import Touched, Waiting, state_messages, touched_since
from vaxeld.ratelimit import LogLimiter
from vaxeld.state.model import SwitchboardState
from vaxeld.state.today import QueueToday
from vaxeld.state.view import PbxView

log = structlog.get_logger("vaxeld.mqtt")

# Every topic is rebuilt when the producer wakes this long after the last full build:
# a safety only, since each build takes what changed (see MqttBridge._touched).
FULL_SECONDS = 300.0
# Opening hours are looked at when they next change, and at least this often (a safety:
# a clock set anew, a mistake in working out the next change).
OPENING_LOOK_SECONDS = 3600.0


class MqttBridge:
    def __init__(
        self,
        config: Config,
        mqtt: MqttConfig,
        password: str | None,
        views: Callable[[], Sequence[PbxView]],
        today: Callable[[], Mapping[tuple[str, str], QueueToday]],
        opening: Callable[[], dict[str, str]],
        command: Command,
    ) -> None:
        self.config, self.mqtt, self._password = config, mqtt, password
        self._views, self._today, self._opening = views, today, opening
        self._answerer = CommandAnswerer(command)
        self.outbox = Outbox(mqtt.queue_size)
        self._last_payload: dict[str, bytes] = {}
        self._last_built: dict[str, dict[str, Any]] = {}
        self._last_sent: dict[str, float] = {}
        # The snapshot each PBX's topics were last built from, and when all were built.
        self._built_from: dict[str, SwitchboardState] = {}
        self._built_config: Config | None = None
        self._last_full = float("-inf")
        self._built_days: dict[str, dict[str, QueueToday]] = {}  # per PBX, by queue
        self._today_built: Mapping[tuple[str, str], QueueToday] | None = None  # as given
        self._opening_until = 0.0  # when _opening_now may change, and its config
        self._opening_config: Config | None = None
        self._opening_now: dict[str, str] = {}
        self._midnight_at = 0.0  # the next local midnight, as last worked out
        self._waits_built: dict[str, float] = {}  # per PBX: when waiting queues were built
        self._waiting: dict[str, Waiting] = {}  # per PBX, as last built
        self._pending: dict[str, bytes] = {}  # built, held back by min_interval_seconds
        self._next_waits = float("inf")  # when waits are next republished (inf: none wait)
        # The state's clock (monotonic) to Unix time, once: longest_wait_since must not
        # move between builds with the two clocks' jitter.
        self._wall_offset = time.time() - time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._soon: asyncio.Handle | None = None  # a build at the end of this turn
        self._timer: asyncio.TimerHandle | None = None  # a build when time changes things
        self._client_now: QuietClient | None = None  # connected, sending
        self.connected = False
        self.published = 0
        self.connects = 0
        self._reconnect = asyncio.Event()
        self._log_limit = LogLimiter()

    def reconfigure(self, config: Config, mqtt: MqttConfig, password: str | None) -> None:
        """Take a reloaded config. Topics follow its queues and agents at once; another
        broker, account, TLS setting or topic prefix means a new connection, and the old
        prefix's status is set offline before it is left."""
        self.config = config
        self._midnight_at = 0.0  # the time zone may be another
        if (mqtt, password) == (self.mqtt, self._password):
            return
        self.mqtt, self._password = mqtt, password
        self.outbox.reset(mqtt.queue_size)  # its topics may carry the old prefix
        self._reconnect.set()
        self.notify()

    def notify(self) -> None:
        """Something changed: publish the new state soon (at the end of this loop turn,
        with whatever else the turn changed). Never blocks."""
        if self._soon is None and self._loop is not None:
            self._soon = self._loop.call_soon(self._build)

    def topic(self, suffix: str) -> str:
        return f"{self.mqtt.topic_prefix}/{suffix}"

    async def run(self) -> None:
        await asyncio.gather(self._produce(), self._connection())

    async def _produce(self) -> None:
        """Turn state into per-topic payloads, rate-limited, for the broker. Builds run
        as plain callbacks, one per loop turn with changes and one when time alone
        changes something: no task to wake, and no timer re-armed while the deadline
        stays the same."""
        self._loop = asyncio.get_running_loop()
        self._build()
        try:
            await self._loop.create_future()  # until cancelled
        finally:
            for handle in (self._soon, self._timer):
                if handle is not None:
                    handle.cancel()
            self._loop = self._soon = self._timer = None

    def _build(self) -> None:
        self._soon = None
        now = time.monotonic()
        try:
            self._build_now(now)
        except Exception:  # a defect in a build: logged, and the next one builds all
            self._built_config = None
            if self._log_limit.allow("build") is not None:
                log.exception("mqtt_build_failed")
        self._wake_at(self._quiet_for(now))

    def _on_time(self) -> None:
        self._timer = None
        self._build()

    def _wake_at(self, delay: float | None) -> None:
        """Build again after ``delay`` s (None: only on a change); the armed timer is
        kept when it is already due then (within 10 ms)."""
        if self._loop is None:
            return
        if delay is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        when = self._loop.time() + delay
        if self._timer is not None:
            if abs(self._timer.when() - when) < 0.01:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._on_time)

    def _build_now(self, now: float) -> None:
        if self.config is not self._built_config or now - self._last_full >= FULL_SECONDS:
            self._last_full, self._built_config = now, self.config
            self._built_from.clear()  # no snapshot to compare with: every topic
        pending = self._pending
        today = self._today()
        # The same figures object as last time: the day did not move (see TodayCounts).
        today_moved, self._today_built = today is not self._today_built, today
        opening = self._opening_hours()
        self._next_waits = float("inf")
        for view in self._views():
            touched = self._touched(view, today, today_moved, now)
            waiting = self._waiting[view.name]
            for suffix, payload in state_messages(
                self.config, view, now, today, opening, touched, waiting, self._wall_offset
            ).items():
                # Most payloads are as they were: comparing dicts is far cheaper than
                # encoding every topic on every change.
                if self._last_built.get(suffix) == payload:
                    continue
                self._last_built[suffix] = payload
                data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
                if self._last_payload.get(suffix) != data:
                    pending[suffix] = data
                else:  # back to what subscribers already have: drop a held-back change
                    pending.pop(suffix, None)
        for suffix, data in list(pending.items()):
            if now - self._last_sent.get(suffix, 0.0) >= self.mqtt.min_interval_seconds:
                self._emit(self.topic(suffix), data)
                self._last_payload[suffix] = data
                self._last_sent[suffix] = now
                del pending[suffix]

    def _emit(self, topic: str, payload: bytes) -> None:
        """Straight to the connected client when nothing waits before it (no task to
        wake); otherwise, or when it fails, into the outbox, whose sender then meets
        the failure and reconnects."""
        client = self._client_now
        if client is not None and not self.outbox:
            try:
                client.publish_state(topic, payload)
            except aiomqtt.MqttError:
                pass
            else:
                self.published += 1
                return
        self.outbox.put(topic, payload)

    def _touched(
        self,
        view: PbxView,
        today: Mapping[tuple[str, str], QueueToday],
        today_moved: bool,
        now: float,
    ) -> Touched | None:
        """What can differ from the last build (None: everything): the queues and agents
        of calls and members that changed, queues whose callers wait (their waits grow),
        and queues whose figures of the day moved (queue_log may count a caller AMI never
        showed, and midnight starts a new day). Keeps the PBX's waiting callers."""
        old = self._built_from.get(view.name)
        self._built_from[view.name] = view.state
        last_days = self._built_days.get(view.name)
        days = last_days
        if today_moved or days is None:
            days = {q: day for (pbx, q), day in today.items() if pbx == view.name}
        self._built_days[view.name] = days
        # Waits grow by the second: republished every wait_refresh_seconds (and not
        # more often than a topic may go out), not at every event.
        refresh = max(self.mqtt.min_interval_seconds, self.mqtt.wait_refresh_seconds)
        if old is None or last_days is None:
            self._waits_built[view.name] = now
            self._waiting[view.name] = Waiting.of(view.state)
            if self._waiting[view.name]:
                self._next_waits = min(self._next_waits, now + refresh)
            return None
        waiting = self._waiting[view.name]
        queues, agents = touched_since(old, view.state, waiting)
        if waiting and now - self._waits_built.get(view.name, float("-inf")) >= refresh:
            self._waits_built[view.name] = now
            queues.update(waiting.queues())
        if waiting:
            self._next_waits = min(self._next_waits, self._waits_built[view.name] + refresh)
        if days is not last_days:
            queues.update(
                q for q in days.keys() | last_days.keys() if days.get(q) != last_days.get(q)
            )
        return queues, agents

    def _opening_hours(self) -> dict[str, str]:
        """Opening hours change only at a range's start or end (or with the config):
        looked at again when the next such change is due, at the latest after an hour."""
        if not self.config.schedules:
            return {}
        wall = time.time()
        if wall >= self._opening_until or self.config is not self._opening_config:
            self._opening_config = self.config
            self._opening_now = self._opening()
            due = opening_changes_at(self.config, wall)
            self._opening_until = min(wall + OPENING_LOOK_SECONDS, due or float("inf"))
        return self._opening_now

    def _quiet_for(self, now: float) -> float | None:
        """How long the producer may sleep without a change (None: until one comes).
        Time alone changes only a held-back payload's turn, the waits of callers who
        wait (republished every wait_refresh_seconds), the opening hours (when the
        config has any, at their next change) and the day (at local midnight)."""
        interval = self.mqtt.min_interval_seconds
        deadlines = [self._last_sent.get(s, 0.0) + interval - now for s in self._pending]
        deadlines.append(self._next_waits - now)  # inf while nobody waits
        wall = time.time()
        if self.config.schedules:
            deadlines.append(self._opening_until - wall + 0.05)
        if not self._midnight_at - 25 * 3600 < wall < self._midnight_at:  # a day: 23-25 h
            today = local_midnight(self.config.timezone, wall)
            self._midnight_at = local_midnight(self.config.timezone, today + 36 * 3600)
        deadlines.append(self._midnight_at - wall)
        return max(0.0, min(deadlines))

    def _client(self) -> QuietClient:
        tls = None
        if self.mqtt.tls:
            tls = ssl.create_default_context(
                cafile=str(self.mqtt.ca_file) if self.mqtt.ca_file else None
            )
        will = aiomqtt.Will(self.topic("status"), b"offline", qos=1, retain=True)
        return QuietClient(
            self.mqtt.host,
            self.mqtt.port,
            username=self.mqtt.username,
            password=self._password,
            identifier=self.mqtt.client_id,
            will=will,
            tls_context=tls,
            keepalive=KEEPALIVE_SECONDS,
            timeout=10,
        )

    async def _connection(self) -> None:
        delays = iter(backoff_delays(0.5, 30.0, random.Random()))
        while True:
            self._reconnect.clear()
            try:
                async with self._client() as client:
                    self.connected = True
                    self.connects += 1
                    delays = iter(backoff_delays(0.5, 30.0, random.Random()))
                    log.info("mqtt_connected", host=self.mqtt.host, port=self.mqtt.port)
                    await client.publish(self.topic("status"), b"online", qos=1, retain=True)
                    self._last_payload.clear()  # a new session republishes everything
                    self._last_built.clear()
                    self._last_full = float("-inf")
                    self.notify()
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self._send(client))
                        if self.mqtt.commands:
                            tg.create_task(self._listen(client))
                        tg.create_task(self._leave_when_reconfigured(client))
            except aiomqtt.MqttError as exc:
                log.warning(
                    "mqtt_unavailable", host=self.mqtt.host, port=self.mqtt.port, error=str(exc)
                )
            except ExceptionGroup as group:  # from the send/listen TaskGroup
                if group.subgroup(_Reconfigured) is not None:
                    self.connected = False
                    continue  # at once, with the new settings
                if group.subgroup(aiomqtt.MqttError) is None:
                    raise
                log.warning(
                    "mqtt_unavailable",
                    host=self.mqtt.host,
                    port=self.mqtt.port,
                    error=str(group.exceptions[0]),
                )
            self.connected = False
            await asyncio.sleep(next(delays))

    async def _leave_when_reconfigured(self, client: aiomqtt.Client) -> None:
        status = self.topic("status")  # under the prefix this connection was made with
        await self._reconnect.wait()
        log.info("mqtt_reconfigured", host=self.mqtt.host, port=self.mqtt.port)
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(status, b"offline", qos=1, retain=True)
        raise _Reconfigured

    async def _send(self, client: QuietClient) -> None:
        """State goes out at QoS 0: a PUBACK per message would wake vaxeld once more
        for every topic it publishes, and a message lost with a connection is not lost
        to subscribers, since every new connection republishes every topic."""
        self._client_now = client
        try:
            while True:
                item = await self.outbox.get()  # returns at once while items wait
                try:
                    client.publish_state(*item)
                except aiomqtt.MqttError:
                    self.outbox.requeue(item)
                    raise
                self.published += 1
        finally:
            self._client_now = None

    async def _listen(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self.topic("cmd/#"), qos=1)
        async for message in client.messages:
            await self._handle(client, message)

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        name = str(message.topic).removeprefix(self.topic("cmd/"))[:64]
        reply = await self._answerer.answer(name, message)
        if reply is not None:
            await client.publish(
                self.topic("reply"), json.dumps(reply, ensure_ascii=False), qos=1, retain=False
            )

    @property
    def commands(self) -> dict[str, int]:
        """Commands received, by command, failed, rate_limited and retained_ignored."""
        return self._answerer.counts


class _Reconfigured(Exception):
    """Leave the connection: a reload changed how to connect."""
