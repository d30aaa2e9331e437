"""Cut the client's byte stream into complete IMAP commands (RFC 3501 §4.3, RFC 7888).

A command is a line, except that a line ending in ``{n}`` (synchronising
literal) or ``{n+}`` (LITERAL+) is followed by *n* raw bytes and then the
rest of the command.  The framer reports, in order:

- :class:`NeedContinuation` — a synchronising literal was announced; the
  server must send ``+ OK`` before the client sends the bytes;
- :class:`CommandBytes` — one whole command with its literals inline, ready
  for :func:`~labmail.access.imap.parser.parse_command`;
- :class:`TooLong` — the line or a literal exceeded the limit.  A too-big
  synchronising literal is refused *before* it is read (the client never got
  ``+``); the bytes of a too-big LITERAL+ literal are skipped.

>>> f = Framer()
>>> f.feed(b"a LOGIN {5}\\r\\n")
[NeedContinuation(tag='a')]
>>> f.feed(b"alice pw\\r\\n")
[CommandBytes(data=b'a LOGIN {5}\\r\\nalice pw')]
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Union

__all__ = ["Framer", "CommandBytes", "NeedContinuation", "TooLong", "FrameEvent"]

_LITERAL_RE = re.compile(rb"\{(\d{1,20})(\+?)\}\r?\Z")


@dataclass(frozen=True)
class CommandBytes:
    data: bytes


@dataclass(frozen=True)
class NeedContinuation:
    tag: str


@dataclass(frozen=True)
class TooLong:
    tag: str
    what: str          # "line" or "literal"


FrameEvent = Union[CommandBytes, NeedContinuation, TooLong]


def _tag_of(data: bytes) -> str:
    head = data.split(b" ", 1)[0][:64]
    return head.decode("ascii", "replace") if head else "*"


class Framer:
    """Incremental command framer with line and literal limits (sans-IO)."""

    def __init__(self, max_line: int = 65536, max_literal: int = 50 * 1024 * 1024) -> None:
        self.max_line = max_line
        self.max_literal = max_literal
        self._buf = bytearray()
        self._parts: List[bytes] = []     # finished pieces of the current command
        self._literal_left = 0            # bytes of literal still expected
        self._skip_literal = 0            # bytes of a refused LITERAL+ to discard
        self._skip_line = False           # discarding a too-long line up to LF
        self._line_bytes = 0              # non-literal bytes in current command

    def reset(self) -> None:
        """Forget any partial command (after a protocol switch such as STARTTLS)."""
        self.__init__(self.max_line, self.max_literal)  # type: ignore[misc]

    @property
    def idle(self) -> bool:
        """True when no partial command is buffered."""
        return not self._buf and not self._parts and not self._literal_left

    def feed(self, data: bytes) -> List[FrameEvent]:
        self._buf += data
        events: List[FrameEvent] = []
        while self._step(events):
            pass
        return events

    def _step(self, events: List[FrameEvent]) -> bool:
        buf = self._buf
        if self._skip_literal:
            n = min(self._skip_literal, len(buf))
            del buf[:n]
            self._skip_literal -= n
            return not self._skip_literal
        if self._literal_left:
            if not buf:
                return False
            n = min(self._literal_left, len(buf))
            self._parts.append(bytes(buf[:n]))
            del buf[:n]
            self._literal_left -= n
            return not self._literal_left
        nl = buf.find(b"\n")
        if self._skip_line:
            if nl < 0:
                buf.clear()
                return False
            del buf[:nl + 1]
            self._skip_line = False
            return True
        if nl < 0:
            if self._line_bytes + len(buf) > self.max_line:
                tag = _tag_of(b"".join(self._parts) + bytes(buf))
                self._drop()
                self._skip_line = True
                buf.clear()
                events.append(TooLong(tag, "line"))
            return False
        line = bytes(buf[:nl + 1])
        del buf[:nl + 1]
        self._line_bytes += len(line)
        if self._line_bytes > self.max_line:
            tag = _tag_of(b"".join(self._parts) + line)
            self._drop()
            events.append(TooLong(tag, "line"))
            return True
        body = line[:-1]
        m = _LITERAL_RE.search(body)
        if m:
            size = int(m.group(1))
            plus = bool(m.group(2))
            tag = _tag_of(b"".join(self._parts) + body)
            if size > self.max_literal:
                self._drop()
                if plus:
                    self._skip_literal = size
                events.append(TooLong(tag, "literal"))
                return True
            self._parts.append(body if body.endswith(b"\r") else body + b"\r")
            self._parts.append(b"\n")
            self._literal_left = size
            if not plus:
                events.append(NeedContinuation(tag))
            return True
        if body.endswith(b"\r"):
            body = body[:-1]
        self._parts.append(body)
        events.append(CommandBytes(b"".join(self._parts)))
        self._drop()
        return True

    def _drop(self) -> None:
        self._parts = []
        self._line_bytes = 0
        self._literal_left = 0
