"""Render the Asterisk dialplan: entry and legacy numbers, crisis switch, opening
hours, language menu, staff extensions, queues with overflow, closed handling.

Pure and deterministic: the same Config and date give the same bytes. Every
value put into the dialplan was matched against a strict pattern in
vaxeld.config, so nothing here escapes anything. Routing decisions live here,
in Asterisk; vaxeld only listens to the UserEvents, so callers are served the
same whether vaxeld runs or not.

Order of decisions for a caller: crisis (AstDB) > holiday > closed > open.
"""

from __future__ import annotations

from datetime import date

from vaxeld import contract
from vaxeld.config import Config
from vaxeld.config.models import ClosedConfig, QueueChoice
from vaxeld.contract import (
    CRISIS_FAMILY,
    CRISIS_MESSAGE_KEY,
    CRISIS_MODE_KEY,
    REASON_CHOSEN,
    REASON_DEFAULT,
    REASON_DIRECT,
    SOUND_DIRS,
    SOUND_FORMATS,
)
from vaxeld.render.common import HEADER, Context
from vaxeld.render.schedule import render_schedules

ROUTED_VARIABLE = contract.ROUTED_VARIABLE
ROUTED = f"Set({ROUTED_VARIABLE}=1)"  # past the menu: a hang-up is no menu abandon


def _entry(config: Config) -> str:
    ctx = Context("vaxeld-entry", "Entry and legacy numbers. Include from the inbound context.")
    ctx.comment(config.entry.label)
    ctx.ext(config.entry.number, f"Set(__VAXELD_ENTRY={config.entry.number})")
    ctx.then("Set(__VAXELD_NEXT=vaxeld-menu)")
    ctx.then("Goto(vaxeld-start,s,1)")
    for legacy in config.legacy_numbers:
        ctx.comment(legacy.label)
        ctx.ext(legacy.number, f"Set(__VAXELD_ENTRY={legacy.number})")
        if legacy.language is not None:
            ctx.then(f"Set(__VAXELD_REASON={REASON_DIRECT})")
            ctx.then(f"Set(__VAXELD_NEXT=vaxeld-lang-{legacy.language})")
        elif legacy.queue is not None:
            ctx.then(f"Set(__VAXELD_NEXT=vaxeld-queue-{legacy.queue})")
        else:
            ctx.then("Set(__VAXELD_NEXT=vaxeld-menu)")
        ctx.then("Goto(vaxeld-start,s,1)")
    return ctx.text()


def _start(config: Config) -> str:
    ctx = Context("vaxeld-start", "Crisis switch first, then the entry's opening hours.")
    ctx.ext("s", "Set(CHANNEL(hangup_handler_push)=vaxeld-hangup,s,1)")
    # Inherited by the channels Queue() and transfers make for agents: an agent's blind
    # transfer and consultation call land in vaxeld-transfer, which knows the caller.
    ctx.then(f"Set(__{contract.CALLER_VARIABLE}=${{UNIQUEID}})")
    ctx.then(f"Set(__TRANSFER_CONTEXT={contract.TRANSFER_CONTEXT})")
    ctx.then("Answer()")
    ctx.then(contract.ENTRY.app(Entry="${VAXELD_ENTRY}"))
    ctx.then(contract.LOG_ENTRY.app(entry="${VAXELD_ENTRY}"))
    # FILTER: AstDB is written by vaxeld after validation, but never trust it here.
    ctx.then(
        f"Set(VAXELD_CRISIS_MODE=${{FILTER(a-z_,${{DB({CRISIS_FAMILY}/{CRISIS_MODE_KEY})}})}})"
    )
    ctx.then('GotoIf($["${VAXELD_CRISIS_MODE}" = ""]?hours)')
    ctx.then(
        f"Set(VAXELD_CRISIS_MSG=${{FILTER(a-z0-9_-,${{DB({CRISIS_FAMILY}/{CRISIS_MESSAGE_KEY})}})}})"
    )
    ctx.then(contract.CRISIS.app(Mode="${VAXELD_CRISIS_MODE}", Message="${VAXELD_CRISIS_MSG}"))
    ctx.then(contract.LOG_CRISIS.app(mode="${VAXELD_CRISIS_MODE}", message="${VAXELD_CRISIS_MSG}"))
    for msg_id, message in config.crisis.messages.items():
        ctx.then(f'GotoIf($["${{VAXELD_CRISIS_MSG}}" != "{msg_id}"]?not-{msg_id})')
        ctx.play(message.prompt)
        ctx.then("Noop()", label=f"not-{msg_id}")
    ctx.then(f'ExecIf($["${{VAXELD_CRISIS_MODE}}" = "announce_only"]?{ROUTED})')
    ctx.then('GotoIf($["${VAXELD_CRISIS_MODE}" = "announce_only"]?vaxeld-end,s,1)')
    ctx.then("Noop()", label="hours")
    if config.entry.schedule is not None:
        ctx.then(f"Gosub(vaxeld-schedule-{config.entry.schedule},s,1(${{EPOCH}}))")
        ctx.then('GotoIf($["${GOSUB_RETVAL}" != "open"]?vaxeld-closed-entry,s,1)')
    ctx.then("Goto(${VAXELD_NEXT},s,1)")
    return ctx.text()


