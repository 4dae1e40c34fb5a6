"""The demo: real Asterisk 22, vaxeld, a real MQTT broker, simulated callers in five
languages.

    python -m lab.demo [--duration 300] [--calls-per-minute 40] [--seed 1]

Renders config/vaxeld.example.yaml (agents replaced by simulated ones), starts a
lab Asterisk, mosquitto and `vaxeld run`, places callers who choose a language, wait
and are answered or give up, and prints vaxeld's live figures from /metrics and what
arrived over MQTT. At the end it compares vaxeld's counts with Asterisk's own queue_log
and writes the history report of the run (`vaxeld report`), as a table and as HTML.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lab.asterisk import AsteriskLab, count_queue_log, ensure_chroot, free_port
from lab.broker import Mosquitto
from lab.control import LabControl, attended_transfer_keys
from lab.scenario import lab_agent_ids, lab_config_text
from lab.vaxeld_process import Samples, VaxeldProcess, total
from vaxeld.calendar import today_in
from vaxeld.config import parse_config
from vaxeld.render import render_all, write_atomically
from vaxeld.state.service_level import FORMULAS

DEMO_METRICS_PORT = 9468


def _metrics_port() -> int:
    try:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", DEMO_METRICS_PORT))
        return DEMO_METRICS_PORT
    except OSError:
        return free_port()


def _today_ratio(samples: Samples, queue: str) -> str:
    """The service level today as /metrics has it: the configured formula's, as on the
    wallboard and in MQTT."""
    ratios = [
        v
        for (name, labels), v in samples.items()
        if name == "vaxeld_queue_service_level_today_ratio" and ("queue", queue) in labels
    ]
    return f"{100 * sum(ratios) / len(ratios):.0f}%" if ratios else "-"


def _formula(samples: Samples) -> str:
    for (name, labels), value in samples.items():
        if name == "vaxeld_service_level_formula_info" and value == 1:
            formula = dict(labels).get("formula", "")
            return f"{formula}: {FORMULAS.get(formula, '?')}"
    return "unknown"


def _table(samples: Samples, queues: list[str]) -> str:
    rows = [
        f"{'queue':<6}{'waiting':>8}{'longest':>9}{'offered':>9}{'answered':>9}"
        f"{'abandoned':>10}{'SL today':>10}{'agents free':>12}"
    ]
    for queue in queues:
        rows.append(
            f"{queue:<6}"
            f"{total(samples, 'vaxeld_queue_calls_waiting', queue=queue):>8.0f}"
            f"{total(samples, 'vaxeld_queue_longest_wait_seconds', queue=queue):>8.0f}s"
            f"{total(samples, 'vaxeld_queue_calls_offered_total', queue=queue):>9.0f}"
            f"{total(samples, 'vaxeld_queue_calls_answered_total', queue=queue):>9.0f}"
            f"{total(samples, 'vaxeld_queue_calls_abandoned_total', queue=queue):>10.0f}"
            f"{_today_ratio(samples, queue):>10}"
            f"{total(samples, 'vaxeld_queue_members_available', queue=queue):>12.0f}"
        )
    rows.append(f"SL today = {_formula(samples)} (metrics.service_level_formula)")
    return "\n".join(rows)


def _wallboard_picture(url: str, path: Path) -> None:
    """A screenshot of the wallboard while callers wait (Debian's headless Chromium)."""
    try:
        from lab.browser import chromium

        with chromium(1920, 1080) as browser:
            browser.get(url)
            time.sleep(2.0)  # connected, and the waits counted up once
            browser.save_screenshot(str(path))
        print(f"\nA picture of the wallboard with callers waiting: {path}\n", flush=True)
    except Exception as exc:  # a picture is a bonus: the demo goes on without it
        print(f"(no wallboard picture: {exc})", flush=True)


class MqttWatcher:
    """Subscribes to vaxeld/# on the demo broker and keeps the latest payload per topic."""

    def __init__(self, port: int) -> None:
        # paho is aiomqtt's own dependency; its threaded client suits the blocking demo.
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.latest: dict[str, str] = {}
        self.received = 0
        self._lock = threading.Lock()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="vaxeld-demo")
        self._client.on_connect = lambda c, *_: c.subscribe("vaxeld/#")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _on_message(self, client: object, userdata: object, msg: object) -> None:
        topic, payload = getattr(msg, "topic", ""), getattr(msg, "payload", b"")
        with self._lock:
            self.received += 1
            self.latest[topic] = payload.decode("utf-8", "replace")

    def summary(self, queues: list[str]) -> str:
        with self._lock:
            lines = [f"MQTT: {self.received} messages received on vaxeld/#"]
            for queue in queues:
                raw = self.latest.get(f"vaxeld/main/queue/{queue}")
                if raw:
                    q = json.loads(raw)
                    sl = q["service_level_today"]
                    lines.append(
                        f"  vaxeld/main/queue/{queue}: waiting {q['waiting']}, "
                        f"available {q['members_available']}, "
                        f"service level today {'-' if sl is None else f'{sl:.0%}'} "
                        f"({q['service_level_formula']})"
                    )
        return "\n".join(lines)

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def run_demo(duration: float, calls_per_minute: float, seed: int) -> int:
    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="vaxeld-demo-"))
    print("Preparing the Asterisk 22 chroot (first run: about a minute)...", flush=True)
    lab = AsteriskLab(ensure_chroot(), f"demo-{os.getpid()}")
    metrics_port = _metrics_port()
    broker = Mosquitto(workdir / "mosquitto").start()
    text = lab_config_text(lab.ami_port, metrics_port, queue_log=lab.queue_log) + (
        f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n  topic_prefix: vaxeld\n"
        f"\nhistory:\n  store: {workdir / 'history.duckdb'}\n"
    )
    config = parse_config(text)
    config_path = workdir / "vaxeld.yaml"
    config_path.write_text(text)
    write_atomically(workdir / "dialplans", render_all(config, today_in(config.timezone)))
    lab.prepare(workdir / "dialplans")
    lab.start()
    vaxeld = VaxeldProcess(config_path, metrics_port, lab.secrets, workdir / "vaxeld.log")
    control = LabControl("127.0.0.1", lab.ami_port, "lab", lab.admin_secret)
    watcher: MqttWatcher | None = None
    try:
        for agent in lab_agent_ids(text):
            slow = agent.startswith("2")  # the interpreters' group is short-staffed
            control.set_agent(
                agent,
                answer_after=rng.choice([1, 2, 3]) + (4 if slow else 0),
                talk=rng.uniform(8, 25),
            )
        vaxeld.start()
        vaxeld.wait_synced()
        print(f"\nvaxeld wallboard: http://127.0.0.1:{metrics_port}/wallboard  (open it now)")
        print(f"vaxeld metrics: http://127.0.0.1:{metrics_port}/metrics")
        print(f"Asterisk AMI on 127.0.0.1:{lab.ami_port}, queue_log in {lab.queue_log}")
        print(f"MQTT broker on 127.0.0.1:{broker.port}, topics vaxeld/#")
        print(f"vaxeld log: {vaxeld.log_path}\n")
        watcher = MqttWatcher(broker.port)
        queues = list(config.queues)
        digits = list(config.menu.options)
        start = time.monotonic()
        board_url = f"http://127.0.0.1:{metrics_port}/wallboard"
        picture: threading.Thread | None = None
        next_call = start
        next_print = start
        placed = 0
        while duration <= 0 or time.monotonic() - start < duration:
            now = time.monotonic()
            if now >= next_call:
                pressed = rng.choice(digits) if rng.random() > 0.08 else ""
                patience = rng.choice([15.0, 40.0, 90.0, 90.0])
                if rng.random() < 0.2:  # an agent passes its next caller on
                    agent = rng.choice(["1001", "1002", "1003", "1004", "1005"])
                    control.press_next_call(agent, rng.choice(TRANSFER_KEYS))
                control.call(
                    config.entry.number,
                    pressed,
                    patience,
                    # A small town's worth of numbers: some call again.
                    caller_id=f"0701{rng.randrange(400):06d}",
                )
                placed += 1
                next_call = now + rng.expovariate(calls_per_minute / 60.0)
            if picture is None and now - start > min(60.0, duration / 2):
                picture = threading.Thread(
                    target=_wallboard_picture, args=(board_url, workdir / "wallboard.png")
                )
                picture.start()
            if now >= next_print:
                print(f"[{now - start:5.0f}s] callers placed: {placed}")
                print(_table(vaxeld.scrape(), queues))
                print(watcher.summary(queues), "\n", flush=True)
                next_print = now + 10
            time.sleep(0.2)
        if picture is not None:
            picture.join()
        print("Letting the last callers finish...", flush=True)
        lab.wait_idle(timeout=180)
        time.sleep(1)
        final = vaxeld.scrape()
        print(_table(final, queues))
        print(watcher.summary(queues))
        counts = count_queue_log(lab.queue_log_events())
        print("\nvaxeld against Asterisk's queue_log (offered/answered/abandoned):")
        same = True
        for queue in queues:
            log = counts.get(queue, {})
            ours = tuple(
                int(total(final, f"vaxeld_queue_calls_{k}_total", queue=queue))
                for k in ("offered", "answered", "abandoned")
            )
            theirs = (log.get("ENTERQUEUE", 0), log.get("CONNECT", 0), log.get("ABANDON", 0))
            same &= ours == theirs
            print(
                f"  {queue:<6} vaxeld {ours}  queue_log {theirs}  "
                f"{'equal' if ours == theirs else 'DIFFERENT'}"
            )
        print(_resolution(final))
        same &= _report(config_path, workdir, lab.secrets)
        return 0 if same else 1
    except KeyboardInterrupt:
        return 130
    finally:
        control.close()
        if watcher is not None:
            watcher.stop()
        vaxeld.stop()
        broker.stop()
        lab.stop()
        lab.remove(keep_logs_in=workdir / "asterisk-logs")
        print(f"Logs kept in {workdir}")


