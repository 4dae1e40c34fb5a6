"""The asyncio shell: one TaskGroup owns a tracker per PBX, the HTTP server for
/metrics and the MQTT bridge; SIGTERM/SIGINT stop it, SIGHUP reloads the config
(read off the loop, swapped in only when the new one is valid).

Everything here is wiring. The decisions live in the core; this module feeds it
events with a monotonic clock and hands its changes to the metrics and MQTT.

Start-up order: the config is loaded (by the CLI); the daemon is constructed (no
I/O but the secrets); ``run()`` listens for HTTP, reads each PBX's day so far from
queue_log in a thread, then starts the AMI sessions, and only then says READY=1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from prometheus_client import CONTENT_TYPE_LATEST

from vaxeld import commands
from vaxeld.ami.blocking import carry_out_blocking
from vaxeld.calendar import opening_now
from vaxeld.config import Config, ConfigError, PbxConfig, load_config, read_secret
from vaxeld.config.load import (
    ConfigProblem,
    read_caller_key,
    read_command_account,
    read_mqtt_password,
    read_wallboard_token,
)
from vaxeld.metrics import Metrics
from vaxeld.mqtt import MqttBridge, MqttCollector
from vaxeld.state.changes import Change
from vaxeld.state.repeats import CallerKey, RepeatWindow
from vaxeld.state.transfers import TransferRules
from vaxeld.state.view import PbxView
from vaxeld.tracker import PbxTracker
from vaxeld.web.board import AgentClock, build_board
from vaxeld.web.server import HttpServer, Limits, Request, Response
from vaxeld.web.wallboard import Wallboard

log = structlog.get_logger("vaxeld.daemon")


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
        # The environment the daemon was given: reloads read secrets from it, not from
        # whatever os.environ has become.
        self._env = dict(os.environ if environ is None else environ)
        self.metrics = Metrics(config, self.views)
        self.mqtt: MqttBridge | None = None
        self._mqtt_password = read_mqtt_password(config.mqtt, self._env) if config.mqtt else None
        _command_accounts(config, self._env)  # MQTT commands must not fail on a secret later
        self._caller_key = read_caller_key(config, self._env)
        self.metrics.registry.register(MqttCollector(lambda: self.mqtt))
        self.trackers: dict[str, PbxTracker] = {
            pbx.name: self._tracker(pbx, config) for pbx in config.pbxs
        }
        m = config.metrics
        self.http = HttpServer(m.listen_address, m.port, {"/metrics": self._metrics_page})
        self.wallboard: Wallboard | None = None
        self.board_http: HttpServer | None = None
        self._agent_clock = AgentClock()
        if config.wallboard.enabled:
            self._serve_wallboard(config, read_wallboard_token(config, self._env))
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._mqtt_task: asyncio.Task[None] | None = None
        self._reloading = asyncio.Lock()
        self._stop = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None

    def _tracker(self, pbx: PbxConfig, config: Config, secret: str | None = None) -> PbxTracker:
        return PbxTracker(
            pbx,
            read_secret(pbx, self._env) if secret is None else secret,
            self._changed,
            config.timezone,
            transfers=TransferRules.from_config(config),
            repeats=self._repeat_window(config),
        )

    def _serve_wallboard(self, config: Config, token: str | None) -> None:
        """On the /metrics listener (with room for the pages besides the scrapes), or
        on a listener of its own."""
        board = config.wallboard
        self.wallboard = Wallboard(self._board, token, board.max_clients)
        if board.port is None:
            self.http.routes.update(self.wallboard.routes(at_root=False))
            self.http.limits = Limits(max_connections=64 + board.max_clients)
        else:
            address = board.address(config.metrics.listen_address)
            limits = Limits(max_connections=16 + board.max_clients)
            self.board_http = HttpServer(
                address, board.port, self.wallboard.routes(at_root=True), limits
            )

    def _board(self) -> dict[str, Any]:
        return build_board(
            self.config,
            self.views(),
            self.metrics.today_figures(),
            self.metrics.today.since(),
            self._opening(),
            self._agent_clock,
            time.time(),
            time.monotonic(),
        )

    def wallboard_url(self) -> str | None:
        if self.wallboard is None:
            return None
        server = self.board_http or self.http
        host = server.address if ":" not in server.address else f"[{server.address}]"
        return f"http://{host}:{server.port}/wallboard"

    def _repeat_window(self, config: Config) -> RepeatWindow | None:
        """Each PBX's own window of repeat callers (None without a caller key)."""
        # The key read with the config (at start, or by the reload that brought it).
        key = self._caller_key
        if key is None:
            return None
        rules = config.repeat_callers
        return RepeatWindow(
            CallerKey(key), rules.window_days * 86400.0, rules.callback_minutes * 60.0
        )

    def _changed(self, pbx: str, changes: list[Change]) -> None:
        """Every change: counted in the metrics, and (coalesced) pushed to MQTT. Called
        with no changes when only the live state moved."""
        self.metrics.record(pbx, changes)
        if self.mqtt is not None:
            self.mqtt.notify()
        if self.wallboard is not None:
            self.wallboard.notify()

    def views(self) -> Sequence[PbxView]:
        return [t.view() for t in list(self.trackers.values())]

    def state_views(self) -> Sequence[PbxView]:
        return [t.state_view() for t in list(self.trackers.values())]

    async def _metrics_page(self, request: Request) -> Response:
        return Response(200, self.metrics.exposition(), CONTENT_TYPE_LATEST)

    def _opening(self) -> dict[str, str]:
        """Open or closed now, by the entry's and each queue's own schedule."""
        return opening_now(self.config, datetime.now(ZoneInfo(self.config.timezone)))

    async def _command(self, name: str, body: dict[str, Any]) -> str:
        """An MQTT command: the same plan, scope and errors as the CLI's."""
        plan = commands.plan(self.config, name, body)
        # With the command account, over connections of their own: the run account
        # needs no right to change anything.
        lines = await asyncio.to_thread(carry_out_blocking, self.config, plan, self._env)
        return f"{len(lines)} action(s) done on {', '.join(plan.pbxs)}"

    # -- tasks -----------------------------------------------------------------------

    async def _start(self, tg: asyncio.TaskGroup, tracker: PbxTracker) -> None:
        """Take the PBX's day so far from queue_log (off the loop), then follow it."""
        day = await asyncio.to_thread(tracker.read_day_so_far, time.time())
        if day is None:
            self.metrics.following(tracker.name)
        else:  # replaces what was counted today: a reload makes a new tracker too
            self.metrics.seed_today(tracker.name, day.outcomes, day.since)
            self._changed(tracker.name, day.carried)
        self._tasks[tracker.name] = [
            tg.create_task(tracker.session.run(), name=f"ami-{tracker.name}"),
            tg.create_task(tracker.poll_forever(), name=f"poll-{tracker.name}"),
            tg.create_task(tracker.reconcile_forever(), name=f"queue-log-{tracker.name}"),
        ]

    def _stop_tracker(self, name: str) -> None:
        for task in self._tasks.pop(name, []):
            task.cancel()
        self.trackers.pop(name, None)

    def _follow_mqtt(self, tg: asyncio.TaskGroup, config: Config, password: str | None) -> None:
        """Start, reconfigure or stop the MQTT bridge for ``config``."""
        if config.mqtt is None:
            if self._mqtt_task is not None:
                self._mqtt_task.cancel()
            self.mqtt = self._mqtt_task = None
        elif self.mqtt is None:
            self.mqtt = MqttBridge(
                config,
                config.mqtt,
                password,
                self.state_views,
                self.metrics.today_figures,
                self._opening,
                self._command,
            )
            self._mqtt_task = tg.create_task(self.mqtt.run(), name="mqtt")
        else:
            self.mqtt.reconfigure(config, config.mqtt, password)

    # -- reload ----------------------------------------------------------------------

    async def reload(self, tg: asyncio.TaskGroup) -> bool:
        """Re-read the config off the loop; swap only when it is valid. Returns whether
        it was. Every failure is counted and logged, and the old config keeps running."""
        async with self._reloading:
            try:
                new, changed, password, key, token = await asyncio.to_thread(self._load_new)
            except Exception as exc:  # any failure, not only a ConfigError, is a failed reload
                problems = (
                    [str(p) for p in exc.problems]
                    if isinstance(exc, ConfigError)
                    else [f"{type(exc).__name__}: {exc}"]
                )
                self.metrics.reload_result(ok=False)
                log.error(
                    "config_reload_failed",
                    path=str(self.config_path),
                    problems=problems,
                    kept="the running config",
                )
                return False
            old = {p.name for p in self.config.pbxs}
            self.metrics.reconfigure(new)
            for name in old - {p.name for p in new.pbxs}:
                self._stop_tracker(name)
            self._caller_key = key
            self.config = new
            for name, kept in self.trackers.items():
                if name not in {p.name for p, _ in changed}:
                    kept.reconfigure(TransferRules.from_config(new), self._repeat_window(new))
            for pbx, secret in changed:
                self._stop_tracker(pbx.name)
                self.trackers[pbx.name] = tracker = self._tracker(pbx, new, secret)
                await self._start(tg, tracker)
            self._follow_mqtt(tg, new, password)
            if self.wallboard is not None:
                self.wallboard.token = token
                self.wallboard.notify()  # queues, names or labels may have changed
            self.metrics.reload_result(ok=True)
            log.info(
                "config_reloaded",
                path=str(self.config_path),
                restarted_pbxs=[p.name for p, _ in changed],
            )
            return True

    def _load_new(
        self,
    ) -> tuple[Config, list[tuple[PbxConfig, str]], str | None, bytes | None, str | None]:
        """Blocking: the new config, its changed PBXs with their secrets, and the MQTT
        password; raises before anything is touched."""
        new = load_config(self.config_path)
        old = {p.name: p for p in self.config.pbxs}
        changed = [(p, read_secret(p, self._env)) for p in new.pbxs if old.get(p.name) != p]
        password = read_mqtt_password(new.mqtt, self._env) if new.mqtt else None
        _command_accounts(new, self._env)
        if _listener(new) != _listener(self.config):
            why = "the wallboard's listener (on/off, address, port) changes only with a restart"
            raise ConfigError([ConfigProblem("wallboard", None, why)])
        token = read_wallboard_token(new, self._env) if new.wallboard.enabled else None
        return new, changed, password, read_caller_key(new, self._env), token

    # -- run -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop running (what SIGTERM and SIGINT do)."""
        self._stop.set()

    def request_reload(self) -> asyncio.Task[bool]:
        """Reload in a task of the running daemon (what SIGHUP does)."""
        assert self._tg is not None, "not running"
        return self._tg.create_task(self.reload(self._tg), name="reload")

    async def run(self) -> None:
        await self.http.start()
        m = self.config.metrics
        log.info("metrics_listening", url=f"http://{m.listen_address}:{self.http.port}/metrics")
        if self.board_http is not None:
            await self.board_http.start()
        if self.wallboard is not None:
            log.info("wallboard_listening", url=self.wallboard_url())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                loop.add_signal_handler(signal.SIGHUP, self.request_reload)
                for tracker in list(self.trackers.values()):
                    await self._start(tg, tracker)
                self._follow_mqtt(tg, self.config, self._mqtt_password)
                tg.create_task(_watchdog(), name="systemd-watchdog")
                _sd_notify("READY=1")
                await self._stop.wait()
                log.info("stopping")
                _sd_notify("STOPPING=1")
                raise _Stop
        except* _Stop:
            pass
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            self._tg = None
            if self.wallboard is not None:
                self.wallboard.close()
            if self.board_http is not None:
                await self.board_http.close()
            await self.http.close()
            log.info("stopped")


def _listener(config: Config) -> tuple[object, ...]:
    board = config.wallboard
    return (board.enabled, board.port, board.address(config.metrics.listen_address))


def _command_accounts(config: Config, environ: dict[str, str]) -> None:
    """With MQTT commands on, read each PBX's command account now: a missing secret is a
    config error at start or reload, not a failed command later."""
    if config.mqtt is not None and config.mqtt.commands:
        for pbx in config.pbxs:
            read_command_account(pbx, environ)


async def _watchdog() -> None:
    """WATCHDOG=1 from the event loop itself: if the loop hangs, systemd restarts vaxeld."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit() or not os.environ.get("NOTIFY_SOCKET"):
        return
    interval = int(usec) / 1e6 / 2
    while True:
        _sd_notify("WATCHDOG=1")
        await asyncio.sleep(interval)


class _Stop(Exception):
    """Raised inside the TaskGroup to cancel every task on a clean stop."""
