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

import structlog
from prometheus_client import start_http_server

from vaxeld.config import Config, ConfigError, PbxConfig, load_config, read_secret
from vaxeld.metrics import Metrics, PbxView
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
        self.trackers: dict[str, PbxTracker] = {
            pbx.name: self._tracker(pbx, config) for pbx in config.pbxs
        }
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}

    def _tracker(self, pbx: PbxConfig, config: Config) -> PbxTracker:
        return PbxTracker(pbx, read_secret(pbx, self._env), self.metrics.record, config.timezone)

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
            for pbx in changed:
                read_secret(pbx, dict(os.environ))  # fail before touching anything
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
        for name in set(old) - set(fresh):
            self._stop_tracker(name)
        for pbx in changed:
            self._stop_tracker(pbx.name)
            self._env = dict(os.environ)
            self.trackers[pbx.name] = tracker = self._tracker(pbx, new)
            self._start(tg, tracker)
        self.config = new
        self.metrics.reload_result(ok=True)
        log.info(
            "config_reloaded", path=str(self.config_path), restarted_pbxs=[p.name for p in changed]
        )
        return True

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
                loop.add_signal_handler(signal.SIGHUP, self.reload, tg)
                for tracker in self.trackers.values():
                    self._start(tg, tracker)
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
            server.shutdown()
            thread.join(timeout=5)
            log.info("stopped")


class _Stop(Exception):
    """Raised inside the TaskGroup to cancel every task on a clean stop."""