def _closed_action(ctx: Context, closed: ClosedConfig, config: Config) -> None:
    if closed.action == "transfer":
        ctx.then(f"Dial(Local/{closed.number}@{config.dial_context})")
    elif closed.action == "voicemail":
        ctx.then(f"VoiceMail({closed.mailbox},u)")
    ctx.then("Hangup()")


def _closed(config: Config) -> str:
    ctx = Context(
        "vaxeld-closed-entry",
        "The entry number is closed: every language's closed message, then the configured action.",
    )
    ctx.ext("s", "Set(VAXELD_CLOSED_REASON=${CUT(GOSUB_RETVAL,-,2)})")
    ctx.then(ROUTED)
    ctx.then(contract.CLOSED.app(Reason="${VAXELD_CLOSED_REASON}", Queue=""))
    ctx.then(contract.LOG_CLOSED.app(reason="${VAXELD_CLOSED_REASON}", queue=""))
    for lang in dict.fromkeys(v for v in config.menu.options.values() if isinstance(v, str)):
        prompt = config.languages[lang].closed_prompt
        if prompt is not None:
            ctx.play(prompt)
    _closed_action(ctx, config.entry.closed, config)
    return ctx.text()


def _menu(config: Config) -> str:
    menu = config.menu
    ctx = Context("vaxeld-menu", "Language menu: one digit, retried, then the default language.")
    ctx.ext("s", "Set(VAXELD_TRY=0)")
    if menu.greeting:
        ctx.play(menu.greeting)
    languages = list(dict.fromkeys(v for v in menu.options.values() if isinstance(v, str)))
    for i, lang in enumerate(languages):
        ctx.sound(config.languages[lang].prompt)
        sep = "" if i == 0 else "${VAXELD_PROMPTS}&"
        ctx.then(f"Set(VAXELD_PROMPTS={sep}${{VAXELD_SOUND}})")
    ctx.then("Set(VAXELD_TRY=$[${VAXELD_TRY} + 1])", label="ask")
    ctx.then(f"Read(VAXELD_DIGIT,${{VAXELD_PROMPTS}},1,,1,{menu.timeout_seconds})")
    ctx.then(f"Set(__VAXELD_REASON={REASON_CHOSEN})")
    choices = Context("vaxeld-choice", "Menu digits that go straight to a queue.")
    for digit, choice in menu.options.items():
        if isinstance(choice, QueueChoice):
            target = f"vaxeld-choice,{digit}"
            choices.ext(digit, contract.MENU.app(Result="chosen", Digit=digit))
            choices.then(contract.LOG_MENU.app(result="chosen", digit=digit))
            choices.then(f"Goto(vaxeld-queue-{choice.queue},s,1)")
        else:
            target = f"vaxeld-lang-{choice},s"
        ctx.then(f'GotoIf($["${{VAXELD_DIGIT}}" = "{digit}"]?{target},1)')
    for first in dict.fromkeys(ext.bounds[0][0] for ext in menu.extensions):
        ctx.then(f'GotoIf($["${{VAXELD_DIGIT}}" = "{first}"]?vaxeld-extension,s,1)')
    ctx.then('GotoIf($["${VAXELD_DIGIT}" = ""]?timeout)')
    ctx.then(contract.MENU.app(Result="invalid", Digit="${VAXELD_DIGIT}"), label="invalid")
    ctx.then(contract.LOG_MENU.app(result="invalid", digit="${VAXELD_DIGIT}"))
    if menu.invalid_sound:
        ctx.play(menu.invalid_sound)
    ctx.then("Goto(retry)")
    ctx.then(contract.MENU.app(Result="timeout", Digit=""), label="timeout")
    ctx.then(contract.LOG_MENU.app(result="timeout", digit=""))
    ctx.then(f"GotoIf($[${{VAXELD_TRY}} < {menu.attempts}]?ask)", label="retry")
    ctx.then(f"Set(__VAXELD_REASON={REASON_DEFAULT})")
    ctx.then("Set(VAXELD_DIGIT=)")
    ctx.then(f"Goto(vaxeld-lang-{menu.default_language},s,1)")
    out = ctx.text()
    if len(choices.lines) > 2:
        out += "\n" + choices.text()
    if menu.extensions:
        out += "\n" + _extensions(config)
    return out


