"""vaxeld.contract: the dialplan and the daemon speak the same UserEvents."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from vaxeld import contract
from vaxeld.checks import rendered_calendar_end
from vaxeld.config import load_config
from vaxeld.render import render_all
from vaxeld.render.files import EXTENSIONS_FILE
from vaxeld.state.recovery import READ_VAXELD_LINES
from vaxeld.state.reducer import HANDLED_USER_EVENTS

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"
RENDERED = render_all(load_config(EXAMPLE), date(2026, 12, 1))[EXTENSIONS_FILE]
USER_EVENT = re.compile(r"UserEvent\((\w+)((?:,[A-Za-z]+: [^,)]*)*)\)")


def emitted() -> dict[str, set[tuple[str, ...]]]:
    """UserEvent name -> the header lists it is sent with in the rendered example."""
    out: dict[str, set[tuple[str, ...]]] = {}
    for name, rest in USER_EVENT.findall(RENDERED):
        headers = tuple(part.split(":")[0] for part in rest.split(",")[1:])
        out.setdefault(name, set()).add(headers)
    return out


def test_every_user_event_the_dialplan_sends_is_in_the_contract_with_its_headers() -> None:
    assert RENDERED.count("UserEvent(") == sum(1 for _ in USER_EVENT.finditer(RENDERED))
    for name, header_lists in emitted().items():
        assert name in contract.USER_EVENTS, name
        assert header_lists == {contract.USER_EVENTS[name].headers}, name


def test_the_reducer_handles_every_user_event_of_the_contract() -> None:
    assert set(contract.USER_EVENTS) == HANDLED_USER_EVENTS


def test_the_example_dialplan_sends_every_user_event_of_the_contract() -> None:
    """No event in the contract is dead: the example config uses every feature."""
    assert set(emitted()) == set(contract.USER_EVENTS)


def test_a_user_event_is_rendered_only_with_exactly_its_headers() -> None:
    assert (
        contract.CLOSED.app(Reason="hours", Queue="")
        == "UserEvent(VaxeldClosed,Reason: hours,Queue: )"
    )
    with pytest.raises(ValueError, match="takes the headers Reason, Queue"):
        contract.CLOSED.app(Reason="hours")
    with pytest.raises(ValueError):
        contract.CLOSED.app(Reason="hours", Queue="", Extra="x")


def test_the_calendar_end_check_reads_the_variable_the_renderer_writes() -> None:
    assert f"\n{contract.CALENDAR_VARIABLE}=2027-12-31\n" in RENDERED
    assert rendered_calendar_end(RENDERED) == date(2027, 12, 31)


def test_the_crisis_switch_keys_are_the_ones_the_dialplan_reads() -> None:
    for key in (contract.CRISIS_MODE_KEY, contract.CRISIS_MESSAGE_KEY):
        assert f"${{DB({contract.CRISIS_FAMILY}/{key})}}" in RENDERED


QUEUE_LOG = re.compile(r"QueueLog\(vaxeld,\$\{(?:UNIQUEID|VAXELD_CALLER)\},NONE,(\w+),([^)]*)\)")


def test_every_queue_log_line_the_dialplan_writes_is_in_the_contract_and_read_back() -> None:
    """vaxeld's own queue_log lines make queue_log the centre's complete record: each is
    in the contract with its number of fields, and recovery reads every one."""
    written: dict[str, set[int]] = {}
    for event, data in QUEUE_LOG.findall(RENDERED):
        written.setdefault(event, set()).add(data.count("|") + 1)
    assert RENDERED.count("QueueLog(") == sum(1 for _ in QUEUE_LOG.finditer(RENDERED))
    assert set(written) == set(contract.QUEUE_LOG_EVENTS) == READ_VAXELD_LINES
    for event, field_counts in written.items():
        assert field_counts == {len(contract.QUEUE_LOG_EVENTS[event].fields)}, event
