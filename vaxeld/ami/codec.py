"""Sans-I/O codec for the Asterisk Manager Interface.

Bytes go in, messages come out; no sockets, no clocks. The decoder keeps raw
bytes until a whole frame (terminated by a blank line) has arrived and only
then decodes it as UTF-8, so a character split across two reads ("Å" is two
bytes) is decoded correctly. Frames are bounded: a peer that sends more than
``max_frame`` bytes without a terminator has that frame dropped and reported,
and the decoder resynchronises on the next blank line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

TERMINATOR = b"\r\n\r\n"
GREETING_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_FRAME = 1024 * 1024

_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Message:
    """One AMI message: its headers in arrival order, repeated keys kept."""

    headers: tuple[tuple[str, str], ...]
    # Lower-case key -> first value, built on first use: the reducer asks many questions
    # of each event, and a scan per question showed up as a third of all the work.
    _index: dict[str, str] | None = field(default=None, compare=False, repr=False)

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = {}
            for k, v in self.headers:
                index.setdefault(k.lower(), v)
            object.__setattr__(self, "_index", index)
        return index

    def get(self, key: str, default: str = "") -> str:
        """First value for ``key`` (case-insensitive), or ``default``."""
        return self._lookup().get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        """Every value for ``key``, e.g. repeated ChanVariable or Output lines."""
        lkey = key.lower()
        return [v for k, v in self.headers if k.lower() == lkey]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lookup()

    @property
    def event(self) -> str:
        return self.get("Event")

    @property
    def response(self) -> str:
        return self.get("Response")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        """Headers as a dict; for repeated keys the first value wins."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            out.setdefault(k, v)
        return out


@dataclass(frozen=True, slots=True)
class Greeting:
    """The banner Asterisk sends on connect, e.g. 'Asterisk Call Manager/9.0.0'."""

    version: str


@dataclass(frozen=True, slots=True)
class DecodeError:
    """A frame that could not be used. ``size`` is how many bytes were dropped."""

    reason: str
    size: int


Decoded = Message | Greeting | DecodeError


class Decoder:
    """Feed raw AMI bytes; take complete messages. Never does I/O."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max_frame = max_frame
        self._expect_greeting = True
        self._discarding = False  # inside an oversize frame, skipping to its end
        self._discarded = 0

    @property
    def buffered(self) -> int:
        """Bytes held waiting for a terminator (bounded by max_frame)."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget everything; call on a new connection."""
        self.__init__(self._max_frame)  # type: ignore[misc]

    def feed(self, data: bytes) -> list[Decoded]:
        """Add ``data`` and return every complete item it finished."""
        self._buf += data
        return list(self._drain())

    def _drain(self) -> Iterator[Decoded]:
        buf = self._buf
        start = 0
        if self._expect_greeting and buf:
            if GREETING_PREFIX.startswith(bytes(buf[: len(GREETING_PREFIX)])):
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 256:
                        self._expect_greeting = False
                    else:
                        return
                else:
                    self._expect_greeting = False
                    line = bytes(buf[:end]).decode("utf-8", "replace")
                    start = end + 2
                    yield Greeting(line[len(GREETING_PREFIX) :])
            else:
                self._expect_greeting = False
        while True:
            end = buf.find(TERMINATOR, start)
            if end < 0:
                break
            frame = bytes(buf[start:end])
            start = end + len(TERMINATOR)
            if self._discarding:
                self._discarding = False
                yield DecodeError("frame larger than the limit", self._discarded + len(frame) + 4)
                self._discarded = 0
                continue
            if len(frame) > self._max_frame:
                yield DecodeError("frame larger than the limit", len(frame) + 4)
                continue
            if not frame.strip(b"\r\n"):
                continue  # stray blank lines between frames
            yield decode_frame(frame)
        del buf[:start]
        if len(buf) > self._max_frame:
            # Keep the last 3 bytes: they may be the start of the terminator.
            keep = bytes(buf[-3:])
            self._discarded += len(buf) - 3
            self._discarding = True
            buf.clear()
            buf += keep


# A whole well-formed frame: "Key: value" lines only. Checked once per frame in C, so
# the common case needs no per-line validation in Python.
_FRAME_RE = re.compile(r"(?:[A-Za-z0-9_-]{1,64}:[^\r\n]*\r\n)*[A-Za-z0-9_-]{1,64}:[^\r\n]*")


def decode_frame(frame: bytes) -> Message | DecodeError:
    """Decode one frame (without its terminating blank line)."""
    text = frame.decode("utf-8", "replace")
    if _FRAME_RE.fullmatch(text):
        headers = []
        for line in text.split("\r\n"):
            key, _, value = line.partition(":")
            headers.append((key, value[1:] if value[:1] == " " else value))
        index = {k.lower(): v for k, v in reversed(headers)}  # the first value wins
        return Message(tuple(headers), index)
    return _decode_untidy(text, len(frame) + 4)


def _decode_untidy(text: str, size: int) -> Message | DecodeError:
    """The slow path: a frame with lines that are not "Key: value"."""
    headers: list[tuple[str, str]] = []
    bad = 0
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep or not _KEY_RE.fullmatch(key):
            bad += 1
            continue
        headers.append((key, value[1:] if value[:1] == " " else value))
    if not headers:
        return DecodeError("no headers in frame", size)
    if bad and not any(k.lower() == "output" for k, _ in headers):
        return DecodeError(f"{bad} malformed line(s) in frame", size)
    return Message(tuple(headers))


def _check_header(key: str, value: str) -> None:
    if not _KEY_RE.fullmatch(key):
        raise ValueError(f"AMI header name {key!r} is not allowed")
    if any(c in value for c in "\r\n\x00"):
        raise ValueError(f"AMI header {key} has a line break or NUL in its value")


def encode_action(
    action: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    action_id: str | None = None,
) -> bytes:
    """Encode an action. Values with line breaks are rejected, never escaped."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    lines = [("Action", action)]
    if action_id is not None:
        lines.append(("ActionID", action_id))
    lines.extend(pairs)
    out: list[str] = []
    for key, value in lines:
        _check_header(key, value)
        out.append(f"{key}: {value}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8")
