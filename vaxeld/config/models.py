"""The routing config: one YAML file, validated strictly.

Every value that ends up in an Asterisk dialplan, queues.conf or an AMI action
is matched against a strict pattern and rejected when it does not fit. Nothing
is escaped: a value that would need escaping is a config error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    model_validator,
)

from vaxeld.config.history import HistoryConfig
from vaxeld.config.hours import ScheduleConfig
from vaxeld.config.mqtt import MqttConfig
from vaxeld.config.names import member_name_problem
from vaxeld.config.planning import PlanningConfig
from vaxeld.config.transfers import (
    RepeatCallersConfig,
    TransferNumber,
    TransfersConfig,
    overlapping,
)
from vaxeld.config.types import (
    AMI_USER_RE,
    CONTEXT_RE,
    HOST_RE,
    INTERFACE_RE,
    LABEL_RE,
    MAILBOX_RE,
    MEMBER_NAME_RE,
    NAME_RE,
    CredentialName,
    Digit,
    EnvName,
    FilePath,
    Language,
    Name,
    PhoneNumber,
    Sound,
    Strict,
    time_zone,
)
from vaxeld.config.wallboard import WallboardConfig


class PbxConfig(Strict):
    """One Asterisk server reached over AMI."""

    name: Name = "main"
    host: Annotated[str, StringConstraints(pattern=HOST_RE)] = "127.0.0.1"
    port: int = Field(5038, gt=0, lt=65536)
    username: Annotated[str, StringConstraints(pattern=AMI_USER_RE)] = "vaxeld"
    # The secret itself never lives in this file: name a file, an environment variable,
    # or a systemd credential (LoadCredential=, read from $CREDENTIALS_DIRECTORY).
    secret_file: FilePath | None = None
    secret_env: EnvName | None = None
    secret_credential: CredentialName | None = None
    # "account": the manager.conf account has vaxeld's eventfilter lines (then it needs
    # no write = system); "action": vaxeld sends Action: Filter itself.
    event_filter: Literal["account", "action"] = "account"
    # The account for crisis and agent commands (write = system,agent); without one,
    # commands use the account above, which then needs those rights too.
    command_username: Annotated[str, StringConstraints(pattern=AMI_USER_RE)] | None = None
    command_secret_file: FilePath | None = None
    command_secret_env: EnvName | None = None
    command_secret_credential: CredentialName | None = None
    site: Name = "main"
    # Asterisk's queue_log as seen from vaxeld (same host): read to recover call outcomes
    # AMI did not deliver. Without it, such calls are counted as outcome unknown.
    queue_log: FilePath | None = None
    ping_interval_seconds: float = Field(10.0, ge=1, le=300)
    ping_timeout_seconds: float = Field(5.0, ge=1, le=60)
    # `vaxeld apply`: Asterisk's config folder as seen from vaxeld's host (where
    # extensions.conf and queues.conf #include the rendered files), and the account that
    # reloads and checks them (write = system,reporting; default: the command account).
    asterisk_config_dir: FilePath | None = None
    apply_username: Annotated[str, StringConstraints(pattern=AMI_USER_RE)] | None = None
    apply_secret_file: FilePath | None = None
    apply_secret_env: EnvName | None = None
    apply_secret_credential: CredentialName | None = None

    @model_validator(mode="after")
    def _one_secret_source(self) -> PbxConfig:
        sources = (self.secret_file, self.secret_env, self.secret_credential)
        if sum(s is not None for s in sources) != 1:
            raise ValueError("set exactly one of secret_file, secret_env or secret_credential")
        command = (
            self.command_secret_file,
            self.command_secret_env,
            self.command_secret_credential,
        )
        given = sum(s is not None for s in command)
        if self.command_username is not None and given != 1:
            raise ValueError(
                "with command_username, set exactly one of command_secret_file, "
                "command_secret_env or command_secret_credential"
            )
        if self.command_username is None and given:
            raise ValueError("a command secret needs command_username")
        apply = (self.apply_secret_file, self.apply_secret_env, self.apply_secret_credential)
        if (self.apply_username is None) != (sum(s is not None for s in apply) == 0):
            raise ValueError(
                "apply_username needs exactly one of apply_secret_file, apply_secret_env or "
                "apply_secret_credential, and they need it"
            )
        if sum(s is not None for s in apply) > 1:
            raise ValueError("set at most one apply secret source")
        return self


class MetricsConfig(Strict):
    listen_address: Annotated[str, StringConstraints(pattern=HOST_RE)] = "127.0.0.1"
    port: int = Field(9468, gt=0, lt=65536)
    # Callers who hang up sooner than this are short abandons, counted apart.
    short_abandon_seconds: float = Field(5.0, ge=0, le=120)
    # Service level = answered within target / this: "offered" (every caller who left the
    # queue: answered, abandoned or timed out) or "answered_and_long_abandoned" (short
    # abandons and timeouts left out).
    service_level_formula: Literal["offered", "answered_and_long_abandoned"] = "offered"


DialContext = Annotated[str, StringConstraints(pattern=CONTEXT_RE)]


class ClosedConfig(Strict):
    """What callers get when closed: the closed prompt(s), then this action."""

    action: Literal["hangup", "transfer", "voicemail"] = "hangup"
    number: PhoneNumber | None = None  # transfer: dialled as Local/<number>@<dial_context>
    mailbox: Annotated[str, StringConstraints(pattern=MAILBOX_RE)] | None = None

    @model_validator(mode="after")
    def _action_has_target(self) -> ClosedConfig:
        if self.action == "transfer" and self.number is None:
            raise ValueError("action transfer needs number")
        if self.action == "voicemail" and self.mailbox is None:
            raise ValueError("action voicemail needs mailbox (e.g. 1000@default)")
        return self


class LanguageConfig(Strict):
    """A language callers can choose. ``prompt`` says 'for <language>, press <digit>'."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    prompt: Sound
    closed_prompt: Sound | None = None
    queue: Name | None = None  # defaults to the one queue serving this language