# Keys agents press to pass a caller on (see TEST_CONTEXTS): blind to Bygglov, blind to
# the switchboard queue, attended to Lars's extension.
TRANSFER_KEYS = ("#1ww6150", "#1ww7100", attended_transfer_keys("1006"))


def _resolution(samples: Samples) -> str:
    inside = total(samples, "vaxeld_queue_transfers_total", kind="inside")
    out = total(samples, "vaxeld_queue_transfers_total", kind="out")
    answered = total(samples, "vaxeld_calls_answered_total")
    unresolved = total(samples, "vaxeld_calls_not_resolved_total")
    share = f"{(answered - unresolved) / answered:.0%}" if answered else "unknown"
    repeats = total(samples, "vaxeld_queue_repeat_calls_total", kind="repeat")
    callbacks = total(samples, "vaxeld_queue_repeat_calls_total", kind="callback")
    unlogged = total(samples, "vaxeld_queue_transfers_not_logged_total")
    missing = f" ({unlogged:.0f} that queue_log did not log)" if unlogged else ""
    return (
        f"\nTransfers: {inside:.0f} in the centre, {out:.0f} out{missing}; resolved in the "
        f"centre: {share} of {answered:.0f} callers answered; repeat calls {repeats:.0f}, "
        f"calls back after a drop {callbacks:.0f}"
    )


