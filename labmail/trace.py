"""Protocol transcripts shared by every server (SMTP, POP3, IMAP, spamd).

A transcript is the dialogue of one session as a student would see it with
telnet: ``C:`` lines from the client, ``S:`` lines from the server, and ``*``
notes for events that are not bytes on the wire (TLS switched on, the
connection closed).  Message content sent after ``DATA`` is kept up to a few
lines and summarised, so a transcript stays readable.

>>> from labmail.clock import Clock
>>> t = Transcript("smtp", ("127.0.0.1", 40000), ("127.0.0.2", 10025), Clock.fixed("2026-11-27T09:00:00"))
>>> t.server("220 mail.example.com ESMTP labmail")
>>> t.client("EHLO laptop")
>>> print(t.text())
S: 220 mail.example.com ESMTP labmail
C: EHLO laptop
"""
from __future__ import annotations

import collections
import datetime as _dt
import html
import threading
from dataclasses import dataclass, field
from typing import Any, Deque, Iterator, List, Optional, Tuple

from .clock import Clock

__all__ = ["Line", "Transcript", "TranscriptStore"]

Address = Tuple[str, int]

#: content lines kept per DATA/APPEND block before summarising
CONTENT_LINES_KEPT = 12


class Line:
    """One line of a dialogue: who said it, when, and the text (read-only).

    A session records a few dozen lines and most are never looked at again,
    so a line keeps the clock's reading and makes ``when`` (the same aware
    datetime ``Clock.now()`` gives) only when asked.

    >>> ln = Line(_dt.datetime(2026, 11, 27, 9, 0, tzinfo=_dt.timezone.utc), "S", "250 2.0.0 Ok")
    >>> str(ln), ln.when.hour, ln.tls
    ('S: 250 2.0.0 Ok', 9, False)
    """

    __slots__ = ("_when", "_stamp", "_tz", "_who", "_text", "_tls")

    def __init__(self, when: Any, who: str, text: str, tls: bool = False,
                 _tz: Optional[_dt.tzinfo] = None) -> None:
        # when: a datetime, or (with _tz, as Transcript records) a POSIX timestamp
        if _tz is None:
            self._when, self._stamp = when, None
        else:
            self._when, self._stamp = None, when
        self._tz, self._who, self._text, self._tls = _tz, who, text, tls

    @property
    def when(self) -> _dt.datetime:
        """When the line was sent or received (lab time)."""
        if self._when is None:
            self._when = _dt.datetime.fromtimestamp(self._stamp, self._tz)
        return self._when

    @property
    def who(self) -> str:
        """``C`` (client), ``S`` (server) or ``*`` (a note)."""
        return self._who

    @property
    def text(self) -> str:
        """The line as sent, without its line end."""
        return self._text

    @property
    def tls(self) -> bool:
        """True when the line travelled encrypted."""
        return self._tls

    def _key(self) -> Tuple[Any, ...]:
        return (self.when, self._who, self._text, self._tls)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Line(when={self.when!r}, who={self._who!r}, text={self._text!r}, "
                f"tls={self._tls!r})")

    def __str__(self) -> str:
        return f"{self._who}: {self._text}" if self._who != "*" else f"* {self._text}"


