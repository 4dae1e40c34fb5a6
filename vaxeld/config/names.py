"""Agents' names: the rule a member name must follow, and the topic id each agent gets.

A member name is shown on wallboards and in metrics and sent to Asterisk as the
queue member's name, so it must look like what it is. The rule:
- in Unicode NFC (composed) form, so one name has one spelling;
- letters of one script (Latin, Arabic, Cyrillic ...): "Asa" spelt with a Cyrillic "A" is
  refused, as it would pass for the Latin one;
- no invisible characters (zero-width joiners, direction marks, other format
  characters), and at most two combining marks in a row;
- plus the config pattern (letters first; spaces, '.', ''' and '-' between).

Every agent also gets a topic id, one MQTT topic level: the ASCII spelling of the
name ("Åsa Lindqvist" -> "asa-lindqvist"), or, for a name with no ASCII spelling (in
Arabic script, say), "agent-" and a digest of the name. Ids are stable (the same name
gives the same id) and two agents sharing one is a config error.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

_MARKS = frozenset({"Mn", "Mc", "Me"})
_INVISIBLE = frozenset({"Cf", "Cc", "Co", "Cs", "Cn", "Zl", "Zp"})
# Scripts as the first word of a character's Unicode name; a few names differ.
_SCRIPT_ALIASES = {"HIRAGANA": "JAPANESE", "KATAKANA": "JAPANESE", "CJK": "JAPANESE"}


def _script(ch: str) -> str:
    word = unicodedata.name(ch, "UNKNOWN").split(" ")[0]
    return _SCRIPT_ALIASES.get(word, word)


def member_name_problem(name: str) -> str | None:
    """Why ``name`` is not a member name vaxeld accepts, or None."""
    if unicodedata.normalize("NFC", name) != name:
        return "must be written in composed form (Unicode NFC)"
    scripts: set[str] = set()
    marks = 0
    for ch in name:
        category = unicodedata.category(ch)
        if category in _INVISIBLE:
            return f"must not hold invisible characters ({ch!a})"
        marks = marks + 1 if category in _MARKS else 0
        if marks > 2:
            return "must not stack more than two combining marks"
        if category.startswith("L"):
            scripts.add(_script(ch))
    if len(scripts) > 1:
        return f"mixes scripts ({', '.join(sorted(scripts)).lower()}): use one per name"
    return None


@functools.lru_cache(maxsize=4096)  # asked for every agent on every MQTT update
def agent_topic_id(name: str) -> str:
    """One safe MQTT topic level for the agent called ``name``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if slug:
        return slug
    return "agent-" + hashlib.sha256(name.encode()).hexdigest()[:10]
