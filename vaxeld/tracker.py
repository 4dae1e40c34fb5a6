"""One PBX followed live: its AMI session, queue_log and polling around a PbxCore.

Every count passes the core's ledger, so a call outcome reported by AMI and by
queue_log is counted once. After each (re)connect the tracker first asks Asterisk
for QueueStatus, then recovers from queue_log what happened while it was not
listening, then rebuilds the live picture and replays the events that arrived
meanwhile.

Nothing here does I/O before it is asked to: construct, then ``read_day_so_far()``
(the daemon does that off the loop before it starts the tasks), then run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from zoneinfo import ZoneInfo

import structlog

from vaxeld.ami.codec import Message
from vaxeld.ami.session import AmiConnectionLost, AmiError, AmiSession
from vaxeld.calendar import local_midnight
from vaxeld.config import PbxConfig
from vaxeld.contract import (
    CALENDAR_VARIABLE,
    CRISIS,
    CRISIS_FAMILY,
    CRISIS_MODE_KEY,
    CRISIS_MODES,
    CRISIS_POLL_SECONDS,
    CRISIS_SWITCH,
    EVENT_FILTERS,
)
from vaxeld.queuelog import FileChanges, QueueLogReader
from vaxeld.state.changes import Change
from vaxeld.state.core import PbxCore
from vaxeld.state.ledger import Ledger
from vaxeld.state.queuelog_lines import QueueLogEntry
from vaxeld.state.recovery import learn_earlier, outcomes_of
from vaxeld.state.repeats import RepeatWindow
from vaxeld.state.transfers import TransferRules
from vaxeld.state.view import LinkHealth, PbxView

log = structlog.get_logger("vaxeld.tracker")
# The link health of a state-only view (see PbxTracker.state_view).
NO_LINK = LinkHealth()


Sink = Callable[[str, list[Change]], None]
# The rendered calendar's end changes only with a dialplan reload: read it now and then.
CALENDAR_POLL_SECONDS = 600.0
# A caller's VaxeldCrisis this soon after an announced change may have read the old switch.
SWITCH_SETTLE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class DaySoFar:
    """Today's call outcomes in queue_log, and from when it holds them (Unix time)."""

    outcomes: list[Change]
    since: float
    carried: list[Change]  # callers in a queue at vaxeld's start: counted carried in


