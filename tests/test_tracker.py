"""vaxeld.tracker: what one PBX's events hand to the metrics and MQTT sink."""

import asyncio
from pathlib import Path

from lab.fake_ami import FakeAmi, response
from vaxeld.ami.codec import Message
from vaxeld.config import load_config
from vaxeld.state.changes import CallOffered, Change
from vaxeld.tracker import CALENDAR_POLL_SECONDS, PbxTracker, Sink

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"


def sink(calls: list[list[Change]]) -> Sink:
    return lambda pbx, changes: calls.append(changes)


def ev(event: str, **headers: str) -> Message:
    return Message((("Event", event), *headers.items()))


def test_a_move_with_nothing_to_count_still_reaches_the_sink() -> None:
    """A caller leaving the queue changes no counter but does change who is waiting:
    the sink (and so MQTT) hears of it at once, with an empty list of changes."""
    config = load_config(EXAMPLE)
    calls: list[list[Change]] = []
    tracker = PbxTracker(config.default_pbx, "secret", sink(calls), config.timezone)
    tracker.on_event(ev("QueueCallerJoin", Uniqueid="1.1", Queue="sv", Position="1"))
    tracker.on_event(ev("QueueCallerLeave", Uniqueid="1.1", Queue="sv"))
    assert len(calls) == 2
    assert [type(c) for c in calls[0]] == [CallOffered]
    assert calls[1] == [] and not tracker.core.state.calls["1.1"].waiting


def test_an_event_that_changes_nothing_is_not_passed_on() -> None:
    config = load_config(EXAMPLE)
    calls: list[list[Change]] = []
    tracker = PbxTracker(config.default_pbx, "secret", sink(calls), config.timezone)
    tracker.on_event(ev("QueueCallerLeave", Uniqueid="9.9", Queue="sv"))  # never seen
    tracker.on_event(ev("Newexten", Uniqueid="9.9"))
    assert calls == []


async def test_the_calendar_end_is_read_after_a_connect_and_then_only_now_and_then() -> None:
    """The crisis switch is read at every poll; the calendar's end, which changes only
    when a dialplan is loaded, after each connect and every CALENDAR_POLL_SECONDS."""
    asked: list[str] = []

    def getvar(msg: Message) -> bytes:
        asked.append("Getvar")
        return response(msg, Value="2027-12-31")

    fake = await FakeAmi(custom={"Getvar": getvar}).start()
    config = load_config(EXAMPLE)
    pbx = config.default_pbx.model_copy(update={"port": fake.port})
    clock = [1000.0]
    tracker = PbxTracker(pbx, "secret", lambda p, c: None, config.timezone, clock=lambda: clock[0])
    task = asyncio.create_task(tracker.session.run())
    try:
        await tracker.session.wait_connected()
        await tracker._poll_once()
        clock[0] += 15
        await tracker._poll_once()
        assert asked == ["Getvar"] and tracker.calendar_end is not None
        clock[0] += CALENDAR_POLL_SECONDS
        await tracker._poll_once()
        assert asked == ["Getvar", "Getvar"]
        tracker.session.stats.connects += 1  # as after a reconnect
        await tracker._poll_once()
        assert len(asked) == 3
    finally:
        task.cancel()
        await fake.close()


def test_the_crisis_switch_is_learnt_from_events_between_looks_at_astdb() -> None:
    """`vaxeld crisis` announces each change; a caller who heard a crisis message shows
    the switch is on, unless an announced change came just before (that caller may have
    read the switch before it changed). Readers are told of every change."""
    config = load_config(EXAMPLE)
    calls: list[list[Change]] = []
    clock = [1000.0]
    tracker = PbxTracker(
        config.default_pbx, "secret", sink(calls), config.timezone, clock=lambda: clock[0]
    )

    def switch(mode: str) -> Message:
        return ev("UserEvent", UserEvent="VaxeldCrisisSwitch", Mode=mode)

    def heard(uid: str) -> Message:
        return ev("UserEvent", UserEvent="VaxeldCrisis", Uniqueid=uid, Mode="announce")

    def told() -> int:  # the sink hears of a change of the switch with no changes
        return sum(1 for c in calls if c == [])

    tracker.on_event(switch("announce"))
    assert tracker.crisis_active is True and calls == [[]]  # the news is about no caller
    tracker.on_event(switch("off"))
    assert tracker.crisis_active is False and told() == 2
    clock[0] += 1
    tracker.on_event(heard("1.1"))  # read the switch before it went off
    assert tracker.crisis_active is False and told() == 2
    clock[0] += 10
    tracker.on_event(heard("1.2"))  # switched on by hand (`database put`), then a caller
    assert tracker.crisis_active is True and told() == 3
    tracker.on_event(ev("UserEvent", UserEvent="VaxeldCrisisSwitch", Mode="bogus"))
    assert tracker.crisis_active is False
