"""The contract between the rendered dialplan and the daemon, named once.

The dialplan vaxeld renders tells the daemon what happened to a caller with
``UserEvent()``s, keeps the crisis switch in AstDB and the calendar's end in a
global variable, and looks for prompts in a fixed order of folders and formats.
The renderer writes these names and the reducer, the poller and ``vaxeld check``
read them: both sides import them from here, so neither can drift from the other.

Nothing here imports anything of vaxeld's: it is the bottom layer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserEventSpec:
    """One UserEvent the dialplan sends: its name and, in order, its headers."""

    name: str
    headers: tuple[str, ...]

    def app(self, **values: str) -> str:
        """The dialplan application that sends it, e.g. ``UserEvent(VaxeldEntry,Entry: ...)``.
        Every header must be given, and nothing else: a typo fails at render time."""
        if set(values) != set(self.headers):
            raise ValueError(
                f"{self.name} takes the headers {', '.join(self.headers)}, not {', '.join(values)}"
            )
        return (
            "UserEvent(" + ",".join([self.name, *(f"{h}: {values[h]}" for h in self.headers)]) + ")"
        )


# A caller reached an entry or legacy number (the first thing vaxeld-start does).
ENTRY = UserEventSpec("VaxeldEntry", ("Entry",))
# The crisis switch was on: the caller heard a message (Mode announce or announce_only).
CRISIS = UserEventSpec("VaxeldCrisis", ("Mode", "Message"))
# The entry number (Queue empty) or a queue with its own hours was closed.
CLOSED = UserEventSpec("VaxeldClosed", ("Reason", "Queue"))
# A menu attempt: Result chosen (a digit that goes to a queue), invalid or timeout.
MENU = UserEventSpec("VaxeldMenu", ("Result", "Digit"))
# The menu settled on a language: Reason chosen (by Digit), default (after retries) or direct.
LANGUAGE = UserEventSpec("VaxeldLanguage", ("Language", "Digit", "Reason"))
# The caller dialled a staff extension from the menu.
EXTENSION = UserEventSpec("VaxeldExtension", ("Extension",))
# Queue() returned, with QUEUESTATUS: Asterisk sends QueueCallerAbandon for a timeout as
# well as for a hang-up, and this is how the daemon tells them apart.
QUEUE_RESULT = UserEventSpec("VaxeldQueueResult", ("Queue", "Status"))
# The caller moved from one queue to another (Status: why Queue() returned).
OVERFLOW = UserEventSpec("VaxeldOverflow", ("From", "To", "Status"))
# The hang-up handler: the caller is gone. Status is QUEUESTATUS (cleared before each
# Queue()): a caller whose Queue() timed out and who hung up before the next priority ran
# sent no VaxeldQueueResult, and this is how the daemon still knows it was a timeout.
HANGUP = UserEventSpec("VaxeldHangup", ("Language", "Queue", "Status"))
# An agent dialled a number in vaxeld-transfer: a blind transfer (the caller itself runs
# it) or the consultation call of an attended one (the agent's new channel runs it).
# Caller is the Uniqueid of the centre's caller, inherited (CALLER_VARIABLE) by the agent's
# channels, so an attended transfer, which queue_log logs without a target, has one.
TRANSFER_TARGET = UserEventSpec("VaxeldTransferTarget", ("Caller", "Target"))

USER_EVENTS: dict[str, UserEventSpec] = {
    spec.name: spec
    for spec in (
        ENTRY,
        CRISIS,
        CLOSED,
        MENU,
        LANGUAGE,
        EXTENSION,
        QUEUE_RESULT,
        OVERFLOW,
        HANGUP,
        TRANSFER_TARGET,
    )
}


@dataclass(frozen=True, slots=True)
class QueueLogSpec:
    """One line vaxeld's dialplan writes to Asterisk's queue_log with QueueLog(): under
    the queue name QUEUE_LOG_QUEUE, the caller's Uniqueid, agent NONE, ``event``, and
    ``fields`` as data1, data2, ... So queue_log is the complete record of the centre,
    what happened before a queue included, and what AMI missed can be recovered."""

    event: str
    fields: tuple[str, ...]
    callid: str = "${UNIQUEID}"  # the caller the line is about, as the dialplan knows it

    def app(self, **values: str) -> str:
        if set(values) != set(self.fields):
            raise ValueError(
                f"{self.event} takes the fields {', '.join(self.fields)}, not {', '.join(values)}"
            )
        data = "|".join(values[f] for f in self.fields)
        return f"QueueLog({QUEUE_LOG_QUEUE},{self.callid},NONE,{self.event},{data})"


QUEUE_LOG_QUEUE = "vaxeld"
LOG_ENTRY = QueueLogSpec("VAXELDENTRY", ("entry",))
LOG_CRISIS = QueueLogSpec("VAXELDCRISIS", ("mode", "message"))
LOG_CLOSED = QueueLogSpec("VAXELDCLOSED", ("reason", "queue"))
LOG_MENU = QueueLogSpec("VAXELDMENU", ("result", "digit"))
LOG_LANGUAGE = QueueLogSpec("VAXELDLANGUAGE", ("language", "digit", "reason"))
LOG_OVERFLOW = QueueLogSpec("VAXELDOVERFLOW", ("from", "to", "status"))
# Written by the hang-up handler for a caller who never got past the menu.
LOG_MENU_ABANDON = QueueLogSpec("VAXELDMENUABANDON", ("entry",))
# A caller's Uniqueid, set inheritable on the caller's channel, so the channels Queue()
# and transfers make for agents carry it into vaxeld-transfer.
CALLER_VARIABLE = "VAXELD_CALLER"
# Written in vaxeld-transfer for every number an agent dials there (see TRANSFER_TARGET).
LOG_TRANSFER_TARGET = QueueLogSpec(
    "VAXELDTRANSFERTARGET", ("target",), callid="${" + CALLER_VARIABLE + "}"
)
QUEUE_LOG_EVENTS: dict[str, QueueLogSpec] = {
    spec.event: spec
    for spec in (
        LOG_ENTRY,
        LOG_CRISIS,
        LOG_CLOSED,
        LOG_MENU,
        LOG_LANGUAGE,
        LOG_OVERFLOW,
        LOG_MENU_ABANDON,
        LOG_TRANSFER_TARGET,
    )
}
# Asterisk's own queue_log lines that end a caller's visit to a queue, and the outcome
# each one is, for the live ledger (recovery) and the history reports alike.
QUEUE_LOG_OUTCOMES: dict[str, str] = {
    "CONNECT": "answered",
    "ABANDON": "abandoned",
    "EXITWITHTIMEOUT": "timeout",  # Queue()'s timeout, or the queue's own
    "EXITEMPTY": "leaveempty",  # left because the queue had no one (leavewhenempty)
}
# Asterisk's lines for a caller an agent transferred, and how each names the target:
# BLINDTRANSFER and (older) TRANSFER give the number dialled in data1; ATTENDEDTRANSFER
# gives only the bridge, so its target is the caller's last LOG_TRANSFER_TARGET line.
QUEUE_LOG_TRANSFERS: dict[str, str] = {
    "BLINDTRANSFER": "blind",
    "TRANSFER": "blind",
    "ATTENDEDTRANSFER": "attended",
}
# The dialplan context every transfer of a centre caller goes through (TRANSFER_CONTEXT).
TRANSFER_CONTEXT = "vaxeld-transfer"

# A channel variable the dialplan sets once the caller is past the menu (language
# chosen, closed, an extension dialled, a queue joined, an announce-only message).
ROUTED_VARIABLE = "VAXELD_ROUTED"

# Values of the LANGUAGE event's Reason header.
REASON_CHOSEN, REASON_DEFAULT, REASON_DIRECT = "chosen", "default", "direct"
# Values of the CRISIS event's Mode header (and of the AstDB key CRISIS_MODE_KEY).
CRISIS_MODES = ("announce", "announce_only")

# The crisis switch: two AstDB keys in one family, written by `vaxeld crisis` (message
# first, so a caller never meets a mode without one) and read by the dialplan.
CRISIS_FAMILY = "vaxeld/crisis"
CRISIS_MODE_KEY, CRISIS_MESSAGE_KEY = "mode", "message"
# After changing the switch, `vaxeld crisis` (and an MQTT command) sends this UserEvent
# (Mode: a CRISIS_MODES value, or "off"), so `vaxeld run` learns of it at once instead of
# polling AstDB; it still reads the keys after each connect and every CRISIS_POLL_SECONDS
# (a key changed by hand is seen then, or at the next caller's VaxeldCrisis).
CRISIS_SWITCH = UserEventSpec("VaxeldCrisisSwitch", ("Mode", "Message"))
CRISIS_OFF = "off"
CRISIS_POLL_SECONDS = 300.0

# The AMI events vaxeld uses: Asterisk drops the rest before they reach the socket, by the
# account's `eventfilter` lines in manager.conf (or, with `event_filter: action`, by
# vaxeld's `Action: Filter`, which needs write = system).
EVENT_FILTERS = (
    "Event: Queue",  # QueueCallerJoin/Leave/Abandon, QueueMember*
    # Not AgentCalled or AgentDump: unused, and every event is a wake-up of the daemon.
    "Event: Agent(Connect|Complete|RingNoAnswer)",
    "Event: UserEvent",  # the rendered dialplan's VaxeldEntry, VaxeldLanguage, ...
    "Event: (Blind|Attended)Transfer",  # agents transferring callers (class "call")
)

# The manager.conf rights of vaxeld's two accounts, each the least its work needs (checked
# on Asterisk 22). `vaxeld run` reads queue, agent, user and (for transfers) call events
# (the event filter lets only the transfer events of "call" through), and with "reporting"
# reads the crisis switch (DBGet) and the calendar's end (Getvar); QueueStatus and Ping
# need no right. The command account (`vaxeld crisis`, `vaxeld agent`, MQTT commands)
# writes AstDB (DBPut/DBDel: "system") and queue members (QueueAdd/Remove/Pause: "agent"),
# and announces a changed crisis switch (the UserEvent action: "user").
RUN_ACCOUNT_READ, RUN_ACCOUNT_WRITE = "agent,user,call", "reporting"
COMMAND_ACCOUNT_READ, COMMAND_ACCOUNT_WRITE = "", "system,agent,user"
# `vaxeld apply` reloads the dialplan and the queues (Reload: "system") and checks what
# Asterisk then holds (ShowDialPlan and Getvar: "reporting"; QueueStatus: none).
APPLY_ACCOUNT_READ, APPLY_ACCOUNT_WRITE = "", "system,reporting"

# A [globals] variable of the rendered dialplan: the last day its holiday calendar covers.
CALENDAR_VARIABLE = "VAXELD_CALENDAR_END"

# Where the dialplan's vaxeld-sound looks for a prompt, in this order, and in which file
# formats. Asterisk picks the format itself; this only decides whether a prompt exists.
SOUND_DIRS = ("${CHANNEL(language)}/", "en/", "")
SOUND_FORMATS = ("gsm", "wav", "ulaw", "alaw", "sln", "sln16", "g722", "wav16")
