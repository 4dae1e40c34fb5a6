"""The routing config: one YAML file, validated strictly.

Every value that ends up in an Asterisk dialplan, queues.conf or an AMI action
is matched against a strict pattern and rejected when it does not fit. Nothing
is escaped: a value that would need escaping is a config error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from vaxeld.yamlload import LoadedYaml, YamlError, load_yaml

# Strict patterns for anything that reaches Asterisk. Kept narrow on purpose.
NAME_RE = r"^[a-z][a-z0-9_-]{0,31}$"  # queue, group, pbx names
LANGUAGE_RE = r"^[a-z]{2,3}$"  # ISO 639 code, also the Asterisk channel language
SOUND_RE = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"  # relative sound name, no extension
INTERFACE_RE = r"^(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.+-]+(@[A-Za-z0-9_-]+)?(/n)?$"
MEMBER_NAME_RE = r"^[^\W\d_][\w.' -]{0,62}[\w.]$"  # letters first; no , ; | [ ] $ { }
HOST_RE = r"^[A-Za-z0-9.:-]{1,253}$"
AMI_USER_RE = r"^[A-Za-z0-9_.-]{1,64}$"
DIGIT_RE = r"^[0-9]$"
ENV_RE = r"^[A-Z_][A-Z0-9_]{0,63}$"

Name = Annotated[str, StringConstraints(pattern=NAME_RE)]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_RE)]
Sound = Annotated[str, StringConstraints(pattern=SOUND_RE, max_length=128)]


def _normalise_number(value: str) -> str:
    """'031-365 00 00' -> '0313650000'. Only digits, spaces, hyphens and a leading + allowed."""
    if not isinstance(value, str) or not re.fullmatch(r"\+?[0-9][0-9 -]*", value.strip()):
        raise ValueError("must be a phone number of digits, spaces and hyphens")
    digits = re.sub(r"[ -]", "", value.strip())
    if not re.fullmatch(r"\+?[0-9]{2,20}", digits):
        raise ValueError("must have 2 to 20 digits")
    return digits


PhoneNumber = Annotated[str, AfterValidator(_normalise_number)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PbxConfig(Strict):
    """One Asterisk server reached over AMI."""

    name: Name = "main"
    host: Annotated[str, StringConstraints(pattern=HOST_RE)] = "127.0.0.1"
    port: int = Field(5038, gt=0, lt=65536)
    username: Annotated[str, StringConstraints(pattern=AMI_USER_RE)] = "vaxeld"
    # The secret itself never lives in this file: name a file or an environment variable.
    secret_file: Path | None = None
    secret_env: Annotated[str, StringConstraints(pattern=ENV_RE)] | None = None
    site: Name = "main"
    ping_interval_seconds: float = Field(10.0, gt=0)
    ping_timeout_seconds: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _one_secret_source(self) -> PbxConfig:
        if (self.secret_file is None) == (self.secret_env is None):
            raise ValueError("set exactly one of secret_file or secret_env")
        return self


class MetricsConfig(Strict):
    listen_address: Annotated[str, StringConstraints(pattern=HOST_RE)] = "127.0.0.1"
    port: int = Field(9468, gt=0, lt=65536)


class LanguageConfig(Strict):
    """A language callers can choose. ``prompt`` says 'for <language>, press <digit>'."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    prompt: Sound


class MenuConfig(Strict):
    """The language menu played on the entry number."""

    options: dict[Annotated[str, StringConstraints(pattern=DIGIT_RE)], Language]
    default_language: Language
    timeout_seconds: int = Field(4, gt=0, le=30)
    attempts: int = Field(3, gt=0, le=10)
    greeting: Sound | None = None
    invalid_sound: Sound | None = None


class QueueConfig(Strict):
    language: Language
    service_level_seconds: int = Field(20, gt=0, le=3600)
    max_wait_seconds: int = Field(900, gt=0, le=86400)
    strategy: Literal["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear"] = (
        "rrmemory"
    )
    ring_timeout_seconds: int = Field(15, gt=0, le=300)
    retry_seconds: int = Field(2, ge=0, le=300)
    wrapup_seconds: int = Field(0, ge=0, le=3600)
    groups: list[Name] = Field(default_factory=list)
    music_class: Name = "default"
    closed_sound: Sound | None = None


class MemberConfig(Strict):
    interface: Annotated[str, StringConstraints(pattern=INTERFACE_RE, max_length=80)]
    name: Annotated[str, StringConstraints(pattern=MEMBER_NAME_RE)]
    penalty: int = Field(0, ge=0, le=100)


