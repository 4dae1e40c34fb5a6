"""vaxeld.config: the example validates; every bad value is named with path and line."""

from pathlib import Path

import pytest

from vaxeld.config import ConfigError, load_config, parse_config, read_secret
from vaxeld.config.load import read_command_account, read_wallboard_token

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "vaxeld.example.yaml"


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return [str(p) for p in info.value.problems]


def _example_with(old: str, new: str) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_example_config_is_valid_and_normalises_the_entry_number() -> None:
    config = load_config(EXAMPLE)
    assert config.entry.number == "0313650000"
    assert set(config.languages) >= {"sv", "en", "ar", "so", "fi"}
    assert config.queues["sv"].service_level_seconds == 20
    assert config.menu.options["1"] == "sv"
    assert config.agent_groups["kontaktcenter-sv"].members[0].name == "Åsa Lindqvist"


def test_service_level_must_be_positive_with_path_and_line() -> None:
    text = _example_with("service_level_seconds: 20", "service_level_seconds: 0")
    line = _line_of(text, "service_level_seconds: 0")
    assert f"queues.sv.service_level_seconds (line {line}): must be > 0" in _errors(text)


def test_service_level_defaults_to_20_seconds() -> None:
    text = _example_with("    language: en\n    service_level_seconds: 20\n", "    language: en\n")
    assert parse_config(text).queues["en"].service_level_seconds == 20


def test_every_error_is_reported_not_just_the_first() -> None:
    text = _example_with("service_level_seconds: 20", "service_level_seconds: -1")
    text = text.replace("max_wait_seconds: 900", "max_wait_seconds: lots", 1)
    errors = _errors(text)
    assert any(e.startswith("queues.sv.service_level_seconds") for e in errors)
    assert any(e.startswith("queues.sv.max_wait_seconds") and "whole number" in e for e in errors)


def test_unknown_keys_are_rejected() -> None:
    text = _example_with("  label: Kontaktcenter", "  label: Kontaktcenter\n  lable: typo")
    line = _line_of(text, "lable: typo")
    assert f"entry.lable (line {line}): unknown key" in _errors(text)


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("prompt: vaxeld/menu-sv,", "prompt: 'vaxeld/menu-sv,1)',", "languages.sv.prompt"),
        ("prompt: vaxeld/menu-en,", "prompt: '${SHELL}',", "languages.en.prompt"),
        ("prompt: vaxeld/menu-fi,", "prompt: '../../etc/passwd',", "languages.fi.prompt"),
        ("closed_prompt: vaxeld/closed-so}", "closed_prompt: 'a&b'}", "languages.so.closed_prompt"),
        ("storm: {prompt: vaxeld/crisis-storm}", "storm: {prompt: 'x)|y'}", "crisis.messages"),
        ("label: Klämdag}", "label: 'Kläm;dag'}", "schedules.kontorstid.exceptions.0.label"),
        ("dial_context: vaxeld-outbound", "dial_context: 'out,s,1'", "dial_context"),
        ('"031-365 10 00"', '"031-365 10 00&5"', "legacy_numbers.0.number"),
        ("name: Åsa Lindqvist", "name: 'Åsa; Lindqvist'", "agent_groups.kontaktcenter-sv"),
        ("name: Johan Berg}", "name: 'Johan,Berg'}", "agent_groups.kontaktcenter-sv"),
        (
            "interface: PJSIP/agent1001",
            "interface: 'PJSIP/agent1001&SIP/x'",
            "agent_groups.kontaktcenter-sv",
        ),
        ('number: "031-365 00 00"', 'number: "031-365 00 00;1"', "entry.number"),
        ('number: "031-365 00 00"', 'number: "_X."', "entry.number"),
        ("  sv:\n    language: sv", "  'sv]\\n[evil':\n    language: sv", "queues"),
        ("username: vaxeld", "username: 'vaxeld\\r\\nAction: Originate'", "pbxs.0.username"),
    ],
)
def test_values_reaching_asterisk_are_rejected_not_escaped(old: str, new: str, path: str) -> None:
    errors = _errors(_example_with(old, new))
    assert any(e.startswith(path) for e in errors), errors


def test_menu_must_name_known_languages() -> None:
    text = _example_with('"5": fi', '"5": fi\n    "6": de')
    line = _line_of(text, '"6": de')
    assert f"menu.options.6 (line {line}): unknown language 'de'" in _errors(text)


