"""vaxeld.tracker: what one PBX's events hand to the metrics and MQTT sink."""

from pathlib import Path

from vaxeld.ami.codec import Message
from vaxeld.config import load_config
from vaxeld.state.changes import CallOffered, Change
from vaxeld.tracker import PbxTracker, Sink

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
