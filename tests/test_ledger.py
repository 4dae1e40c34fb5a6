"""vaxeld.state.ledger and recovery: each outcome counted once, whichever source is first."""

from __future__ import annotations

import immutables

from vaxeld.state.changes import CallAbandoned, CallAnswered, CallEntered, CallOffered
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
