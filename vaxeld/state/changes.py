"""What the reducer reports happened: the facts that metrics count."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    entry: str = ""
    first: bool = True  # the caller's first queue: counted once for the contact centre
    # The caller's number as Asterisk gives it: only for the repeat-caller window, which
    # keeps a keyed hash of it; never counted, logged or kept.
    number: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """A member answered (queue_log CONNECT). ``wait_seconds`` is Asterisk's HoldTime."""

    queue: str
    uniqueid: str
    member: str
    wait_seconds: float
    entry: str = ""
    direct: bool = True  # answered in the first queue the caller entered
    first_answer: bool = True  # the caller's first answer: counted once for the centre


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up while waiting (queue_log ABANDON)."""

    queue: str
    uniqueid: str
    wait_seconds: float
    entry: str = ""


@dataclass(frozen=True, slots=True)
class CallExited:
    """The caller left without an answer or hang-up, e.g. by timeout (EXITWITHTIMEOUT)."""

    queue: str
    uniqueid: str
    reason: str  # QUEUESTATUS lowercased: timeout, leaveempty, ...
    wait_seconds: float
    entry: str = ""


@dataclass(frozen=True, slots=True)
class CallOutcomeUnknown:
    """A tracked caller vanished while vaxeld was not listening; outcome not known."""

    queue: str
    uniqueid: str
    entry: str = ""


@dataclass(frozen=True, slots=True)
class CallClosed:
    """The caller met closed hours: at the entry (queue "") or at a queue with its own."""

    uniqueid: str
    entry: str
    queue: str
    reason: str  # hours | holiday | exception


@dataclass(frozen=True, slots=True)
class CallOverflowed:
    """The dialplan moved a waiting caller from one queue to another."""

    uniqueid: str
    entry: str
    from_queue: str
    to_queue: str
    status: str  # why Queue() returned: timeout, joinempty, leaveempty


@dataclass(frozen=True, slots=True)
class CrisisAnnounced:
    uniqueid: str
    entry: str
    mode: str
    message: str


@dataclass(frozen=True, slots=True)
class MenuAttempt:
    """A language-menu attempt: chosen (a queue digit), timeout or invalid digit.
    Digits that choose a language are reported as LanguageChosen instead."""

    uniqueid: str
    result: str
    digit: str = ""


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """An answered call ended (AgentComplete): how long the member talked."""

    queue: str
    uniqueid: str
    member: str
    talk_seconds: float
    ended_by: str  # caller | agent | transfer


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """An agent transferred an answered caller (AMI BlindTransfer/AttendedTransfer,
    queue_log BLINDTRANSFER/ATTENDEDTRANSFER/TRANSFER)."""

    queue: str  # where the caller was answered
    uniqueid: str
    member: str
    how: str  # blind | attended
    target: str  # the number dialled, "" when no source named it
    kind: str  # inside | out | unknown (vaxeld.state.transfers)
    where: str  # the queue, agent or department; "other" or "" (unknown)
    entry: str = ""
    # The caller's first transfer out of the centre (or to an unknown target): from now on
    # the caller is not resolved in the centre. Counted once per caller.
    first_unresolved: bool = True


@dataclass(frozen=True, slots=True)
class TransferNotLogged:
    """A transfer AMI reported that queue_log will never have: it ended the caller's
    answer in ``queue`` with COMPLETEAGENT or COMPLETECALLER instead (app_queue misses
    an attended transfer when the transferring channel is gone before it looks)."""

    queue: str
    uniqueid: str
    entry: str = ""


@dataclass(frozen=True, slots=True)
class CallRepeated:
    """A caller whose number (by its keyed hash) called within the repeat window before:
    ``kind`` repeat, or callback when the earlier call was only minutes ago."""

    queue: str
    uniqueid: str
    kind: str  # repeat | callback
    entry: str = ""


@dataclass(frozen=True, slots=True)
class RingNoAnswer:
    """A member was rung and did not answer within the ring timeout."""

    queue: str
    member: str
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class MenuAbandoned:
    """The caller hung up in the language menu, before reaching any queue."""

    uniqueid: str
    entry: str


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
class CallCarriedIn:
    """A caller already waiting when vaxeld (re)connected, whose joining it never heard
    of from either source: offered before vaxeld could count it. The conservation of
    callers counts it in, so that every outcome has its offer."""

    queue: str
    uniqueid: str
    entry: str = ""


@dataclass(frozen=True, slots=True)
class CallNotFollowed:
    """A caller first heard of while MAX_LIVE_CALLS are live: not followed (a flood of
    joins that never leave cannot grow the state); queue_log still counts it."""

    uniqueid: str
    event: str


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
    | CallClosed
    | CallOverflowed
    | CrisisAnnounced
    | MenuAttempt
    | CallCompleted
    | CallTransferred
    | TransferNotLogged
    | CallRepeated
    | RingNoAnswer
    | MenuAbandoned
    | MemberChanged
    | Resynced
    | CallCarriedIn
    | CallNotFollowed
    | EventIgnored
)
