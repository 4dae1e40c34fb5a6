"""Small helpers shared by the renderers: contexts built line by line, file headers."""

from __future__ import annotations

HEADER = """\
; {filename}: rendered by vaxeld {version} from the routing config.
; Do not edit: change the YAML and run `vaxeld render`.
"""


class Context:
    """One dialplan context, written as `exten => ...` then `same => n,...` lines."""

    def __init__(self, name: str, comment: str = "") -> None:
        self.lines = [f"; {comment}"] if comment else []
        self.lines.append(f"[{name}]")

    def ext(self, exten: str, app: str, label: str = "") -> None:
        self.lines.append(f"exten => {exten},1{f'({label})' if label else ''},{app}")

    def then(self, app: str, label: str = "") -> None:
        self.lines.append(f" same => n{f'({label})' if label else ''},{app}")

    def sound(self, name: str) -> None:
        """Resolve ``name`` to an existing prompt (or the fallback) into VAXELD_SOUND."""
        self.then(f"Gosub(vaxeld-sound,s,1({name}))")

    def play(self, name: str) -> None:
        self.sound(name)
        self.then("Playback(${VAXELD_SOUND})")

    def comment(self, text: str) -> None:
        self.lines.append(f"; {text}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
