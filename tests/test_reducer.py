"""vaxeld.state.reducer: each caller followed from entry to answer, abandon or timeout."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxeld.ami.codec import Message
from vaxeld.state import SwitchboardState, apply, resync
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallClosed,
    CallEntered,
    CallExited,
    CallNotFollowed,
    CallOffered,
    CallOutcomeUnknown,
    CallOverflowed,
    Change,
    CrisisAnnounced,
    EventIgnored,
    LanguageChosen,
    MenuAttempt,
    Resynced,
)
from vaxeld.state.model import JOURNAL_STEPS, TRANSITIONS, Phase, Trigger, changed_since


def ev(event: str, **headers: str) -> Message:
    return Message((("Event", event), *headers.items()))


def user(kind: str, uid: str, **headers: str) -> Message:
    return Message(
        (("Event", "UserEvent"), ("UserEvent", kind), ("Uniqueid", uid), *headers.items())
    )


def run(
    events: list[Message], state: SwitchboardState | None = None, now: float = 100.0
) -> tuple[SwitchboardState, list[Change]]:
    state = state or SwitchboardState()
    changes = []
    for i, msg in enumerate(events):
        state, ch = apply(state, msg, now + i)
        changes += ch
    return state, changes


def test_answered_call_from_entry_to_member() -> None:
    state, changes = run(
        [
            user("VaxeldEntry", "1.1", Entry="0313650000"),
            user("VaxeldLanguage", "1.1", Language="sv", Digit="1", Reason="chosen"),
            ev("QueueCallerJoin", Queue="sv", Uniqueid="1.1", Linkedid="1.1", Position="1"),
            ev(
                "AgentConnect",
                Queue="sv",
                Uniqueid="1.1",
                MemberName="Åsa",
                HoldTime="7",
                Interface="PJSIP/1001",
            ),
            ev("QueueCallerLeave", Queue="sv", Uniqueid="1.1"),
        ]
    )
    assert changes == [
        CallEntered("1.1", "0313650000"),
        LanguageChosen("1.1", "sv", "1", "chosen"),
        CallOffered("sv", "1.1", 1, "0313650000", first=True),
        CallAnswered("sv", "1.1", "Åsa", 7.0, "0313650000", direct=True),
    ]
    call = state.calls["1.1"]
    assert (call.entry, call.language, call.answered_by, call.waiting) == (
        "0313650000",
        "sv",
        "Åsa",
        False,
    )
    state, changes = apply(state, user("VaxeldHangup", "1.1"), 200.0)
    assert changes == [] and not state.calls


def test_abandon_is_decided_by_the_hangup() -> None:
    state, changes = run(
        [
            ev("QueueCallerJoin", Queue="en", Uniqueid="2.1", Position="2"),
            ev("QueueCallerAbandon", Queue="en", Uniqueid="2.1", HoldTime="12", Position="1"),
            ev("QueueCallerLeave", Queue="en", Uniqueid="2.1"),
            user("VaxeldHangup", "2.1"),
        ]
    )
    assert changes == [CallOffered("en", "2.1", 2), CallAbandoned("en", "2.1", 12.0)]
    assert not state.calls


def test_timeout_is_not_counted_as_abandon() -> None:
    """Asterisk sends QueueCallerAbandon on timeout too; QUEUESTATUS tells them apart."""
    _, changes = run(
        [
            ev("QueueCallerJoin", Queue="fi", Uniqueid="3.1", Position="1"),
            ev("QueueCallerAbandon", Queue="fi", Uniqueid="3.1", HoldTime="30"),
            ev("QueueCallerLeave", Queue="fi", Uniqueid="3.1"),
            user("VaxeldQueueResult", "3.1", Queue="fi", Status="TIMEOUT"),
            user("VaxeldHangup", "3.1"),
        ]
    )
    assert changes == [CallOffered("fi", "3.1", 1), CallExited("fi", "3.1", "timeout", 30.0)]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("TIMEOUT", CallExited("fi", "3.2", "timeout", 8.0)),
        ("LEAVEUNAVAIL", CallExited("fi", "3.2", "leaveempty", 8.0)),
        ("", CallAbandoned("fi", "3.2", 8.0)),
    ],
)
def test_a_timeout_with_no_queue_result_is_told_by_the_hangup(
    status: str, expected: Change
) -> None:
    """Queue() timed out and the caller was hung up (Asterisk restarting, say) before the
    dialplan's next priority: no VaxeldQueueResult, but the hang-up carries QUEUESTATUS,
    which the dialplan clears before each Queue()."""
    _, changes = run(
        [
            ev("QueueCallerJoin", Queue="fi", Uniqueid="3.2", Position="1"),
            ev("QueueCallerAbandon", Queue="fi", Uniqueid="3.2", HoldTime="8"),
            ev("QueueCallerLeave", Queue="fi", Uniqueid="3.2"),
            user("VaxeldHangup", "3.2", Queue="fi", Status=status),
        ]
    )
    assert changes == [CallOffered("fi", "3.2", 1), expected]


def test_answered_call_is_counted_once_even_if_connect_repeats() -> None:
    _, changes = run(
        [
            ev("QueueCallerJoin", Queue="sv", Uniqueid="4.1"),
            ev("AgentConnect", Queue="sv", Uniqueid="4.1", MemberName="A", HoldTime="1"),
            ev("AgentConnect", Queue="sv", Uniqueid="4.1", MemberName="A", HoldTime="1"),
            user("VaxeldHangup", "4.1"),
        ]
    )
    assert sum(isinstance(c, CallAnswered) for c in changes) == 1


def test_waiting_callers_and_members_are_tracked() -> None:
    state, _ = run(
        [
            ev("QueueCallerJoin", Queue="sv", Uniqueid="5.1", Position="1"),
            ev("QueueCallerJoin", Queue="sv", Uniqueid="5.2", Position="2"),
            ev(
                "QueueMemberAdded",
                Queue="sv",
                Interface="PJSIP/1",
                MemberName="A",
                Status="1",
                Paused="0",
            ),
            ev("QueueMemberPause", Queue="sv", Interface="PJSIP/1", Paused="1"),
            ev("QueueMemberAdded", Queue="sv", Interface="PJSIP/2", MemberName="B", Status="1"),
        ],
        now=100.0,
    )
    assert [c.uniqueid for c in state.waiting_in("sv")] == ["5.1", "5.2"]
    assert state.waiting_in("sv")[0].joined_at == 100.0
    members = {m.name: m for m in state.members_of("sv")}
    assert members["A"].paused and not members["A"].available
    assert members["B"].available
    state, _ = apply(state, ev("QueueMemberRemoved", Queue="sv", Interface="PJSIP/2"), 200.0)
    assert [m.name for m in state.members_of("sv")] == ["A"]


def test_events_with_missing_fields_are_ignored_and_reported() -> None:
    state0 = SwitchboardState()
    state, changes = apply(state0, ev("QueueCallerJoin", Queue="sv"), 1.0)
    assert state is state0
    assert changes == [EventIgnored("QueueCallerJoin", "missing Uniqueid")]
    _, changes = apply(state0, ev("QueueCallerJoin", Uniqueid="1"), 1.0)
    assert changes == [EventIgnored("QueueCallerJoin", "missing Queue")]


def test_unknown_events_leave_state_untouched() -> None:
    state0 = SwitchboardState()
    assert apply(state0, ev("Newexten", Uniqueid="1"), 1.0) == (state0, [])
    assert apply(state0, user("SomethingElse", "1"), 1.0) == (state0, [])


def test_input_state_is_never_mutated() -> None:
    state0, _ = run([ev("QueueCallerJoin", Queue="sv", Uniqueid="6.1")])
    before = dict(state0.calls)
    apply(state0, ev("QueueCallerJoin", Queue="sv", Uniqueid="6.2"), 5.0)
    assert dict(state0.calls) == before


def test_resync_rebuilds_waiting_and_members_from_queue_status() -> None:
    status = [
        ev("QueueParams", Queue="sv", Calls="1"),
        ev(
            "QueueMember",
            Queue="sv",
            Name="Åsa",
            Location="PJSIP/1001",
            Status="1",
            Paused="0",
            InCall="0",
        ),
        ev("QueueEntry", Queue="sv", Position="1", Uniqueid="7.1", Wait="42"),
    ]
    state, changes = resync(SwitchboardState(), status, now=1000.0)
    assert changes == [Resynced(waiting=1, members=1)]
    (call,) = state.waiting_in("sv")
    assert call.uniqueid == "7.1" and call.joined_at == 958.0
    assert state.members_of("sv")[0].name == "Åsa" and state.synced


def test_resync_reports_callers_that_vanished_while_disconnected() -> None:
    state, _ = run(
        [
            ev("QueueCallerJoin", Queue="sv", Uniqueid="8.1"),
            ev("QueueCallerJoin", Queue="en", Uniqueid="8.2"),
        ]
    )
    status = [ev("QueueEntry", Queue="sv", Position="1", Uniqueid="8.1", Wait="3")]
    state, changes = resync(state, status, now=500.0)
    assert CallOutcomeUnknown("en", "8.2") in changes
    assert set(state.calls) == {"8.1"}


def test_resync_keeps_callers_whose_events_arrived_during_it() -> None:
    state, _ = run([ev("QueueCallerJoin", Queue="en", Uniqueid="9.1")])
    state, changes = resync(state, [], now=500.0, keep={"9.1"})
    assert not any(isinstance(c, CallOutcomeUnknown) for c in changes)
    assert "9.1" in state.calls


def test_overflow_counts_the_caller_once_and_not_as_answered_directly() -> None:
    _, changes = run(
        [
            user("VaxeldEntry", "10.1", Entry="0313651000"),
            ev("QueueCallerJoin", Queue="sv", Uniqueid="10.1", Position="1"),
            ev("QueueCallerAbandon", Queue="sv", Uniqueid="10.1", HoldTime="5"),
            ev("QueueCallerLeave", Queue="sv", Uniqueid="10.1"),
            user("VaxeldQueueResult", "10.1", Queue="sv", Status="TIMEOUT"),
            user("VaxeldOverflow", "10.1", To="vaxel", Status="TIMEOUT", **{"From": "sv"}),
            ev("QueueCallerJoin", Queue="vaxel", Uniqueid="10.1", Position="1"),
            ev("AgentConnect", Queue="vaxel", Uniqueid="10.1", MemberName="Lars", HoldTime="2"),
        ]
    )
    offered = [c for c in changes if isinstance(c, CallOffered)]
    assert [(c.queue, c.first, c.entry) for c in offered] == [
        ("sv", True, "0313651000"),
        ("vaxel", False, "0313651000"),
    ]
    assert CallExited("sv", "10.1", "timeout", 5.0, "0313651000") in changes
    assert CallOverflowed("10.1", "0313651000", "sv", "vaxel", "timeout") in changes
    (answered,) = [c for c in changes if isinstance(c, CallAnswered)]
    assert answered.queue == "vaxel" and not answered.direct


def test_closed_crisis_and_menu_attempts_are_reported() -> None:
    _, changes = run(
        [
            user("VaxeldEntry", "11.1", Entry="0313650000"),
            user("VaxeldCrisis", "11.1", Mode="announce", Message="storm"),
            user("VaxeldMenu", "11.1", Result="timeout"),
            user("VaxeldMenu", "11.1", Result="invalid", Digit="9"),
            user("VaxeldClosed", "11.1", Reason="holiday", Queue=""),
        ]
    )
    assert changes[1:] == [
        CrisisAnnounced("11.1", "0313650000", "announce", "storm"),
        MenuAttempt("11.1", "timeout"),
        MenuAttempt("11.1", "invalid", "9"),
        CallClosed("11.1", "0313650000", "", "holiday"),
    ]


def test_hang_up_in_the_menu_is_a_menu_abandon_but_not_after_routing() -> None:
    _, changes = run(
        [
            user("VaxeldEntry", "12.1", Entry="0313650000"),
            user("VaxeldMenu", "12.1", Result="timeout"),
            user("VaxeldHangup", "12.1"),
            user("VaxeldEntry", "12.2", Entry="0313650000"),
            user("VaxeldClosed", "12.2", Reason="hours", Queue=""),
            user("VaxeldHangup", "12.2"),
            user("VaxeldEntry", "12.3", Entry="0313650000"),
            user("VaxeldCrisis", "12.3", Mode="announce_only", Message="storm"),
            user("VaxeldHangup", "12.3"),
        ]
    )
    from vaxeld.state.changes import MenuAbandoned

    assert [c for c in changes if isinstance(c, MenuAbandoned)] == [
        MenuAbandoned("12.1", "0313650000")
    ]


def test_agent_complete_and_ring_no_answer_are_reported_in_seconds() -> None:
    from vaxeld.state.changes import CallCompleted, RingNoAnswer

    _, changes = run(
        [
            ev(
                "AgentRingNoAnswer",
                Queue="sv",
                Uniqueid="13.1",
                MemberName="Johan",
                RingTime="15000",
            ),
            ev(
                "AgentComplete",
                Queue="sv",
                Uniqueid="13.1",
                MemberName="Åsa",
                TalkTime="95",
                HoldTime="3",
                Reason="caller",
            ),
        ]
    )
    assert changes == [
        RingNoAnswer("sv", "Johan", 15.0),
        CallCompleted("sv", "13.1", "Åsa", 95.0, "caller"),
    ]


def phases(events: list[Message], uid: str = "1.1") -> list[str]:
    """The caller's phase after each event ("gone" once it left the state)."""
    state, out = SwitchboardState(), []
    for i, msg in enumerate(events):
        state, _ = apply(state, msg, 100.0 + i)
        call = state.calls.get(uid)
        out.append(call.phase.value if call else "gone")
    return out


