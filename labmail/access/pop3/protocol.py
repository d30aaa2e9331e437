"""The POP3 server as a sans-IO state machine: bytes in, actions out.

No sockets here.  The adapter (``server.py``) feeds received bytes to
:meth:`POP3Connection.receive_data` and carries out the returned actions in
order: :class:`Send` bytes, :class:`Pause` (the failed-login delay),
:class:`StartTLS`, :class:`Close`, and :class:`Event` records for the log.

>>> from labmail.access.pop3.protocol import POP3Connection, Settings, MemoryBackend
>>> conn = POP3Connection(MemoryBackend({"alice": "secret"}, {"alice": [b"Subject: hi\\n\\nhello\\n"]}),
...                       Settings(greeting="labmail ready."))
>>> wire(conn.start())
b'+OK labmail ready.\\r\\n'
>>> wire(conn.receive_data(b"USER alice\\r\\nPASS secret\\r\\nSTAT\\r\\n"))
b'+OK\\r\\n+OK Logged in.\\r\\n+OK 1 22\\r\\n'
"""
from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Protocol, Tuple

from ...store import MailboxLocked, MaildirStore, StoreError
from .maildrop import Maildrop
from .replies import line, reply
from .states import ALLOWED, State, next_state

__all__ = ["POP3Connection", "Settings", "Backend", "MemoryBackend", "Send", "Pause",
           "StartTLS", "Close", "Event", "Action", "wire", "MAX_LINE_PREAUTH", "MAX_LINE"]

logger = logging.getLogger(__name__)

#: Longest command lines (without CRLF) Dovecot 2.3 accepts before it drops
#: the connection: pop3-login's input buffer, then pop3's.  Both exceed the
#: 255 octets RFC 2449 section 4 asks servers to accept.
MAX_LINE_PREAUTH = 1032
MAX_LINE = 2046
#: pop3-login disconnects after this many unknown commands.
MAX_BAD_COMMANDS = 3


# -- actions -------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    """Bytes for the client; ``text`` is what a transcript shows."""
    data: bytes
    text: str


@dataclass(frozen=True)
class Pause:
    """Wait before the next action (Dovecot's ``auth_failure_delay``)."""
    seconds: float


@dataclass(frozen=True)
class StartTLS:
    """Start the TLS handshake now; call :meth:`POP3Connection.tls_started` after."""


@dataclass(frozen=True)
class Close:
    """Close the connection."""


@dataclass(frozen=True)
class Event:
    """Something to log: ``kind`` is login, auth_failed, login_disconnected or logout."""
    kind: str
    fields: Dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Heard:
    """A client line, as a transcript shows it (passwords masked)."""
    text: str


Action = object


def wire(actions: List[Action]) -> bytes:
    """Just the bytes of the :class:`Send` actions (handy in tests and lessons)."""
    return b"".join(a.data for a in actions if isinstance(a, Send))


# -- what the core needs from outside -----------------------------------------
class Backend(Protocol):
    """Users and mailboxes, as the POP3 core sees them."""

    def check_password(self, user: str, password: str) -> str:
        """'' when right, else the reason to log ('unknown user', 'Password mismatch')."""

    def plaintext_password(self, user: str) -> Optional[str]:
        """The stored plaintext (APOP needs it); None if unknown or hashed."""

    def open_maildrop(self, user: str) -> Maildrop:
        """Lock and open the user's INBOX (raises MailboxLocked / StoreError)."""


class MemoryBackend:
    """A backend on a temporary Maildir per user (tests, lessons, doctests)."""

    def __init__(self, passwords: Dict[str, str], mail: Optional[Dict[str, List[bytes]]] = None,
                 root: Optional[str] = None, lock: bool = True) -> None:
        import tempfile
        from pathlib import Path
        self.passwords = dict(passwords)
        self.root = Path(root or tempfile.mkdtemp(prefix="labmail-pop3-"))
        self.lock = lock
        for user, msgs in (mail or {}).items():
            folder = self.store(user).folder("INBOX")
            for data in msgs:
                folder.append(data)

    def store(self, user: str) -> MaildirStore:
        return MaildirStore(self.root / user / "Maildir", hostname="mail")

    def check_password(self, user: str, password: str) -> str:
        if user not in self.passwords:
            return "unknown user"
        return "" if self.passwords[user] == password else "Password mismatch"

    def plaintext_password(self, user: str) -> Optional[str]:
        return self.passwords.get(user)

    def open_maildrop(self, user: str) -> Maildrop:
        folder = self.store(user).folder("INBOX")
        return Maildrop(folder, folder.lock() if self.lock else None)


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


