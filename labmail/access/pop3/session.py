"""The state and helpers every POP3 command shares (one session).

:class:`Session` holds what a connection knows (state, user, maildrop,
counters) and the helpers that build replies and leave the session; the
commands of each state are in :mod:`.authorization` and :mod:`.transaction`,
and :class:`~.protocol.POP3Connection` puts them together.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Protocol, Tuple

from .actions import Action, Close, Event, Send
from .maildrop import Maildrop
from .replies import line, reply
from .states import State, next_state

__all__ = ["Session", "Settings", "Backend", "MAX_LINE_PREAUTH", "MAX_LINE", "MAX_BAD_COMMANDS"]

#: Longest command lines (without CRLF) Dovecot 2.3 accepts before it drops
#: the connection: pop3-login's input buffer, then pop3's.  Both exceed the
#: 255 octets RFC 2449 section 4 asks servers to accept.
MAX_LINE_PREAUTH = 1032
MAX_LINE = 2046
#: pop3-login disconnects after this many unknown commands.
MAX_BAD_COMMANDS = 3


class Backend(Protocol):
    """Users and mailboxes, as the POP3 core sees them."""

    def check_password(self, user: str, password: str) -> str:
        """'' when right, else the reason to log ('unknown user', 'Password mismatch')."""

    def plaintext_password(self, user: str) -> Optional[str]:
        """The stored plaintext (APOP needs it); None if unknown or hashed."""

    def open_maildrop(self, user: str) -> Maildrop:
        """Lock and open the user's INBOX (raises MailboxLocked / StoreError)."""



@dataclass(frozen=True)
class Settings:
    """What one connection needs to know about the server's configuration."""

    greeting: str = "Dovecot ready."
    mechanisms: Tuple[str, ...] = ("PLAIN", "LOGIN")
    apop_challenge: Optional[str] = None     # "<...@host>": APOP offered when set
    secured: bool = True                     # Dovecot's "secured" (TLS, local or trusted)
    tls_active: bool = False
    tls_available: bool = False              # STLS offered
    disable_plaintext_auth: bool = False
    ssl_required: bool = False
    auth_failure_delay: float = 0.0
    implementation: Optional[str] = None     # RFC 2449 IMPLEMENTATION capability


@dataclass
class _Counters:
    bad: int = 0
    auth_attempts: int = 0


class Session:
    """One connection's state; the base of the command mixins."""

    def __init__(self, backend: Backend, settings: Settings = Settings()) -> None:
        self.backend = backend
        self.settings = settings
        self.state = State.AUTHORIZATION
        self.secured = settings.secured or settings.tls_active
        self.tls_active = settings.tls_active
        self.user: Optional[str] = None          # given by USER
        self.login_user: Optional[str] = None
        self.method: Optional[str] = None
        self.maildrop: Optional[Maildrop] = None
        self._buf = b""
        self._sasl: Optional[Tuple[str, List[str]]] = None   # (mechanism, answers so far)
        self._counters = _Counters()
        self._closing = False
        self._awaiting_tls = False
        self._plaintext_refused = False
        self._attempt_user = ""        # the user of the last login attempt (for the log)


    def _send(self, key: str, **values: object) -> Send:
        return Send(reply(key, **values), line(key, **values))

    def _multi(self, first: str, body: bytes, summary: Optional[str] = None) -> Send:
        data = first.encode() + b"\r\n" + body + b".\r\n"
        return Send(data, summary or first)

    def _move(self, event: str) -> None:
        self.state = next_state(self.state, event)

    def _end(self, reason: str) -> List[Action]:
        """Leave without UPDATE: log and release."""
        out: List[Action] = []
        if self.state is State.AUTHORIZATION:
            out.append(Event("login_disconnected", {"reason": reason, "user": self._attempt_user,
                                                    "attempts": self._counters.auth_attempts,
                                                    "method": self.method or "",
                                                    "plaintext_refused": self._plaintext_refused}))
        elif self.maildrop is not None:
            out.append(Event("logout", {"reason": reason, "user": self.login_user,
                                        **self._stats()}))
            self.maildrop.release()
        self._move("drop")
        self._closing = True
        return out

    def _stats(self) -> Dict[str, int]:
        d = self.maildrop
        assert d is not None
        return {"top": d.top_count, "top_bytes": d.top_bytes, "retr": d.retr_count,
                "retr_bytes": d.retr_bytes, "deleted": len(d.deleted),
                "messages": d.initial_count, "size": d.initial_size}

    def _too_long(self) -> List[Action]:
        reason = "Input buffer full" if self.state is State.AUTHORIZATION else "Input line too long"
        return self._end(reason) + [Close()]


    def _bad_preauth(self) -> List[Action]:
        self._counters.bad += 1
        out: List[Action] = [self._send("unknown_preauth")]
        if self._counters.bad >= MAX_BAD_COMMANDS:
            # (Dovecot 2.3 really logs "Disconnected: Disconnected: Too many bad commands")
            out += self._end("Disconnected: Too many bad commands")
            out += [self._send("too_many_bad"), Close()]
        return out

    def _plaintext_ok(self) -> bool:
        s = self.settings
        return self.secured if (s.disable_plaintext_auth or s.ssl_required) else True

    def _capabilities(self) -> List[str]:
        caps = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
        if self.state is State.AUTHORIZATION:
            if self.settings.tls_available and not self.tls_active:
                caps.append("STLS")
            if self._plaintext_ok():
                caps += ["USER", " ".join(["SASL"] + list(self.settings.mechanisms))]
            else:
                caps.append("SASL")
        if self.settings.implementation:
            caps.append(f"IMPLEMENTATION {self.settings.implementation}")
        return caps

    def _capa(self, args: str) -> List[Action]:
        body = "".join(c + "\r\n" for c in self._capabilities()).encode()
        return [self._multi("+OK", body, "+OK (capabilities: " + ", ".join(self._capabilities()) + ")")]

    _auth_capa = _capa
