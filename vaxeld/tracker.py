"""One PBX followed live: its AMI session, the reducer, queue_log recovery, polling.

Every count passes the Ledger, so a call outcome reported by AMI and by
queue_log is counted once. After each (re)connect the tracker first recovers
from queue_log what happened while it was not listening, then rebuilds the
live picture from QueueStatus, then replays the events that arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date, datetime
from datetime import time as dtime
from zoneinfo import ZoneInfo

import structlog

from vaxeld.ami.codec import Message
from vaxeld.ami.session import AmiConnectionLost, AmiError, AmiSession
from vaxeld.calendar import local_midnight
from vaxeld.config import PbxConfig
from vaxeld.contract import CALENDAR_VARIABLE, CRISIS_FAMILY, CRISIS_MODE_KEY
from vaxeld.metrics import PbxView
from vaxeld.queuelog import QueueLogReader
from vaxeld.state import SwitchboardState, apply, resync
from vaxeld.state.changes import Change
from vaxeld.state.ledger import Ledger
from vaxeld.state.recovery import change_for, recover

log = structlog.get_logger("vaxeld.tracker")

# Only the events vaxeld uses; Asterisk drops the rest before they reach the socket.
EVENT_FILTERS = (
    "Event: Queue",  # QueueCallerJoin/Leave/Abandon, QueueMember*
    # Not AgentCalled or AgentDump: unused, and every event is a wake-up of the daemon.
    "Event: Agent(Connect|Complete|RingNoAnswer)",
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
        self.ledger = Ledger()
        self.queue_log = QueueLogReader(pbx.queue_log) if pbx.queue_log else None
        # Counters start from zero, from now; the day so far is only for "today" figures.
        self.day_so_far: list[Change] | None = None
        self.day_since = 0.0
        if self.queue_log is not None:
            self._read_day_so_far(tz)
        self.recovered = 0
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

    def _read_day_so_far(self, tz: str) -> None:
        """The call outcomes queue_log holds for today, and from when it holds them."""
        assert self.queue_log is not None
        midnight = local_midnight(tz, time.time())
        try:
            entries, first = self.queue_log.start_at_time(midnight)
        except OSError as exc:
            log.warning("queue_log_unreadable", pbx=self.name, error=str(exc))
            return
        if first is None:
            return  # no file or nothing in it yet: today starts now
        changes = (change_for(e, "", 0) for e in entries)
        self.day_so_far = [c for c in changes if c is not None]
        # A file that starts after midnight was rotated since; an older one may hold more.
        self.day_since = max(midnight, first)

    def on_event(self, msg: Message) -> None:
        if self._resync_buffer is not None:
            self._resync_buffer.append(msg)
            return
        self._apply(msg)

    def _apply(self, msg: Message) -> None:
        now = self._clock()
        before = self.state
        self.state, changes = apply(before, msg, now)
        if changes:
            self._record(self.name, self.ledger.admit(changes, "ami", now))
        elif self.state is not before:
            # Nothing to count (a caller left the queue, say), but the live picture moved:
            # MQTT must hear of it now, not at its next periodic look.
            self._record(self.name, [])

    async def reconcile(self) -> None:
        """Count from queue_log what AMI did not deliver (no-op without a queue_log)."""
        if self.queue_log is None:
            return
        try:
            entries = await asyncio.to_thread(self.queue_log.read_new)
        except OSError as exc:
            log.warning("queue_log_unreadable", pbx=self.name, error=str(exc))
            return
        if not entries:
            return
        self.state, changes = recover(self.state, entries, self.ledger, self._clock())
        if changes:
            self.recovered += len(changes)  # recover() returns only admitted call outcomes
            log.info("recovered_from_queue_log", pbx=self.name, changes=len(changes))
            self._record(self.name, changes)

    async def reconcile_forever(self, interval: float = 5.0) -> None:
        """Keep counts true during outages too: queue_log is read whether AMI is up or not."""
        while True:
            await asyncio.sleep(interval)
            if self._resync_buffer is None:
                await self.reconcile()

    async def on_connect(self, session: AmiSession) -> None:
        """Recover from queue_log, rebuild from QueueStatus, replay what arrived meanwhile."""
        self._resync_buffer = []
        try:
            status = await session.list_action("QueueStatus", "QueueStatusComplete")
            # After QueueStatus: every caller who ended before Asterisk answered it is in
            # queue_log by now, so only the truly unknowable are reported as unknown.
            await self.reconcile()
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
        polled = dict(self.polled)
        polled["queue_log_recovered"] = float(self.recovered)
        polled["duplicates_suppressed"] = float(self.ledger.duplicates)
        polled["queue_log_configured"] = 1.0 if self.queue_log is not None else 0.0
        return PbxView(self.name, self.state, self.session.stats, polled)

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
                "DBGet", "DBGetComplete", {"Family": CRISIS_FAMILY, "Key": CRISIS_MODE_KEY}
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
