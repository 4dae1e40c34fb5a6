"""vaxeld.metrics: changes become exact counters; gauges come from the snapshot."""

from __future__ import annotations

import time
from pathlib import Path

import immutables
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from lab.vaxeld_process import Samples, parse_metrics, total
from vaxeld import __version__, contract
from vaxeld.ami.codec import Message
from vaxeld.config import Config, load_config
from vaxeld.metrics import Metrics, wait_buckets
from vaxeld.metrics.labels import (
    CLOSED_REASONS,
    CRISIS_MODES,
    EXIT_REASONS,
    LANGUAGE_REASONS,
    MENU_RESULTS,
    OTHER,
    LabelRules,
)
from vaxeld.state.changes import (
    CallAbandoned,
    CallAnswered,
    CallExited,
    CallOffered,
    Change,
    LanguageChosen,
)
from vaxeld.state.core import PbxCore
from vaxeld.state.model import Call, Member, Phase, SwitchboardState
from vaxeld.state.reducer import HANDLED_EVENTS
from vaxeld.state.today import OUTCOMES
from vaxeld.state.view import AGENT_STATES, LinkHealth, PbxView

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"


def make(state: SwitchboardState, link: LinkHealth | None = None, now: float = 1000.0) -> Metrics:
    config = load_config(EXAMPLE)
    return Metrics(
        config, lambda: [PbxView("main", state, link or LinkHealth())], clock=lambda: now
    )


def scrape(metrics: Metrics) -> Samples:
    return parse_metrics(generate_latest(metrics.registry).decode())


def test_every_queue_has_zero_series_before_any_call() -> None:
    s = scrape(make(SwitchboardState()))
    for queue, lang in [("sv", "sv"), ("ar", "ar"), ("fi", "fi")]:
        key = (
            "vaxeld_queue_calls_offered_total",
            (("entry", "0313651000"), ("language", lang), ("pbx", "main"), ("queue", queue)),
        )
        assert s[key] == 0.0


def test_changes_are_counted_once_with_queue_and_language_labels() -> None:
    m = make(SwitchboardState())
    m.record(
        "main",
        [
            CallOffered("sv", "1", 1),
            CallOffered("ar", "2", 1),
            CallAnswered("sv", "1", "Åsa", 20.0),
            CallAbandoned("ar", "2", 31.0),
            LanguageChosen("1", "sv", "1", "chosen"),
        ],
    )
    s = scrape(m)
    assert total(s, "vaxeld_queue_calls_offered_total") == 2
    assert total(s, "vaxeld_queue_calls_answered_total", queue="sv", language="sv") == 1
    assert total(s, "vaxeld_queue_calls_abandoned_total", queue="ar", language="ar") == 1
    assert total(s, "vaxeld_menu_language_selections_total", reason="chosen") == 1


def test_wait_histogram_has_a_bucket_exactly_at_each_service_level() -> None:
    config = load_config(EXAMPLE)
    assert {20.0, 30.0} <= set(wait_buckets(config))
    m = make(SwitchboardState())
    m.record("main", [CallAnswered("sv", "1", "A", 20.0), CallAnswered("sv", "2", "A", 21.0)])
    s = scrape(m)
    assert total(s, "vaxeld_queue_answer_wait_seconds_bucket", queue="sv", le="20.0") == 1
    assert total(s, "vaxeld_queue_answer_wait_seconds_bucket", queue="sv", le="30.0") == 2


def test_gauges_read_waiting_callers_and_members_from_the_snapshot() -> None:
    state = SwitchboardState(
        calls=immutables.Map(
            {
                "1": Call("1", queue="sv", phase=Phase.WAITING, joined_at=950.0),
                "2": Call("2", queue="sv", phase=Phase.WAITING, joined_at=990.0),
                "3": Call("3", queue="sv", phase=Phase.ANSWERED, answered_by="A"),
            }
        ),
        members=immutables.Map(
            {
                ("sv", "PJSIP/1"): Member("sv", "PJSIP/1", "A", status=1),
                ("sv", "PJSIP/2"): Member("sv", "PJSIP/2", "B", status=1, paused=True),
                ("sv", "PJSIP/3"): Member("sv", "PJSIP/3", "C", status=2, in_call=True),
            }
        ),
        synced=True,
    )
    stats = LinkHealth(connected=True, events=30, reads=12, bytes_received=9000)
    s = scrape(make(state, stats, now=1000.0))
    assert total(s, "vaxeld_ami_events_total") == 30
    assert total(s, "vaxeld_ami_reads_total") == 12
    assert total(s, "vaxeld_ami_received_bytes_total") == 9000
    assert total(s, "vaxeld_queue_calls_waiting", queue="sv") == 2
    assert total(s, "vaxeld_queue_longest_wait_seconds", queue="sv") == 50.0
    assert total(s, "vaxeld_queue_members_logged_in", queue="sv") == 3
    assert total(s, "vaxeld_queue_members_available", queue="sv") == 1
    assert total(s, "vaxeld_queue_members_paused", queue="sv") == 1
    assert total(s, "vaxeld_ami_connected", pbx="main") == 1
    assert total(s, "vaxeld_state_synced", pbx="main") == 1
    assert total(s, "vaxeld_build_info") == 1


