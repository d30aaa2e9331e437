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

import logging
from typing import Dict, List, Optional

from ...store import MaildirStore, StoreError
from .actions import Action, Close, Event, Heard, Pause, Send, StartTLS, wire
from .authorization import AuthorizationCommands
from .maildrop import Maildrop
from .session import MAX_LINE, MAX_LINE_PREAUTH, Backend, Settings
from .states import ALLOWED, State
from .transaction import TransactionCommands

__all__ = ["POP3Connection", "Settings", "Backend", "MemoryBackend", "Send", "Pause",
           "StartTLS", "Close", "Event", "Heard", "Action", "wire", "MAX_LINE_PREAUTH",
           "MAX_LINE"]

logger = logging.getLogger(__name__)


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



class POP3Connection(AuthorizationCommands, TransactionCommands):
    """One POP3 session from greeting to close (RFC 1939, 2449, 5034, 2595).

    The commands of each state live in :mod:`.authorization` and
    :mod:`.transaction`, the shared state in :mod:`.session`; this class
    splits lines and dispatches them by the state table.
    """

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
            except StoreError as exc:   # e.g. an IMAP client expunged the message meanwhile
                logger.warning("POP3 %r: %s", text[:20], exc)
                out.append(self._send("sys_temp"))
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

