"""vaxeld.report.presence: agents' logged-in and paused time from member lines."""

from hypothesis import given
from hypothesis import strategies as st

from vaxeld.report.presence import MemberLine, Presence, presence

LARS = "Local/1006@vaxeld-lab-agents/n"
NAMES = {LARS: "Lars Holm", "Local/1001@vaxeld-lab-agents/n": "Åsa Lindqvist"}


def lines(*items: tuple[int, str, str, str]) -> list[MemberLine]:
    return [MemberLine(t, "main", queue, agent, event) for t, queue, agent, event in items]


def test_a_dynamic_member_logged_in_and_out_in_two_queues_counts_once() -> None:
    log = lines(
        (100, "vaxel", LARS, "ADDMEMBER"),
        (150, "sv", LARS, "ADDMEMBER"),
        (300, "vaxel", LARS, "REMOVEMEMBER"),
        (400, "sv", LARS, "REMOVEMEMBER"),
    )
    assert presence(log, NAMES, frozenset(), 0, 0, 1000) == {"Lars Holm": Presence(300.0, 0.0)}


def test_pauses_per_queue_count_once_and_pauseall_adds_nothing() -> None:
    log = lines(
        (100, "vaxel", LARS, "ADDMEMBER"),
        (200, "NONE", "Lars Holm", "PAUSEALL"),
        (200, "vaxel", "Lars Holm", "PAUSE"),
        (200, "sv", "Lars Holm", "PAUSE"),
        (260, "sv", "Lars Holm", "UNPAUSE"),
        (290, "NONE", "Lars Holm", "UNPAUSEALL"),
        (290, "vaxel", "Lars Holm", "UNPAUSE"),
    )
    assert presence(log, NAMES, frozenset(), 0, 0, 500)["Lars Holm"] == Presence(400.0, 90.0)


def test_a_removal_ends_a_pause_and_the_period_clips_both() -> None:
    log = lines(
        (100, "vaxel", LARS, "ADDMEMBER"),
        (200, "vaxel", "Lars Holm", "PAUSE"),
        (300, "vaxel", LARS, "REMOVEMEMBER"),
        (350, "vaxel", LARS, "ADDMEMBER"),
    )
    # The period [250, 400): in 250-300 and 350-400, paused 250-300.
    assert presence(log, NAMES, frozenset(), 0, 250, 400)["Lars Holm"] == Presence(100.0, 50.0)


def test_what_is_still_open_runs_to_the_end_and_lines_after_it_are_not_read() -> None:
    log = lines((100, "vaxel", LARS, "ADDMEMBER"), (900, "vaxel", LARS, "REMOVEMEMBER"))
    assert presence(log, NAMES, frozenset(), 0, 0, 600)["Lars Holm"] == Presence(500.0, 0.0)


def test_a_first_removal_means_in_since_the_record_began_an_odd_unpause_counts_nothing() -> None:
    log = lines((500, "vaxel", LARS, "REMOVEMEMBER"), (600, "sv", "Lars Holm", "UNPAUSE"))
    assert presence(log, NAMES, frozenset(), 50, 0, 1000)["Lars Holm"] == Presence(450.0, 0.0)


def test_static_members_have_unknown_logged_in_time_but_their_pauses_count() -> None:
    log = lines((10, "sv", "Åsa Lindqvist", "PAUSE"), (70, "sv", "Åsa Lindqvist", "UNPAUSE"))
    static = frozenset({"Åsa Lindqvist"})
    assert presence(log, NAMES, static, 0, 0, 100) == {"Åsa Lindqvist": Presence(None, 60.0)}


def test_an_interface_not_in_the_config_is_reported_by_itself() -> None:
    log = lines((0, "sv", "PJSIP/guest", "ADDMEMBER"), (30, "sv", "PJSIP/guest", "REMOVEMEMBER"))
    assert presence(log, NAMES, frozenset(), 0, 0, 100) == {"PJSIP/guest": Presence(30.0, 0.0)}


events = st.lists(
    st.tuples(
        st.integers(0, 1000),
        st.sampled_from(["sv", "vaxel"]),
        st.sampled_from(["ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE"]),
    ),
    max_size=30,
)


@given(events, st.integers(0, 1000), st.integers(0, 1000))
def test_time_is_never_more_than_the_period_nor_paused_more_than_in(
    raw: list[tuple[int, str, str]], a: int, b: int
) -> None:
    start, end = min(a, b), max(a, b)
    log = [
        MemberLine(t, "main", q, LARS if e.endswith("MEMBER") else "Lars Holm", e)
        for t, q, e in sorted(raw)
    ]
    for p in presence(log, NAMES, frozenset(), 0, start, end).values():
        assert p.logged_in is not None
        assert 0 <= p.paused <= end - start and 0 <= p.logged_in <= end - start