def test_disconnected_pbx_is_not_reported_synced() -> None:
    s = scrape(make(SwitchboardState(synced=True), LinkHealth(connected=False)))
    assert total(s, "vaxeld_ami_connected") == 0
    assert total(s, "vaxeld_state_synced") == 0


def test_overflow_closed_contact_centre_offered_and_unlogged_transfers_are_counted() -> None:
    from vaxeld.state.changes import CallClosed, CallOverflowed, TransferNotLogged

    m = make(SwitchboardState())
    m.record(
        "main",
        [
            CallOffered("sv", "1", 1, "0313651000", first=True),
            CallOverflowed("1", "0313651000", "sv", "vaxel", "timeout"),
            CallOffered("vaxel", "1", 1, "0313651000", first=False),
            CallAnswered("vaxel", "1", "Lars", 3.0, "0313651000", direct=False),
            CallClosed("2", "0313650000", "", "holiday"),
            CallClosed("3", "0999", "ar", "hours"),
            TransferNotLogged("sv", "1", "0313651000"),
        ],
    )
    s = scrape(m)
    assert total(s, "vaxeld_calls_offered_total", entry="0313651000") == 1
    assert total(s, "vaxeld_queue_calls_offered_total", entry="0313651000") == 2
    assert total(s, "vaxeld_queue_transfers_not_logged_total", queue="sv", pbx="main") == 1
    assert total(s, "vaxeld_queue_overflow_out_total", queue="sv", to_queue="vaxel") == 1
    assert total(s, "vaxeld_queue_overflow_in_total", queue="vaxel", from_queue="sv") == 1
    assert total(s, "vaxeld_queue_calls_answered_total", queue="vaxel") == 1
    assert total(s, "vaxeld_queue_calls_answered_directly_total") == 0
    assert total(s, "vaxeld_calls_closed_total", at="entry", reason="holiday") == 1
    assert total(s, "vaxeld_calls_closed_total", at="ar", reason="hours", entry="other") == 1
    assert total(s, "vaxeld_queue_transfers_not_logged_total", queue="vaxel") == 0  # at zero
    assert (
        total(s, "vaxeld_entry_info", entry="0313651000", label="Stadsbyggnadskontoret växel") == 1
    )


def test_service_level_short_abandons_and_agents() -> None:
    from vaxeld.state.changes import (
        CallCompleted,
        CallExited,
        MenuAbandoned,
        RingNoAnswer,
    )

    m = make(SwitchboardState())
    e = "0313650000"
    m.record(
        "main",
        [
            CallAnswered("sv", "1", "Åsa Lindqvist", 20.0, e),  # within 20 s (<=)
            CallAnswered("sv", "2", "Johan Berg", 21.0, e),
            CallAbandoned("sv", "3", 2.0, e),  # short
            CallAbandoned("sv", "4", 40.0, e),
            CallExited("sv", "5", "timeout", 900.0, e),
            CallCompleted("sv", "1", "Åsa Lindqvist", 95.0, "caller"),
            RingNoAnswer("sv", "Johan Berg", 15.0),
            RingNoAnswer("sv", "Nobody Known", 15.0),
            MenuAbandoned("6", e),
        ],
    )
    s = scrape(m)
    assert total(s, "vaxeld_queue_service_level_met_total", queue="sv") == 1
    # formula "offered": answered + abandoned + timed out = 5
    assert total(s, "vaxeld_queue_service_level_calls_total", queue="sv") == 5
    assert total(s, "vaxeld_queue_calls_abandoned_short_total", queue="sv") == 1
    assert total(s, "vaxeld_queue_calls_abandoned_total", queue="sv") == 2
    assert total(s, "vaxeld_menu_abandoned_total", entry=e) == 1
    assert (
        total(
            s,
            "vaxeld_agent_calls_answered_total",
            agent="Åsa Lindqvist",
            site="stadshuset",
            group="kontaktcenter-sv",
        )
        == 1
    )
    assert total(s, "vaxeld_agent_talk_seconds_sum", agent="Åsa Lindqvist") == 95.0
    assert total(s, "vaxeld_agent_ring_no_answer_total", agent="Johan Berg") == 1
    assert total(s, "vaxeld_agent_ring_no_answer_total", agent="other") == 1
    assert total(s, "vaxeld_queue_service_level_target_seconds", queue="ar") == 30


