"""Load a config file: YAML with line numbers, pydantic validation, cross-references,
and every problem turned into a line ops can act on ("path (line N): message")."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vaxeld.config.models import Config, PbxConfig
from vaxeld.config.mqtt import MqttConfig
from vaxeld.config.references import check_references
from vaxeld.config.yamlload import LoadedYaml, YamlError, load_yaml


@dataclass(frozen=True)
class ConfigProblem:
    """One error found in a config file, ready to print."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = printable(self.path) or "(top level)"
        if self.line is not None:
            where = f"{where} (line {self.line})"
        return f"{where}: {printable(self.message)}"


# Control and format characters (and lone surrogates) are shown escaped: a key or value
# holding an escape sequence must not rewrite the terminal it is printed on.
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def printable(text: str) -> str:
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


SHOWN_CHARS = 60


def shown(value: Any) -> str:
    """A value quoted for a message: at most SHOWN_CHARS of it, and how long it was."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}... ({len(text)} characters)"


class ConfigError(Exception):
    """A config file failed validation; ``problems`` lists every error found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


def _friendly(err: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind == "string_pattern_mismatch":
        return f"{shown(err['input'])} is not allowed here (must match {ctx['pattern']})"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "int_parsing":
        return f"must be a whole number, not {shown(err['input'])}"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _problems_from(exc: ValidationError, loaded: LoadedYaml) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = _friendly(err)
        if loc and loc[-1] == "[key]":  # a mapping key (e.g. a queue name) is invalid
            loc = loc[:-1]
            message = f"name {message}"
        path = ".".join(str(p) for p in loc)
        problems.append(ConfigProblem(path, loaded.line_of(loc), message))
    return problems


def parse_config(text: str) -> Config:
    """Validate YAML text; raise ConfigError listing every problem with path and line."""
    try:
        loaded = load_yaml(text)
    except YamlError as exc:
        raise ConfigError([ConfigProblem("", exc.line, exc.message)]) from None
    if not isinstance(loaded.data, dict):
        raise ConfigError([ConfigProblem("", 1, "the file must be a YAML mapping")])
    problems = [
        ConfigProblem(".".join(str(p) for p in path), loaded.line_of(path), message)
        for path, message in check_references(loaded.data)
    ]
    try:
        config = Config.model_validate(loaded.data)
    except ValidationError as exc:
        problems = _problems_from(exc, loaded) + problems
    if problems:
        raise ConfigError(problems)
    return config


MAX_FILE_BYTES = 1024 * 1024


def load_config(path: Path) -> Config:
    """Read and validate a config file (a regular file of at most MAX_FILE_BYTES)."""
    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem("", None, f"cannot read {path}: {exc.strerror or exc}")]
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.end].hex(" ")
        raise ConfigError(
            [ConfigProblem("", line, f"not UTF-8 text (byte {bad} in this line)")]
        ) from None
    return parse_config(text)


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; OSError otherwise (a FIFO,
    a device such as /dev/zero, a folder, or a file too large)."""
    if "\0" in str(path):
        raise OSError(f"{path!r} holds a NUL character")
    with open(path, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path} is larger than {limit} bytes")
    return data


def secret_value(
    env: str | None,
    file: Path | None,
    environ: dict[str, str],
    where: str,
    credential: str | None = None,
) -> str | None:
    """A secret from the named environment variable, file or systemd credential (never
    from the YAML)."""
    if credential is not None:
        folder = environ.get("CREDENTIALS_DIRECTORY")
        if not folder:
            raise ConfigError(
                [
                    ConfigProblem(
                        f"{where}_credential",
                        None,
                        "CREDENTIALS_DIRECTORY is not set: run under systemd with "
                        f"LoadCredential={credential}:...",
                    )
                ]
            )
        file = Path(folder) / credential
        where = f"{where}_credential"
    if env is not None:
        value = environ.get(env)
        if not value:
            raise ConfigError(
                [ConfigProblem(f"{where}_env", None, f"environment variable {env} is not set")]
            )
        return value
    if file is not None:
        try:
            return read_bounded(file, MAX_SECRET_BYTES).decode("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            suffix = "" if where.endswith("_credential") else "_file"
            raise ConfigError(
                [ConfigProblem(f"{where}{suffix}", None, f"cannot read {file}: {why}")]
            ) from None
    return None


MAX_SECRET_BYTES = 4096


def read_secret(pbx: PbxConfig, environ: dict[str, str]) -> str:
    """The AMI secret of ``pbx``'s run account."""
    value = secret_value(
        pbx.secret_env,
        pbx.secret_file,
        environ,
        f"pbxs.{pbx.name}.secret",
        pbx.secret_credential,
    )
    return _checked(pbx, value)


