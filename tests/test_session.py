"""vaxeld.ami.session against a fake AMI server: the faults other clients get wrong.

Each test proves one defect absent: UTF-8 split across reads, a handler that
raises, actions re-sent after a reconnect, a refused login crash-looping, and a
silent network stall going unnoticed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from lab.fake_ami import FakeAmi, response
from vaxeld.ami.codec import Message
from vaxeld.ami.session import AmiConnectionLost, AmiError, AmiSession
from vaxeld.backoff import backoff_delays


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = await FakeAmi(queues=1, members=1, member_names=["Åsa"]).start()
    yield server
    await server.close()


def make_session(fake: FakeAmi, on_event: Callable[[Message], None], **kw: object) -> AmiSession:
    params: dict[str, object] = dict(
        host="127.0.0.1",
        port=fake.port,
        username="vaxeld",
        secret="secret",
        on_event=on_event,
        backoff_base=0.01,
        backoff_cap=0.05,
        ping_interval=0.2,
        ping_timeout=0.2,
        action_timeout=2.0,
        rng=random.Random(1),
    )
    params.update(kw)
    return AmiSession(**params)  # type: ignore[arg-type]


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_login_filters_and_event_list(fake: FakeAmi) -> None:
    session = make_session(fake, lambda m: None, event_filters=["Event: Queue"])
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    items = await session.list_action("QueueStatus", "QueueStatusComplete")
    assert [m.event for m in items] == ["QueueParams", "QueueMember"]
    assert items[1].get("Name") == "Åsa"
    assert fake.action_names()[:2] == ["Login", "Filter"]
    assert fake.actions[1].get("Filter") == "Event: Queue"
    assert fake.actions[1].get("Operation") == "Add"
    task.cancel()


async def test_utf8_split_across_reads_reaches_the_handler_intact(fake: FakeAmi) -> None:
    got: list[Message] = []
    session = make_session(fake, got.append)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    raw = "Event: QueueCallerJoin\r\nCallerIDName: Åsa\r\nUniqueid: 1.1\r\n\r\n".encode()
    cut = raw.index("Å".encode()) + 1
    await fake.send(raw[:cut])
    await asyncio.sleep(0.05)
    await fake.send(raw[cut:])
    await until(lambda: len(got) == 1)
    assert got[0].get("CallerIDName") == "Åsa"
    task.cancel()


async def test_handler_that_raises_does_not_kill_the_session(fake: FakeAmi) -> None:
    got: list[str] = []

    def handler(msg: Message) -> None:
        if msg.event == "Boom":
            raise RuntimeError("handler bug")
        got.append(msg.event)

    session = make_session(fake, handler)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    await fake.send(b"Event: Boom\r\n\r\nEvent: After\r\n\r\n")
    await until(lambda: got == ["After"])
    assert session.stats.handler_errors == 1
    assert session.connected and fake.connections == 1
    task.cancel()


async def test_actions_are_not_resent_after_reconnect(fake: FakeAmi) -> None:
    fake.custom["QueuePause"] = lambda msg: None  # never answered
    session = make_session(fake, lambda m: None)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    pending = asyncio.create_task(session.action("QueuePause", {"Interface": "PJSIP/1"}))
    await until(lambda: "QueuePause" in fake.action_names())
    fake.drop_clients()
    with pytest.raises(AmiConnectionLost):
        await pending
    await until(lambda: session.connected and fake.connections == 2)
    await asyncio.sleep(0.3)  # a ping round, during which a resend would show up
    assert fake.action_names().count("QueuePause") == 1
    assert session.stats.reconnects >= 1
    task.cancel()


async def test_action_while_disconnected_fails_at_once(fake: FakeAmi) -> None:
    session = make_session(fake, lambda m: None)
    with pytest.raises(AmiConnectionLost, match="not connected"):
        await session.action("Ping")


async def test_wrong_secret_retries_with_backoff_without_crashing(fake: FakeAmi) -> None:
    fake.secret = "other"
    session = make_session(fake, lambda m: None)
    task = asyncio.create_task(session.run())
    await until(lambda: session.stats.auth_failures >= 3)
    assert not task.done() and not session.connected
    assert all(a == "Login" for a in fake.action_names())
    fake.secret = "secret"  # the operator fixes manager.conf
    await session.wait_connected()
    task.cancel()


async def test_silent_stall_is_detected_by_the_ping_watchdog(fake: FakeAmi) -> None:
    session = make_session(fake, lambda m: None)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    fake.answer_pings = False  # the network goes quiet; the socket stays open
    await until(lambda: fake.connections >= 2)
    fake.answer_pings = True
    await until(lambda: session.connected)
    assert session.stats.connects >= 2
    task.cancel()


async def test_garbage_and_oversize_input_are_counted_not_fatal(fake: FakeAmi) -> None:
    got: list[str] = []
    session = make_session(fake, lambda m: got.append(m.event))
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    await fake.send(b"\xff\xfe no header here\r\n\r\n")
    await fake.send(b"X: " + b"y" * (1024 * 1024 + 10) + b"\r\n\r\nEvent: Fine\r\n\r\n")
    await until(lambda: got == ["Fine"])
    assert session.stats.decode_errors == 2
    assert fake.connections == 1
    task.cancel()


def test_backoff_is_jittered_exponential_and_capped() -> None:
    delays = iter(backoff_delays(0.5, 30.0, random.Random(7)))
    first = [next(delays) for _ in range(12)]
    assert all(0.25 <= d <= 30.0 for d in first)
    assert max(first[:2]) <= 1.0 and max(first[8:]) > 2.0
    assert len(set(first)) == len(first)  # jittered, not a fixed ladder


async def test_byte_by_byte_sender_and_unknown_events(fake: FakeAmi) -> None:
    got: list[Message] = []
    session = make_session(fake, got.append)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    raw = (
        "Event: SomethingNew\r\nFoo: bar\r\n\r\n"
        "Event: QueueCallerJoin\r\nQueue: sv\r\nCallerIDName: Åsa\r\nUniqueid: 9.9\r\n\r\n"
    )
    for byte in raw.encode():
        await fake.send(bytes([byte]))
    await until(lambda: len(got) == 2)
    assert [m.event for m in got] == ["SomethingNew", "QueueCallerJoin"]
    assert got[1].get("CallerIDName") == "Åsa"
    assert session.stats.decode_errors == 0
    task.cancel()


async def test_an_event_list_that_never_ends_is_cut_off(
    fake: FakeAmi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A QueueStatus list without its Complete event grew to 2 GB within the action's
    timeout; now it fails at the cap, and the session goes on."""
    monkeypatch.setattr("vaxeld.ami.session.MAX_LIST_ITEMS", 1000)

    def endless(msg: Message) -> bytes:
        head = response(msg, EventList="start")
        item = f"Event: QueueMember\r\nQueue: sv\r\nActionID: {msg.action_id}\r\n\r\n".encode()
        return head + item * 1500

    fake.custom["QueueStatus"] = endless
    session = make_session(fake, lambda m: None)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    with pytest.raises(AmiError, match="event list longer than 1000 items"):
        await session.list_action("QueueStatus", "QueueStatusComplete")
    assert session.connected and fake.connections == 1
    task.cancel()


