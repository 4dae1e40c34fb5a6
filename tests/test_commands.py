"""vaxeld.commands: what the crisis and agent commands send, checked before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxeld.commands import (
    CommandError,
    agent_actions,
    crisis_off_actions,
    crisis_on_actions,
    find_agent,
)
from vaxeld.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
CONFIG = load_config(EXAMPLE)


def test_crisis_on_writes_message_before_mode() -> None:
    assert crisis_on_actions(CONFIG, "storm", "announce_only") == [
        ("DBPut", [("Family", "vaxeld/crisis"), ("Key", "message"), ("Val", "storm")]),
        ("DBPut", [("Family", "vaxeld/crisis"), ("Key", "mode"), ("Val", "announce_only")]),
    ]
    assert [a for a, _ in crisis_off_actions()] == ["DBDel", "DBDel"]


@pytest.mark.parametrize("message", ["flood", "storm\r\nAction: Originate", "", "STORM"])
def test_crisis_message_must_be_configured(message: str) -> None:
    with pytest.raises(CommandError, match="unknown crisis message"):
        crisis_on_actions(CONFIG, message, "announce")


def test_dynamic_agent_login_adds_every_queue_of_the_group_with_its_penalty() -> None:
    assert agent_actions(CONFIG, "lars holm", "login") == [
        (
            "QueueAdd",
            [
                ("Queue", "vaxel"),
                ("Interface", "PJSIP/agent1006"),
                ("Penalty", "0"),
                ("MemberName", "Lars Holm"),
                ("Paused", "false"),
            ],
        ),
    ]
    assert agent_actions(CONFIG, "PJSIP/agent1006", "logout") == [
        ("QueueRemove", [("Queue", "vaxel"), ("Interface", "PJSIP/agent1006")]),
    ]


def test_static_members_cannot_log_out_but_can_pause() -> None:
    with pytest.raises(CommandError, match="static member"):
        agent_actions(CONFIG, "Åsa Lindqvist", "logout")
    assert agent_actions(CONFIG, "Åsa Lindqvist", "pause", "Lunch") == [
        ("QueuePause", [("Interface", "PJSIP/agent1001"), ("Paused", "true"), ("Reason", "Lunch")]),
    ]


@pytest.mark.parametrize("reason", ["x\r\nAction: Hangup", "a;b", "", "x" * 41])
def test_pause_reason_is_validated(reason: str) -> None:
    with pytest.raises(CommandError, match="reason"):
        agent_actions(CONFIG, "Åsa Lindqvist", "pause", reason)


def test_unknown_agent_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no agent 'Nobody'"):
        find_agent(CONFIG, "Nobody")
