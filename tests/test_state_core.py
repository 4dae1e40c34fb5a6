"""vaxeld.state.core: one PBX's state, ledger and resync buffering, without sockets."""

from __future__ import annotations

from vaxeld.ami.codec import Message
from vaxeld.state.changes import CallAbandoned, CallAnswered, CallOffered, CallOutcomeUnknown
from vaxeld.state.core import PbxCore
from vaxeld.state.queuelog_lines import parse_line
from vaxeld.state.view import LinkHealth


def ev(event: str, **headers: str) -> Message:
    return Message((("Event", event), *headers.items()))


def join(uid: str, queue: str = "sv") -> Message:
    return ev("QueueCallerJoin", Queue=queue, Uniqueid=uid, Position="1")


def entry(uid: str, queue: str = "sv", wait: str = "3") -> Message:
    return ev("QueueEntry", Queue=queue, Uniqueid=uid, Position="1", Wait=wait)


def test_an_event_returns_what_counts_or_none_when_nothing_moved() -> None:
    core = PbxCore("main")
    assert [type(c) for c in core.on_event(join("1.1"), 10.0) or []] == [CallOffered]
    assert core.on_event(ev("QueueCallerLeave", Queue="sv", Uniqueid="1.1"), 11.0) == []
    assert core.on_event(ev("Newexten", Uniqueid="1.1"), 12.0) is None


def test_events_during_a_resync_wait_and_their_callers_survive_it() -> None:
    """A caller who joined while QueueStatus was being answered is not in the reply: it
    must not be reported unknown, and its join must be counted after the rebuild."""
    core = PbxCore("main")
    core.on_event(join("1.1"), 10.0)  # followed before the reconnect
    core.on_event(join("2.1"), 10.0)  # will have left while vaxeld was away
    core.begin_resync()
    assert core.resyncing
    assert core.on_event(join("3.1"), 20.0) is None  # held
    changes = core.resync([entry("1.1")], 21.0)
    assert [c.uniqueid for c in changes if isinstance(c, CallOutcomeUnknown)] == ["2.1"]
    replayed = core.end_resync(22.0)
    assert [[type(c) for c in batch] for batch in replayed] == [[CallOffered]]
    assert not core.resyncing
    assert set(core.state.calls) == {"1.1", "3.1"}
    assert core.state.synced


def test_queue_log_recovery_counts_once_what_ami_missed() -> None:
    core = PbxCore("main")
    core.on_event(join("1.1"), 10.0)
    core.on_event(
        ev("AgentConnect", Queue="sv", Uniqueid="1.1", MemberName="Åsa", HoldTime="4"), 14.0
    )
    lines = [
        "100|1.1|sv|NONE|ENTERQUEUE||070|1",
        "104|1.1|sv|Åsa|CONNECT|4|1.2|1",
        "110|2.1|sv|NONE|ENTERQUEUE||070|1",
        "140|2.1|sv|NONE|ABANDON|1|1|30",
    ]
    entries = [e for e in map(parse_line, lines) if e is not None]
    changes = core.recover(entries, 50.0)
    assert [type(c) for c in changes] == [CallOffered, CallAbandoned]  # 1.1 came over AMI
    assert core.recovered == 2 and core.ledger.duplicates == 2
    assert not any(isinstance(c, CallAnswered) for c in changes)


def test_a_view_is_a_value_taken_at_one_moment() -> None:
    core = PbxCore("north")
    view = core.view(LinkHealth(connected=True, events=3), crisis_active=False)
    core.on_event(join("1.1"), 10.0)
    assert not view.state.calls and view.link.events == 3 and view.name == "north"
    assert set(core.view(LinkHealth()).state.calls) == {"1.1"}