@dataclass(repr=False)
class Transcript:
    """The dialogue of one session, in order.

    ``state`` is the server's own state machine for the session when the
    protocol has one (SMTP: :class:`labmail.mta.smtp_states.SessionState`).
    """

    protocol: str
    peer: Optional[Address]
    local: Optional[Address]
    clock: Clock
    lines: List[Line] = field(default_factory=list)
    tls: bool = False
    closed: bool = False
    state: Any = None
    _content: int = 0
    _content_bytes: int = 0
    _in_content: bool = False

    def __post_init__(self) -> None:
        self.started = self.clock.now()
        self._lock = threading.Lock()
        # the lab's Clock: a line keeps its timestamp, Line makes the datetime
        self._stamp = self.clock.timestamp if type(self.clock).now is Clock.now else None

    def _add(self, who: str, text: str) -> None:
        stamp = self._stamp
        with self._lock:
            if stamp is not None:
                self.lines.append(Line(stamp(), who, text, self.tls, self.clock.tz))
            else:
                self.lines.append(Line(self.clock.now(), who, text, self.tls))

    def client(self, text: str) -> None:
        """Record a line the client sent."""
        if self._in_content and text == ".":
            self.end_content()
        if self._in_content:
            self._content += 1
            self._content_bytes += len(text) + 2
            if self._content <= CONTENT_LINES_KEPT:
                self._add("C", text)
            return
        self._add("C", text)

    def content_line(self, raw: bytes) -> None:
        """Record a line of message content as received (line end included).

        The same as ``client(raw.decode(...))``; lines past the ones a
        transcript shows are only counted, without decoding them.
        """
        stripped = raw.rstrip(b"\r\n")
        if (self._in_content and self._content >= CONTENT_LINES_KEPT
                and stripped != b"." and stripped.isascii()):
            self._content += 1
            self._content_bytes += len(stripped) + 2
        else:
            self.client(stripped.decode("utf-8", "replace"))

    def server(self, text: str) -> None:
        """Record a line the server sent."""
        self._add("S", text)

    def note(self, text: str) -> None:
        """Record an event that is not a line on the wire."""
        self._add("*", text)

    def begin_content(self) -> None:
        """The client starts sending message content (after DATA's 354)."""
        self._in_content, self._content, self._content_bytes = True, 0, 0

    def end_content(self) -> None:
        """The content ended; note how much was not shown."""
        if not self._in_content:
            return
        self._in_content = False
        hidden = self._content - CONTENT_LINES_KEPT
        if hidden > 0:
            self.note(f"... {hidden} more content lines "
                      f"({self._content_bytes} bytes in all) ...")

    def start_tls(self, version: str = "", cipher: str = "") -> None:
        """Everything after this point travels encrypted."""
        self.tls = True
        detail = " ".join(x for x in (version, cipher) if x)
        self.note(f"TLS handshake done{': ' + detail if detail else ''}; what follows is encrypted on the wire")

    def close(self) -> None:
        """The connection ended."""
        if not self.closed:
            self.closed = True
            self.note("connection closed")

    def text(self, timestamps: bool = False) -> str:
        """Plain-text transcript, one line per ``C:``/``S:``/``*`` entry."""
        with self._lock:
            lines = list(self.lines)
        if timestamps:
            return "\n".join(f"{ln.when:%H:%M:%S.%f}"[:-3] + f" {ln}" for ln in lines)
        return "\n".join(str(ln) for ln in lines)

    def client_lines(self) -> List[str]:
        """Just what the client said."""
        return [ln.text for ln in self.lines if ln.who == "C"]

    def server_lines(self) -> List[str]:
        """Just what the server said."""
        return [ln.text for ln in self.lines if ln.who == "S"]

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        peer = self.peer[0] if self.peer else "?"
        status = "closed" if self.closed else "open"
        tls = ", TLS" if self.tls else ""
        return f"<Transcript {self.protocol} from {peer}: {len(self.lines)} lines, {status}{tls}>"

    def _repr_html_(self) -> str:
        colours = {"C": "#1f5fbf", "S": "#1d7a2e", "*": "#8a5a00"}
        rows = []
        peer = self.peer[0] if self.peer else "?"           # the client's port varies
        local = f"{self.local[0]}:{self.local[1]}" if self.local else "?"
        head = (f"<div style='font-weight:bold'>{html.escape(self.protocol.upper())} "
                f"session {html.escape(peer)} &rarr; {html.escape(local)}</div>")
        for ln in self.lines:
            lock = "&#128274; " if ln.tls else ""
            style = f"color:{colours.get(ln.who, '#000')}"
            who = ln.who + ":" if ln.who != "*" else "*"
            rows.append(f"<div style='{style}'>{lock}<b>{who}</b> {html.escape(ln.text)}</div>")
        return ("<div style='font-family:monospace;white-space:pre-wrap'>"
                + head + "".join(rows) + "</div>")


class TranscriptStore:
    """The most recent transcripts of one host (bounded, thread-safe)."""

    def __init__(self, clock: Clock, keep: int = 200) -> None:
        self.clock = clock
        self._items: Deque[Transcript] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def open(self, protocol: str, peer: Optional[Address],
             local: Optional[Address]) -> Transcript:
        """Start recording a new session."""
        t = Transcript(protocol, peer, local, self.clock)
        with self._lock:
            self._items.append(t)
        return t

    def list(self, protocol: Optional[str] = None) -> List[Transcript]:
        """Transcripts, oldest first, optionally of one protocol only."""
        with self._lock:
            items = list(self._items)
        if protocol is not None:
            items = [t for t in items if t.protocol == protocol]
        return items

    def clear(self) -> None:
        """Forget every transcript."""
        with self._lock:
            self._items.clear()

    def __iter__(self) -> Iterator[Transcript]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._items)