ENTRY = user("VaxeldEntry", "1.1", Entry="0313650000")
LANGUAGE = user("VaxeldLanguage", "1.1", Language="sv", Digit="1", Reason="chosen")
JOIN = ev("QueueCallerJoin", Queue="sv", Uniqueid="1.1", Position="1")
CONNECT = ev("AgentConnect", Queue="sv", Uniqueid="1.1", MemberName="Åsa", HoldTime="7")
ABANDON = ev("QueueCallerAbandon", Queue="sv", Uniqueid="1.1", HoldTime="30")
LEAVE = ev("QueueCallerLeave", Queue="sv", Uniqueid="1.1")
TIMEOUT = user("VaxeldQueueResult", "1.1", Queue="sv", Status="TIMEOUT")
LEAVEEMPTY = user("VaxeldQueueResult", "1.1", Queue="sv", Status="LEAVEEMPTY")
HANGUP = user("VaxeldHangup", "1.1")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (
            [ENTRY, LANGUAGE, JOIN, CONNECT, LEAVE, HANGUP],
            ["menu", "routed", "waiting", "answered", "answered", "gone"],
        ),
        (
            [ENTRY, LANGUAGE, JOIN, ABANDON, LEAVE, HANGUP],
            ["menu", "routed", "waiting", "leaving", "leaving", "gone"],
        ),
        (
            [ENTRY, LANGUAGE, JOIN, ABANDON, LEAVE, TIMEOUT, JOIN, CONNECT],
            ["menu", "routed", "waiting", "leaving", "leaving", "routed", "waiting", "answered"],
        ),
        # Left the queue without an answer or an abandon (leavewhenempty): Queue() says why.
        ([ENTRY, LANGUAGE, JOIN, LEAVE], ["menu", "routed", "waiting", "left"]),
        ([ENTRY, JOIN, LEAVE, LEAVEEMPTY], ["menu", "waiting", "left", "routed"]),
        # An abandon after the answer does not apply: the answered caller stays answered.
        (
            [ENTRY, JOIN, CONNECT, ABANDON, HANGUP],
            ["menu", "waiting", "answered", "answered", "gone"],
        ),
        ([ENTRY, HANGUP], ["menu", "gone"]),
    ],
)
def test_a_caller_moves_through_the_phases_of_the_transition_table(
    events: list[Message], expected: list[str]
) -> None:
    assert phases(events) == expected