async def test_garbage_is_logged_at_a_bounded_rate_with_what_was_left_out(
    fake: FakeAmi, capsys: pytest.CaptureFixture[str]
) -> None:
    """One warning per bad frame made 620 KB of garbage into 3.2 MB of logs."""
    session = make_session(fake, lambda m: None)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    await fake.send(b"no header here\r\n\r\n" * 500)
    await until(lambda: session.stats.decode_errors == 500)
    lines = [line for line in capsys.readouterr().out.splitlines() if "ami_decode_error" in line]
    assert len(lines) == 10
    task.cancel()


async def test_a_healthy_session_that_ends_reconnects_at_once_not_after_old_backoff(
    fake: FakeAmi,
) -> None:
    """The backoff used to reset only when a session ended normally, which it never does:
    after a few refused logins every later reconnect waited up to 30 s, however long the
    session in between had run well. The clock is the test's, so nothing hangs on time."""
    now = [1000.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    fake.secret = "other"  # refused: the backoff grows
    session = make_session(
        fake,
        lambda m: None,
        clock=lambda: now[0],
        sleep=sleep,
        backoff_base=0.5,
        backoff_cap=30.0,
    )
    task = asyncio.create_task(session.run())
    await until(lambda: len(waits) >= 8)
    fake.secret = "secret"
    await session.wait_connected()
    assert max(waits) > 4.0  # uniform(0.25, min(30, 0.5 * 2**n)) after refusals
    now[0] += 60.0  # a minute of healthy session
    before = len(waits)
    fake.drop_clients()
    await until(lambda: len(waits) > before)
    assert waits[before] <= 0.5  # the first step of a fresh backoff
    await session.wait_connected()
    fake.drop_clients()  # and at once again: not healthy yet, so the backoff goes on
    await until(lambda: len(waits) > before + 1)
    assert 0.25 <= waits[before + 1] <= 1.0
    task.cancel()


async def test_an_outage_counts_from_the_last_byte_heard(fake: FakeAmi) -> None:
    """A silent stall is found by the ping watchdog 15 s after it began; those seconds
    are outage too."""
    now = [500.0]
    # Pings far apart: the last byte is the test's event, not a Pong.
    session = make_session(fake, lambda m: None, clock=lambda: now[0], ping_interval=60.0)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    await fake.send(b"Event: Last\r\n\r\n")
    await until(lambda: session.stats.events == 1)
    now[0] += 12.0  # silence, then the loss is noticed
    fake.drop_clients()
    await until(lambda: fake.connections == 2 and session.connected)
    assert session.stats.outage_seconds == 12.0  # not 0: from 500, the last byte
    task.cancel()


async def test_a_lost_connection_is_told_at_once_even_by_a_failing_hook(fake: FakeAmi) -> None:
    """Readers (the wallboard) hear of a loss when it happens, not at the next event; a
    hook that raises does not stop the session."""
    lost: list[bool] = []

    def hook() -> None:
        lost.append(session.connected)
        raise RuntimeError("a reader's bug")

    session = make_session(fake, lambda m: None, on_disconnect=hook)
    task = asyncio.create_task(session.run())
    await session.wait_connected()
    fake.drop_clients()
    await until(lambda: bool(lost))
    assert lost == [False]  # already marked down when told
    await until(lambda: session.connected and fake.connections == 2)
    task.cancel()
