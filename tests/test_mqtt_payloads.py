"""vaxeld.mqtt without a broker: payloads from a view, the bounded outbox, slugs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import immutables
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxeld.config import load_config
from vaxeld.config.mqtt import MqttConfig
from vaxeld.config.names import agent_topic_id
from vaxeld.mqtt import MqttBridge, Outbox, Touched, state_messages, touched_since
from vaxeld.state.model import Call, Member, Phase, SwitchboardState
from vaxeld.state.today import QueueToday
from vaxeld.state.view import LinkHealth, PbxView

CONFIG = load_config(Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml")


def test_an_agents_topic_id_is_one_safe_topic_level() -> None:
    assert agent_topic_id("Åsa Lindqvist") == "asa-lindqvist"
    assert agent_topic_id("Yusuf Haddad") == "yusuf-haddad"
    assert agent_topic_id("+/#").startswith("agent-")


def test_queue_and_agent_payloads_come_from_the_snapshot() -> None:
    state = SwitchboardState(
        calls=immutables.Map({"1": Call("1", queue="sv", phase=Phase.WAITING, joined_at=90.0)}),
        members=immutables.Map(
            {
                ("sv", "PJSIP/agent1001"): Member(
                    "sv", "PJSIP/agent1001", "Åsa Lindqvist", status=1, paused=True
                )
            }
        ),
    )
    view = PbxView("main", state, LinkHealth(connected=True), crisis_active=True)
    msgs = state_messages(
        CONFIG,
        view,
        100.0,
        {("main", "sv"): QueueToday(sl_met=3, sl_calls=4, answered=3, answered_directly=2)},
        {"entry": "closed-holiday", "ar": "open"},
    )
    sv = msgs["main/queue/sv"]
    assert (sv["waiting"], sv["longest_wait_seconds"], sv["members_paused"]) == (1, 10, 1)
    assert sv["longest_wait_since"] == 90  # joined at 90 on the state's clock (offset 0)
    assert msgs["main/queue/ar"]["longest_wait_since"] is None
    assert sv["service_level_today"] == 0.75 and sv["service_level_target_seconds"] == 20
    assert sv["service_level_formula"] == "offered"
    assert (sv["answered_today"], sv["answered_directly_today"], sv["abandoned_today"]) == (3, 2, 0)
    assert msgs["main/queue/ar"]["service_level_today"] is None  # no call yet today
    assert msgs["main/agent/asa-lindqvist"]["state"] == "paused"
    assert msgs["main/agent/lars-holm"]["state"] == "logged_out"
    assert msgs["main/crisis"] == {"active": True}
    assert msgs["main/opening"] == {"state": "closed-holiday", "queue_ar": "open"}


def test_outbox_drops_the_oldest_and_counts_it() -> None:
    box = Outbox(size=3)
    for i in range(5):
        box.put(f"t/{i}", b"x")
    assert box.dropped == 2 and len(box) == 3
    first = asyncio.run(box.get())
    assert first == ("t/2", b"x")


async def test_a_held_back_change_that_is_undone_is_never_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Within the rate limit a change is held back; if the state returns to what
    subscribers already have before the limit ends, the stale change is dropped.
    The bridge's clock is set by the test, so the outcome does not hang on timing."""

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])  # the module vaxeld.mqtt uses
    mqtt_config = MqttConfig(min_interval_seconds=0.05)
    waiting = SwitchboardState(
        calls=immutables.Map({"1": Call("1", queue="sv", phase=Phase.WAITING, joined_at=1.0)})
    )
    current = [SwitchboardState()]

    def views() -> list[PbxView]:
        return [PbxView("main", current[0], LinkHealth(connected=True))]

    async def no_command(name: str, body: dict[str, object]) -> str:
        return ""

    async def produce_once() -> None:
        bridge.notify()
        for _ in range(5):  # let the producer task take the notification
            await asyncio.sleep(0)

    def published_waiting() -> list[int]:
        items = bridge.outbox._items
        return [json.loads(p)["waiting"] for t, p in items if t == "vaxeld/main/queue/sv"]

    bridge = MqttBridge(CONFIG, mqtt_config, None, views, dict, dict, no_command)
    task = asyncio.create_task(bridge._produce())
    try:
        await produce_once()
        assert published_waiting() == [0]  # everything is published once at the start
        current[0] = waiting  # a caller joins: held back, the topic was just sent
        await produce_once()
        current[0] = SwitchboardState()  # and is gone again before the limit ends
        await produce_once()
        clock[0] += 1.0  # the limit is over
        await produce_once()
        assert published_waiting() == [0]
    finally:
        task.cancel()