def test_every_phase_is_reachable_and_every_live_phase_can_end() -> None:
    reachable, todo = {Phase.MENU}, [Phase.MENU]
    while todo:
        for nxt in TRANSITIONS[todo.pop()].values():
            if nxt not in reachable:
                reachable.add(nxt)
                todo.append(nxt)
    assert reachable == set(Phase)
    for phase in Phase:
        if phase is not Phase.ENDED:
            assert TRANSITIONS[phase][Trigger.HANGUP] is Phase.ENDED
    assert TRANSITIONS[Phase.ENDED] == {}


_EVENTS = [ENTRY, LANGUAGE, JOIN, CONNECT, ABANDON, LEAVE, TIMEOUT, HANGUP]
_TRIGGERS = {
    id(JOIN): Trigger.JOIN,
    id(CONNECT): Trigger.CONNECT,
    id(ABANDON): Trigger.ABANDON,
    id(LEAVE): Trigger.LEAVE,
    id(LANGUAGE): Trigger.ROUTE,
    id(TIMEOUT): Trigger.QUEUE_RESULT,
    id(HANGUP): Trigger.HANGUP,
}


@settings(max_examples=400)
@given(st.lists(st.sampled_from(_EVENTS), max_size=12))
def test_every_move_the_reducer_makes_is_in_the_table_and_outcomes_follow_the_moves(
    events: list[Message],
) -> None:
    """In any order of events, a caller's phase changes only along TRANSITIONS, and each
    outcome counted is the one its move stands for: answered on entering ANSWERED,
    abandoned on hanging up from LEAVING, exited on Queue() returning from LEAVING or LEFT."""
    state = SwitchboardState()
    for i, msg in enumerate(events):
        before = state.calls.get("1.1")
        state, changes = apply(state, msg, 100.0 + i)
        after = state.calls.get("1.1")
        if before is None and after is None:  # leave, result or hang-up of nobody known
            assert changes == []
            continue
        old = before.phase if before else Phase.MENU  # a caller first heard of starts here
        new = after.phase if after else Phase.ENDED
        trigger = _TRIGGERS.get(id(msg))
        if trigger is None or trigger not in TRANSITIONS[old]:
            assert new is old
        else:
            assert new is TRANSITIONS[old][trigger]
        kinds = {type(c) for c in changes}
        assert (CallAnswered in kinds) == (trigger is Trigger.CONNECT and old is not Phase.ANSWERED)
        assert (CallAbandoned in kinds) == (trigger is Trigger.HANGUP and old is Phase.LEAVING)
        left = old in (Phase.LEAVING, Phase.LEFT)
        assert (CallExited in kinds) == (trigger is Trigger.QUEUE_RESULT and left)