def _report(config_path: Path, workdir: Path, secrets: dict[str, str]) -> bool:
    """The history report of today's calls, as a table here and as an HTML file."""
    print("\nThe history report of today, from queue_log (vaxeld report):", flush=True)
    base = [sys.executable, "-m", "vaxeld", "report", "-c", str(config_path), "--period", "today"]
    env = {**os.environ, **secrets}  # the caller key hashes numbers in the store too
    table = subprocess.run([*base, "--by", "language"], check=False, env=env)
    page = workdir / "report.html"
    written = subprocess.run(
        [*base, "--granularity", "15m", "--format", "html", "--out", str(page)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if written.returncode == 0:
        print(f"\nThe report as a page with charts: {page}")
    else:
        print(written.stderr, file=sys.stderr)
    return table.returncode == 0 and written.returncode == 0 and _plan(config_path, workdir, env)


def _plan(config_path: Path, workdir: Path, env: dict[str, str]) -> bool:
    """The staffing plan from today's calls (a week's window ending today)."""
    print("\nAgents needed for the Swedish queue, from today's calls (vaxeld plan):", flush=True)
    today = today_in(parse_config(config_path.read_text()).timezone).isoformat()
    base = [sys.executable, "-m", "vaxeld", "plan", "-c", str(config_path), "--until", today,
            "--weeks", "1", "--no-ingest"]  # fmt: skip
    table = subprocess.run([*base, "--queue", "sv"], check=False, env=env)
    page = workdir / "plan.html"
    written = subprocess.run([*base, "--format", "html", "--out", str(page)], check=False,
                             capture_output=True, text=True, env=env)  # fmt: skip
    if written.returncode == 0:
        print(f"\nThe plan as heat maps: {page}")
    else:
        print(written.stderr, file=sys.stderr)
    return table.returncode == 0 and written.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=180.0,
        help="seconds of simulated traffic; 0 runs until Ctrl-C (default 180)",
    )
    parser.add_argument("--calls-per-minute", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the demo runs Asterisk in a chroot: run it as root", file=sys.stderr)
        return 1
    return run_demo(args.duration, args.calls_per_minute, args.seed)


if __name__ == "__main__":
    sys.exit(main())
