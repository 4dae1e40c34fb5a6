"""Asterisk's queue_log file, followed incrementally through rotation (the lines
themselves are parsed by the core, vaxeld.state.queuelog_lines).

queue_log is Asterisk's own record of every queue call. vaxeld reads it to
recover what it could not see over AMI (an outage, a dropped frame), so its
counts end up equal to Asterisk's. The reader keeps its place (file identity and
offset) between reads, finishes a rotated file before opening the new one, starts
over when the file was truncated, and never returns a line that is not yet complete.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import struct
from pathlib import Path
from typing import IO

from vaxeld.state.queuelog_lines import MAX_LINE, QueueLogEntry, parse_line


class QueueLogReader:
    """Follows one queue_log file. Blocking I/O: call it from a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None
        self._ino: int | None = None
        self._partial = b""
        self.bad_lines = 0

    @property
    def offset(self) -> int:
        """Where in the file the next line to read starts (0 before the file is open)."""
        return self._fh.tell() - len(self._partial) if self._fh is not None else 0

    def start_at_time(self, since: float) -> tuple[list[QueueLogEntry], int | None]:
        """Skip the lines older than ``since`` (Unix time) and return the rest, so that
        read_new continues after them; and the time of the file's first line (None when
        there is no file or no line yet). Lines are in time order, so the first line of
        ``since`` or later is found by bisecting the file, not by reading all of it."""
        if not self._open(at_end=False):
            return [], None
        assert self._fh is not None
        size = os.fstat(self._fh.fileno()).st_size
        try:
            first = self._time_of_line_at(0)
            lo, hi = 0, size
            while lo < hi:  # the first line starting at or after `lo` is the one wanted
                mid = (lo + hi) // 2
                found = self._time_of_line_at(mid)
                if found is None or found[1] >= since:
                    hi = mid
                else:
                    lo = mid + 1
            start = self._time_of_line_at(lo)
            self._fh.seek(start[0] if start else size)
            self._partial = b""
            return self._drain(), (first[1] if first else None)
        except OSError:
            # Never leave the place in the middle: read_new would count old lines as new.
            self._fh.seek(size)
            self._partial = b""
            raise

    def _time_of_line_at(self, offset: int) -> tuple[int, int] | None:
        """(offset, time) of the first well-formed line starting at or after ``offset``."""
        assert self._fh is not None
        self._fh.seek(max(offset - 1, 0))
        if offset > 0:
            self._fh.readline(MAX_LINE)  # the rest of the line `offset` falls in
        while True:
            at = self._fh.tell()
            raw = self._fh.readline(MAX_LINE)
            if not raw.endswith(b"\n"):
                return None  # the end, or a line still being written
            entry = parse_line(raw.decode("utf-8", "replace"))
            if entry is not None:
                return at, entry.time

    def _open(self, at_end: bool) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open to survive rotation
        except OSError:
            return False
        if self._fh is not None:
            self._fh.close()
        self._fh = fh
        self._ino = os.fstat(fh.fileno()).st_ino
        if at_end:
            fh.seek(0, os.SEEK_END)
        self._partial = b""
        return True

    def read_new(self) -> list[QueueLogEntry]:
        """Every complete line added since the last call, in order."""
        if self._fh is None and not self._open(at_end=False):
            return []
        assert self._fh is not None
        entries = self._drain()
        try:
            st = os.stat(self.path)
        except OSError:
            return entries  # rotated away and not yet recreated
        if st.st_ino != self._ino:
            # Rotated: the old file is finished (drained above); the new one starts at 0.
            if self._open(at_end=False):
                entries += self._drain()
        elif st.st_size < self._fh.tell():
            # Truncated in place (copytruncate): start over.
            self._fh.seek(0)
            self._partial = b""
            entries += self._drain()
        return entries

    def _drain(self) -> list[QueueLogEntry]:
        assert self._fh is not None
        data = self._partial + self._fh.read()
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:  # no newline for too long: not a queue_log
            self.bad_lines += 1
            self._partial = b""
        out = []
        for raw in lines:
            entry = parse_line(raw.decode("utf-8", "replace"))
            if entry is None:
                self.bad_lines += 1
            else:
                out.append(entry)
        return out

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# inotify (Linux), through libc: no dependency for three calls.
_IN_MODIFY, _IN_ATTRIB, _IN_MOVE_SELF, _IN_DELETE_SELF, _IN_IGNORED = 0x2, 0x4, 0x800, 0x400, 0x8000
_IN_NONBLOCK, _IN_CLOEXEC = 0o4000, 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


class FileChanges:
    """Wakes its waiter when a file is written to, moved or removed (inotify), so that
    following queue_log costs nothing while nothing is written. A file moved away by
    logrotate is watched again under its name at the next ``rearm()``; a file that does
    not exist yet is watched once it does."""

    def __init__(self, path: Path, fd: int, libc: ctypes.CDLL) -> None:
        self.path, self._fd, self._libc = path, fd, libc
        self._wd: int | None = None
        self.changed = asyncio.Event()
        asyncio.get_running_loop().add_reader(fd, self._readable)
        self.rearm()

    @classmethod
    def watch(cls, path: Path) -> FileChanges | None:
        """A watch on ``path``, or None where inotify is not to be had."""
        libc = _libc()
        if libc is None or not hasattr(libc, "inotify_init1"):
            return None
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        return None if fd < 0 else cls(path, fd, libc)

    def rearm(self) -> None:
        if self._wd is None:
            mask = _IN_MODIFY | _IN_ATTRIB | _IN_MOVE_SELF | _IN_DELETE_SELF
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(self.path), mask)
            self._wd = wd if wd >= 0 else None

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        at = 0
        while at + _EVENT.size <= len(data):
            _, mask, _, size = _EVENT.unpack_from(data, at)
            at += _EVENT.size + size
            if mask & (_IN_MOVE_SELF | _IN_DELETE_SELF | _IN_IGNORED):
                self._wd = None  # rotated or removed: the name is watched again next time
        self.changed.set()

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self._fd)
        os.close(self._fd)
