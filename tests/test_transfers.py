"""Transfers in the core: the reducer's BlindTransfer/AttendedTransfer handling, the
queue_log lines for them, and the ledger counting each once and each caller's
resolution once (vaxeld.state.reducer, recovery, ledger)."""

from __future__ import annotations

from vaxeld.ami.codec import Message
from vaxeld.state import SwitchboardState, apply
from vaxeld.state.changes import CallAnswered, CallTransferred, Change, TransferNotLogged
from vaxeld.state.ledger import Ledger
from vaxeld.state.model import Phase
from vaxeld.state.queuelog_lines import QueueLogEntry, parse_line
from vaxeld.state.recovery import recover
from vaxeld.state.transfers import TransferRules

RULES = TransferRules({"7100": "vaxel"}, {"1006": "Lars Holm"}, (("Bygglov", "6100", "6199"),))


def ev(event: str, **headers: str) -> Message:
    return Message((("Event", event), *headers.items()))


def answered(uid: str = "1.1", queue: str = "sv") -> list[Message]:
    return [
        ev("UserEvent", UserEvent="VaxeldEntry", Uniqueid=uid, Entry="0313650000"),
        ev("QueueCallerJoin", Queue=queue, Uniqueid=uid, Position="1", CallerIDNum="0701"),
        ev("AgentConnect", Queue=queue, Uniqueid=uid, MemberName="Åsa", HoldTime="3"),
    ]


def blind(uid: str, to: str, result: str = "Success") -> Message:
    return ev("BlindTransfer", Result=result, TransfereeUniqueid=uid, Extension=to)


def run(events: list[Message]) -> tuple[SwitchboardState, list[Change]]:
    state, out = SwitchboardState(), []
    for i, msg in enumerate(events):
        state, changes = apply(state, msg, float(i))
        out += changes
    return state, out


def transfers(changes: list[Change]) -> list[CallTransferred]:
    return [c for c in changes if isinstance(c, CallTransferred)]


def test_a_blind_transfer_names_its_target_and_leaves_the_agent() -> None:
    state, changes = run([*answered(), blind("1.1", "6150")])
    (t,) = transfers(changes)
    assert (t.queue, t.member, t.how, t.target, t.entry) == (
        "sv",
        "Åsa",
        "blind",
        "6150",
        "0313650000",
    )
    call = state.calls["1.1"]
    assert call.phase is Phase.TRANSFERRED and call.answered_by == ""  # not "talking to Åsa"


def test_a_blind_transfer_into_a_queue_whose_join_came_first_is_the_first_queues() -> None:
    state, changes = run(
        [*answered(), ev("QueueCallerJoin", Queue="vaxel", Uniqueid="1.1"), blind("1.1", "7100")]
    )
    (t,) = transfers(changes)
    assert (t.queue, t.member) == ("sv", "Åsa")
    assert state.calls["1.1"].phase is Phase.WAITING and state.calls["1.1"].queue == "vaxel"


def test_an_attended_transfer_takes_the_target_vaxeld_transfer_saw() -> None:
    target = ev("UserEvent", UserEvent="VaxeldTransferTarget", Uniqueid="9.9", Caller="1.1",
                Target="1006")  # fmt: skip
    attended = ev("AttendedTransfer", Result="Success", TransfereeUniqueid="1.1")
    _, changes = run([*answered(), target, attended])
    assert [(t.how, t.target) for t in transfers(changes)] == [("attended", "1006")]
    _, changes = run([*answered(), attended])  # no consultation through vaxeld-transfer
    assert [(t.how, t.target) for t in transfers(changes)] == [("attended", "")]


def test_failed_transfers_and_callers_never_answered_are_not_transfers() -> None:
    _, changes = run([*answered(), blind("1.1", "6150", result="Fail")])
    assert transfers(changes) == []
    _, changes = run([*answered()[:2], blind("1.1", "6150"), blind("2.2", "6150")])
    assert transfers(changes) == []