class QueueChoice(Strict):
    """A menu digit that goes straight to a queue (e.g. the general switchboard)."""

    queue: Name


class ExtensionRange(Strict):
    """Staff extensions callers may dial in the menu, e.g. 6000-6999."""

    range: Annotated[str, StringConstraints(pattern=r"^[0-9]{2,8}-[0-9]{2,8}$")]

    @model_validator(mode="after")
    def _sane_range(self) -> ExtensionRange:
        low, high = self.range.split("-")
        if len(low) != len(high) or int(high) < int(low):
            raise ValueError(f"{self.range!r}: both ends need the same number of digits, low first")
        return self

    @property
    def bounds(self) -> tuple[str, str]:
        low, high = self.range.split("-")
        return low, high


class MenuConfig(Strict):
    """The language menu played on the entry number."""

    options: dict[Digit, Language | QueueChoice]
    default_language: Language
    timeout_seconds: int = Field(4, gt=0, le=30)
    attempts: int = Field(3, gt=0, le=10)
    greeting: Sound | None = None
    invalid_sound: Sound | None = None
    extensions: list[ExtensionRange] = Field(default_factory=list)


class OverflowConfig(Strict):
    """Move waiting callers to another queue after a wait, or when nobody is logged in."""

    to: Name
    after_seconds: int | None = Field(None, gt=0, le=86400)
    when_empty: bool = False

    @model_validator(mode="after")
    def _has_trigger(self) -> OverflowConfig:
        if self.after_seconds is None and not self.when_empty:
            raise ValueError("give after_seconds, when_empty: true, or both")
        return self


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
    music_class: Name = "default"
    schedule: Name | None = None  # own opening hours, checked when the caller gets here
    closed: ClosedConfig | None = None  # defaults to entry.closed
    overflow: OverflowConfig | None = None
    end_sound: Sound | None = None  # played when the caller leaves unanswered


def _member_name(value: str) -> str:
    problem = member_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class MemberConfig(Strict):
    interface: Annotated[str, StringConstraints(pattern=INTERFACE_RE, max_length=80)]
    name: Annotated[
        str,
        StringConstraints(pattern=MEMBER_NAME_RE, max_length=64),
        AfterValidator(_member_name),
    ]
    penalty: int = Field(0, ge=0, le=100)
    # The agent's own number, so that a transfer to it counts as still in the centre.
    extension: TransferNumber | None = None

    @property
    def state_interface(self) -> str | None:
        """For an agent reached over a trunk (``PJSIP/agent2001@trunk-b``), the trunk's
        device: Asterisk has no device state for a user at another server, and a remote
        agent is reachable only while the trunk is."""
        tech, _, rest = self.interface.partition("/")
        if tech == "PJSIP" and "@" in rest:
            return f"PJSIP/{rest.split('@', 1)[1].removesuffix('/n')}"
        return None


class AgentGroupConfig(Strict):
    """Agents who share languages, queues (with a penalty each) and a site."""

    site: Name = "main"
    # The PBX that holds the group's queues, where `vaxeld agent` logs its agents in and
    # pauses them (default: the first PBX; agents at another site reach it over a trunk).
    pbx: Name | None = None
    languages: list[Language] = Field(default_factory=list)
    queues: dict[Name, Annotated[int, Field(ge=0, le=100)]] = Field(min_length=1)
    # static: in queues.conf, always members; dynamic: `vaxeld agent login NAME`.
    membership: Literal["static", "dynamic"] = "static"
    members: list[MemberConfig] = Field(min_length=1)


class EntryConfig(Strict):
    number: PhoneNumber
    label: Annotated[str, StringConstraints(pattern=LABEL_RE, max_length=80)] = "entry"
    schedule: Name | None = None  # always open when not set
    closed: ClosedConfig = Field(default_factory=ClosedConfig)


