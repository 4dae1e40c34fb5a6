"""The strict patterns and value types every part of the config uses.

Every value that ends up in an Asterisk dialplan, queues.conf or an AMI action is
matched against a strict pattern and rejected when it does not fit; nothing is escaped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

# Strict patterns for anything that reaches Asterisk. Kept narrow on purpose.
NAME_RE = r"^[a-z][a-z0-9_-]{0,31}$"  # queue, group, pbx names
LANGUAGE_RE = r"^[a-z]{2,3}$"  # ISO 639 code, also the Asterisk channel language
SOUND_RE = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"  # relative sound name, no extension
INTERFACE_RE = r"^(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.+-]+(@[A-Za-z0-9_-]+)?(/n)?$"
# Letters first; no , ; | [ ] $ { }. Unicode classes use * with a separate max_length:
# bounded repetition ({0,62}) of \w compiles into a huge regex automaton.
MEMBER_NAME_RE = r"^[^\W\d_][\w.' -]*[\w.]$"
HOST_RE = r"^[A-Za-z0-9.:-]{1,253}$"
AMI_USER_RE = r"^[A-Za-z0-9_.-]{1,64}$"
DIGIT_RE = r"^[0-9]$"
CONTEXT_RE = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
MAILBOX_RE = r"^[0-9]{1,10}(@[A-Za-z0-9_-]{1,32})?$"
LABEL_RE = r"^[^\W_][\w .'()-]*$"  # shown in metrics and logs, never in the dialplan
ENV_RE = r"^[A-Z_][A-Z0-9_]{0,63}$"

Name = Annotated[str, StringConstraints(pattern=NAME_RE)]
EnvName = Annotated[str, StringConstraints(pattern=ENV_RE)]
CredentialName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_RE)]
Sound = Annotated[str, StringConstraints(pattern=SOUND_RE, max_length=128)]
Digit = Annotated[str, StringConstraints(pattern=DIGIT_RE)]


def time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    if not re.fullmatch(r"[A-Za-z_]+(/[A-Za-z_+-]+){0,2}", value):
        raise ValueError(f"time zone {value!r} is not allowed here")
    return value


def _normalise_number(value: str) -> str:
    """'031-365 00 00' -> '0313650000'. Only digits, spaces, hyphens and a leading + allowed."""
    if not isinstance(value, str) or not re.fullmatch(r"\+?[0-9][0-9 -]*", value.strip()):
        raise ValueError("must be a phone number of digits, spaces and hyphens")
    digits = re.sub(r"[ -]", "", value.strip())
    if not re.fullmatch(r"\+?[0-9]{2,20}", digits):
        raise ValueError("must have 2 to 20 digits")
    return digits


PhoneNumber = Annotated[str, AfterValidator(_normalise_number)]


def _safe_path(value: Path) -> Path:
    text = str(value)
    if len(text) > 1024 or re.search(r"[\x00-\x1f\x7f]", text):
        raise ValueError("must be a path of at most 1024 characters, without control characters")
    return value


# A file or folder on this host: no NUL or control characters (a NUL passed validation
# and crashed `vaxeld run` when the file was opened).
FilePath = Annotated[Path, AfterValidator(_safe_path)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
