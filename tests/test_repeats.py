"""The repeat-caller window and its keyed hash (vaxeld.state.repeats)."""

from __future__ import annotations

import hmac
from hashlib import sha256

import duckdb
import pytest

from vaxeld.history.store import _caller_hash_sql
from vaxeld.state.changes import CallOffered, CallRepeated
from vaxeld.state.repeats import CALLBACK, REPEAT, CallerKey, RepeatWindow

KEY = CallerKey(b"a-caller-key-for-the-tests")
DAY = 86400.0


def window() -> RepeatWindow:
    return RepeatWindow(KEY, window_seconds=7 * DAY, callback_seconds=600)


def test_a_second_call_is_a_callback_within_minutes_and_a_repeat_within_the_window() -> None:
    w = window()
    assert w.check("0701234567", 1000.0, "a") is None
    assert w.check("0701234567", 1300.0, "b") == CALLBACK
    assert w.check("0701234567", 1300.0 + 2 * DAY, "c") == REPEAT
    assert w.check("0701234567", 1300.0 + 10 * DAY, "d") is None  # the window has passed
    assert w.check("0709999999", 1400.0, "e") is None  # another number


def test_withheld_numbers_are_never_grouped_and_a_caller_is_no_repeat_of_itself() -> None:
    w = window()
    for number in ("anonymous", "", "unknown", "Restricted", "12"):
        assert w.check(number, 1.0, "a") is None
        assert w.check(number, 2.0, "b") is None
    w.learn("0701234567", 10.0, "x")  # from queue_log at start
    assert w.check("0701234567", 20.0, "x") is None


def test_only_first_offers_with_a_number_are_looked_at() -> None:
    w = window()
    first = CallOffered("sv", "a", 1, number="0701234567")
    again = CallOffered("sv", "b", 1, number="0701234567")
    overflow = CallOffered("vaxel", "b", 1, first=False, number="0701234567")
    assert w.repeated([first], {}, 100.0) == []
    out = w.repeated([again, overflow], {"b": 200.0}, 999.0)
    assert [(c.uniqueid, c.kind) for c in out if isinstance(c, CallRepeated)] == [("b", CALLBACK)]
    assert len(out) == 1


def test_the_window_forgets_and_says_how_far_back_it_knows() -> None:
    w = window()
    assert w.known_seconds(100.0) == 0.0
    w.learn("0701234567", 0.0, "a")
    assert w.known_seconds(DAY) == DAY
    assert w.known_seconds(30 * DAY) == 7 * DAY
    w.check("0709999999", 20 * DAY, "b")  # an hour later than the last prune: old go
    assert len(w) == 1


def test_the_hash_is_hmac_sha256_and_the_store_computes_the_same_in_sql() -> None:
    mac = hmac.new(b"a-caller-key-for-the-tests", b"0701234567", sha256).hexdigest()
    assert KEY.digest("0701234567") == int(mac[:16], 16)
    long_key = CallerKey(b"k" * 100)  # longer than SHA-256's block: hashed first, as HMAC does
    for key in (KEY, long_key):
        sql, params = _caller_hash_sql(key)
        (got,) = duckdb.connect().execute(
            f"select {sql} from (select 'ENTERQUEUE' as event, ? as d2)", [*params, "0701234567"]
        ).fetchone() or (None,)
        assert got == key.digest("0701234567")
    with pytest.raises(ValueError):
        CallerKey(b"")
