"""The SMTP client side as a sans-IO state machine (bytes in, actions out).

Everything that changes the client's state lives here: what each state waits
for, which command comes next, and how a failure is named.  There are no
sockets and no ``await``: :mod:`labmail.mta.smtpclient` feeds the server's
bytes to :meth:`ClientConnection.receive_data` and carries out the actions
it returns (send these bytes, start TLS, report delivered or failed).

The walk is RFC 5321's: greeting (§4.3.1), ``EHLO`` falling back to ``HELO``
(§4.1.1.1), ``STARTTLS`` (RFC 3207), ``MAIL FROM`` with ``SIZE`` (RFC 1870),
``RCPT TO``, ``DATA`` and the dot-stuffed content (§4.5.2), ``QUIT``.

>>> c = ClientConnection(helo_name="mail.example.com", sender="a@example.com",
...                      recipient="b@example.org", content=b"Hi\\r\\n")
>>> [a.data for a in c.receive_data(b"220 mx ESMTP\\r\\n") if isinstance(a, Send)]
[b'EHLO mail.example.com\\r\\n']
>>> c.state
<State.EHLO: 'EHLO'>
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Tuple

__all__ = ["State", "Reply", "Send", "UpgradeTLS", "Delivered", "Failed", "Closed",
           "ClientConnection", "EXPECT", "WHILE", "dot_stuff", "dsn_of"]


class State(enum.Enum):
    """Where the client is; the value names the step as Postfix's texts do."""

    GREETING = "greeting"
    EHLO = "EHLO"
    HELO = "HELO"
    STARTTLS = "STARTTLS"
    MAIL = "MAIL FROM"
    RCPT = "RCPT TO"
    DATA = "DATA"
    DOT = "end of DATA"
    QUIT = "QUIT"
    DONE = "done"


#: The reply codes that let each state go on.
EXPECT: Dict[State, FrozenSet[int]] = {
    State.GREETING: frozenset({220}),
    State.EHLO: frozenset({250}),
    State.HELO: frozenset({250}),
    State.STARTTLS: frozenset({220}),
    State.MAIL: frozenset({250}),
    State.RCPT: frozenset({250, 251}),
    State.DATA: frozenset({354}),
    State.DOT: frozenset({250}),
}

#: "lost connection with HOST while ..." (Postfix's smtp client wording).
WHILE: Dict[State, str] = {
    State.GREETING: "receiving the initial server greeting",
    State.EHLO: "performing the EHLO handshake",
    State.HELO: "performing the HELO handshake",
    State.STARTTLS: "performing the STARTTLS handshake",
    State.MAIL: "sending MAIL FROM",
    State.RCPT: "sending RCPT TO",
    State.DATA: "sending DATA command",
    State.DOT: "sending end of data -- message may be sent more than once",
}

_ENHANCED = re.compile(r"^[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b")


def dsn_of(code: int, text: str) -> str:
    """The enhanced status code of a reply, or ``X.0.0`` from its class.

    >>> dsn_of(450, "450 4.2.0 Busy"), dsn_of(550, "550 Unknown user")
    ('4.2.0', '5.0.0')
    """
    m = _ENHANCED.match(text)
    if m and m.group(1)[0] == str(code)[0]:
        return m.group(1)
    return f"{str(code)[0]}.0.0"


def dot_stuff(content: bytes) -> bytes:
    """CRLF-terminated content with leading dots doubled (RFC 5321 §4.5.2).

    >>> dot_stuff(b".hidden\\r\\nok")
    b'..hidden\\r\\nok\\r\\n'
    """
    data = re.sub(rb"\r?\n", b"\r\n", content)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


# -- what the machine reports ------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """A complete (possibly multi-line) server reply; ``text`` joins the lines."""

    code: int
    text: str
    lines: Tuple[str, ...]


@dataclass(frozen=True)
class Send:
    """Bytes to write; ``lines`` are what a transcript shows (content included)."""

    data: bytes
    lines: Tuple[str, ...]
    content: bool = False


@dataclass(frozen=True)
class UpgradeTLS:
    """Start TLS on the connection now, then call ``tls_started()``."""


@dataclass(frozen=True)
class Delivered:
    """The server took the message (its reply to the end of DATA)."""

    reply: Reply


@dataclass(frozen=True)
class Failed:
    """The attempt failed: ``kind`` is refused (greeting), said (a reply),
    lost (connection closed), size (message too big for the server) or
    tls_required (the level demands TLS and the server did not give it).
    ``next_mx`` says another MX host may do better."""

    kind: str
    state: State
    reply: Optional[Reply] = None
    next_mx: bool = False
    limit: int = 0


@dataclass(frozen=True)
class Closed:
    """The conversation is over (after QUIT)."""


