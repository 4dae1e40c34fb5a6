"""The asyncio shell: one TaskGroup owns a tracker per PBX and the metrics server;
SIGTERM/SIGINT stop it, SIGHUP reloads the config (only when the new one is valid).

Everything here is wiring. The decisions live in the pure reducer; this module
feeds it events with a monotonic clock and hands its changes to the metrics.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from vaxeld.commands import CommandError, command_actions
from vaxeld.config import Config, ConfigError, PbxConfig, load_config, read_secret
from vaxeld.config.load import read_mqtt_password
from vaxeld.metrics import Metrics, PbxView
from vaxeld.metrics_server import MetricsServer
from vaxeld.mqtt import MqttBridge, MqttCollector, opening_now
from vaxeld.state.changes import Change
from vaxeld.tracker import PbxTracker

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
        self._env = dict(os.environ if environ is None else environ)
        self.metrics = Metrics(config, self.views)
        self.mqtt = self._mqtt_bridge(config)
        self.trackers: dict[str, PbxTracker] = {
            pbx.name: self._tracker(pbx, config) for pbx in config.pbxs
        }
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}

    def _tracker(self, pbx: PbxConfig, config: Config) -> PbxTracker:
        tracker = PbxTracker(pbx, read_secret(pbx, self._env), self._changed, config.timezone)
        if tracker.day_so_far is None:
            self.metrics.following(pbx.name)
        else:  # replaces what was counted today: a reload makes a new tracker too
            self.metrics.seed_service_level_today(pbx.name, tracker.day_so_far, tracker.day_since)
            tracker.day_so_far = None
        return tracker

    def _changed(self, pbx: str, changes: list[Change]) -> None:
        """Every change: counted in the metrics, and (coalesced) pushed to MQTT. Called
        with no changes when only the live state moved."""
        self.metrics.record(pbx, changes)
        if self.mqtt is not None:
            self.mqtt.notify()

    def _mqtt_bridge(self, config: Config) -> MqttBridge | None:
        if config.mqtt is None:
            return None
        bridge = MqttBridge(
            config,
            config.mqtt,
            read_mqtt_password(config.mqtt, self._env),
            self.views,
            self.metrics.service_level_today,
            self._opening,
            self._command,
        )
        self.metrics.registry.register(MqttCollector(bridge))
        return bridge

    def _opening(self) -> dict[str, str]:
        """Open or closed now, by the entry's and each queue's own schedule."""
        return opening_now(self.config)

    async def _command(self, name: str, body: dict[str, Any]) -> str:
        """An MQTT command, validated as strictly as the CLI's, sent over AMI."""
        actions = command_actions(self.config, name, body)
        tracker = self.trackers[self.config.default_pbx.name]
        for action, headers in actions:
            reply = await tracker.session.action(action, dict(headers), check=False)
            text = reply.get("Message") or reply.response
            if reply.response.lower() != "success" and "not found" not in text:
                raise CommandError(f"{action}: {text}")
        return f"{len(actions)} action(s) done"

    def views(self) -> Sequence[PbxView]:
        return [t.view() for t in list(self.trackers.values())]

    def _start(self, tg: asyncio.TaskGroup, tracker: PbxTracker) -> None:
        self._tasks[tracker.name] = [
            tg.create_task(tracker.session.run(), name=f"ami-{tracker.name}"),
            tg.create_task(tracker.poll_forever(), name=f"poll-{tracker.name}"),
            tg.create_task(tracker.reconcile_forever(), name=f"queue-log-{tracker.name}"),
        ]

    def _stop_tracker(self, name: str) -> None:
        for task in self._tasks.pop(name, []):
            task.cancel()
        self.trackers.pop(name, None)

    def reload(self, tg: asyncio.TaskGroup) -> bool:
        """Re-read the config; swap only when it is valid. Returns whether it was."""
        try:
            new = load_config(self.config_path)
            fresh = {p.name: p for p in new.pbxs}
            old = {p.name: p for p in self.config.pbxs}
            changed = [p for name, p in fresh.items() if old.get(name) != p]
            env = dict(os.environ)
            for pbx in changed:
                read_secret(pbx, env)  # fail before touching anything
        except ConfigError as exc:
            self.metrics.reload_result(ok=False)
            log.error(
                "config_reload_failed",
                path=str(self.config_path),
                problems=[str(p) for p in exc.problems],
                kept="the running config",
            )
            return False
        self.metrics.reconfigure(new)
        self._env = env
        for name in set(old) - set(fresh):
            self._stop_tracker(name)
        for pbx in changed:
            self._stop_tracker(pbx.name)
            self.trackers[pbx.name] = tracker = self._tracker(pbx, new)
            self._start(tg, tracker)
        self.config = new
        if self.mqtt is not None:
            self.mqtt.config = new  # topics follow the reloaded queues and agents
        self.metrics.reload_result(ok=True)
        log.info(
            "config_reloaded", path=str(self.config_path), restarted_pbxs=[p.name for p in changed]
        )
        return True

    async def run(self) -> None:
        m = self.config.metrics
        server = MetricsServer(self.metrics.registry, m.listen_address, m.port).start()
        log.info("metrics_listening", url=f"http://{m.listen_address}:{m.port}/metrics")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with asyncio.TaskGroup() as tg:
                loop.add_signal_handler(signal.SIGHUP, self.reload, tg)
                for tracker in self.trackers.values():
                    self._start(tg, tracker)
                if self.mqtt is not None:
                    tg.create_task(self.mqtt.run(), name="mqtt")
                tg.create_task(_watchdog(), name="systemd-watchdog")
                _sd_notify("READY=1")
                await stop.wait()
                log.info("stopping")
                _sd_notify("STOPPING=1")
                raise _Stop
        except* _Stop:
            pass
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            server.stop()
            log.info("stopped")


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
