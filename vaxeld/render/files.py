"""Write rendered files atomically: all or nothing, never a half-written dialplan.

Each file goes to a temp file in the same directory, is fsynced, and only when
every temp file is complete are they renamed over the old ones. A failure
before that leaves every old file as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from vaxeld import __version__
from vaxeld.config import Config
from vaxeld.render.dialplan import render_extensions
from vaxeld.render.queues import render_queues

EXTENSIONS_FILE = "extensions_vaxeld.conf"
QUEUES_FILE = "queues_vaxeld.conf"


def render_all(config: Config, today: date, version: str = __version__) -> dict[str, str]:
    """File name -> content for everything Asterisk needs. Pure: the date decides which
    calendar years are rendered, and is passed in rather than read from a clock."""
    return {
        EXTENSIONS_FILE: render_extensions(config, version, today),
        QUEUES_FILE: render_queues(config, version),
    }


def write_atomically(directory: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` into ``directory``; return the paths that changed."""
    directory.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    changed: list[Path] = []
    try:
        for name, content in files.items():
            target = directory / name
            data = content.encode("utf-8")
            if target.exists() and target.read_bytes() == data:
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
        for tmp, target in staged:
            os.replace(tmp, target)
            changed.append(target)
        staged.clear()
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    if changed:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return changed
