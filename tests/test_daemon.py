"""vaxeld.daemon: in process against fake AMI peers and a real mosquitto (the scrape, the
command path, reloads), and on real Asterisk 22 (restarts, refused logins, secrets kept
out of logs)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest
from lab_fixtures import Lab

from lab.asterisk import free_port
from lab.broker import Mosquitto
from lab.fake_ami import FakeAmi, frame, response
from lab.vaxeld_process import VaxeldProcess, parse_metrics, total
from vaxeld.config import load_config
from vaxeld.daemon import Daemon
from vaxeld.state.transfers import Target

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"


@pytest.mark.asterisk
def test_asterisk_restart_is_followed_by_reconnect_and_resync(own_lab: Lab) -> None:
    proc = own_lab.vaxeld().start()
    try:
        proc.wait_synced()
        own_lab.control.close()
        own_lab.asterisk.stop()
        down = proc.wait_for(lambda s: total(s, "vaxeld_ami_connected") == 0, 20)
        assert total(down, "vaxeld_state_synced") == 0
        own_lab.asterisk.start()
        up = proc.wait_for(
            lambda s: (
                total(s, "vaxeld_ami_connects_total") >= 2 and total(s, "vaxeld_state_synced") == 1
            ),
            60,
        )
        assert total(up, "vaxeld_queue_members_logged_in", queue="sv") == 4
        assert proc.proc is not None and proc.proc.poll() is None
    finally:
        assert proc.stop() == 0


@pytest.mark.asterisk
def test_wrong_secret_gives_clear_log_lines_and_retries(lab: Lab) -> None:
    proc = lab.vaxeld("wrong-secret")
    proc._env["VAXELD_AMI_SECRET"] = "not-the-secret"
    proc.start()
    try:
        samples = proc.wait_for(lambda s: total(s, "vaxeld_ami_login_failures_total") >= 2, 30)
        assert total(samples, "vaxeld_ami_connected") == 0
        assert proc.proc is not None and proc.proc.poll() is None  # retrying, not crashed
    finally:
        assert proc.stop() == 0
    lines = [
        json.loads(line) for line in proc.log_path.read_text().splitlines() if line.startswith("{")
    ]
    refused = [e for e in lines if e["event"] == "ami_login_refused"]
    assert len(refused) >= 2
    assert refused[0]["level"] == "error" and refused[0]["username"] == "vaxeld"
    assert "Authentication failed" in refused[0]["reason"]
    assert "not-the-secret" not in proc.log_path.read_text()


@pytest.mark.asterisk
def test_logs_are_json_lines_without_the_secret(lab: Lab, vaxeld: VaxeldProcess) -> None:
    lab.control.call(lab.entry, "2", 5.0)
    time.sleep(1)
    lab.asterisk.wait_idle(timeout=60)
    vaxeld.stop()
    text = vaxeld.log_path.read_text()
    events = [json.loads(line)["event"] for line in text.splitlines()]
    assert events[:4] == [
        "metrics_listening",
        "wallboard_listening",
        "ami_connected",
        "state_resynced",
    ]
    assert events[-1] == "stopped"
    assert lab.asterisk.vaxeld_secret not in text


# -- in process: a real daemon on the test's event loop ------------------------------


def config_for(tmp_path: Path, ports: list[int], mqtt: str = "") -> Path:
    """The example config with one PBX per fake AMI port (main, then b, c, ...)."""
    text = EXAMPLE.read_text()
    head, rest = text.split("pbxs:\n", 1)
    rest = rest.split("\nmetrics:", 1)[1]
    pbxs = "".join(
        f"  - {{name: {'main' if n == 0 else chr(97 + n)}, host: 127.0.0.1, port: {port}, "
        f"username: vaxeld, secret_env: VAXELD_AMI_SECRET}}\n"
        for n, port in enumerate(ports)
    )
    text = f"{head}pbxs:\n{pbxs}\nmetrics:{rest}".replace("port: 9468", f"port: {free_port()}")
    if "\nmqtt:" in text:  # the example's own broker section is replaced by the test's
        start = text.index("\nmqtt:")
        end = text.find("\n\n", start + 1)
        text = text[:start] + (text[end:] if end > 0 else "\n")
    path = tmp_path / "vaxeld.yaml"
    path.write_text(text + mqtt)
    return path


async def running(daemon: Daemon) -> AsyncIterator[Daemon]:
    task = asyncio.create_task(daemon.run())
    try:
        async with asyncio.timeout(10):
            while not all(t.session.connected for t in daemon.trackers.values()):
                await asyncio.sleep(0.01)
            while not all(t.core.state.synced for t in daemon.trackers.values()):
                await asyncio.sleep(0.01)
        yield daemon
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 10)


ENV = {"VAXELD_AMI_SECRET": "secret", "VAXELD_CALLER_KEY": "a-caller-key-for-the-tests"}


@pytest.fixture
async def fakes() -> AsyncIterator[list[FakeAmi]]:
    servers = [await FakeAmi().start() for _ in range(2)]
    yield servers
    for server in servers:
        await server.close()


def answered_call(n: int, queue: str) -> bytes:
    uid = f"1700000000.{n}"
    return b"".join(
        frame(pairs)
        for pairs in (
            [("Event", "QueueCallerJoin"), ("Queue", queue), ("Position", "1"), ("Uniqueid", uid)],
            [
                ("Event", "AgentConnect"),
                ("Queue", queue),
                ("Uniqueid", uid),
                ("MemberName", "Åsa Lindqvist"),
                ("HoldTime", str(n % 40)),
            ],
            [("Event", "QueueCallerLeave"), ("Queue", queue), ("Uniqueid", uid)],
            [("Event", "UserEvent"), ("UserEvent", "VaxeldHangup"), ("Uniqueid", uid)],
        )
    )


async def test_scrapes_during_a_fast_replay_all_succeed_and_never_go_backwards(
    tmp_path: Path, fakes: list[FakeAmi]
) -> None:
    """/metrics is served on the event loop: a scrape reads the state between two events,
    never while one is applied. Served from a thread, scrapes raced the loop ("dictionary
    changed size during iteration" in today's ratios as new queues appeared): this run
    failed 30 of 125 scrapes with HTTP 500 then."""
    path = config_for(tmp_path, [fakes[0].port])
    daemon = Daemon(load_config(path), path, ENV)
    queues = [*daemon.config.queues, *(f"unknown{n}" for n in range(3000))]
    calls = 3000
    scrapes: list[list[tuple[float, float]]] = [[] for _ in range(4)]  # per scraping thread
    failures: list[str] = []
    done = threading.Event()

    def scrape_until_done(mine: list[tuple[float, float]]) -> None:
        url = f"http://127.0.0.1:{daemon.config.metrics.port}/metrics"
        while not done.is_set():
            try:
                with urllib.request.urlopen(url, timeout=10) as reply:
                    samples = parse_metrics(reply.read().decode())
                offered = total(samples, "vaxeld_queue_calls_offered_total")
                mine.append((offered, total(samples, "vaxeld_ami_events_total")))
            except Exception as exc:
                failures.append(repr(exc))

    switch = sys.getswitchinterval()
    # Threads switch every microsecond instead of every 5 ms, so that a race shows at once.
    sys.setswitchinterval(1e-6)
    try:
        async for _ in running(daemon):
            threads = [threading.Thread(target=scrape_until_done, args=(s,)) for s in scrapes]
            for thread in threads:
                thread.start()
            for n in range(calls):
                await fakes[0].send(answered_call(n, queues[n % len(queues)]))
                if n % 50 == 0:
                    await asyncio.sleep(0)  # let scrapes in between the reads
            async with asyncio.timeout(60):
                while daemon.trackers["main"].session.stats.events < 4 * calls:
                    await asyncio.sleep(0.01)
            done.set()
            for thread in threads:
                await asyncio.to_thread(thread.join)
            final = parse_metrics(daemon.metrics.exposition().decode())
    finally:
        done.set()
        sys.setswitchinterval(switch)
    assert failures == []
    assert sum(len(mine) for mine in scrapes) >= 20
    for mine in scrapes:  # one thread's scrapes follow each other: counts never go back
        assert mine == sorted(mine)
    assert any(0 < offered < calls for mine in scrapes for offered, _ in mine)  # mid-replay
    assert total(final, "vaxeld_queue_calls_offered_total") == calls
    assert total(final, "vaxeld_queue_calls_answered_total") == calls
    # Unknown queues are one "other" series, in the counters and in today's ratio.
    today = [
        dict(labels)["queue"]
        for (name, labels), _ in final.items()
        if name == "vaxeld_queue_service_level_today_ratio"
    ]
    assert set(today) <= {*daemon.config.queues, "other"} and "other" in today


async def test_an_mqtt_command_has_the_scope_and_the_errors_of_the_cli(
    tmp_path: Path, fakes: list[FakeAmi]
) -> None:
    """One command path: the crisis switch reaches every PBX, an agent command the default
    one, and an answer Asterisk refuses is an error (the MQTT path used to send only to
    the default PBX and to let every "not found" pass)."""
    path = config_for(tmp_path, [f.port for f in fakes])
    daemon = Daemon(load_config(path), path, ENV)
    fakes[0].custom["QueuePause"] = lambda msg: response(
        msg, Response="Error", Message="Interface not found"
    )
    async for _ in running(daemon):
        result = await daemon._command("crisis/on", {"message": "storm"})
        assert result == "6 action(s) done on main, b"  # two DBPuts and the news, each
        for fake in fakes:
            puts = [m for m in fake.actions if m.get("Action") == "DBPut"]
            assert [(m.get("Key"), m.get("Val")) for m in puts] == [
                ("message", "storm"),
                ("mode", "announce"),
            ]
        with pytest.raises(ValueError, match=r"main: QueuePause .*Interface not found"):
            await daemon._command("agent/pause", {"agent": "Åsa Lindqvist"})
        assert not [m for m in fakes[1].actions if m.get("Action") == "QueuePause"]
        off = await daemon._command("crisis/off", {"pbx": "b"})  # keys not set: still done
        assert off == "3 action(s) done on b"


async def test_reload_reads_secrets_from_the_environment_the_daemon_was_given(
    tmp_path: Path, fakes: list[FakeAmi], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAXELD_AMI_SECRET", raising=False)
    path = config_for(tmp_path, [fakes[0].port])
    daemon = Daemon(load_config(path), path, ENV)
    async for _ in running(daemon):
        path.write_text(
            path.read_text().replace(f"port: {fakes[0].port}", f"port: {fakes[1].port}")
        )
        assert await daemon.request_reload()
        async with asyncio.timeout(10):
            while not fakes[1].connections:
                await asyncio.sleep(0.01)
        samples = parse_metrics(daemon.metrics.exposition().decode())
        assert total(samples, "vaxeld_config_reloads_total", result="success") == 1


async def test_a_reload_that_crashes_the_loader_is_a_counted_failure(
    tmp_path: Path, fakes: list[FakeAmi], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_for(tmp_path, [fakes[0].port])
    daemon = Daemon(load_config(path), path, ENV)

    def broken(_: Path) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    async for _ in running(daemon):
        monkeypatch.setattr("vaxeld.daemon.load_config", broken)
        assert not await daemon.request_reload()
        samples = parse_metrics(daemon.metrics.exposition().decode())
        assert total(samples, "vaxeld_config_reloads_total", result="failure") == 1
        assert total(samples, "vaxeld_config_last_reload_success") == 0
        assert daemon.trackers["main"].session.connected  # the old config runs on


async def retained(port: int, topic: str, want: Callable[[bytes], bool]) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic)
        async with asyncio.timeout(10):
            async for message in client.messages:
                if isinstance(message.payload, bytes) and want(message.payload):
                    return


async def test_a_reload_moves_mqtt_to_the_new_broker_settings(
    tmp_path: Path, fakes: list[FakeAmi]
) -> None:
    """A reload with another topic prefix publishes under it, and leaves the old prefix
    offline (the bridge used to keep its first host and prefix until a restart)."""
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        mqtt = f"\nmqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n  topic_prefix: old\n"
        path = config_for(tmp_path, [fakes[0].port], mqtt)
        daemon = Daemon(load_config(path), path, ENV)
        async for _ in running(daemon):
            await retained(broker.port, "old/status", lambda p: p == b"online")
            path.write_text(path.read_text().replace("topic_prefix: old", "topic_prefix: new"))
            assert await daemon.request_reload()
            await retained(broker.port, "new/status", lambda p: p == b"online")
            await retained(broker.port, "new/main/queue/sv", lambda p: b'"waiting": 0' in p)
            await retained(broker.port, "old/status", lambda p: p == b"offline")
    finally:
        broker.stop()


def test_a_tracker_does_no_io_until_asked(tmp_path: Path) -> None:
    """Constructing the daemon opens no queue_log; the day so far is read when run()
    asks for it (the tracker used to read the file in its constructor)."""
    log = tmp_path / "queue_log"
    log.write_text(f"{int(time.time())}|1.1|sv|NONE|ENTERQUEUE||070|1\n")
    path = config_for(tmp_path, [5038])
    path.write_text(
        path.read_text().replace(
            "secret_env: VAXELD_AMI_SECRET}", f"secret_env: VAXELD_AMI_SECRET, queue_log: {log}}}"
        )
    )
    daemon = Daemon(load_config(path), path, ENV)
    tracker = daemon.trackers["main"]
    assert tracker.queue_log is not None and tracker.queue_log._fh is None
    day = tracker.read_day_so_far(time.time())
    assert day is not None and [type(c).__name__ for c in day.outcomes] == ["CallOffered"]
    assert tracker.queue_log._fh is not None


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def test_a_hostile_ami_peer_gets_bounded_memory_series_and_work_per_byte(
    tmp_path: Path, fakes: list[FakeAmi], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compromised or broken Asterisk: a flood of callers who never leave, each in a
    queue of its own with made-up languages and reasons, garbage, oversize frames and a
    frame sent a byte at a time. vaxeld stays up, its state and /metrics stay bounded,
    and the codec's work per byte received is bounded."""
    monkeypatch.setattr("vaxeld.state.reducer.MAX_LIVE_CALLS", 2000)
    path = config_for(tmp_path, [fakes[0].port])
    daemon = Daemon(load_config(path), path, ENV)
    fake = fakes[0]
    async for _ in running(daemon):
        session = daemon.trackers["main"].session
        baseline = len(daemon.metrics.exposition().splitlines())
        rss_before = rss_bytes()
        sent = 0
        for n in range(5000):
            data = frame(
                [
                    ("Event", "QueueCallerJoin"),
                    ("Queue", f"q{n}"),
                    ("Position", "1"),
                    ("Uniqueid", f"9.{n}"),
                ]
            ) + frame(
                [
                    ("Event", "UserEvent"),
                    ("UserEvent", "VaxeldLanguage"),
                    ("Uniqueid", f"9.{n}"),
                    ("Language", f"l{n}"),
                    ("Reason", f"r{n}"),
                    ("Digit", str(n)),
                ]
            )
            if n % 10 == 0:
                data += b"\xff\xfe garbage without a header\r\n\r\n"
            await fake.send(data)
            sent += len(data)
        oversize = b"X: " + b"y" * (1024 * 1024 + 100) + b"\r\n\r\n"
        await fake.send(oversize)
        slow = b"Event: QueueCallerLeave\r\nUniqueid: 9.1\r\nQueue: q1\r\n\r\n"
        for byte in slow:
            await fake.send(bytes([byte]))
        sent += len(oversize) + len(slow)
        async with asyncio.timeout(60):
            while session.stats.bytes_received < sent:
                await asyncio.sleep(0.05)
        page = daemon.metrics.exposition().decode()
        state = daemon.trackers["main"].core.state
        assert session.connected
        assert len(state.calls) == 2000
        assert len(page.splitlines()) <= baseline + 40  # the "other" series, once each
        assert "q4999" not in page and "l4999" not in page and "r4999" not in page
        assert session._decoder.scanned <= 4 * session.stats.bytes_received
        assert rss_bytes() - rss_before < 64 * 1024 * 1024
        samples = parse_metrics(page)
        assert total(samples, "vaxeld_calls_not_followed_total") >= 3000
        assert total(samples, "vaxeld_ami_decode_errors_total") == 501


async def test_a_reload_gives_a_running_pbx_the_new_transfer_numbers(
    tmp_path: Path, fakes: list[FakeAmi]
) -> None:
    """A reload that leaves the PBX as it was keeps its tracker (and what its repeat window
    knows) and gives it the new departments: a transfer to 6550 is then out, to Miljö."""
    path = config_for(tmp_path, [fakes[0].port])
    daemon = Daemon(load_config(path), path, ENV)
    async for _ in running(daemon):
        tracker = daemon.trackers["main"]
        assert tracker.repeats is not None
        tracker.repeats.learn("0701234567", 1.0, "1.1")
        assert tracker.core.ledger.transfers.classify("6550") == Target("out", "other")
        text = path.read_text().replace(
            "    Bygglov: [", '    Miljö: ["6500-6599"]\n    Bygglov: ['
        )
        path.write_text(text)
        assert await daemon.request_reload()
        assert daemon.trackers["main"] is tracker
        assert tracker.core.ledger.transfers.classify("6550") == Target("out", "Miljö")
        assert len(tracker.repeats) == 1
        samples = parse_metrics(daemon.metrics.exposition().decode())
        assert ("vaxeld_queue_transfers_total", (("department", "Miljö"), ("kind", "out"),
                ("pbx", "main"), ("queue", "sv"))) in samples  # fmt: skip