def test_service_level_formula_without_short_abandons_and_timeouts(tmp_path: Path) -> None:
    config_path = tmp_path / "c.yaml"
    config_path.write_text(
        EXAMPLE.read_text().replace(
            "  port: 9468\n", "  port: 9468\n  service_level_formula: answered_and_long_abandoned\n"
        )
    )
    config = load_config(config_path)
    m = Metrics(config, lambda: [], clock=lambda: 0.0)
    from vaxeld.state.changes import CallExited

    m.record(
        "main",
        [
            CallAnswered("sv", "1", "A", 3.0),
            CallAbandoned("sv", "2", 1.0),
            CallAbandoned("sv", "3", 30.0),
            CallExited("sv", "4", "timeout", 900.0),
        ],
    )
    assert total(scrape(m), "vaxeld_queue_service_level_calls_total", queue="sv") == 2


def test_agent_state_is_one_hot_per_configured_agent() -> None:
    state = SwitchboardState(
        members=immutables.Map(
            {
                ("sv", "PJSIP/agent1001"): Member(
                    "sv", "PJSIP/agent1001", "Åsa Lindqvist", status=1, paused=True
                ),
                ("sv", "PJSIP/agent1002"): Member("sv", "PJSIP/agent1002", "Johan Berg", status=2),
                ("sv", "PJSIP/agent1003"): Member("sv", "PJSIP/agent1003", "Maria Öberg", status=5),
                ("en", "PJSIP/agent1004"): Member("en", "PJSIP/agent1004", "Sara Khan", status=1),
            }
        )
    )
    s = scrape(make(state))
    states = {
        a: next(
            lab
            for (n, labels), v in s.items()
            if n == "vaxeld_agent_state" and v == 1 and ("agent", a) in labels
            for lab in [dict(labels)["state"]]
        )
        for a in ("Åsa Lindqvist", "Johan Berg", "Maria Öberg", "Sara Khan", "Lars Holm")
    }
    assert states == {
        "Åsa Lindqvist": "paused",
        "Johan Berg": "busy",
        "Maria Öberg": "unavailable",
        "Sara Khan": "available",
        "Lars Holm": "logged_out",
    }
    assert total(s, "vaxeld_agent_state", agent="Hodan Abdi", site="angered") == 1


def _outcomes() -> list[Change]:
    return [
        CallAnswered("sv", "1", "A", 20.0),  # within sv's 20 s
        CallAnswered("sv", "2", "A", 21.0),
        CallAbandoned("sv", "3", 2.0),  # short
        CallAbandoned("sv", "4", 40.0),
        CallExited("sv", "5", "timeout", 900.0),
        CallAnswered("ar", "6", "B", 5.0),
    ]


def test_today_seeded_from_the_day_so_far_equals_counting_it_live(tmp_path: Path) -> None:
    """A vaxeld started during the day takes the day so far (from queue_log) and shows
    the same "today" figures as one that counted it live, under either formula; a second
    seed for the same PBX (a reload) replaces the first instead of adding to it."""
    other = tmp_path / "c.yaml"
    other.write_text(
        EXAMPLE.read_text().replace(
            "  port: 9468\n", "  port: 9468\n  service_level_formula: answered_and_long_abandoned\n"
        )
    )
    for config in (load_config(EXAMPLE), load_config(other)):
        live, seeded = (Metrics(config, lambda: [], clock=lambda: 0.0) for _ in range(2))
        live.record("main", _outcomes())
        seeded.seed_today("main", _outcomes(), since=time.time() - 60)
        assert seeded.service_level_today() == live.service_level_today()
        assert seeded.today_figures() == live.today_figures()
        assert live.service_level_today()[("main", "ar")] == 1.0
    # "offered": 1 met of 5 in sv; without short abandons and timeouts: 1 of 3.
    assert live.service_level_today()[("main", "sv")] == 1 / 3
    assert total(scrape(seeded), "vaxeld_queue_service_level_calls_total") == 0  # not counters
    seeded.seed_today("main", [CallAnswered("sv", "9", "A", 1.0)], since=0.0)
    assert seeded.service_level_today() == {("main", "sv"): 1.0}