def test_a_flood_of_callers_who_never_leave_stops_at_the_live_call_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unique Uniqueids with no leave grew the state without end (and every event copied
    the whole dict). Beyond the cap a new caller is not followed, and that is counted;
    callers already followed go on as before."""
    monkeypatch.setattr("vaxeld.state.reducer.MAX_LIVE_CALLS", 50)
    events = [ev("QueueCallerJoin", Queue="sv", Uniqueid=f"f.{n}", Position="1") for n in range(60)]
    state, changes = run(events)
    assert len(state.calls) == 50
    assert sum(isinstance(c, CallNotFollowed) for c in changes) == 10
    state, changes = run([ev("AgentConnect", Queue="sv", Uniqueid="f.3", HoldTime="2")], state)
    assert [type(c) for c in changes] == [CallAnswered]
    state, changes = run(
        [user("VaxeldHangup", "f.3"), user("VaxeldEntry", "g.1", Entry="1")], state
    )
    assert len(state.calls) == 50 and not any(isinstance(c, CallNotFollowed) for c in changes)


def test_leaving_an_empty_queue_is_an_exit_counted_from_ami_too() -> None:
    """leavewhenempty: Asterisk sends QueueCallerLeave with no abandon, queue_log says
    EXITEMPTY; AMI used to count nothing until queue_log was read (or ever, without)."""
    _, changes = run([ENTRY, JOIN, LEAVE, LEAVEEMPTY])
    (exited,) = [c for c in changes if isinstance(c, CallExited)]
    assert (exited.queue, exited.reason, exited.wait_seconds) == ("sv", "leaveempty", 2.0)


def test_each_step_is_journaled_until_the_journal_is_cut_or_the_state_rebuilt() -> None:
    join = ev("QueueCallerJoin", Queue="sv", Uniqueid="1.1", Position="1")
    member = ev("QueueMemberStatus", Queue="sv", Interface="PJSIP/a", MemberName="Åsa")
    start = SwitchboardState()
    state, _ = apply(start, join, 1.0)
    state, _ = apply(state, member, 2.0)
    assert changed_since(start, state) == ({"1.1"}, {("sv", "PJSIP/a")})
    assert changed_since(state, state) == (set(), set())
    assert changed_since(state, start) is None  # not an earlier snapshot
    later = state
    for i in range(JOURNAL_STEPS + 1):
        later, _ = apply(later, ev("QueueCallerJoin", Queue="sv", Uniqueid=f"2.{i}"), 3.0)
    assert changed_since(state, later) is None  # cut: the reader compares in full
    rebuilt, _ = resync(state, [], 4.0)
    assert changed_since(state, rebuilt) is None