def read_command_account(pbx: PbxConfig, environ: dict[str, str]) -> tuple[str, str]:
    """(username, secret) for ``pbx``'s commands: its command account, or without one
    the run account."""
    if pbx.command_username is None:
        return pbx.username, read_secret(pbx, environ)
    value = secret_value(
        pbx.command_secret_env,
        pbx.command_secret_file,
        environ,
        f"pbxs.{pbx.name}.command_secret",
        pbx.command_secret_credential,
    )
    return pbx.command_username, _checked(pbx, value)


def read_apply_account(pbx: PbxConfig, environ: dict[str, str]) -> tuple[str, str]:
    """(username, secret) for `vaxeld apply` on ``pbx``: its apply account, or without
    one the command account."""
    if pbx.apply_username is None:
        return read_command_account(pbx, environ)
    value = secret_value(
        pbx.apply_secret_env,
        pbx.apply_secret_file,
        environ,
        f"pbxs.{pbx.name}.apply_secret",
        pbx.apply_secret_credential,
    )
    return pbx.apply_username, _checked(pbx, value)


def _checked(pbx: PbxConfig, value: str | None) -> str:
    if value is None or not re.fullmatch(r"[\x21-\x7e]{1,128}", value):
        raise ConfigError(
            [
                ConfigProblem(
                    f"pbxs.{pbx.name}", None, "AMI secret must be 1-128 printable ASCII characters"
                )
            ]
        )
    return value


def read_mqtt_password(mqtt: MqttConfig, environ: dict[str, str]) -> str | None:
    """The MQTT password, if the config names one."""
    return secret_value(
        mqtt.password_env, mqtt.password_file, environ, "mqtt.password", mqtt.password_credential
    )


def read_wallboard_token(config: Config, environ: dict[str, str]) -> str | None:
    """The wallboard's access token, if the config names one (16 characters or more:
    it is all that stands between the page and the network)."""
    board = config.wallboard
    value = secret_value(
        board.token_env, board.token_file, environ, "wallboard.token", board.token_credential
    )
    if value is not None and not re.fullmatch(r"[A-Za-z0-9._~-]{16,256}", value):
        raise ConfigError(
            [
                ConfigProblem(
                    "wallboard.token",
                    None,
                    "the token needs 16-256 characters of A-Z a-z 0-9 . _ ~ - "
                    "(it travels in a URL)",
                )
            ]
        )
    return value


def read_caller_key(config: Config, environ: dict[str, str]) -> bytes | None:
    """The key repeat callers' numbers are hashed with (None: repeat callers are not
    followed). At least 16 bytes, so that the hashes cannot be reversed by trying every
    number with a guessed key."""
    section = config.repeat_callers
    value = secret_value(
        section.key_env, section.key_file, environ, "repeat_callers.key", section.key_credential
    )
    if value is None:
        return None
    if len(value.encode("utf-8")) < 16:
        raise ConfigError(
            [ConfigProblem("repeat_callers.key", None, "the caller key needs 16 bytes or more")]
        )
    return value.encode("utf-8")
