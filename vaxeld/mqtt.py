"""MQTT adapter: live state as retained JSON, and a few validated commands.

The AMI path never waits for the broker. Trackers only call `notify()`, which
marks the PBX dirty; a publisher task builds payloads from the latest snapshot (only
for the queues and agents that changed since the last one, and all of them at least
once per `min_interval_seconds`), skips topics whose payload did not change, waits
`min_interval_seconds` between publishes per topic, and hands them to a bounded outbox
that drops the oldest message (and counts it) when the broker is slow or down. The
connection is kept up with jittered backoff; a last will marks `<prefix>/status` offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import re
import ssl
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld.ami.session import backoff_delays
from vaxeld.calendar import SpecialDay, decide, special_days
from vaxeld.config import Config
from vaxeld.config.hours import ScheduleConfig
from vaxeld.config.models import MqttConfig
from vaxeld.metrics_live import PbxView, agent_state_of
from vaxeld.state.model import SwitchboardState

log = structlog.get_logger("vaxeld.mqtt")

Command = Callable[[str, dict[str, Any]], Awaitable[str]]


@functools.lru_cache(maxsize=4096)  # asked for every agent on every update
def slug(name: str) -> str:
    """'Åsa Lindqvist' -> 'asa-lindqvist': safe as one MQTT topic level."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "unnamed"


Touched = tuple[set[str], set[str]]  # queue names, agent names


def touched_since(old: SwitchboardState, new: SwitchboardState) -> Touched:
    """The queues and agents whose topics can differ between two snapshots: those of
    every call and member that was added, removed or changed."""
    queues: set[str] = set()
    agents: set[str] = set()
    if old.calls is not new.calls:
        queues.update(call.queue for _, call in old.calls.items() ^ new.calls.items())
    if old.members is not new.members:
        for _, member in old.members.items() ^ new.members.items():
            queues.add(member.queue)
            agents.add(member.name)
    return queues, agents


def state_messages(
    config: Config,
    view: PbxView,
    now: float,
    service_level_today: dict[tuple[str, str], float],
    opening: dict[str, str],
    touched: Touched | None = None,
) -> dict[str, dict[str, Any]]:
    """Topic (below the prefix) -> payload for everything about one PBX, or with
    ``touched`` only for those queues and agents. Pure."""
    out: dict[str, dict[str, Any]] = {}
    state = view.state
    waiting_by_queue, members_by_queue = state.waiting_by_queue(), state.members_by_queue()
    by_name = state.members_by_name()
    for queue, q in config.queues.items():
        if touched is not None and queue not in touched[0]:
            continue
        calls = waiting_by_queue.get(queue, [])
        members = members_by_queue.get(queue, [])
        waits = [now - c.joined_at for c in calls if c.joined_at is not None]
        out[f"{view.name}/queue/{queue}"] = {
            "queue": queue,
            "language": q.language,
            "waiting": len(calls),
            "longest_wait_seconds": round(max(waits, default=0.0)),
            "members_logged_in": len(members),
            "members_available": sum(1 for m in members if m.available),
            "members_paused": sum(1 for m in members if m.paused),
            "service_level_target_seconds": q.service_level_seconds,
            "service_level_today": service_level_today.get((view.name, queue)),
        }
    for gname, group in config.agent_groups.items():
        for member in group.members:
            if touched is not None and member.name not in touched[1]:
                continue
            mine = by_name.get(member.name, [])
            out[f"{view.name}/agent/{slug(member.name)}"] = {
                "name": member.name,
                "state": agent_state_of(mine),
                "queues": sorted({m.queue for m in mine}),
                "site": group.site,
                "group": gname,
            }
    if touched is not None:
        return out  # the crisis switch and opening hours are polled and timed, not events
    out[f"{view.name}/crisis"] = {"active": bool(view.polled.get("crisis_active", 0.0))}
    out[f"{view.name}/opening"] = {
        "state": opening.get("entry", "open"),
        **{f"queue_{k}": v for k, v in opening.items() if k != "entry"},
    }
    return out