class LegacyNumber(Strict):
    """An old switchboard's number, now reaching the same flow."""

    number: PhoneNumber
    label: Annotated[str, StringConstraints(pattern=LABEL_RE, max_length=80)]
    language: Language | None = None  # skip the menu: straight to this language
    queue: Name | None = None  # or straight to this queue

    @model_validator(mode="after")
    def _one_shortcut(self) -> LegacyNumber:
        if self.language is not None and self.queue is not None:
            raise ValueError("give language or queue, not both")
        return self


class CrisisMessage(Strict):
    prompt: Sound


class CrisisConfig(Strict):
    """Announcements switched on with `vaxeld crisis on --message ID` (stored in AstDB)."""

    messages: dict[Annotated[str, StringConstraints(pattern=NAME_RE)], CrisisMessage] = Field(
        default_factory=dict
    )


class SoundsConfig(Strict):
    fallback: Sound = "beep"
    # Asterisk's sounds folder as seen from where `vaxeld check` runs, to report
    # missing prompts; not checked when unset or unreadable.
    directory: FilePath | None = None


class ApplyConfig(Strict):
    """Where `vaxeld apply` keeps the last good set of files and its log (and where
    `vaxeld run` reads when each PBX was last applied)."""

    state_dir: FilePath = Path("/var/lib/vaxeld/apply")


class Config(Strict):
    """The whole vaxeld config file."""

    pbxs: list[PbxConfig] = Field(min_length=1)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    sounds: SoundsConfig = Field(default_factory=SoundsConfig)
    timezone: Annotated[str, AfterValidator(time_zone)] = "Europe/Stockholm"
    dial_context: DialContext = "vaxeld-outbound"  # where transfers and extensions are dialled
    schedules: dict[Name, ScheduleConfig] = Field(default_factory=dict)
    entry: EntryConfig
    legacy_numbers: list[LegacyNumber] = Field(default_factory=list)
    languages: dict[Language, LanguageConfig] = Field(min_length=1)
    menu: MenuConfig
    queues: dict[Name, QueueConfig] = Field(min_length=1)
    agent_groups: dict[Name, AgentGroupConfig] = Field(default_factory=dict)
    crisis: CrisisConfig = Field(default_factory=CrisisConfig)
    mqtt: MqttConfig | None = None  # no MQTT when not set
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    transfers: TransfersConfig = Field(default_factory=TransfersConfig)
    repeat_callers: RepeatCallersConfig = Field(default_factory=RepeatCallersConfig)
    planning: PlanningConfig = Field(default_factory=PlanningConfig)
    wallboard: WallboardConfig = Field(default_factory=WallboardConfig)
    apply: ApplyConfig = Field(default_factory=ApplyConfig)

    @model_validator(mode="after")
    def _transfer_targets(self) -> Config:
        for number, queue in self.transfers.queues.items():
            if queue not in self.queues:
                raise ValueError(f"transfers.queues.{number}: unknown queue {queue!r}")
        clashes = overlapping(self.transfers)
        if clashes:
            raise ValueError("transfers: " + "; ".join(clashes))
        return self

    @model_validator(mode="after")
    def _group_pbxs(self) -> Config:
        names = {p.name for p in self.pbxs}
        for gname, group in self.agent_groups.items():
            if group.pbx is not None and group.pbx not in names:
                raise ValueError(f"agent_groups.{gname}.pbx: no PBX named {group.pbx!r}")
        return self

    @model_validator(mode="after")
    def _wallboard_listener(self) -> Config:
        problem = self.wallboard.problem(self.metrics.listen_address)
        if problem is not None:
            raise ValueError(f"wallboard: {problem}")
        board = self.wallboard.port
        if board is not None and board == self.metrics.port:
            raise ValueError("wallboard.port: the /metrics port; leave it out to share it")
        return self

    def queue_for_language(self, language: str) -> str:
        """The queue a caller who chose ``language`` joins."""
        lang = self.languages.get(language)
        if lang is not None and lang.queue is not None:
            return lang.queue
        if language in self.queues and self.queues[language].language == language:
            return language
        for name, q in self.queues.items():
            if q.language == language:
                return name
        raise KeyError(language)

    def entries(self) -> dict[str, str]:
        """Every number callers dial (entry and legacy) -> its label."""
        out = {self.entry.number: self.entry.label}
        out.update({n.number: n.label for n in self.legacy_numbers})
        return out

    def members_of_queue(self, queue: str) -> list[tuple[str, AgentGroupConfig, MemberConfig, int]]:
        """(group name, group, member, penalty) for everyone serving ``queue``."""
        out = []
        for gname, group in self.agent_groups.items():
            if queue in group.queues:
                for member in group.members:
                    out.append((gname, group, member, group.queues[queue] + member.penalty))
        return out

    @property
    def default_pbx(self) -> PbxConfig:
        return self.pbxs[0]
