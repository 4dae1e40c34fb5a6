"""What `vaxeld check` says beyond validation: prompts missing on the Asterisk side, a
rendered holiday calendar about to run out, and secrets `vaxeld run` would refuse."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from vaxeld.config import Config, ConfigError, read_secret
from vaxeld.config.load import read_mqtt_password
from vaxeld.contract import CALENDAR_VARIABLE, SOUND_DIRS, SOUND_FORMATS

CALENDAR_WARN_DAYS = 60


def prompts_in(config: Config) -> Iterator[tuple[str, str, str]]:
    """(config path, sound name, language) of every prompt the dialplan may play."""
    for code, lang in config.languages.items():
        yield f"languages.{code}.prompt", lang.prompt, code
        if lang.closed_prompt:
            yield f"languages.{code}.closed_prompt", lang.closed_prompt, code
    if config.menu.greeting:
        yield "menu.greeting", config.menu.greeting, "en"
    if config.menu.invalid_sound:
        yield "menu.invalid_sound", config.menu.invalid_sound, "en"
    for name, queue in config.queues.items():
        if queue.end_sound:
            yield f"queues.{name}.end_sound", queue.end_sound, queue.language
    for msg_id, message in config.crisis.messages.items():
        yield f"crisis.messages.{msg_id}.prompt", message.prompt, "en"
    yield "sounds.fallback", config.sounds.fallback, "en"


def missing_prompts(config: Config, sounds_dir: Path) -> list[str]:
    """One line per prompt with no file in any place the dialplan looks."""
    problems = []
    for path, sound, lang in prompts_in(config):
        dirs = [d.replace("${CHANNEL(language)}", lang) for d in SOUND_DIRS]
        candidates = [sounds_dir / f"{d}{sound}.{fmt}" for d in dirs for fmt in SOUND_FORMATS]
        if not any(c.exists() for c in candidates):
            where = ", ".join(dict.fromkeys(f"{sounds_dir / d}" for d in dirs))
            problems.append(f"{path}: prompt {sound!r} not found (looked in {where})")
    return problems


def rendered_calendar_end(extensions_text: str) -> date | None:
    pattern = rf"^{CALENDAR_VARIABLE}=([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})$"
    m = re.search(pattern, extensions_text, re.MULTILINE)
    return date.fromisoformat(m.group(1)) if m else None


def calendar_warning(extensions_text: str, today: date) -> str | None:
    end = rendered_calendar_end(extensions_text)
    if end is None:
        return None
    left = (end - today).days
    if left < CALENDAR_WARN_DAYS:
        return (
            f"the rendered holiday calendar runs out on {end.isoformat()} ({left} days): "
            "run `vaxeld render` again"
        )
    return None


def secret_problems(config: Config, environ: dict[str, str]) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the secrets `vaxeld run` will read: a secret file that is
    there but would be refused (not a regular file, too large, not a valid secret) is an
    error; one that is not there, here, is a warning (check may run on another host)."""
    errors: list[str] = []
    warnings: list[str] = []
    for pbx in config.pbxs:
        where = f"pbxs.{pbx.name}.secret_file"
        if pbx.secret_file is None:
            continue
        if not pbx.secret_file.exists():
            warnings.append(f"{where}: {pbx.secret_file} is not here; `vaxeld run` needs it")
            continue
        try:
            read_secret(pbx, environ)
        except ConfigError as exc:
            errors += [f"{where}: {p.message}" for p in exc.problems]
    mqtt = config.mqtt
    if mqtt is not None and mqtt.password_file is not None and mqtt.password_file.exists():
        try:
            read_mqtt_password(mqtt, environ)
        except ConfigError as exc:
            errors += [f"mqtt.password_file: {p.message}" for p in exc.problems]
    return errors, warnings