@dataclass
class Outbox:
    """Bounded FIFO of (topic, payload); the oldest is dropped when full."""

    size: int

    def __post_init__(self) -> None:
        self._items: list[tuple[str, bytes]] = []
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, topic: str, payload: bytes) -> None:
        if len(self._items) >= self.size:
            self._items.pop(0)
            self.dropped += 1
        self._items.append((topic, payload))
        self._ready.set()

    async def get(self) -> tuple[str, bytes]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.pop(0)

    def requeue(self, item: tuple[str, bytes]) -> None:
        self._items.insert(0, item)
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)


class MqttBridge:
    def __init__(
        self,
        config: Config,
        mqtt: MqttConfig,
        password: str | None,
        views: Callable[[], Sequence[PbxView]],
        service_level_today: Callable[[], dict[tuple[str, str], float]],
        opening: Callable[[], dict[str, str]],
        command: Command,
    ) -> None:
        self.config, self.mqtt, self._password = config, mqtt, password
        self._views, self._sl_today, self._opening = views, service_level_today, opening
        self._command = command
        self.outbox = Outbox(mqtt.queue_size)
        self._last_payload: dict[str, bytes] = {}
        self._last_built: dict[str, dict[str, Any]] = {}
        self._last_sent: dict[str, float] = {}
        # The snapshot each PBX's topics were last built from, and when all were built.
        self._built_from: dict[str, SwitchboardState] = {}
        self._built_config: Config | None = None
        self._last_full = float("-inf")
        self._dirty = asyncio.Event()
        self.connected = False
        self.published = 0
        self.connects = 0
        self.commands: dict[str, int] = {}

    def notify(self) -> None:
        """Something changed: publish the new state soon. Never blocks."""
        self._dirty.set()

    def topic(self, suffix: str) -> str:
        return f"{self.mqtt.topic_prefix}/{suffix}"

    async def run(self) -> None:
        await asyncio.gather(self._produce(), self._connection())

    async def _produce(self) -> None:
        """Turn state into per-topic payloads, rate-limited, into the outbox."""
        pending: dict[str, bytes] = {}
        while True:
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout rather than wait_for: no extra task per wake-up.
                async with asyncio.timeout(self.mqtt.min_interval_seconds):
                    await self._dirty.wait()
            self._dirty.clear()
            now = time.monotonic()
            # Everything at least once per interval (waits grow, hours and the crisis
            # switch change without events); in between, only what an event touched.
            due = now - self._last_full >= self.mqtt.min_interval_seconds
            if due or self.config is not self._built_config:
                self._last_full, self._built_config = now, self.config
                self._built_from.clear()  # no snapshot to compare with: every topic
            sl_today = self._sl_today()
            opening: dict[str, str] | None = None
            for view in self._views():
                old = self._built_from.get(view.name)
                touched = None if old is None else touched_since(old, view.state)
                self._built_from[view.name] = view.state
                if touched is None and opening is None:
                    opening = self._opening()
                for suffix, payload in state_messages(
                    self.config, view, now, sl_today, opening or {}, touched
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
                    self.outbox.put(self.topic(suffix), data)
                    self._last_payload[suffix] = data
                    self._last_sent[suffix] = now
                    del pending[suffix]

    def _client(self) -> aiomqtt.Client:
        tls = None
        if self.mqtt.tls:
            tls = ssl.create_default_context(
                cafile=str(self.mqtt.ca_file) if self.mqtt.ca_file else None
            )
        will = aiomqtt.Will(self.topic("status"), b"offline", qos=1, retain=True)
        return aiomqtt.Client(
            self.mqtt.host,
            self.mqtt.port,
            username=self.mqtt.username,
            password=self._password,
            identifier=self.mqtt.client_id,
            will=will,
            tls_context=tls,
            keepalive=15,
            timeout=10,
        )

    async def _connection(self) -> None:
        delays = iter(backoff_delays(0.5, 30.0, random.Random()))
        while True:
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
            except aiomqtt.MqttError as exc:
                log.warning(
                    "mqtt_unavailable", host=self.mqtt.host, port=self.mqtt.port, error=str(exc)
                )
            except ExceptionGroup as group:  # from the send/listen TaskGroup
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

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            item = await self.outbox.get()
            try:
                await client.publish(item[0], item[1], qos=1, retain=True)
            except aiomqtt.MqttError:
                self.outbox.requeue(item)
                raise
            self.published += 1

    async def _listen(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self.topic("cmd/#"), qos=1)
        async for message in client.messages:
            await self._handle(client, message)

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        name = str(message.topic).removeprefix(self.topic("cmd/"))
        reply: dict[str, Any] = {"command": name}
        sender = ""
        try:
            raw = message.payload if isinstance(message.payload, bytes) else b"{}"
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the payload must be a JSON object")
            reply["request_id"] = str(body.get("request_id", ""))[:64]
            # MQTT 3.1.1 does not tell who published; a client may say so itself.
            sender = str(body.get("sender", ""))[:64]
            reply["result"] = await self._command(name, body)
            reply["ok"] = True
        except Exception as exc:  # any failure is answered, never fatal
            reply["ok"] = False
            reply["error"] = str(exc) or type(exc).__name__
        self.commands[name if reply["ok"] else "failed"] = (
            self.commands.get(name if reply["ok"] else "failed", 0) + 1
        )
        log.info(
            "mqtt_command",
            command=name,
            ok=reply["ok"],
            error=reply.get("error"),
            request_id=reply.get("request_id", ""),
            sender=sender,
        )
        await client.publish(
            self.topic("reply"), json.dumps(reply, ensure_ascii=False), qos=1, retain=False
        )


def opening_now(config: Config) -> dict[str, str]:
    """'entry' and each queue with its own hours -> open / closed-hours / ... right now."""
    tz = ZoneInfo(config.timezone)
    local = datetime.now(tz)
    years = (local.year, local.year + 1)
    out = {}
    wanted = {"entry": config.entry.schedule}
    wanted.update({q: c.schedule for q, c in config.queues.items() if c.schedule})
    for key, name in wanted.items():
        if name is None:
            out[key] = "open"
            continue
        schedule = config.schedules[name]
        out[key] = decide(schedule, _special(name, schedule, years), local)
    return out


_SPECIAL_CACHE: dict[tuple[str, int, tuple[int, int]], dict[date, SpecialDay]] = {}


def _special(name: str, schedule: ScheduleConfig, years: tuple[int, int]) -> dict[date, SpecialDay]:
    key = (name, id(schedule), years)
    found = _SPECIAL_CACHE.get(key)
    if found is None:
        # One entry per schedule: clearing on every miss made the entry's and the queues'
        # schedules evict each other, and every MQTT update recomputed the holidays (1 ms).
        if len(_SPECIAL_CACHE) >= 64:  # old years and reloaded configs
            _SPECIAL_CACHE.clear()
        found = _SPECIAL_CACHE[key] = special_days(schedule, years)
    return found


class MqttCollector(Collector):
    """The bridge's health as metrics: connected, published, dropped, commands."""

    def __init__(self, bridge: MqttBridge) -> None:
        self._bridge = bridge

    def collect(self) -> Iterator[Metric]:
        b = self._bridge
        connected = GaugeMetricFamily("vaxeld_mqtt_connected", "1 while connected to the broker.")
        connected.add_metric([], 1.0 if b.connected else 0.0)
        published = CounterMetricFamily("vaxeld_mqtt_published", "Messages published.")
        published.add_metric([], b.published)
        dropped = CounterMetricFamily(
            "vaxeld_mqtt_dropped", "Messages dropped from the full outbox (oldest first)."
        )
        dropped.add_metric([], b.outbox.dropped)
        queued = GaugeMetricFamily("vaxeld_mqtt_outbox_messages", "Messages waiting to be sent.")
        queued.add_metric([], len(b.outbox))
        commands = CounterMetricFamily(
            "vaxeld_mqtt_commands", "Commands received, by result.", labels=["command"]
        )
        for name, count in sorted(b.commands.items()):
            commands.add_metric([name], count)
        yield from (connected, published, dropped, queued, commands)
