"""The asyncio shell: one TaskGroup owns an AMI session per PBX and the metrics server.

Everything here is wiring. The decisions live in the pure reducer; this module
feeds it events with a monotonic clock and hands its changes to the metrics.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from prometheus_client import start_http_server

from vaxeld.ami.codec import Message
from vaxeld.ami.session import AmiConnectionLost, AmiError, AmiSession
from vaxeld.config import Config, PbxConfig, read_secret
from vaxeld.metrics import Metrics, PbxView
from vaxeld.render.dialplan import CRISIS_FAMILY
from vaxeld.render.schedule import CALENDAR_VARIABLE
from vaxeld.state import SwitchboardState, apply, resync
from vaxeld.state.changes import Change

log = structlog.get_logger("vaxeld.daemon")

# Only the events vaxeld uses; Asterisk drops the rest before they reach the socket.
EVENT_FILTERS = (
    "Event: Queue",  # QueueCallerJoin/Leave/Abandon, QueueMember*
    "Event: Agent",  # AgentCalled/Connect/Complete/RingNoAnswer/Dump
    "Event: UserEvent",  # the rendered dialplan's VaxeldEntry, VaxeldLanguage, ...
    "Event: FullyBooted",
    "Event: Shutdown",
)


class PbxTracker:
    """Live state of one PBX: owns its AMI session and applies events to the reducer."""

    def __init__(
        self,
        pbx: PbxConfig,
        secret: str,
        metrics_sink: Callable[[str, list[Change]], None],
        tz: str = "Europe/Stockholm",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = pbx.name
        self.state = SwitchboardState(pbx=pbx.name)
        self._record = metrics_sink
        self._clock = clock
        self._resync_buffer: list[Message] | None = None
        self._tz = tz
        self.polled: dict[str, float] = {}
        self.session = AmiSession(
            host=pbx.host,
            port=pbx.port,
            username=pbx.username,
            secret=secret,
            on_event=self.on_event,
            on_connect=self.on_connect,
            event_filters=EVENT_FILTERS,
            ping_interval=pbx.ping_interval_seconds,
            ping_timeout=pbx.ping_timeout_seconds,
            name=pbx.name,
        )

    def on_event(self, msg: Message) -> None:
        if self._resync_buffer is not None:
            self._resync_buffer.append(msg)
            return
        self._apply(msg)

    def _apply(self, msg: Message) -> None:
        self.state, changes = apply(self.state, msg, self._clock())
        if changes:
            self._record(self.name, changes)

    async def on_connect(self, session: AmiSession) -> None:
        """Rebuild the live picture from QueueStatus, then replay what arrived meanwhile."""
        self._resync_buffer = []
        try:
            status = await session.list_action("QueueStatus", "QueueStatusComplete")
            touched = {m.get("Uniqueid") for m in self._resync_buffer if m.get("Uniqueid")}
            self.state, changes = resync(self.state, status, self._clock(), keep=touched)
            self._record(self.name, changes)
            log.info(
                "state_resynced",
                pbx=self.name,
                waiting=sum(1 for c in self.state.calls.values() if c.waiting),
                members=len(self.state.members),
            )
        except (AmiError, AmiConnectionLost, TimeoutError) as exc:
            log.warning("state_resync_failed", pbx=self.name, error=str(exc))
            raise AmiConnectionLost(f"resync failed: {exc}") from None
        finally:
            buffered, self._resync_buffer = self._resync_buffer or [], None
            for msg in buffered:
                self._apply(msg)

    def view(self) -> PbxView:
        return PbxView(self.name, self.state, self.session.stats, dict(self.polled))

    async def poll_forever(self, interval: float = 15.0) -> None:
        """Read what lives only in Asterisk: the crisis switch and the calendar's end."""
        while True:
            await self.session.wait_connected()
            try:
                await self._poll_once()
            except (AmiError, AmiConnectionLost, TimeoutError) as exc:
                log.info("poll_failed", pbx=self.name, error=str(exc))
            await asyncio.sleep(interval)

    async def _poll_once(self) -> None:
        try:
            items = await self.session.list_action(
                "DBGet", "DBGetComplete", {"Family": CRISIS_FAMILY, "Key": "mode"}
            )
            mode = next((m.get("Val") for m in items if m.event == "DBGetResponse"), "")
        except AmiError:  # "Database entry not found": the switch is off
            mode = ""
        self.polled["crisis_active"] = 1.0 if mode else 0.0
        reply = await self.session.action("Getvar", {"Variable": CALENDAR_VARIABLE})
        try:
            end = date.fromisoformat(reply.get("Value"))
        except ValueError:
            self.polled.pop("calendar_end", None)
            return
        last = datetime.combine(end, dtime(23, 59, 59), ZoneInfo(self._tz))
        self.polled["calendar_end"] = last.timestamp()


def _sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) about our state, when run under it."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(addr)
        sock.sendall(message.encode())


class Daemon:
    def __init__(
        self, config: Config, config_path: Path, environ: dict[str, str] | None = None
    ) -> None:
        self.config, self.config_path = config, config_path
        env = dict(os.environ if environ is None else environ)
        self.trackers: list[PbxTracker] = []
        self.metrics = Metrics(config, self.views)
        for pbx in config.pbxs:
            self.trackers.append(
                PbxTracker(pbx, read_secret(pbx, env), self.metrics.record, config.timezone)
            )

    def views(self) -> Sequence[PbxView]:
        return [t.view() for t in self.trackers]

    async def run(self) -> None:
        m = self.config.metrics
        server, thread = start_http_server(
            m.port, addr=m.listen_address, registry=self.metrics.registry
        )
        log.info("metrics_listening", url=f"http://{m.listen_address}:{m.port}/metrics")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with asyncio.TaskGroup() as tg:
                for tracker in self.trackers:
                    tg.create_task(tracker.session.run(), name=f"ami-{tracker.name}")
                    tg.create_task(tracker.poll_forever(), name=f"poll-{tracker.name}")
                _sd_notify("READY=1")
                await stop.wait()
                log.info("stopping")
                _sd_notify("STOPPING=1")
                raise _Stop
        except* _Stop:
            pass
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            server.shutdown()
            thread.join(timeout=5)
            log.info("stopped")


class _Stop(Exception):
    """Raised inside the TaskGroup to cancel every task on a clean stop."""
