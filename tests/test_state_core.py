"""vaxeld.state.core: one PBX's state, ledger and resync buffering, without sockets."""

from __future__ import annotations

from pathlib import Path

from lab.vaxeld_process import parse_metrics, total
from vaxeld.ami.codec import Message
from vaxeld.config import load_config
from vaxeld.metrics import Metrics
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallOffered,
    CallOutcomeUnknown,
    CallOverflowed,
    Change,
)
from vaxeld.state.core import PbxCore
from vaxeld.state.queuelog_lines import QueueLogEntry, parse_line
from vaxeld.state.view import LinkHealth

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"


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


def user(kind: str, uid: str, **headers: str) -> Message:
    return Message(
        (("Event", "UserEvent"), ("UserEvent", kind), ("Uniqueid", uid), *headers.items())
    )


def log(*text: str) -> list[QueueLogEntry]:
    return [e for e in map(parse_line, text) if e is not None]


def counted(changes: list[Change]) -> list[str]:
    return sorted(type(c).__name__ for c in changes)


def test_vaxelds_own_queue_log_lines_recover_what_ami_missed_and_label_it() -> None:
    """A caller who came and went during an outage: its entry number, language, menu
    attempt and overflow are in queue_log, and so in the counts (its offers were
    `entry="unknown"` before, its overflow and menu figures missing)."""
    core = PbxCore("main")
    changes = core.recover(
        log(
            "100|5.1|vaxeld|NONE|VAXELDENTRY|0313651000",
            "101|5.1|vaxeld|NONE|VAXELDMENU|timeout|",
            "103|5.1|vaxeld|NONE|VAXELDLANGUAGE|sv|1|chosen",
            "103|5.1|sv|NONE|ENTERQUEUE||070|1",
            "133|5.1|sv|NONE|EXITWITHTIMEOUT|1|1|30",
            "133|5.1|vaxeld|NONE|VAXELDOVERFLOW|sv|vaxel|TIMEOUT",
            "133|5.1|vaxel|NONE|ENTERQUEUE||070|1",
            "140|5.1|vaxel|Lars|CONNECT|7|5.2|1",
            "150|6.1|vaxeld|NONE|VAXELDENTRY|0313650000",
            "152|6.1|vaxeld|NONE|VAXELDMENUABANDON|0313650000",
            "160|7.1|vaxeld|NONE|VAXELDENTRY|0313650000",
            "160|7.1|vaxeld|NONE|VAXELDCLOSED|holiday|",
        ),
        200.0,
    )
    assert counted(changes) == sorted(
        ["CallEntered"] * 3
        + ["MenuAttempt", "LanguageChosen", "CallOffered", "CallExited", "CallOverflowed"]
        + ["CallOffered", "CallAnswered", "MenuAbandoned", "CallClosed"]
    )
    offers = [c for c in changes if isinstance(c, CallOffered)]
    assert [(c.queue, c.entry, c.first) for c in offers] == [
        ("sv", "0313651000", True),
        ("vaxel", "0313651000", False),
    ]
    (answer,) = [c for c in changes if isinstance(c, CallAnswered)]
    assert not answer.direct and answer.entry == "0313651000"
    # The same facts over AMI afterwards count nothing again.
    again = core.on_event(
        user("VaxeldOverflow", "5.1", From="sv", To="vaxel", Status="TIMEOUT"), 201.0
    )
    assert again == []


def test_overflow_is_inferred_from_plain_queue_log_and_counted_once() -> None:
    """queue_log written before vaxeld has no VAXELDOVERFLOW line: leaving a queue
    unanswered and entering another is the overflow."""
    core = PbxCore("main")
    changes = core.recover(
        log(
            "1|8.1|sv|NONE|ENTERQUEUE||070|1",
            "31|8.1|sv|NONE|EXITWITHTIMEOUT|1|1|30",
            "31|8.1|vaxel|NONE|ENTERQUEUE||070|1",
        ),
        40.0,
    )
    (overflow,) = [c for c in changes if isinstance(c, CallOverflowed)]
    assert (overflow.from_queue, overflow.to_queue, overflow.status) == ("sv", "vaxel", "timeout")
    ami = core.on_event(user("VaxeldOverflow", "8.1", From="sv", To="vaxel", Status="TIMEOUT"), 41)
    assert ami == []  # the one inferred from queue_log was it


def test_every_caller_is_accounted_for_across_an_outage() -> None:
    """offered + carried in = answered + abandoned + exited + unknown + in a queue now, per
    queue, after callers came and went while vaxeld was away (some with no outcome line,
    as after Asterisk is killed), and one joined before vaxeld could hear of it."""
    config = load_config(EXAMPLE)
    core = PbxCore("main")
    metrics = Metrics(config, lambda: [core.view(LinkHealth(connected=True))], clock=lambda: 0.0)

    def feed(changes: list[Change] | None) -> None:
        if changes:
            metrics.record("main", changes)

    feed(core.on_event(join("1.1"), 1.0))  # followed live, then the connection drops
    feed(core.on_event(join("2.1"), 1.0))
    core.begin_resync()
    feed(
        core.recover(
            log(
                "10|1.1|sv|Åsa|CONNECT|4|1.2|1",  # answered while away
                "11|3.1|sv|NONE|ENTERQUEUE||070|1",  # came and went, no outcome line
                "12|4.1|sv|NONE|ENTERQUEUE||070|1",
                "20|4.1|sv|NONE|ABANDON|1|1|8",
            ),
            30.0,
        )
    )
    # QueueStatus: 2.1 is gone without a trace, 5.1 waits though nobody saw it join.
    feed(core.resync([entry("5.1")], 31.0))
    for batch in core.end_resync(31.0):
        feed(batch)
    samples = parse_metrics(metrics.exposition().decode())
    assert total(samples, "vaxeld_queue_calls_unaccounted", queue="sv") == 0
    assert total(samples, "vaxeld_queue_calls_outcome_unknown_total", queue="sv") == 2  # 2.1, 3.1
    assert total(samples, "vaxeld_queue_calls_carried_in_total", queue="sv") == 1  # 5.1
    feed(core.on_event(ev("AgentConnect", Queue="sv", Uniqueid="5.1", HoldTime="40"), 32.0))
    samples = parse_metrics(metrics.exposition().decode())
    assert total(samples, "vaxeld_queue_calls_unaccounted", queue="sv") == 0
