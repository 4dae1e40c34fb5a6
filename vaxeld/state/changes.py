"""What the reducer reports happened: the facts that metrics count."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallEntered:
    """A caller reached the entry number (the vaxeld dialplan answered)."""

    uniqueid: str
    entry: str


@dataclass(frozen=True, slots=True)
class LanguageChosen:
    """The menu settled on a language: by a digit, or the default after retries."""

    uniqueid: str
    language: str
    digit: str
    reason: str  # "chosen" | "default"


@dataclass(frozen=True, slots=True)
class CallOffered:
    """The caller joined a queue (queue_log ENTERQUEUE)."""

    queue: str
    uniqueid: str
    position: int


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """A member answered (queue_log CONNECT). ``wait_seconds`` is Asterisk's HoldTime."""

    queue: str
    uniqueid: str
    member: str
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up while waiting (queue_log ABANDON)."""

    queue: str
    uniqueid: str
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class CallExited:
    """The caller left without an answer or hang-up, e.g. by timeout (EXITWITHTIMEOUT)."""

    queue: str
    uniqueid: str
    reason: str  # QUEUESTATUS lowercased: timeout, leaveempty, ...
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class CallOutcomeUnknown:
    """A tracked caller vanished while vaxeld was not listening; outcome not known."""

    queue: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class MemberChanged:
    queue: str
    interface: str


@dataclass(frozen=True, slots=True)
class Resynced:
    """State was rebuilt from QueueStatus after a (re)connect."""

    waiting: int
    members: int


@dataclass(frozen=True, slots=True)
class EventIgnored:
    """An event could not be used (missing fields, unknown caller)."""

    event: str
    reason: str


Change = (
    CallEntered
    | LanguageChosen
    | CallOffered
    | CallAnswered
    | CallAbandoned
    | CallExited
    | CallOutcomeUnknown
    | MemberChanged
    | Resynced
    | EventIgnored
)