def test_both_sources_count_a_transfer_once_and_a_caller_unresolved_once() -> None:
    ledger = Ledger(transfers=RULES)
    ami = ledger.admit(
        [CallTransferred("sv", "1.1", "Åsa", "blind", "7100", "", ""),
         CallTransferred("vaxel", "1.1", "Johan", "blind", "6150", "", ""),
         CallTransferred("sv", "2.2", "Åsa", "blind", "6151", "", "")],
        "ami", 0.0,
    )  # fmt: skip
    assert [(t.kind, t.where, t.first_unresolved) for t in transfers(ami)] == [
        ("inside", "vaxel", False),
        ("out", "Bygglov", True),
        ("out", "Bygglov", True),
    ]
    entries = [
        parse_line(line)
        for line in (
            "5|1.1|sv|Åsa|BLINDTRANSFER|7100|vaxeld-transfer|1|2|1",
            "9|1.1|vaxel|Johan|BLINDTRANSFER|6150|vaxeld-transfer|1|2|1",
            "9|3.3|vaxeld|NONE|VAXELDTRANSFERTARGET|6152",
            "9|3.3|sv|Åsa|ATTENDEDTRANSFER|BRIDGE|x|1|2|1",
        )
    ]
    _, changes = recover(SwitchboardState(), [e for e in entries if e], ledger, 1.0)
    # The two AMI saw are not counted again; the attended one AMI missed is, to its target.
    assert [(t.uniqueid, t.how, t.where) for t in transfers(changes)] == [
        ("3.3", "attended", "Bygglov")
    ]


def log(*lines: str) -> list[QueueLogEntry]:
    return [e for e in map(parse_line, lines) if e]


def not_logged(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.queue, c.uniqueid) for c in changes if isinstance(c, TransferNotLogged)]


CONNECT = "5|1.1|sv|Åsa|CONNECT|3|9.9|1"
ATTENDED = CallTransferred("sv", "1.1", "Åsa", "attended", "1006", "", "")


def test_a_transfer_queue_log_ended_as_a_plain_end_is_reported_not_logged() -> None:
    # app_queue's hang-up race: AMI says AttendedTransfer, queue_log says COMPLETEAGENT.
    ledger = Ledger(transfers=RULES)
    seen = ledger.admit([CallAnswered("sv", "1.1", "Åsa", 3.0), ATTENDED], "ami", 0.0)
    assert not_logged(seen) == []  # queue_log may still write ATTENDEDTRANSFER
    _, changes = recover(SwitchboardState(), log(CONNECT, "9|1.1|sv|Åsa|COMPLETEAGENT|3|4|1"),
                         ledger, 1.0)  # fmt: skip
    assert not_logged(changes) == [("sv", "1.1")]
    # The same told the other way round (queue_log read first): reported once, at the AMI.
    ledger = Ledger(transfers=RULES)
    _, changes = recover(SwitchboardState(), log(CONNECT, "9|1.1|sv|Åsa|COMPLETECALLER|3|4|1"),
                         ledger, 1.0)  # fmt: skip
    assert not_logged(changes) == []
    seen = ledger.admit([CallAnswered("sv", "1.1", "Åsa", 3.0), ATTENDED], "ami", 2.0)
    assert not_logged(seen) == [("sv", "1.1")]
    assert not_logged(ledger.admit([ATTENDED], "ami", 3.0)) == [("sv", "1.1")]  # a second one


def test_transfers_queue_log_has_or_cannot_judge_are_not_reported() -> None:
    ledger = Ledger(transfers=RULES)
    ledger.admit([CallAnswered("sv", "1.1", "Åsa", 3.0), ATTENDED], "ami", 0.0)
    lines = log(CONNECT, "9|1.1|sv|Åsa|ATTENDEDTRANSFER|BRIDGE|x|3|4|1")
    _, changes = recover(SwitchboardState(), lines, ledger, 1.0)
    assert not_logged(changes) == []
    # Answered again in the same queue after the transfer, and that answer ends plainly.
    again = log("20|1.1|sv|Johan|CONNECT|3|9.8|1", "30|1.1|sv|Johan|COMPLETEAGENT|3|10|1")
    ledger.admit([CallAnswered("sv", "1.1", "Johan", 3.0)], "ami", 2.0)
    _, changes = recover(SwitchboardState(), again, ledger, 3.0)
    assert not_logged(changes) == []
    # An answer from before vaxeld started: nothing to judge the transfer against.
    ledger = Ledger(transfers=RULES)
    ledger.admit([ATTENDED], "ami", 0.0)
    _, changes = recover(SwitchboardState(), log("9|1.1|sv|Åsa|COMPLETEAGENT|3|4|1"), ledger, 1.0)
    assert not_logged(changes) == []


def test_a_callers_first_answer_is_counted_once_for_the_centre() -> None:
    ledger = Ledger()
    out = ledger.admit(
        [CallAnswered("sv", "1.1", "Åsa", 3.0), CallAnswered("vaxel", "1.1", "Johan", 3.0)],
        "ami", 0.0,
    )  # fmt: skip
    assert [c.first_answer for c in out if isinstance(c, CallAnswered)] == [True, False]
