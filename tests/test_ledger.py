"""vaxeld.state.ledger and recovery: each outcome counted once, whichever source is first."""

from __future__ import annotations

import immutables

from vaxeld.ami.codec import Message
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallCarriedIn,
    CallEntered,
    CallOffered,
)
from vaxeld.state.core import PbxCore
from vaxeld.state.ledger import Ledger
from vaxeld.state.model import Call, Phase, SwitchboardState
from vaxeld.state.queuelog_lines import parse_line
from vaxeld.state.recovery import recover


def lines(*text: str) -> list:  # type: ignore[type-arg]
    return [e for e in (parse_line(t) for t in text) if e is not None]


def test_ami_first_then_queue_log_counts_once() -> None:
    ledger = Ledger()
    assert ledger.admit([CallOffered("sv", "1.1", 1)], "ami", 0.0) == [CallOffered("sv", "1.1", 1)]
    _, changes = recover(SwitchboardState(), lines("1|1.1|sv|NONE|ENTERQUEUE||070|1"), ledger, 1.0)
    assert changes == [] and ledger.duplicates == 1


def test_queue_log_first_then_ami_counts_once() -> None:
    ledger = Ledger()
    _, changes = recover(SwitchboardState(), lines("1|1.1|sv|Åsa|CONNECT|7|1.2|1"), ledger, 0.0)
    assert changes == [CallAnswered("sv", "1.1", "Åsa", 7.0, "", direct=True)]
    assert ledger.admit([CallAnswered("sv", "1.1", "Åsa", 7.0)], "ami", 1.0) == []


def test_a_second_entry_into_the_same_queue_is_counted_again() -> None:
    ledger = Ledger()
    ledger.admit([CallOffered("sv", "1.1", 1)], "ami", 0.0)
    _, changes = recover(
        SwitchboardState(),
        lines("1|1.1|sv|NONE|ENTERQUEUE||070|1", "2|1.1|sv|NONE|ENTERQUEUE||070|1"),
        ledger,
        1.0,
    )
    assert len(changes) == 1 and isinstance(changes[0], CallOffered)
    assert not changes[0].first  # the caller was already offered once


def test_recovery_uses_the_entry_ami_saw_and_forgets_ended_callers() -> None:
    ledger = Ledger()
    ledger.admit([CallEntered("2.1", "0313651000")], "ami", 0.0)
    state = SwitchboardState(
        calls=immutables.Map(
            {"2.1": Call("2.1", queue="en", phase=Phase.WAITING, joined_at=0.0, entry="0313651000")}
        )
    )
    state, changes = recover(state, lines("5|2.1|en|NONE|ABANDON|1|1|12"), ledger, 1.0)
    assert changes == [CallAbandoned("en", "2.1", 12.0, "0313651000")]
    assert not state.calls


def test_caller_that_moved_on_by_overflow_stays_in_the_state() -> None:
    state = SwitchboardState(
        calls=immutables.Map({"3.1": Call("3.1", queue="vaxel", phase=Phase.WAITING)})
    )
    state, _ = recover(state, lines("5|3.1|en|NONE|EXITWITHTIMEOUT|1|1|3"), Ledger(), 1.0)
    assert "3.1" in state.calls


def test_old_callers_are_forgotten_so_memory_stays_bounded() -> None:
    ledger = Ledger(keep_seconds=100)
    for i in range(1000):
        ledger.admit([CallOffered("sv", f"{i}.1", 1)], "ami", float(i))
    assert len(ledger) <= 170  # roughly keep_seconds plus one prune interval of callers


def test_a_caller_whose_first_queue_came_from_queue_log_is_offered_once() -> None:
    """Its overflow join seen live was taken as the first queue, and the answer there as
    direct: 356 offered against 354 distinct callers in one run."""
    ledger = Ledger()
    state = SwitchboardState()
    state, recovered = recover(state, lines("1|7.1|sv|NONE|ENTERQUEUE||070|1"), ledger, 1.0)
    assert [c.first for c in recovered if isinstance(c, CallOffered)] == [True]
    live = ledger.admit(
        [
            CallOffered("vaxel", "7.1", 1, first=True),  # the reducer never saw queue sv
            CallAnswered("vaxel", "7.1", "Lars", 4.0, direct=True),
        ],
        "ami",
        2.0,
    )
    assert [(type(c).__name__, getattr(c, "first", getattr(c, "direct", None))) for c in live] == [
        ("CallOffered", False),
        ("CallAnswered", False),
    ]


def test_a_caller_learnt_from_queue_status_then_overflowing_is_not_offered_first() -> None:
    core = PbxCore("main")
    core.begin_resync()
    entry = Message(
        (("Event", "QueueEntry"), ("Queue", "sv"), ("Uniqueid", "8.1"), ("Position", "1"))
    )
    core.resync([entry], 1.0)
    core.end_resync(1.0)
    join = Message(
        (("Event", "QueueCallerJoin"), ("Queue", "vaxel"), ("Uniqueid", "8.1"), ("Position", "1"))
    )
    (offered,) = core.on_event(join, 2.0) or []
    assert isinstance(offered, CallOffered) and not offered.first


def test_the_entry_learnt_from_either_source_labels_the_outcomes_of_the_other() -> None:
    ledger = Ledger()
    ledger.admit([CallEntered("9.1", "0313651000")], "ami", 1.0)
    (offered,) = ledger.admit([CallOffered("sv", "9.1", 1)], "log", 2.0)
    assert isinstance(offered, CallOffered) and offered.entry == "0313651000"


def test_what_queue_log_held_before_vaxeld_started_labels_what_comes_next() -> None:
    """A vaxeld started while a caller waited: the caller's entry number and first queue
    are in queue_log's day so far; its overflow is then not its first offer, and carries
    the entry number (it was entry="unknown" before)."""
    from vaxeld.state.recovery import learn_earlier

    ledger = Ledger()
    carried = learn_earlier(
        ledger,
        lines(
            "1|4.1|vaxeld|NONE|VAXELDENTRY|0313651000",
            "2|4.1|sv|NONE|ENTERQUEUE||070|1",
            "8|4.1|sv|NONE|EXITWITHTIMEOUT|1|1|6",
            "3|5.1|fi|NONE|ENTERQUEUE||070|1",  # still waiting when vaxeld starts
        ),
        10.0,
    )
    assert carried == [CallCarriedIn("fi", "5.1", "")]
    (offer,) = ledger.admit([CallOffered("vaxel", "4.1", 1)], "ami", 11.0)
    assert isinstance(offer, CallOffered) and not offer.first and offer.entry == "0313651000"
    assert sorted(ledger.open_offers()) == [("4.1", "vaxel", "0313651000"), ("5.1", "fi", "")]
    (answer,) = ledger.admit([CallAnswered("fi", "5.1", "Aino", 30.0)], "ami", 12.0)
    assert isinstance(answer, CallAnswered) and answer.direct  # one queue in all