def _extensions(config: Config) -> str:
    ctx = Context("vaxeld-extension", "Direct dialling of a staff extension from the menu.")
    width = max(len(ext.bounds[0]) for ext in config.menu.extensions)
    ctx.ext("s", f"Read(VAXELD_EXT_REST,,{width - 1},,1,{config.menu.timeout_seconds})")
    ctx.then("Set(VAXELD_EXT=${FILTER(0-9,${VAXELD_DIGIT}${VAXELD_EXT_REST})})")
    for ext in config.menu.extensions:
        low, high = ext.bounds
        ctx.then(
            # "0" in front keeps the expression valid when nothing was dialled.
            f"GotoIf($[${{LEN(${{VAXELD_EXT}})}} = {len(low)} & 0${{VAXELD_EXT}} >= {int(low)} & "
            f"0${{VAXELD_EXT}} <= {int(high)}]?dial)"
        )
    ctx.then(contract.MENU.app(Result="invalid", Digit="${VAXELD_EXT}"))
    ctx.then(contract.LOG_MENU.app(result="invalid", digit="${VAXELD_EXT}"))
    ctx.then("Goto(vaxeld-menu,s,retry)")
    ctx.then(contract.EXTENSION.app(Extension="${VAXELD_EXT}"), label="dial")
    ctx.then(ROUTED)
    ctx.then(f"Dial(Local/${{VAXELD_EXT}}@{config.dial_context})")
    ctx.then("Hangup()")
    return ctx.text()


def _languages(config: Config) -> str:
    out = []
    for lang in config.languages:
        ctx = Context(f"vaxeld-lang-{lang}")
        ctx.ext("s", f"Set(__VAXELD_LANG={lang})")
        ctx.then(f"Set(CHANNEL(language)={lang})")
        ctx.then(ROUTED)
        ctx.then(
            contract.LANGUAGE.app(Language=lang, Digit="${VAXELD_DIGIT}", Reason="${VAXELD_REASON}")
        )
        ctx.then(
            contract.LOG_LANGUAGE.app(
                language=lang, digit="${VAXELD_DIGIT}", reason="${VAXELD_REASON}"
            )
        )
        ctx.then(f"Goto(vaxeld-queue-{config.queue_for_language(lang)},s,1)")
        out.append(ctx.text())
    return "\n".join(out)


def _queues(config: Config) -> str:
    out = []
    for name, q in config.queues.items():
        ctx = Context(f"vaxeld-queue-{name}")
        ctx.ext("s", f"Set(__VAXELD_QUEUE={name})")
        ctx.then(ROUTED)
        if q.schedule is not None and q.schedule != config.entry.schedule:
            ctx.then(f"Gosub(vaxeld-schedule-{q.schedule},s,1(${{EPOCH}}))")
            ctx.then('GotoIf($["${GOSUB_RETVAL}" != "open"]?closed)')
        overflow = q.overflow
        wait = q.max_wait_seconds
        if overflow is not None and overflow.after_seconds is not None:
            wait = min(wait, overflow.after_seconds)
        # A status left from an earlier queue (an overflow) must not describe this one.
        ctx.then("Set(QUEUESTATUS=)")
        options = "t" if config.transfers.keypad else ""  # agents may transfer by keys
        ctx.then(f"Queue({name},{options},,,{wait})")
        # Tells vaxeld why Queue() returned (TIMEOUT, JOINEMPTY, ...): Asterisk sends
        # QueueCallerAbandon for timeouts as well as hang-ups.
        ctx.then(contract.QUEUE_RESULT.app(Queue=name, Status="${QUEUESTATUS}"))
        if overflow is not None:
            statuses = []
            if overflow.after_seconds is not None and overflow.after_seconds < q.max_wait_seconds:
                statuses.append("TIMEOUT")
            if overflow.when_empty:
                statuses += ["JOINEMPTY", "LEAVEEMPTY"]
            test = " | ".join(f'"${{QUEUESTATUS}}" = "{s}"' for s in statuses)
            if test:
                ctx.then(f"GotoIf($[{test}]?overflow)")
        ctx.play(q.end_sound or config.sounds.fallback)
        ctx.then("Hangup()")
        if overflow is not None:
            ctx.then(
                contract.OVERFLOW.app(From=name, To=overflow.to, Status="${QUEUESTATUS}"),
                label="overflow",
            )
            ctx.then(
                contract.LOG_OVERFLOW.app(
                    **{"from": name, "to": overflow.to}, status="${QUEUESTATUS}"
                )
            )
            ctx.then(f"Goto(vaxeld-queue-{overflow.to},s,1)")
        if q.schedule is not None and q.schedule != config.entry.schedule:
            ctx.then("Set(VAXELD_CLOSED_REASON=${CUT(GOSUB_RETVAL,-,2)})", label="closed")
            ctx.then(contract.CLOSED.app(Reason="${VAXELD_CLOSED_REASON}", Queue=name))
            ctx.then(contract.LOG_CLOSED.app(reason="${VAXELD_CLOSED_REASON}", queue=name))
            prompt = config.languages[q.language].closed_prompt
            if prompt is not None:
                ctx.play(prompt)
            _closed_action(ctx, q.closed or config.entry.closed, config)
        out.append(ctx.text())
    return "\n".join(out)