@dataclass
class ClientConnection:
    """One client conversation delivering one message to one recipient."""

    helo_name: str
    sender: str
    recipient: str
    content: bytes
    use_tls: bool = False
    require_tls: bool = False        # smtp_tls_security_level = encrypt/verify/secure
    state: State = State.GREETING
    extensions: List[str] = field(default_factory=list)
    tls_active: bool = False
    _buf: bytes = b""
    _pending: List[str] = field(default_factory=list)

    # -- input -----------------------------------------------------------
    def receive_data(self, data: bytes) -> List[object]:
        """Feed bytes from the server; returns Reply events and actions."""
        self._buf += data
        out: List[object] = []
        while b"\n" in self._buf and self.state is not State.DONE:
            raw, self._buf = self._buf.split(b"\n", 1)
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            self._pending.append(line)
            if len(line) >= 4 and line[3] == "-":
                continue                      # RFC 5321 §4.2.1: more lines follow
            lines, self._pending = tuple(self._pending), []
            try:
                code = int(lines[-1][:3])
            except ValueError:
                code = 451                    # garbage is a temporary server problem
            reply = Reply(code, " ".join(lines), lines)
            out.append(reply)
            out += self._on_reply(reply)
        return out

    def connection_lost(self) -> List[object]:
        """The server closed the connection."""
        state, self.state = self.state, State.DONE
        if state in (State.QUIT, State.DONE):
            return [Closed()]
        return [Failed("lost", state, next_mx=state in (State.GREETING, State.EHLO, State.HELO))]

    def tls_started(self) -> List[object]:
        """TLS is up: greet again (RFC 3207 §4.2 forgets what was said before)."""
        self.tls_active = True
        return self._command(State.EHLO, f"EHLO {self.helo_name}")

    # -- the table walk ------------------------------------------------------
    def _command(self, state: State, line: str) -> List[object]:
        self.state = state
        return [Send(line.encode("utf-8") + b"\r\n", (line,))]

    def _fail(self, kind: str, reply: Reply, next_mx: bool = False) -> List[object]:
        failed = Failed(kind, self.state, reply, next_mx)
        return [failed, *self._command(State.QUIT, "QUIT")]

    def _mail(self) -> List[object]:
        size = len(self.content)
        limit = next((int(e.split()[1]) for e in self.extensions
                      if e.startswith("SIZE ") and e.split()[1:2] and e.split()[1].isdigit()), 0)
        if limit and size > limit:
            return [Failed("size", self.state, None, False, limit),
                    *self._command(State.QUIT, "QUIT")]
        params = ""
        if any(e.split()[0] == "SIZE" for e in self.extensions if e):
            params += f" SIZE={size}"
        if "8BITMIME" in self.extensions and any(b > 127 for b in self.content):
            params += " BODY=8BITMIME"
        return self._command(State.MAIL, f"MAIL FROM:<{self.sender}>{params}")

    def _on_reply(self, reply: Reply) -> List[object]:
        state = self.state
        ok = reply.code in EXPECT.get(state, frozenset())
        if state is State.QUIT:
            self.state = State.DONE
            return [Closed()]
        if state is State.GREETING:
            if not ok:
                return self._fail("refused", reply, next_mx=True)
            return self._command(State.EHLO, f"EHLO {self.helo_name}")
        if state is State.EHLO:
            if not ok:                            # an old server: HELO instead
                return self._command(State.HELO, f"HELO {self.helo_name}")
            self.extensions = [ln[4:].upper() for ln in reply.lines[1:]]
            if "STARTTLS" in self.extensions and self.use_tls and not self.tls_active:
                return self._command(State.STARTTLS, "STARTTLS")
            if self.require_tls and not self.tls_active:
                return self._fail("tls_required", reply, next_mx=True)
            return self._mail()
        if state is State.HELO:
            return self._mail() if ok else self._fail("said", reply, next_mx=True)
        if state is State.STARTTLS:
            # Refused STARTTLS: go on in plain text at Postfix's "may" level only.
            if ok:
                return [UpgradeTLS()]
            return self._fail("tls_required", reply, next_mx=True) if self.require_tls \
                else self._mail()
        if not ok:
            return self._fail("said", reply)
        if state is State.MAIL:
            return self._command(State.RCPT, f"RCPT TO:<{self.recipient}>")
        if state is State.RCPT:
            return self._command(State.DATA, "DATA")
        if state is State.DATA:
            self.state = State.DOT
            data = dot_stuff(self.content)
            lines = tuple(data.decode("utf-8", "replace").split("\r\n")[:-1]) + (".",)
            return [Send(data + b".\r\n", lines, content=True)]
        if state is State.DOT:
            return [Delivered(reply), *self._command(State.QUIT, "QUIT")]
        return []
