"""Where a transfer took the caller (vaxeld.state.transfers), from the example config."""

from __future__ import annotations

import duckdb

from lab.scenario import EXAMPLE_CONFIG
from vaxeld.config import load_config
from vaxeld.state.transfers import INSIDE, OTHER, OUT, UNKNOWN, Target, TransferRules

RULES = TransferRules.from_config(load_config(EXAMPLE_CONFIG))
CASES = {
    "7100": Target(INSIDE, "vaxel"),
    "1006": Target(INSIDE, "Lars Holm"),
    "6100": Target(OUT, "Bygglov"),
    "6199": Target(OUT, "Bygglov"),
    "61990": Target(OUT, OTHER),  # longer than the range's numbers
    "6200": Target(OUT, OTHER),
    "0313652500": Target(OUT, "Socialtjänsten"),
    "": Target(UNKNOWN, ""),
}


def test_targets_are_classified_by_the_config() -> None:
    for number, target in CASES.items():
        assert RULES.classify(number) == target, number


def test_the_reports_sql_classifies_as_the_live_path_does() -> None:
    db = duckdb.connect()
    for number, target in CASES.items():
        (code,) = db.execute(
            f"select {RULES.sql('t')} from (select ? as t)", [number]
        ).fetchone() or ("",)
        assert RULES.decode(str(code)).kind == target.kind, number
        if target.kind == OUT:
            assert RULES.decode(str(code)) == target, number
    (code,) = db.execute(f"select {RULES.sql('t')} from (select null as t)").fetchone() or ("",)
    assert RULES.decode(str(code)) == Target(UNKNOWN, "")