def _transfer(config: Config) -> str:
    """Where agents' transfers of centre callers go: every number is logged for the
    caller (the target of a blind transfer, or of an attended one's consultation call);
    queue numbers put the caller in that queue, everything else is dialled out."""
    ctx = Context(
        contract.TRANSFER_CONTEXT,
        "Agents' transfers (TRANSFER_CONTEXT of every centre caller's channels).",
    )
    caller = "${" + contract.CALLER_VARIABLE + "}"
    patterns = [*config.transfers.queues, "_X."]
    for exten in patterns:
        ctx.ext(exten, f'GotoIf($["{caller}" = ""]?routed)')
        ctx.then(contract.TRANSFER_TARGET.app(Caller=caller, Target="${EXTEN}"))
        ctx.then(contract.LOG_TRANSFER_TARGET.app(target="${EXTEN}"))
        queue = config.transfers.queues.get(exten)
        if queue is None:
            ctx.then(f"Goto({config.dial_context},${{EXTEN}},1)", label="routed")
            continue
        # Only the caller itself joins a queue: a consultation call to a queue number
        # would be counted as a caller of its own.
        ctx.then(f'GotoIf($["${{UNIQUEID}}" != "{caller}"]?consult)', label="routed")
        ctx.then(f"Goto(vaxeld-queue-{queue},s,1)")
        ctx.then("Congestion()", label="consult")
    return ctx.text()


def _helpers(config: Config) -> str:
    end = Context(
        "vaxeld-end",
        "Callers who leave a queue unanswered, or after an announcement-only crisis message.",
    )
    end.ext("s", "Noop()")
    end.play(config.sounds.fallback)
    end.then("Hangup()")

    hangup = Context("vaxeld-hangup", "Hang-up handler: tells vaxeld the caller is gone.")
    hangup.ext(
        "s",
        contract.HANGUP.app(
            Language="${VAXELD_LANG}", Queue="${VAXELD_QUEUE}", Status="${QUEUESTATUS}"
        ),
    )
    # Never past the menu: a menu abandon, in queue_log too.
    hangup.then(f'GotoIf($["${{{ROUTED_VARIABLE}}}" != "" | "${{VAXELD_ENTRY}}" = ""]?done)')
    hangup.then(contract.LOG_MENU_ABANDON.app(entry="${VAXELD_ENTRY}"))
    hangup.then("Return()", label="done")

    sound = Context(
        "vaxeld-sound", "VAXELD_SOUND = ARG1 if a file exists for it, else the fallback sound."
    )
    sound.ext("s", "Set(VAXELD_SOUND=${ARG1})")
    for directory in SOUND_DIRS:
        for fmt in SOUND_FORMATS:
            path = f"${{ASTDATADIR}}/sounds/{directory}${{ARG1}}.{fmt}"
            sound.then(f"GotoIf(${{STAT(e,{path})}}?found)")
    sound.then(f"Set(VAXELD_SOUND={config.sounds.fallback})")
    sound.then("Return()", label="found")
    return "\n".join((end.text(), hangup.text(), sound.text()))


def render_extensions(config: Config, version: str, today: date) -> str:
    parts = [
        HEADER.format(filename="extensions_vaxeld.conf", version=version)
        + f"; calendar years {today.year}-{today.year + 1}\n",
        render_schedules(config, today),
        _entry(config),
        _start(config),
        _closed(config),
        _menu(config),
        _languages(config),
        _queues(config),
        _transfer(config),
        _helpers(config),
    ]
    return "\n".join(parts)