async def test_what_changes_without_an_event_of_its_own_is_still_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between full builds the producer takes only what changed, which includes the
    figures of the day (queue_log may count a caller AMI never showed) and the waits of
    callers still waiting (they grow while nothing happens)."""
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    state = SwitchboardState(
        calls=immutables.Map({"1": Call("1", queue="sv", phase=Phase.WAITING, joined_at=990.0)})
    )
    today = {("main", "sv"): QueueToday()}

    def views() -> list[PbxView]:
        return [PbxView("main", state, LinkHealth(connected=True))]

    async def no_command(name: str, body: dict[str, object]) -> str:
        return ""

    bridge = MqttBridge(
        CONFIG,
        MqttConfig(min_interval_seconds=0.05, wait_refresh_seconds=5),
        None,
        views,
        lambda: dict(today),
        dict,
        no_command,
    )

    async def topic_after_a_turn(queue: str) -> dict[str, object]:
        bridge.notify()
        for _ in range(5):
            await asyncio.sleep(0)
        topic = f"vaxeld/main/queue/{queue}"
        items = [json.loads(p) for t, p in bridge.outbox._items if t == topic]
        bridge.outbox._items.clear()
        return items[-1] if items else {}

    task = asyncio.create_task(bridge._produce())
    try:
        first = await topic_after_a_turn("sv")
        assert (first["longest_wait_seconds"], first["abandoned_today"]) == (10, 0)
        clock[0] += 4.0  # no event, the wait grew, but it is republished every 5 s
        assert await topic_after_a_turn("sv") == {}
        clock[0] += 1.0
        again = await topic_after_a_turn("sv")
        assert again["longest_wait_seconds"] == 15
        assert again["longest_wait_since"] == first["longest_wait_since"]
        assert bridge._next_waits == pytest.approx(clock[0] + 5.0)  # the next one
        today[("main", "en")] = QueueToday(abandoned=1)  # counted from queue_log alone
        clock[0] += 0.5
        assert (await topic_after_a_turn("en"))["abandoned_today"] == 1
    finally:
        task.cancel()


_QUEUES = [*CONFIG.queues, "", "unknown"]
_NAMES = [m.name for g in CONFIG.agent_groups.values() for m in g.members] + ["Someone Else"]
_calls = st.dictionaries(
    st.sampled_from([str(i) for i in range(6)]),
    st.builds(
        lambda uid, queue, waiting, joined: Call(
            uid,
            queue=queue,
            phase=Phase.WAITING if waiting else Phase.ROUTED,
            joined_at=joined,
        ),
        st.just(""),
        st.sampled_from(_QUEUES),
        st.booleans(),
        st.sampled_from([None, 10.0, 50.0]),
    ),
    max_size=6,
).map(lambda calls: {uid: c._replace(uniqueid=uid) for uid, c in calls.items()})
_members = st.dictionaries(
    st.tuples(st.sampled_from(_QUEUES[:-2]), st.sampled_from(["PJSIP/a", "PJSIP/b", "PJSIP/c"])),
    st.builds(
        lambda name, status, paused: (name, status, paused),
        st.sampled_from(_NAMES),
        st.integers(0, 6),
        st.booleans(),
    ),
    max_size=6,
).map(lambda ms: {k: Member(k[0], k[1], n, status=s, paused=p) for k, (n, s, p) in ms.items()})
_states = st.builds(
    lambda c, m: SwitchboardState(calls=immutables.Map(c), members=immutables.Map(m)),
    _calls,
    _members,
)


@settings(max_examples=300)
@given(_states, _states)
def test_building_only_touched_topics_gives_what_a_full_build_gives(
    old: SwitchboardState, new: SwitchboardState
) -> None:
    """Between full builds the bridge rebuilds only the queues and agents a change touched.
    Over the topics it had, that must give exactly what rebuilding everything gives."""

    def build(state: SwitchboardState, touched: Touched | None = None) -> dict[str, object]:
        view = PbxView("main", state, LinkHealth(connected=True))
        return dict(
            state_messages(
                CONFIG, view, 100.0, {("main", "sv"): QueueToday(1, 2, 1, 1)}, {}, touched
            )
        )

    before = build(old)
    partial = build(new, touched_since(old, new))
    assert {**before, **partial} == build(new)
    # The switch and the hours change without events: in every build.
    assert {t for t in partial if t.endswith(("/crisis", "/opening"))} == {
        "main/crisis",
        "main/opening",
    }


def test_nothing_changed_touches_nothing() -> None:
    state = SwitchboardState(
        calls=immutables.Map({"1": Call("1", queue="sv", phase=Phase.WAITING)})
    )
    assert touched_since(state, state) == (set(), set())


async def test_the_client_keepalive_duty_wakes_when_a_ping_is_due_not_every_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The quiet client replaces aiomqtt's once-a-second keepalive loop and sleeps until
    paho's next ping is due; should aiomqtt rename the loop or paho its last-packet
    times, this fails instead of the replacement silently doing nothing or too late."""
    import aiomqtt

    from vaxeld.mqtt.client import KEEPALIVE_LOOK_SECONDS, KEEPALIVE_SECONDS, QuietClient

    assert "_misc_loop" in vars(aiomqtt.Client)
    assert QuietClient._misc_loop is not aiomqtt.Client._misc_loop
    assert KEEPALIVE_LOOK_SECONDS + KEEPALIVE_SECONDS <= 1.5 * KEEPALIVE_SECONDS  # in time

    client = QuietClient("127.0.0.1", 1, keepalive=KEEPALIVE_SECONDS)
    paho = client._client
    clock = [paho._last_msg_out + 1.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    paho._last_bytes_received = paho._last_msg_out
    assert client._until_keepalive_due() == pytest.approx(KEEPALIVE_SECONDS - 1.0)
    paho._last_bytes_received = paho._last_msg_out - 20.0  # heard nothing for 21 s
    assert client._until_keepalive_due() == pytest.approx(KEEPALIVE_SECONDS - 21.0)
    clock[0] += 100.0  # overdue: looked at soon
    assert client._until_keepalive_due() == 0.5


def test_opening_hours_are_looked_at_when_they_next_change_not_every_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no caller and no change, the producer sleeps until the hours change (here
    Monday 08:00, when the entry opens) and builds the opening topic again then."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    monday_0800 = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo(CONFIG.timezone)).timestamp()
    wall = [monday_0800 - 1800.0]  # 07:30
    monkeypatch.setattr(time, "time", lambda: wall[0])
    asked: list[float] = []

    def opening() -> dict[str, str]:
        asked.append(wall[0])
        return {"entry": "open" if wall[0] >= monday_0800 else "closed-hours"}

    async def no_command(name: str, body: dict[str, object]) -> str:
        return ""

    bridge = MqttBridge(CONFIG, MqttConfig(), None, list, dict, opening, no_command)
    assert bridge._opening_hours() == {"entry": "closed-hours"}
    assert bridge._quiet_for(0.0) == pytest.approx(1800.05)
    wall[0] += 600.0  # ten minutes on: nothing asked again
    assert bridge._opening_hours() == {"entry": "closed-hours"}
    assert len(asked) == 1
    wall[0] = monday_0800 + 0.05  # woken at the change
    assert bridge._opening_hours() == {"entry": "open"}
    # The next change is 12:00 (tolkservice closes for lunch): the hourly look is first.
    noon = monday_0800 + 4 * 3600
    assert bridge._quiet_for(0.0) == pytest.approx(min(noon, wall[0] + 3600.0) - wall[0] + 0.05)


_UIDS = ("1.1", "1.2", "1.3", "1.4")
_event = st.one_of(
    st.builds(
        lambda q, u, p: ("QueueCallerJoin", {"Queue": q, "Uniqueid": u, "Position": str(p)}),
        st.sampled_from(_QUEUES[:3]), st.sampled_from(_UIDS), st.integers(1, 3),
    ),
    st.builds(
        lambda e, q, u: (e, {"Queue": q, "Uniqueid": u, "MemberName": "Åsa Lindqvist",
                             "HoldTime": "3", "Interface": "PJSIP/a"}),
        st.sampled_from(["AgentConnect", "AgentComplete", "QueueCallerAbandon",
                         "QueueCallerLeave"]),
        st.sampled_from(_QUEUES[:3]), st.sampled_from(_UIDS),
    ),
    st.builds(
        lambda e, q, i, n, s: (e, {"Queue": q, "Interface": i, "MemberName": n,
                                   "Status": str(s), "Paused": "0"}),
        st.sampled_from(["QueueMemberStatus", "QueueMemberRemoved"]),
        st.sampled_from(_QUEUES[:3]), st.sampled_from(["PJSIP/a", "PJSIP/b"]),
        st.sampled_from(_NAMES), st.integers(0, 6),
    ),
    st.builds(lambda u: ("gone", {"Uniqueid": u}), st.sampled_from(_UIDS)),
    st.just(("resync", {})),
)  # fmt: skip


@settings(max_examples=200)
@given(st.lists(st.lists(_event, max_size=4), max_size=12))
def test_what_the_journal_says_changed_is_what_a_full_comparison_finds(
    builds: list[list[tuple[str, dict[str, str]]]],
) -> None:
    """The bridge learns what changed from the state's journal and keeps the waiting
    callers itself; build after build, both must agree with comparing every call and
    member, and with counting the waiting callers afresh."""
    import dataclasses

    from vaxeld.ami.codec import Message
    from vaxeld.mqtt.payloads import Waiting
    from vaxeld.state import apply
    from vaxeld.state.ledger import Ledger
    from vaxeld.state.model import Journal
    from vaxeld.state.queuelog_lines import parse_line
    from vaxeld.state.recovery import recover
    from vaxeld.state.reducer import resync

    state, now, ledger = SwitchboardState(), 0.0, Ledger()
    waiting = Waiting.of(state)
    for events in builds:
        old = state
        for name, headers in events:
            now += 1.0
            if name == "gone":  # queue_log says the caller's time in its queue ended
                queue = state.calls[headers["Uniqueid"]].queue if headers["Uniqueid"] in (
                    state.calls) else "sv"  # fmt: skip
                line = parse_line(f"{now:.0f}|{headers['Uniqueid']}|{queue}|NONE|ABANDON|1|1|3")
                assert line is not None
                state, _ = recover(state, [line], ledger, now)
            elif name == "resync":
                state, _ = resync(state, [], now)
            else:
                state, _ = apply(state, Message((("Event", name), *headers.items())), now)
        journal = touched_since(old, state, waiting)
        full = touched_since(old, dataclasses.replace(state, journal=Journal()))
        assert journal == full
        fresh = Waiting.of(state)
        for queue in _QUEUES:
            assert waiting.count(queue) == fresh.count(queue)
            assert waiting.longest_joined(queue) == fresh.longest_joined(queue)
        assert sorted(waiting.queues()) == sorted(fresh.queues())