class AgentGroupConfig(Strict):
    site: Name = "main"
    members: list[MemberConfig] = Field(min_length=1)


class EntryConfig(Strict):
    number: PhoneNumber
    label: Annotated[str, StringConstraints(min_length=1, max_length=80)] = "entry"


class SoundsConfig(Strict):
    fallback: Sound = "beep"


class Config(Strict):
    """The whole vaxeld config file."""

    pbxs: list[PbxConfig] = Field(min_length=1)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    sounds: SoundsConfig = Field(default_factory=SoundsConfig)
    entry: EntryConfig
    languages: dict[Language, LanguageConfig] = Field(min_length=1)
    menu: MenuConfig
    queues: dict[Name, QueueConfig] = Field(min_length=1)
    agent_groups: dict[Name, AgentGroupConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        errors: list[str] = []
        for digit, lang in self.menu.options.items():
            if lang not in self.languages:
                errors.append(f"menu.options.{digit}: unknown language {lang!r}")
        if self.menu.default_language not in self.languages:
            errors.append(f"menu.default_language: unknown language {self.menu.default_language!r}")
        queue_langs: dict[str, str] = {}
        for qname, q in self.queues.items():
            if q.language not in self.languages:
                errors.append(f"queues.{qname}.language: unknown language {q.language!r}")
            if q.language in queue_langs:
                errors.append(
                    f"queues.{qname}.language: {q.language!r} already served by "
                    f"queue {queue_langs[q.language]!r}"
                )
            queue_langs.setdefault(q.language, qname)
            for group in q.groups:
                if group not in self.agent_groups:
                    errors.append(f"queues.{qname}.groups: unknown agent group {group!r}")
        for lang in set(self.menu.options.values()) | {self.menu.default_language}:
            if lang in self.languages and lang not in queue_langs:
                errors.append(f"languages.{lang}: no queue serves this language")
        names = [p.name for p in self.pbxs]
        if len(set(names)) != len(names):
            errors.append("pbxs: names must be unique")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def queue_for_language(self, language: str) -> str:
        for name, q in self.queues.items():
            if q.language == language:
                return name
        raise KeyError(language)

    @property
    def default_pbx(self) -> PbxConfig:
        return self.pbxs[0]


@dataclass(frozen=True)
class ConfigProblem:
    """One error found in a config file, ready to print."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path or "(top level)"
        if self.line is not None:
            where = f"{where} (line {self.line})"
        return f"{where}: {self.message}"


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
        return f"{err['input']!r} is not allowed here (must match {ctx['pattern']})"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "int_parsing":
        return f"must be a whole number, not {err['input']!r}"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _problems_from(exc: ValidationError, loaded: LoadedYaml) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = _friendly(err)
        # Cross-reference errors carry their own "path: message" pairs.
        if err["type"] == "value_error" and ": " in message and not loc:
            for part in message.split("; "):
                path, _, text = part.partition(": ")
                keys = tuple(path.split("."))
                problems.append(ConfigProblem(path, loaded.line_of(keys), text))
            continue
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
    try:
        return Config.model_validate(loaded.data)
    except ValidationError as exc:
        raise ConfigError(_problems_from(exc, loaded)) from None


def load_config(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem("", None, f"cannot read {path}: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem("", None, f"{path} is not UTF-8 text")]) from None
    return parse_config(text)


def read_secret(pbx: PbxConfig, environ: dict[str, str]) -> str:
    """The AMI secret for ``pbx``, from its file or environment variable."""
    if pbx.secret_env is not None:
        value = environ.get(pbx.secret_env)
        if not value:
            raise ConfigError(
                [
                    ConfigProblem(
                        f"pbxs.{pbx.name}.secret_env",
                        None,
                        f"environment variable {pbx.secret_env} is not set",
                    )
                ]
            )
    else:
        assert pbx.secret_file is not None
        try:
            value = pbx.secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                [
                    ConfigProblem(
                        f"pbxs.{pbx.name}.secret_file",
                        None,
                        f"cannot read {pbx.secret_file}: {exc.strerror}",
                    )
                ]
            ) from None
    if not re.fullmatch(r"[\x21-\x7e]{1,128}", value):
        raise ConfigError(
            [
                ConfigProblem(
                    f"pbxs.{pbx.name}", None, "AMI secret must be 1-128 printable ASCII characters"
                )
            ]
        )
    return value