class PbxTracker:
    """Live state of one PBX: owns its AMI session and feeds its core."""

    def __init__(
        self,
        pbx: PbxConfig,
        secret: str,
        sink: Sink,
        tz: str,
        clock: Callable[[], float] = time.monotonic,
        transfers: TransferRules | None = None,
        repeats: RepeatWindow | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = pbx.name
        self._tz = tz
        self._sink = sink
        self._clock = clock
        self._wall = wall_clock
        self.core = PbxCore(pbx.name, Ledger(transfers=transfers))
        self.repeats = repeats
        self.queue_log = QueueLogReader(pbx.queue_log) if pbx.queue_log else None
        self.crisis_active: bool | None = None
        self._switch_heard_at = float("-inf")  # when the last VaxeldCrisisSwitch came
        self._connected_anew = asyncio.Event()  # the switch is read again at once
        self.calendar_end: float | None = None
        self._calendar_read: tuple[int, float] | None = None  # (connects then, when)
        self.session = AmiSession(
            host=pbx.host,
            port=pbx.port,
            username=pbx.username,
            secret=secret,
            on_event=self.on_event,
            on_connect=self.on_connect,
            on_disconnect=lambda: self._sink(self.name, []),
            # With the account's own eventfilter lines (the default) nothing is sent.
            event_filters=EVENT_FILTERS if pbx.event_filter == "action" else (),
            ping_interval=pbx.ping_interval_seconds,
            ping_timeout=pbx.ping_timeout_seconds,
            name=pbx.name,
        )

    def read_day_so_far(self, now: float) -> DaySoFar | None:
        """Blocking: today's outcomes from queue_log (None without one, or when it cannot
        tell), and from then on follow the file from its end. Counters start from zero,
        from now; the day so far is only for the "today" figures."""
        if self.queue_log is None:
            return None
        midnight = local_midnight(self._tz, now)
        try:
            entries, first = self.queue_log.start_at_time(midnight)
        except OSError as exc:
            log.warning("queue_log_unreadable", pbx=self.name, error=str(exc))
            return None
        log.info(
            "queue_log_followed",
            pbx=self.name,
            path=str(self.queue_log.path),
            offset=self.queue_log.offset,  # lines from here on are counted
        )
        if self.repeats is not None:
            self._learn_callers(now)
        if first is None:
            return None  # no file or nothing in it yet: today starts now
        # The day's callers so far: their entry numbers and queues label what comes next.
        carried = learn_earlier(self.core.ledger, entries, self._clock())
        # A file that starts after midnight was rotated since; an older one may hold more.
        return DaySoFar(outcomes_of(entries), max(midnight, first), carried)

    def _learn_callers(self, now: float) -> None:
        """The repeat window's callers so far, from queue_log (a second reader: the first
        one's place is where counting starts)."""
        assert self.repeats is not None and self.queue_log is not None
        reader = QueueLogReader(self.queue_log.path)
        try:
            entries, first = reader.start_at_time(now - self.repeats.window_seconds)
        except OSError as exc:
            log.warning("queue_log_unreadable", pbx=self.name, error=str(exc))
            return
        finally:
            reader.close()
        for e in entries:
            if e.event == "ENTERQUEUE" and e.time < now:
                self.repeats.learn(e.field(2), float(e.time), e.uniqueid)
        if first is not None:
            self.repeats.learn("", float(first), "")  # known from the file's first line

    def _emit(self, changes: list[Change], entries: Sequence[QueueLogEntry] = ()) -> None:
        """Pass counted changes on, with the repeat callers among their first offers."""
        if self.repeats is not None and changes:
            times = {e.uniqueid: float(e.time) for e in entries if e.event == "ENTERQUEUE"}
            changes = changes + self.repeats.repeated(changes, times, self._wall())
        self._sink(self.name, changes)

    def reconfigure(self, transfers: TransferRules, repeats: RepeatWindow | None) -> None:
        """A reload that left this PBX as it was: new transfer numbers and repeat rules."""
        self.core.ledger.transfers = transfers
        if repeats is None or self.repeats is None:
            self.repeats = repeats
        else:  # keep what the window knows
            self.repeats.window_seconds = repeats.window_seconds
            self.repeats.callback_seconds = repeats.callback_seconds

    def on_event(self, msg: Message) -> None:
        if msg.event == "UserEvent" and self._crisis_news(msg):
            return  # the switch's news: about no caller
        changes = self.core.on_event(msg, self._clock())
        if changes is not None:
            self._emit(changes)

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
        changes = self.core.recover(entries, self._clock())
        if changes:
            log.info("recovered_from_queue_log", pbx=self.name, changes=len(changes))
            self._emit(changes, entries)

    async def reconcile_forever(self, interval: float = 5.0, safety: float = 60.0) -> None:
        """Keep counts true during outages too: queue_log is read whether AMI is up or
        not, ``interval`` seconds after it was written to (inotify; AMI's own report of
        the same lines comes first, and a busy file is read once per interval), and every
        ``safety`` seconds in any case (a watch lost to an unusual rotation). Without a
        queue_log there is nothing to do, and nothing wakes."""
        if self.queue_log is None:
            return
        changes = FileChanges.watch(self.queue_log.path)
        try:
            while True:
                if changes is not None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(safety):
                            await changes.changed.wait()
                await asyncio.sleep(interval)
                if changes is not None:
                    changes.changed.clear()
                    changes.rearm()
                if not self.core.resyncing:
                    await self.reconcile()
        finally:
            if changes is not None:
                changes.close()

    def _crisis_news(self, msg: Message) -> bool:
        """The switch learnt from events: vaxeld's own commands announce each change
        (True: that event is about no caller), and a caller who heard a crisis message
        shows it is on. A caller's event soon after an announcement may come from a look
        at the switch before it changed."""
        name, now = msg.get("UserEvent"), self._clock()
        if name == CRISIS_SWITCH.name:
            self._switch_heard_at = now
            self._set_crisis(msg.get("Mode") in CRISIS_MODES)
            return True
        if name == CRISIS.name and now - self._switch_heard_at > SWITCH_SETTLE_SECONDS:
            self._set_crisis(True)
        return False

    def _set_crisis(self, active: bool) -> None:
        if active != self.crisis_active:
            self.crisis_active = active
            self._sink(self.name, [])  # the live state moved: readers are told

    async def on_connect(self, session: AmiSession) -> None:
        """Rebuild from QueueStatus and queue_log, then replay what arrived meanwhile."""
        self._connected_anew.set()  # what changed while the link was down is not in events
        self.core.begin_resync()
        try:
            status = await session.list_action("QueueStatus", "QueueStatusComplete")
            # After QueueStatus: every caller who ended before Asterisk answered it is in
            # queue_log by now, so only the truly unknowable are reported as unknown.
            await self.reconcile()
            self._emit(self.core.resync(status, self._clock()))
            log.info(
                "state_resynced",
                pbx=self.name,
                waiting=sum(1 for c in self.core.state.calls.values() if c.waiting),
                members=len(self.core.state.members),
            )
        except (AmiError, AmiConnectionLost, TimeoutError) as exc:
            log.warning("state_resync_failed", pbx=self.name, error=str(exc) or repr(exc))
            raise AmiConnectionLost(f"resync failed: {exc!r}") from None
        finally:
            for changes in self.core.end_resync(self._clock()):
                self._emit(changes)

    def state_view(self) -> PbxView:
        """Only the live state and the crisis switch (what MQTT's topics show), with an
        empty link health: built on every change, it skips the connection's figures."""
        return PbxView(self.name, self.core.state, NO_LINK, self.crisis_active)

    def view(self) -> PbxView:
        return self.core.view(
            self.session.stats.snapshot(),
            self.crisis_active,
            self.calendar_end,
            self.queue_log is not None,
            None if self.repeats is None else self.repeats.known_seconds(self._wall()),
        )

    async def poll_forever(self, interval: float = CRISIS_POLL_SECONDS) -> None:
        """Read what lives in Asterisk: the crisis switch after each connect and then
        every ``interval`` (its changes come as events in between), the calendar's end
        (which changes only when a dialplan is loaded) after each connect and every
        CALENDAR_POLL_SECONDS."""
        while True:
            await self.session.wait_connected()
            self._connected_anew.clear()
            try:
                await self._poll_once()
            except (AmiError, AmiConnectionLost, TimeoutError) as exc:
                log.info("poll_failed", pbx=self.name, error=str(exc) or repr(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._connected_anew.wait()

    async def _poll_once(self) -> None:
        try:
            items = await self.session.list_action(
                "DBGet", "DBGetComplete", {"Family": CRISIS_FAMILY, "Key": CRISIS_MODE_KEY}
            )
            mode = next((m.get("Val") for m in items if m.event == "DBGetResponse"), "")
        except AmiError:  # "Database entry not found": the switch is off
            mode = ""
        self._set_crisis(bool(mode))
        connects, now = self.session.stats.connects, self._clock()
        read = self._calendar_read
        if read is not None and read[0] == connects and now - read[1] < CALENDAR_POLL_SECONDS:
            return
        reply = await self.session.action("Getvar", {"Variable": CALENDAR_VARIABLE})
        self._calendar_read = (connects, now)
        try:
            end = date.fromisoformat(reply.get("Value"))
        except ValueError:
            self.calendar_end = None
            return
        last = datetime.combine(end, dtime(23, 59, 59), ZoneInfo(self._tz))
        self.calendar_end = last.timestamp()