class POP3Connection:
    """One POP3 session from greeting to close (RFC 1939, 2449, 5034, 2595)."""

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

    # -- public ------------------------------------------------------------------
    def start(self) -> List[Action]:
        """The greeting (RFC 1939 section 4), with the APOP challenge if offered."""
        text = self.settings.greeting
        if self.settings.apop_challenge:
            text += " " + self.settings.apop_challenge
        return [self._send("greeting", text=text)]

    def receive_data(self, data: bytes) -> List[Action]:
        """Feed received bytes; returns the actions for every complete line."""
        out: List[Action] = []
        if self._closing or self._awaiting_tls:
            return out
        self._buf += data
        while not self._closing and not self._awaiting_tls:
            nl = self._buf.find(b"\n")
            limit = MAX_LINE_PREAUTH if self.state is State.AUTHORIZATION else MAX_LINE
            if nl < 0:
                if len(self._buf) > limit + 1:
                    out += self._too_long()
                break
            raw, self._buf = self._buf[:nl], self._buf[nl + 1:]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > limit:
                out += self._too_long()
                break
            text = raw.decode("utf-8", "surrogateescape")
            try:
                out += self._line(text)
            except Exception:   # never let a bug escape the core: RFC 2449 [SYS/TEMP]
                logger.exception("POP3 command failed: %r", text[:80])
                out.append(self._send("sys_temp"))
        if self._awaiting_tls:
            self._buf = b""     # RFC 2595 section 4: nothing pipelined past STLS survives
        return out

    def tls_started(self) -> None:
        """The adapter finished the STLS handshake: the session is now secure."""
        self._awaiting_tls = False
        self.tls_active = self.secured = True
        self._buf = b""

    def connection_lost(self, reason: str = "Connection closed") -> List[Action]:
        """The peer went away (or the idle timer fired): release the lock and
        delete nothing (RFC 1939 section 6)."""
        if self.state is State.CLOSED:
            return []
        return self._end(reason)

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet a complete line."""
        return self._buf

    # -- helpers ----------------------------------------------------------------
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
            out.append(Event("login_disconnected", {"reason": reason, "user": self.user or "",
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

    # -- dispatch ---------------------------------------------------------------
    def _line(self, text: str) -> List[Action]:
        if self._sasl is not None:
            return [Heard("<SASL response>")] + self._sasl_step(text)
        cmd, _, args = text.partition(" ")
        cmd = cmd.upper()
        masked = f"{cmd} ********" if cmd in ("PASS", "APOP") and args else text
        if cmd == "AUTH" and len(args.split()) > 1:
            masked = f"AUTH {args.split()[0]} ********"
        heard: List[Action] = [Heard(masked)]
        if self.state is State.AUTHORIZATION:
            if cmd not in ALLOWED[self.state]:
                return heard + self._bad_preauth()
            return heard + getattr(self, f"_auth_{cmd.lower()}")(args)
        if self.state is State.TRANSACTION:
            if not cmd:
                return heard + [self._send("unknown_preauth")]
            if cmd not in ALLOWED[self.state]:
                return heard + [self._send("unknown", cmd=cmd)]
            return heard + getattr(self, f"_tx_{cmd.lower()}")(args)
        return heard

    def _bad_preauth(self) -> List[Action]:
        self._counters.bad += 1
        out: List[Action] = [self._send("unknown_preauth")]
        if self._counters.bad >= MAX_BAD_COMMANDS:
            out += self._end("Too many invalid commands")
            out += [self._send("too_many_bad"), Close()]
        return out

    # -- AUTHORIZATION ------------------------------------------------------------
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

    def _auth_user(self, args: str) -> List[Action]:
        if not self._plaintext_ok():
            self._plaintext_refused = True
            return [self._send("plaintext_disallowed")]
        self.user = args        # Dovecot takes the rest of the line, even empty
        return [self._send("user_ok")]

    def _auth_pass(self, args: str) -> List[Action]:
        if not self._plaintext_ok():
            self._plaintext_refused = True
            return [self._send("plaintext_disallowed")]
        if self.user is None:
            return [self._send("no_username")]
        user, self.user = self.user, None
        return self._login(user, args, "PLAIN")

    def _auth_apop(self, args: str) -> List[Action]:
        import hashlib
        import hmac
        parts = args.split(" ")
        if not self.settings.apop_challenge or len(parts) != 2 or len(parts[1]) != 32:
            return [self._send("apop_invalid")]
        user, digest = parts
        secret = self.backend.plaintext_password(user)
        expected = hashlib.md5((self.settings.apop_challenge + (secret or "")).encode()).hexdigest()
        ok = secret is not None and hmac.compare_digest(expected, digest.lower())
        reason = "" if ok else ("unknown user" if secret is None else "Password mismatch")
        return self._finish_login(user, "APOP", reason)

    def _auth_auth(self, args: str) -> List[Action]:
        words = args.split()
        if not words:     # RFC 5034 section 4: list the mechanisms
            mechs = self.settings.mechanisms if self._plaintext_ok() else ()
            body = "".join(m + "\r\n" for m in mechs).encode()
            return [self._multi("+OK", body)]
        mech = words[0].upper()
        if mech not in self.settings.mechanisms:
            return [self._send("auth_unsupported")]
        if not self._plaintext_ok():
            self._plaintext_refused = True
            return [self._send("plaintext_disabled")]
        self._sasl = (mech, [])
        if len(words) > 1:          # RFC 5034 section 4: initial response
            return self._sasl_step(words[1], initial=True)
        return [self._send("auth_continue", challenge="" if mech == "PLAIN" else
                           base64.b64encode(b"Username:").decode())]

    def _sasl_step(self, text: str, initial: bool = False) -> List[Action]:
        assert self._sasl is not None
        mech, answers = self._sasl
        if text == "*":
            self._sasl = None
            return [self._send("auth_aborted")]
        if text == "=":
            decoded = b""
            if not initial:
                self._sasl = None
                return [self._send("auth_bad_base64_continued")]
        else:
            try:
                decoded = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                self._sasl = None
                return [self._send("auth_bad_base64")]
        answers.append(decoded.decode("utf-8", "replace"))
        if mech == "LOGIN" and len(answers) == 1:
            return [self._send("auth_continue", challenge=base64.b64encode(b"Password:").decode())]
        self._sasl = None
        if mech == "LOGIN":
            return self._login(answers[0], answers[1], "LOGIN")
        parts = answers[0].split("\x00")
        if len(parts) != 3 or (parts[0] and parts[0] != parts[1]) or not parts[1]:
            return self._finish_login(parts[1] if len(parts) == 3 else "", "PLAIN", "invalid input")
        return self._login(parts[1], parts[2], "PLAIN")

    def _login(self, user: str, password: str, method: str) -> List[Action]:
        return self._finish_login(user, method, self.backend.check_password(user, password))

    def _finish_login(self, user: str, method: str, failure: str) -> List[Action]:
        self.method = method
        self._counters.auth_attempts += 1
        if failure:
            self.user = None
            out: List[Action] = [Event("auth_failed", {"user": user, "method": method,
                                                       "reason": failure})]
            if self.settings.auth_failure_delay > 0:
                out.append(Pause(self.settings.auth_failure_delay))
            return out + [self._send("auth_failed")]
        self.login_user = user
        out = [Event("login", {"user": user, "method": method})]
        try:
            self.maildrop = self.backend.open_maildrop(user)
        except MailboxLocked:
            self._move("login")
            # log first, then answer: whoever reads the reply finds the log written
            out.append(Event("logout", {"reason": "Couldn't lock POP3 session", "user": user,
                                        "top": 0, "top_bytes": 0, "retr": 0, "retr_bytes": 0,
                                        "deleted": 0, "messages": 0, "size": 0}))
            out.append(self._send("in_use"))
            self._move("drop")
            self._closing = True
            return out + [Close()]
        except StoreError as exc:
            logger.warning("cannot open maildrop of %s: %s", user, exc)
            return out + self._end("Internal error") + [self._send("sys_temp"), Close()]
        self._move("login")
        return out + [self._send("logged_in")]

    def _auth_stls(self, args: str) -> List[Action]:
        if self.tls_active:
            return [self._send("tls_active")]
        if not self.settings.tls_available:
            return [self._send("tls_unavailable")]
        self._awaiting_tls = True
        return [self._send("stls_begin"), StartTLS()]

    def _auth_quit(self, args: str) -> List[Action]:
        return self._end("Aborted login by logging out") + [self._send("logout_preauth"), Close()]

    # -- TRANSACTION ---------------------------------------------------------------
    def _number(self, args: str, allow_rest: bool = False) -> Tuple[Optional[int], str, Optional[Send]]:
        """Dovecot's message-number parser: (number, rest, error reply)."""
        s = args.lstrip(" ")
        digits = len(s) - len(s.lstrip("0123456789"))
        if digits == 0:
            return None, "", self._send("invalid_number", arg=s)
        value = int(s[:digits])
        if value >= 2 ** 64:
            return None, "", self._send("number_too_large", arg=s)
        if value >= 2 ** 32:
            return None, "", self._send("number_too_large", arg="")
        rest = s[digits:]
        if rest and not allow_rest:
            return None, "", self._send("noise_after_number", rest=rest)
        return value, rest, None

    def _message(self, args: str, allow_rest: bool = False) -> Tuple[Optional[int], str, Optional[Send]]:
        n, rest, err = self._number(args, allow_rest)
        if err is not None or n is None:
            return None, "", err
        assert self.maildrop is not None
        if not self.maildrop.exists(n):
            return None, "", self._send("no_message", n=n)
        if n in self.maildrop.deleted:
            return None, "", self._send("deleted")
        return n, rest, None

    def _tx_capa(self, args: str) -> List[Action]:
        return self._capa(args)

    def _tx_stat(self, args: str) -> List[Action]:
        assert self.maildrop is not None
        return [self._send("stat", count=self.maildrop.count, size=self.maildrop.size)]

    def _tx_list(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        if not args:
            body = "".join(f"{n} {d.info(n).vsize}\r\n" for n in d.numbers()).encode()
            return [self._multi(line("list_all", count=d.count), body)]
        n, _, err = self._message(args)
        if err is not None or n is None:
            return [err] if err else []
        return [self._send("list_one", n=n, size=d.info(n).vsize)]

    def _tx_uidl(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        if not args:
            body = "".join(f"{n} {d.uidl(n)}\r\n" for n in d.numbers()).encode()
            return [self._multi("+OK", body)]
        n, _, err = self._message(args)
        if err is not None or n is None:
            return [err] if err else []
        return [self._send("uidl_one", n=n, uid=d.uidl(n))]

    def _tx_retr(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        n, _, err = self._message(args)
        if err is not None or n is None:
            return [err] if err else []
        body = d.wire_bytes(n)
        first = line("retr", size=d.info(n).vsize)
        d.retr_count += 1
        d.retr_bytes += len(first) + 2 + len(body)
        d.retrieved.add(n)
        return [self._multi(first, body, f"{first} (message {n}: {len(body)} bytes follow, then '.')")]

    def _tx_top(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        n, rest, err = self._message(args, allow_rest=True)
        if err is not None or n is None:
            return [err] if err else []
        if not rest.startswith(" "):
            return [self._send("noise_after_number", rest=rest)]
        s = rest.lstrip(" ")
        digits = len(s) - len(s.lstrip("0123456789"))
        if digits == 0:
            return [self._send("invalid_size", arg=s)]
        if int(s[:digits]) >= 2 ** 64:
            return [self._send("size_too_large", arg=s)]
        if s[digits:]:
            return [self._send("noise_after_size", rest=s[digits:])]
        body = d.top_bytes_of(n, int(s[:digits]))
        d.top_count += 1
        d.top_bytes += 5 + len(body)
        return [self._multi("+OK", body, f"+OK (top of message {n}: {len(body)} bytes follow)")]

    def _tx_dele(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        n, _, err = self._message(args)
        if err is not None or n is None:
            return [err] if err else []
        d.deleted.add(n)       # only marked: removed in UPDATE (RFC 1939 section 6)
        return [self._send("dele_ok")]

    def _tx_noop(self, args: str) -> List[Action]:
        return [self._send("ok")]

    def _tx_rset(self, args: str) -> List[Action]:
        assert self.maildrop is not None
        self.maildrop.deleted.clear()
        return [self._send("ok")]

    def _tx_quit(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        self._move("QUIT")          # UPDATE state: RFC 1939 section 6
        stats = self._stats()
        try:
            removed = d.commit()
        except StoreError as exc:
            logger.warning("UPDATE failed for %s: %s", self.login_user, exc)
            d.release()
            self._move("updated")
            self._closing = True
            return [Event("logout", {"reason": "Logged out", "user": self.login_user, **stats}),
                    self._send("update_failed"), Close()]
        d.release()
        self._move("updated")
        self._closing = True
        key = "logout_deleted" if removed else "logout"
        return [Event("logout", {"reason": "Logged out", "user": self.login_user, **stats}),
                self._send(key), Close()]
