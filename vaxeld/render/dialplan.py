"""Render the Asterisk dialplan for the entry number, language menu and queues.

Pure and deterministic: the same Config gives the same bytes. Every value put
into the dialplan was matched against a strict pattern in vaxeld.config, so
nothing here escapes anything.

The dialplan talks to vaxeld only through UserEvents; Asterisk routes callers
on its own whether vaxeld runs or not.
"""

from __future__ import annotations

from vaxeld.config import Config

HEADER = """\
; {filename}: rendered by vaxeld {version} from the routing config.
; Do not edit: change the YAML and run `vaxeld render`.
"""

# Where the vaxeld-sound subroutine looks for a prompt, in order. Asterisk picks
# the format itself; this only decides whether the prompt exists at all.
_SOUND_FORMATS = ("gsm", "wav", "ulaw", "alaw", "sln", "sln16", "g722", "wav16")
_SOUND_DIRS = ("${CHANNEL(language)}/", "en/", "")


class _Context:
    def __init__(self, name: str, comment: str = "") -> None:
        self.lines = [f"[{name}]"]
        if comment:
            self.lines.insert(0, f"; {comment}")

    def ext(self, exten: str, app: str, label: str = "") -> None:
        """Add the first priority of ``exten``; ``then`` adds the following ones."""
        self.lines.append(f"exten => {exten},1{f'({label})' if label else ''},{app}")

    def then(self, app: str, label: str = "") -> None:
        self.lines.append(f" same => n{f'({label})' if label else ''},{app}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _sound(ctx: _Context, name: str) -> None:
    """Resolve ``name`` to an existing prompt (or the fallback) into VAXELD_SOUND."""
    ctx.then(f"Gosub(vaxeld-sound,s,1({name}))")


def _entry(config: Config) -> str:
    ctx = _Context(
        "vaxeld-entry", "The entry number. Include this context from the inbound context."
    )
    number = config.entry.number
    ctx.ext(number, f"Set(__VAXELD_ENTRY={number})")
    ctx.then("Goto(vaxeld-menu,s,1)")
    return ctx.text()


def _menu(config: Config) -> str:
    menu = config.menu
    ctx = _Context("vaxeld-menu", "Language menu: one digit, retried, then the default language.")
    ctx.ext("s", "Set(CHANNEL(hangup_handler_push)=vaxeld-hangup,s,1)")
    ctx.then("Answer()")
    ctx.then("UserEvent(VaxeldEntry,Entry: ${VAXELD_ENTRY})")
    ctx.then("Set(VAXELD_TRY=0)")
    if menu.greeting:
        _sound(ctx, menu.greeting)
        ctx.then("Playback(${VAXELD_SOUND})")
    for i, lang in enumerate(dict.fromkeys(menu.options.values())):
        _sound(ctx, config.languages[lang].prompt)
        sep = "" if i == 0 else "${VAXELD_PROMPTS}&"
        ctx.then(f"Set(VAXELD_PROMPTS={sep}${{VAXELD_SOUND}})")
    ctx.then("Set(VAXELD_TRY=$[${VAXELD_TRY} + 1])", label="ask")
    ctx.then(f"Read(VAXELD_DIGIT,${{VAXELD_PROMPTS}},1,,1,{menu.timeout_seconds})")
    ctx.then("Set(VAXELD_REASON=chosen)")
    for digit, lang in menu.options.items():
        ctx.then(f'GotoIf($["${{VAXELD_DIGIT}}" = "{digit}"]?vaxeld-lang-{lang},s,1)')
    ctx.then('GotoIf($["${VAXELD_DIGIT}" = ""]?retry)')
    if menu.invalid_sound:
        _sound(ctx, menu.invalid_sound)
        ctx.then("Playback(${VAXELD_SOUND})")
    ctx.then(f"GotoIf($[${{VAXELD_TRY}} < {menu.attempts}]?ask)", label="retry")
    ctx.then("Set(VAXELD_REASON=default)")
    ctx.then("Set(VAXELD_DIGIT=)")
    ctx.then(f"Goto(vaxeld-lang-{menu.default_language},s,1)")
    return ctx.text()


def _languages(config: Config) -> str:
    out = []
    for lang in config.languages:
        try:
            queue = config.queue_for_language(lang)
        except KeyError:
            continue
        ctx = _Context(f"vaxeld-lang-{lang}")
        ctx.ext("s", f"Set(__VAXELD_LANG={lang})")
        ctx.then(f"Set(CHANNEL(language)={lang})")
        ctx.then(
            f"UserEvent(VaxeldLanguage,Language: {lang},Digit: ${{VAXELD_DIGIT}},"
            "Reason: ${VAXELD_REASON})"
        )
        ctx.then(f"Goto(vaxeld-queue-{queue},s,1)")
        out.append(ctx.text())
    return "\n".join(out)


def _queues(config: Config) -> str:
    out = []
    for name, q in config.queues.items():
        ctx = _Context(f"vaxeld-queue-{name}")
        ctx.ext("s", f"Set(__VAXELD_QUEUE={name})")
        ctx.then(f"Queue({name},,,,{q.max_wait_seconds})")
        # Tells vaxeld why Queue() returned (TIMEOUT, LEAVEEMPTY, ...): Asterisk sends
        # QueueCallerAbandon for timeouts as well as hang-ups.
        ctx.then(f"UserEvent(VaxeldQueueResult,Queue: {name},Status: ${{QUEUESTATUS}})")
        _sound(ctx, q.closed_sound or config.sounds.fallback)
        ctx.then("Playback(${VAXELD_SOUND})")
        ctx.then("Hangup()")
        out.append(ctx.text())
    return "\n".join(out)


def _helpers(config: Config) -> str:
    hangup = _Context("vaxeld-hangup", "Hang-up handler: tells vaxeld the caller is gone.")
    hangup.ext("s", "UserEvent(VaxeldHangup,Language: ${VAXELD_LANG},Queue: ${VAXELD_QUEUE})")
    hangup.then("Return()")

    sound = _Context(
        "vaxeld-sound", "VAXELD_SOUND = ARG1 if a file exists for it, else the fallback sound."
    )
    sound.ext("s", "Set(VAXELD_SOUND=${ARG1})")
    for directory in _SOUND_DIRS:
        for fmt in _SOUND_FORMATS:
            path = f"${{ASTDATADIR}}/sounds/{directory}${{ARG1}}.{fmt}"
            sound.then(f"GotoIf(${{STAT(e,{path})}}?found)")
    sound.then(f"Set(VAXELD_SOUND={config.sounds.fallback})")
    sound.then("Return()", label="found")
    return hangup.text() + "\n" + sound.text()


def render_extensions(config: Config, version: str) -> str:
    parts = [
        HEADER.format(filename="extensions_vaxeld.conf", version=version),
        _entry(config),
        _menu(config),
        _languages(config),
        _queues(config),
        _helpers(config),
    ]
    return "\n".join(parts)
