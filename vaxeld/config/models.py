"""The routing config: one YAML file, validated strictly.

Every value that ends up in an Asterisk dialplan, queues.conf or an AMI action
is matched against a strict pattern and rejected when it does not fit. Nothing
is escaped: a value that would need escaping is a config error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

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

    def queue_for_language(self, language: str) -> str:
        for name, q in self.queues.items():
            if q.language == language:
                return name
        raise KeyError(language)

    @property
    def default_pbx(self) -> PbxConfig:
        return self.pbxs[0]
