"""queue_log files as logrotate leaves them: the current file and rotated ones (plain or
.gz), read once each, only what is new.

A file is known by its first line (a rename or a compression keeps it; a new file after
rotation or truncation has another), so what was read of queue_log before it became
queue_log.1 and then queue_log.2.gz is not read again. Only complete lines are taken; a
partial last line waits for the next ingest, or, in a rotated file, is counted as a
problem.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from vaxeld.history.store import HistoryStore

MAX_FIRST_LINE = 4096


@dataclass(frozen=True, slots=True)
class QueueLogFile:
    path: Path
    fingerprint: str  # of its first line
    first_time: int  # the first line's timestamp, to read files oldest first
    compressed: bool


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def _identify(path: Path) -> QueueLogFile | None:
    try:
        with _open(path) as fh:
            first = fh.readline(MAX_FIRST_LINE)
    except (OSError, EOFError):
        return None
    if not first.endswith(b"\n"):
        return None  # no complete line yet
    stamp = first.split(b"|", 1)[0]
    first_time = int(stamp) if stamp.isdigit() else 0
    digest = hashlib.sha1(first, usedforsecurity=False).hexdigest()
    return QueueLogFile(path, digest, first_time, path.suffix == ".gz")


def queue_log_files(path: Path) -> list[QueueLogFile]:
    """``path`` and its rotations (``path.1``, ``path.2.gz``, ``path-20261130.gz`` ...),
    oldest first."""
    candidates = [
        path,
        *sorted(path.parent.glob(path.name + ".*")),
        *sorted(path.parent.glob(path.name + "-*")),
    ]
    found = [f for f in (_identify(p) for p in candidates if p.is_file()) if f is not None]
    unique = {f.fingerprint: f for f in sorted(found, key=lambda f: f.compressed)}  # plain wins
    return sorted(unique.values(), key=lambda f: (f.first_time, f.path.name))


def ingest_files(store: HistoryStore, pbx: str, path: Path) -> int:
    """Read what is new in ``path`` and its rotations into ``store``; lines added."""
    added = 0
    for qfile in queue_log_files(path):
        done = store.consumed(pbx, qfile.fingerprint) or 0
        with _open(qfile.path) as fh, _region(fh, done) as (region, end):
            if region is not None:
                added += store.add_csv(pbx, region)
            if qfile.compressed and _has_partial_line(qfile.path, end):
                store.add_problem(pbx, "partial last line in a rotated file")
        if end > done:
            store.mark_consumed(pbx, qfile.fingerprint, str(qfile.path), end)
    return added


class _region:
    """The complete lines from byte ``start`` on, copied to a temporary file (DuckDB
    reads a file; a live queue_log may grow while it does)."""

    def __init__(self, fh: IO[bytes], start: int) -> None:
        self._fh, self._start = fh, start
        self._tmp: IO[bytes] | None = None

    def __enter__(self) -> tuple[Path | None, int]:
        fh = self._fh
        tmp = self._tmp = tempfile.NamedTemporaryFile(suffix=".queue_log")
        if isinstance(fh, io.BufferedReader):
            end = _copy_plain(fh, self._start, tmp)
        else:
            end = _copy_stream(fh, self._start, tmp)
        tmp.flush()
        return (Path(tmp.name) if end > self._start else None), end

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.close()


def _copy_stream(fh: IO[bytes], start: int, out: IO[bytes]) -> int:
    """Copy the complete lines of a (decompressed) stream from ``start``; where they end."""
    fh.seek(start)  # a gzip stream seeks by reading through
    copied, last_newline = 0, -1
    while chunk := fh.read(1 << 20):
        out.write(chunk)
        at = chunk.rfind(b"\n")
        if at >= 0:
            last_newline = copied + at
        copied += len(chunk)
    out.truncate(last_newline + 1)
    return start + last_newline + 1


def _copy_plain(fh: io.BufferedReader, start: int, out: IO[bytes]) -> int:
    """Copy the complete lines of a plain file from ``start`` in the kernel (a year is
    hundreds of megabytes); the end is the last newline as the file is now, so lines
    written meanwhile wait for the next ingest."""
    size = os.fstat(fh.fileno()).st_size
    end = size
    while end > start:  # back from the end to the last newline
        step = min(1 << 16, end - start)
        fh.seek(end - step)
        at = fh.read(step).rfind(b"\n")
        if at >= 0:
            end = end - step + at + 1
            break
        end -= step
    else:
        return start
    offset, left = start, end - start
    while left > 0:
        try:
            sent = os.copy_file_range(fh.fileno(), out.fileno(), left, offset)
        except OSError:  # another file system, an old kernel: copy through user space
            fh.seek(offset)
            sent = out.write(fh.read(min(left, 1 << 20)))
        if sent == 0:  # the file shrank under us: take nothing of it this time
            out.truncate(0)
            return start
        offset, left = offset + sent, left - sent
    return end


def _has_partial_line(path: Path, end: int) -> bool:
    with _open(path) as fh:
        fh.seek(end)
        return bool(fh.read(1))
