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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

TERMINATOR = b"\r\n\r\n"
GREETING_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_FRAME = 1024 * 1024

_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class _RememberedNames(dict[str, str]):
    """Header name -> ``convert(name)``, remembered: the same few dozen names arrive all
    day. Bounded, so a peer inventing names cannot grow it."""

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, key: str) -> str:
        value = self._convert(key)
        if len(self) < _NAME_CACHE_LIMIT:
            self[key] = value
        return value


def _lower_if_allowed(key: str) -> str:
    return key.lower() if _KEY_RE.fullmatch(key) else ""


_NAME_CACHE_LIMIT = 4096
_LOWER = _RememberedNames(str.lower)
# Allowed name -> lower case, "" for a name that is not allowed: one dict lookup per line
# instead of a regex match and a lower(), a measured third of the decoder's time.
_VALID = _RememberedNames(_lower_if_allowed)


class Message:
    """One AMI message: its headers in arrival order, repeated keys kept."""

    __slots__ = ("_index", "headers")

    def __init__(
        self, headers: tuple[tuple[str, str], ...], index: dict[str, str] | None = None
    ) -> None:
        self.headers = headers
        # Lower-case key -> first value. The decoder builds it while splitting the lines;
        # a message built by hand gets it on first use.
        self._index = index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.headers == self.headers

    def __hash__(self) -> int:
        return hash(self.headers)

    def __repr__(self) -> str:
        return f"Message({self.headers!r})"

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = {}
            for k, v in self.headers:
                index.setdefault(k.lower(), v)
            self._index = index
        return index

    def get(self, key: str, default: str = "") -> str:
        """First value for ``key`` (case-insensitive), or ``default``."""
        index = self._index if self._index is not None else self._lookup()
        return index.get(_LOWER[key], default)

    def get_all(self, key: str) -> list[str]:
        """Every value for ``key``, e.g. repeated ChanVariable or Output lines."""
        lkey = key.lower()
        return [v for k, v in self.headers if k.lower() == lkey]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _LOWER[key] in self._lookup()

    @property
    def event(self) -> str:
        return self.get("Event")

    @property
    def response(self) -> str:
        return self.get("Response")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")


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

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME, expect_greeting: bool = True) -> None:
        """``expect_greeting``: the peer starts with Asterisk's banner (a server reading
        a client's actions gets none)."""
        self._buf = bytearray()
        self._max_frame = max_frame
        self._expect_greeting = expect_greeting
        self._discarding = False  # inside an oversize frame, skipping to its end
        self._discarded = 0
        # How much of the buffer is known to hold no terminator: each read scans only
        # what is new (a byte-at-a-time sender made every read rescan the whole frame).
        self._clean = 0
        self.scanned = 0  # bytes searched for a terminator, in all (a test bounds it)

    @property
    def buffered(self) -> int:
        """Bytes held waiting for a terminator (bounded by max_frame)."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget everything; call on a new connection."""
        self.__init__(self._max_frame)  # type: ignore[misc]  # a new connection greets

    def feed(self, data: bytes) -> list[Decoded]:
        """Add ``data`` and return every complete item it finished."""
        buf = self._buf
        buf += data
        if self._expect_greeting or self._discarding:
            self._clean = 0
            return list(self._drain())
        start = max(0, self._clean - len(TERMINATOR) + 1)  # a terminator may straddle reads
        self.scanned += len(buf) - start
        end = buf.rfind(TERMINATOR, start)
        if end < 0:
            self._clean = len(buf)
            if len(buf) > self._max_frame:
                self._clean = 0
                return list(self._drain())  # drops what cannot become a frame in time
            return []
        if end > self._max_frame:
            self._clean = 0
            return list(self._drain())  # a region that may hold an oversize frame
        # The common case: whole frames up to the last terminator, decoded in one go.
        # Cutting at the (ASCII) terminator never splits a UTF-8 character.
        region = buf[:end].decode("utf-8", "replace")
        del buf[: end + len(TERMINATOR)]
        self._clean = len(buf)  # what follows the last terminator holds none
        frames = region.split("\r\n\r\n")
        return [decode_text(f) for f in frames if f and not f.isspace()]  # skip stray blanks

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


def decode_frame(frame: bytes) -> Message | DecodeError:
    """Decode one frame (without its terminating blank line)."""
    return decode_text(frame.decode("utf-8", "replace"))


def decode_text(text: str) -> Message | DecodeError:
    """Decode one frame's text. Well-formed "Key: value" lines take the fast path."""
    headers = []
    index: dict[str, str] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        lower = _VALID[key]
        if not sep or not lower:
            return _decode_untidy(text)
        headers.append((key, value))
        if lower not in index:
            index[lower] = value
    return Message(tuple(headers), index)


def _decode_untidy(text: str) -> Message | DecodeError:
    """The slow path: empty values, a missing space, stray blank lines, or lines that
    are not "Key: value" at all."""
    size = len(text.encode("utf-8")) + len(TERMINATOR)
    headers: list[tuple[str, str]] = []
    bad = 0
    for line in text.split("\r\n"):
        if not line:
            continue  # a stray blank line, e.g. an odd CRLF between frames
        key, sep, value = line.partition(":")
        if not sep or not _VALID[key]:
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