_hostile_text = st.one_of(
    st.sampled_from(
        [
            *("sv", "ar", "vaxel", "chosen", "announce", "timeout", "1", "0313650000"),
            *("1.1", "Success", "7100", "6150", "0313652500", "1006"),
        ]
    ),
    st.text(max_size=12),
)
_EVENT_NAMES = sorted(HANDLED_EVENTS)
_USER_EVENTS = sorted(contract.USER_EVENTS)
_HEADERS = [
    "Queue", "MemberName", "Interface", "Language", "Reason", "Mode", "Result", "Digit",
    "Status", "From", "To", "Entry", "Message", "HoldTime", "TalkTime", "RingTime", "Paused",
    "TransfereeUniqueid", "Extension", "Caller", "Target", "CallerIDNum",
]  # fmt: skip


@st.composite
def hostile_events(draw: st.DrawFn) -> Message:
    event = draw(st.sampled_from([*_EVENT_NAMES, "UserEvent", "UserEvent"]))
    headers = [("Event", event), ("Uniqueid", draw(st.sampled_from(["1.1", "1.2", "2.1"])))]
    if event == "UserEvent":
        headers.append(("UserEvent", draw(st.sampled_from(_USER_EVENTS))))
    for name in draw(st.lists(st.sampled_from(_HEADERS), max_size=8, unique=True)):
        headers.append((name, draw(_hostile_text)))
    return Message(tuple(headers))


def allowed_label_values(config: Config) -> dict[str, set[str]]:
    rules = LabelRules.from_config(config)
    groups = {group for _, group in rules.agents.values()}
    sites = {site for site, _ in rules.agents.values()} | set(rules.sites.values())
    return {
        "pbx": {"main"},
        "queue": {*config.queues, OTHER},
        "to_queue": {*config.queues, OTHER},
        "from_queue": {*config.queues, OTHER},
        "language": {*config.languages, OTHER},
        "entry": {*rules.entries, OTHER, "unknown"},
        "label": set(rules.entries.values()),
        "agent": {*rules.agents, OTHER},
        "site": {*sites, OTHER, "unknown"},
        "group": {*groups, OTHER},
        "digit": {*"0123456789*#ABCD", OTHER},
        "reason": {*LANGUAGE_REASONS, *EXIT_REASONS, *CLOSED_REASONS, OTHER},
        "mode": {*CRISIS_MODES, OTHER},
        "result": {*MENU_RESULTS, OTHER, "success", "failure"},
        "at": {"entry", *config.queues, OTHER},
        "state": set(AGENT_STATES),
        "event": {*HANDLED_EVENTS, OTHER},
        "version": {__version__},
        "department": {*config.transfers.departments, OTHER, "centre", "unknown"},
        "kind": {"inside", "out", "unknown", "repeat", "callback"},
        "model": {"erlang_c", "erlang_a"},
        "outcome": set(OUTCOMES),
        "formula": {"offered", "answered_and_long_abandoned"},
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(hostile_events(), max_size=40))
def test_no_ami_input_can_add_a_series(events: list[Message]) -> None:
    """The README promises values outside the config become "other": for every label of
    every series, whatever the headers of the events say. (10,000 unknown queue names
    from AMI once made 60,800 lines of /metrics.)"""
    config = load_config(EXAMPLE)
    core = PbxCore("main")
    metrics = Metrics(config, lambda: [core.view(LinkHealth(connected=True))], clock=lambda: 1e3)
    for i, msg in enumerate(events):
        changes = core.on_event(msg, float(i))
        if changes:
            metrics.record("main", changes)
    allowed = allowed_label_values(config)
    for (name, labels), _ in scrape(metrics).items():
        for label, value in labels:
            if label == "le":
                continue
            assert value in allowed[label], (name, label, value)
