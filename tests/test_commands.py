"""vaxeld.commands: what the crisis and agent commands send, checked before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxeld.ami.codec import Message
from vaxeld.commands import (
    Action,
    CommandError,
    CommandRefused,
    Reply,
    agent_actions,
    carry_out,
    find_agent,
    plan,
)
from vaxeld.config import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
CONFIG = load_config(EXAMPLE)


def test_crisis_on_writes_message_before_mode_and_then_announces_it() -> None:
    on = plan(CONFIG, "crisis/on", {"message": "storm", "mode": "announce-only"})
    news = (("UserEvent", "VaxeldCrisisSwitch"), ("Mode", "announce_only"), ("Message", "storm"))
    assert on.actions == (
        ("DBPut", (("Family", "vaxeld/crisis"), ("Key", "message"), ("Val", "storm"))),
        ("DBPut", (("Family", "vaxeld/crisis"), ("Key", "mode"), ("Val", "announce_only"))),
        ("UserEvent", news),
    )
    off = plan(CONFIG, "crisis/off", {}).actions
    assert [a for a, _ in off] == ["DBDel", "DBDel", "UserEvent"]
    assert off[-1][1] == (("UserEvent", "VaxeldCrisisSwitch"), ("Mode", "off"))


def test_a_refused_announcement_does_not_fail_the_crisis_command() -> None:
    """The switch is set by the DBPuts; an account without `write = user` only loses the
    news of it, and the line says when vaxeld run will see it anyway."""
    on = plan(CONFIG, "crisis/on", {"message": "storm"})

    def send(pbx: str, action: Action) -> Reply:
        if action[0] == "UserEvent":
            return answers("Error", "Permission denied")
        return answers("Success", "Updated database successfully")

    lines = carry_out(on, send)
    assert len(lines) == 3 * len(on.pbxs)
    assert "not announced" in lines[2] and "within 5 minutes" in lines[2]


@pytest.mark.parametrize("message", ["flood", "storm\r\nAction: Originate", "", "STORM"])
def test_crisis_message_must_be_configured(message: str) -> None:
    with pytest.raises(CommandError, match="unknown crisis message"):
        plan(CONFIG, "crisis/on", {"message": message})


@pytest.mark.parametrize("mode", ["loud", "announce\r\nX: y", ""])
def test_crisis_mode_must_be_one_of_two(mode: str) -> None:
    with pytest.raises(CommandError, match="mode must be"):
        plan(CONFIG, "crisis/on", {"message": "storm", "mode": mode or " "})


def test_dynamic_agent_login_adds_every_queue_of_the_group_with_its_penalty() -> None:
    assert agent_actions(CONFIG, "lars holm", "login") == (
        (
            "QueueAdd",
            (
                ("Queue", "vaxel"),
                ("Interface", "PJSIP/agent1006"),
                ("Penalty", "0"),
                ("MemberName", "Lars Holm"),
                ("Paused", "false"),
            ),
        ),
    )
    assert agent_actions(CONFIG, "PJSIP/agent1006", "logout") == (
        ("QueueRemove", (("Queue", "vaxel"), ("Interface", "PJSIP/agent1006"))),
    )


def test_static_members_cannot_log_out_but_can_pause() -> None:
    with pytest.raises(CommandError, match="static member"):
        agent_actions(CONFIG, "Åsa Lindqvist", "logout")
    assert agent_actions(CONFIG, "Åsa Lindqvist", "pause", "Lunch") == (
        ("QueuePause", (("Interface", "PJSIP/agent1001"), ("Paused", "true"), ("Reason", "Lunch"))),
    )


@pytest.mark.parametrize("reason", ["x\r\nAction: Hangup", "a;b", "", "x" * 41])
def test_pause_reason_is_validated(reason: str) -> None:
    with pytest.raises(CommandError, match="reason"):
        agent_actions(CONFIG, "Åsa Lindqvist", "pause", reason)


def test_unknown_agent_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no agent 'Nobody'"):
        find_agent(CONFIG, "Nobody")


TWO_PBXS = parse_config(
    EXAMPLE.read_text().replace(
        "pbxs:\n",
        "pbxs:\n  - {name: north, host: 127.0.0.1, port: 5039, username: v, secret_env: X}\n",
        1,
    )
)


def answers(response: str, message: str = "") -> Message:
    return Message((("Response", response), ("Message", message)))


def test_the_crisis_switch_goes_to_every_pbx_and_an_agent_command_to_one() -> None:
    assert plan(TWO_PBXS, "crisis/on", {"message": "storm"}).pbxs == ("north", "main")
    assert plan(TWO_PBXS, "crisis/off", {}).pbxs == ("north", "main")
    assert plan(TWO_PBXS, "crisis/off", {"pbx": "main"}).pbxs == ("main",)
    assert plan(TWO_PBXS, "agent/pause", {"agent": "Åsa Lindqvist"}).pbxs == ("north",)
    with pytest.raises(CommandError, match="no pbx named 'south'"):
        plan(TWO_PBXS, "agent/pause", {"agent": "Åsa Lindqvist", "pbx": "south"})


def test_an_agent_command_goes_to_the_pbx_of_the_agents_group() -> None:
    text = EXAMPLE.read_text().replace(
        "pbxs:\n",
        "pbxs:\n  - {name: north, host: 127.0.0.1, port: 5039, username: v, secret_env: X}\n",
        1,
    )
    grouped = parse_config(
        text.replace(
            "  tolkar:\n    site: angered\n", "  tolkar:\n    site: angered\n    pbx: main\n"
        )
    )
    assert plan(grouped, "agent/pause", {"agent": "Hodan Abdi"}).pbxs == ("main",)
    assert plan(grouped, "agent/pause", {"agent": "Åsa Lindqvist"}).pbxs == ("north",)
    assert plan(grouped, "agent/pause", {"agent": "Hodan Abdi", "pbx": "north"}).pbxs == ("north",)
    with pytest.raises(ConfigError, match="no PBX named 'south'"):
        parse_config(
            text.replace(
                "  tolkar:\n    site: angered\n", "  tolkar:\n    site: angered\n    pbx: south\n"
            )
        )


def test_carry_out_sends_every_action_to_every_pbx_of_the_plan() -> None:
    sent: list[tuple[str, str]] = []

    def send(pbx: str, action: Action) -> Reply:
        sent.append((pbx, action[0]))
        return answers("Success", "Updated database successfully")

    lines = carry_out(plan(TWO_PBXS, "crisis/on", {"message": "storm"}), send)
    each = ["DBPut", "DBPut", "UserEvent"]
    assert sent == [("north", a) for a in each] + [("main", a) for a in each]
    assert lines[0] == "north: DBPut vaxeld/crisis message: Updated database successfully"


def test_not_found_is_done_only_where_the_command_says_so() -> None:
    """Deleting a crisis key that is not set is "off"; pausing an interface Asterisk does
    not know is a failure, whoever asks (the MQTT path used to let it pass)."""
    not_found = answers("Error", "Database entry not found")
    assert len(carry_out(plan(CONFIG, "crisis/off", {}), lambda p, a: not_found)) == 3
    pause = plan(CONFIG, "agent/pause", {"agent": "Åsa Lindqvist"})
    with pytest.raises(CommandRefused, match=r"main: QueuePause .*Interface not found"):
        carry_out(pause, lambda p, a: answers("Error", "Interface not found"))


@pytest.mark.parametrize(
    ("command", "body", "error"),
    [
        ("agent/pause", {}, "agent is required"),
        ("agent/pause", {"agent": 7}, "agent must be a string"),
        ("agent/dance", {"agent": "Åsa Lindqvist"}, "unknown command"),
        ("reboot", {}, "unknown command 'reboot'"),
    ],
)
def test_malformed_commands_are_refused_before_anything_is_sent(
    command: str, body: dict[str, object], error: str
) -> None:
    with pytest.raises(CommandError, match=error):
        plan(CONFIG, command, body)