def test_duplicate_yaml_key_is_an_error_with_line() -> None:
    text = _example_with("  port: 9468", "  port: 9468\n  port: 9469")
    line = _line_of(text, "port: 9469")
    assert any(f"(line {line})" in e and "duplicate key" in e for e in _errors(text))


def test_secret_is_read_from_env_or_file(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    pbx = config.default_pbx
    assert read_secret(pbx, {"VAXELD_AMI_SECRET": "s3cret"}) == "s3cret"
    with pytest.raises(ConfigError, match="VAXELD_AMI_SECRET is not set"):
        read_secret(pbx, {})
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    text = _example_with("secret_env: VAXELD_AMI_SECRET", f"secret_file: {secret_file}")
    assert read_secret(parse_config(text).default_pbx, {}) == "from-file"


def test_secrets_as_systemd_credentials_and_the_command_account(tmp_path: Path) -> None:
    (tmp_path / "ami-secret").write_text("run-secret\n")
    (tmp_path / "ops-secret").write_text("ops-secret\n")
    text = _example_with("secret_env: VAXELD_AMI_SECRET", "secret_credential: ami-secret")
    text = text.replace(
        "command_secret_env: VAXELD_OPS_SECRET", "command_secret_credential: ops-secret"
    )
    pbx = parse_config(text).default_pbx
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert read_secret(pbx, environ) == "run-secret"
    assert read_command_account(pbx, environ) == ("vaxeld-ops", "ops-secret")
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY is not set"):
        read_secret(pbx, {})
    # Without a command account, commands use the run account.
    plain = parse_config(
        _example_with("    command_username: vaxeld-ops", "").replace(
            "    command_secret_env: VAXELD_OPS_SECRET", ""
        )
    ).default_pbx
    assert read_command_account(plain, {"VAXELD_AMI_SECRET": "s"}) == ("vaxeld", "s")


def test_a_command_secret_needs_its_account_and_one_source() -> None:
    errors = _errors(_example_with("    command_username: vaxeld-ops", ""))
    assert any("a command secret needs command_username" in e for e in errors)
    errors = _errors(
        _example_with(
            "command_secret_env: VAXELD_OPS_SECRET",
            "command_secret_env: VAXELD_OPS_SECRET\n    command_secret_file: /etc/x",
        )
    )
    assert any("exactly one of command_secret_file" in e for e in errors)


def test_secret_in_yaml_itself_is_refused() -> None:
    errors = _errors(
        _example_with(
            "secret_env: VAXELD_AMI_SECRET", "secret_env: VAXELD_AMI_SECRET\n    secret: hunter2"
        )
    )
    assert any(e.startswith("pbxs.0.secret") and "unknown key" in e for e in errors)


def test_not_a_mapping_and_unreadable_files_are_clear_errors(tmp_path: Path) -> None:
    assert _errors("- just\n- a list\n") == [
        "(top level) (line 1): the file must be a YAML mapping"
    ]
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_field_and_cross_reference_errors_are_reported_together() -> None:
    text = _example_with("service_level_seconds: 20", "service_level_seconds: 0")
    text = text.replace('"5": fi', '"5": fi\n    "6": de', 1)
    text = text.replace("queues: {ar: 0, so: 0}", "queues: {ar: 0, so: 0, de: 1}", 1)
    errors = _errors(text)
    assert any(e.startswith("queues.sv.service_level_seconds") for e in errors)
    menu_line = _line_of(text, '"6": de')
    assert f"menu.options.6 (line {menu_line}): unknown language 'de'" in errors
    line = _line_of(text, "queues: {ar: 0, so: 0, de: 1}")
    assert f"agent_groups.tolkar.queues.de (line {line}): unknown queue 'de'" in errors


def test_ambiguous_language_queue_and_duplicate_numbers_are_errors() -> None:
    text = _example_with("  fi:\n    language: fi", "  fi:\n    language: sv")
    errors = _errors(text)
    assert any(e.startswith("languages.fi") and "no queue serves" in e for e in errors)
    text = _example_with('"031-365 20 00"', '"031-365 00 00"')
    line = _line_of(text, 'number: "031-365 00 00", label: Socialtj')
    assert (
        f"legacy_numbers.1.number (line {line}): '031-365 00 00' is already used by entry.number"
    ) in _errors(text)


def test_overflow_into_itself_or_in_a_cycle_is_an_error() -> None:
    text = _example_with(
        "overflow: {to: vaxel, when_empty: true}", "overflow: {to: en, when_empty: true}"
    )
    line = _line_of(text, "overflow: {to: en, when_empty: true}")
    assert f"queues.en.overflow.to (line {line}): a queue cannot overflow into itself" in (
        _errors(text)
    )
    text = _example_with(
        "    max_wait_seconds: 1200\n",
        "    max_wait_seconds: 1200\n    overflow: {to: sv, after_seconds: 60}\n",
    )
    errors = _errors(text)
    assert any(
        "overflow cycle: sv -> vaxel -> sv" in e or "overflow cycle: vaxel -> sv -> vaxel" in e
        for e in errors
    ), errors


def test_digit_used_twice_in_the_menu_is_an_error() -> None:
    text = _example_with('    "5": fi\n', '    "5": fi\n    "5": sv\n')
    assert any("menu.options.5: duplicate key" in e for e in _errors(text))


def test_extension_range_that_swallows_a_number_or_a_menu_digit_is_an_error() -> None:
    text = _example_with('{range: "6000-6999"}', '{range: "0300000000-0399999999"}')
    errors = _errors(text)
    assert any(
        e.startswith("menu.extensions.0.range") and "swallows entry.number 0313650000" in e
        for e in errors
    ), errors
    assert any("starts with 0, which is already a menu choice" in e for e in errors)


def test_unknown_schedule_queue_and_group_language_mismatch_are_errors() -> None:
    text = _example_with("  schedule: kontorstid\n", "  schedule: kvällstid\n")
    assert any(
        e.startswith("entry.schedule") and "unknown schedule 'kvällstid'" in e
        for e in _errors(text)
    )
    text = _example_with("languages: [fi, sv]", "languages: [sv]")
    assert any("queue 'fi' is in 'fi', which this group does not speak" in e for e in _errors(text))


def test_malformed_numbers_are_field_errors_not_crashes() -> None:
    text = _example_with('"031-365 10 00"', '"000:"')
    assert any(e.startswith("legacy_numbers.0.number") for e in _errors(text))


def _wallboard(text: str, lines: str) -> str:
    """``text`` with ``lines`` added to its wallboard section."""
    assert "\nwallboard:\n" in text
    return text.replace("\nwallboard:\n", f"\nwallboard:\n{lines}", 1)


def test_a_wallboard_beyond_loopback_needs_an_access_token(tmp_path: Path) -> None:
    shared = _example_with("listen_address: 127.0.0.1", "listen_address: 0.0.0.0")
    assert any("wallboard" in e and "token" in e for e in _errors(shared))
    own = _wallboard(EXAMPLE.read_text(), "  listen_address: 0.0.0.0\n  port: 9469\n")
    assert any("beyond this host" in e for e in _errors(own))
    # Its own loopback listener beside a public /metrics is fine, and so is a token.
    assert parse_config(_wallboard(shared, "  port: 9469\n")).wallboard.port == 9469
    config = parse_config(_wallboard(shared, "  token_env: WALL_TOKEN\n"))
    assert read_wallboard_token(config, {"WALL_TOKEN": "abcdefghijklmnop"}) == "abcdefghijklmnop"
    for bad in ("short", "sixteen chars with spaces", "x" * 300):
        with pytest.raises(ConfigError, match=r"wallboard\.token"):
            read_wallboard_token(config, {"WALL_TOKEN": bad})
    with pytest.raises(ConfigError, match="WALL_TOKEN is not set"):
        read_wallboard_token(config, {})


def test_a_wallboard_address_needs_its_own_port_and_not_the_metrics_one() -> None:
    base = EXAMPLE.read_text()
    assert any("own" in e for e in _errors(_wallboard(base, "  listen_address: ::1\n")))
    assert any("/metrics port" in e for e in _errors(_wallboard(base, "  port: 9468\n")))
    english = base.replace("  language: sv              # the page", "  language: en  # the page")
    assert parse_config(english).wallboard.language == "en"
    assert any("unknown key" in e for e in _errors(_wallboard(base, "  colour: red\n")))
