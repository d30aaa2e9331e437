"""The sans-IO IMAP session: bytes in, response bytes out (RFC 3501).

:class:`ImapSession` owns the framer, the state (:mod:`.states`), login and
the per-command dispatch; the mailbox commands live in the mixins
:class:`~.folders.FolderCommands` and :class:`~.selected.SelectedCommands`.
No sockets and no ``await``: the asyncio adapter (:mod:`.server`) feeds
bytes with :meth:`receive_data`, writes :meth:`data_to_send`, performs TLS
when :attr:`starttls_requested` is set, and calls :meth:`mailbox_changed`
when another session or the delivery agent touched the selected folder.

>>> s = ImapSession(ImapConfig(), authenticate=lambda u, p: None, mailboxes_for=None)
>>> s.greeting()[:45]
b'* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFE'
>>> s.receive_data(b"a1 NOOP\\r\\n"); s.data_to_send()
b'a1 OK NOOP completed.\\r\\n'
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ...store.base import MailboxLocked
from ..dovelog import ConnInfo, login_disconnect_line, login_line
from .backend import DEFAULT_SPECIAL_USE, Mailboxes
from .folders import FolderCommands
from .framing import Framer, NeedContinuation, TooLong
from .parser import Command, ParseError, parse_command
from .response import Response, continuation, encode, tagged, untagged
from .selected import SelectedCommands
from .states import (CAPABILITIES, FAILED_TRANSITIONS, PRE_LOGIN_CAPABILITIES, REPLIES,
                     TRANSITIONS, State, allowed)

__all__ = ["ImapConfig", "ImapSession"]

logger = logging.getLogger(__name__)

Authenticator = Callable[[str, str], Optional[str]]

_LOGIN_REASONS = {"Logged out": "Aborted login by logging out",
                  "Too many invalid IMAP commands.": "Too many invalid commands",
                  "Disconnected for inactivity": "Inactivity"}

#: Dovecot's imap-login gives up after 3 invalid commands, imap after 20
MAX_BAD_PRELOGIN = 3
MAX_BAD_COMMANDS = 20


@dataclass
class ImapConfig:
    """Settings of one IMAP service (Dovecot names in comments)."""

    greeting: str = "Dovecot ready."                 # login_greeting
    max_line: int = 65536                             # imap_max_line_length
    max_literal: int = 50 * 1024 * 1024               # largest APPEND accepted
    idle_timeout: float = 30 * 60                      # RFC 3501 §5.4 autologout
    auth_failure_delay: float = 2.0                   # auth_failure_delay
    disable_plaintext_auth: bool = True               # disable_plaintext_auth
    tls_available: bool = False                       # ssl = yes and a certificate
    special_use: Dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SPECIAL_USE))
    autocreate: Tuple[str, ...] = ("Drafts", "Junk", "Sent", "Trash")  # auto = create
    autosubscribe: Tuple[str, ...] = ("Drafts", "Junk", "Sent", "Trash")  # auto = subscribe
    mechanisms: Tuple[str, ...] = ("PLAIN", "LOGIN")   # auth_mechanisms


def reply(tag: str, name: str, *args: object) -> Response:
    """A completion from the central reply table (:data:`.states.REPLIES`)."""
    status, code, text = REPLIES[name]
    return tagged(tag, status, text.format(*args), code.format(*args) if code else None)


class ImapSession(FolderCommands, SelectedCommands):
    """One client connection's protocol state (see module docstring)."""

    def __init__(self, config: ImapConfig, authenticate: Authenticator,
                 mailboxes_for: Optional[Callable[[str], Mailboxes]], *,
                 secure: bool = False, tls: bool = False,
                 log: Optional[Callable[[str], None]] = None,
                 peer: Tuple[str, int] = ("127.0.0.1", 0),
                 local: Tuple[str, int] = ("127.0.0.1", 143),
                 session_id: str = "", pid: int = 0) -> None:
        self.config = config
        self.authenticate = authenticate
        self.mailboxes_for = mailboxes_for
        self.state = State.NOT_AUTHENTICATED
        self.tls = tls
        self.secure = secure or tls
        self.peer, self.local = peer, local
        self.session_id, self.pid = session_id, pid
        self._log = log or (lambda line: logger.info("%s", line))
        self.framer = Framer(config.max_line, config.max_literal)
        self.user: Optional[str] = None
        self.mailboxes = None  # type: ignore[assignment]  # set at login
        self.starttls_requested = False
        #: seconds the adapter holds the pending output back (a failed login)
        self.output_delay = 0.0
        self.closed = False
        self.bytes_in = self.bytes_out = 0
        self.auth_attempts = 0
        self.bad_count = 0
        self.expunged_count = 0
        self.condstore = False
        self._out: List[bytes] = []
        self._auth: Optional[Tuple[str, str, List[str]]] = None   # tag, mech, collected
        self._idle_tag: Optional[str] = None
        self._last_mech = ""
        self._asked_capability = False
        self.current: Optional[str] = None     # command being executed
        self.init_selected()

    # -- output ---------------------------------------------------------------
    @staticmethod
    def reply(tag: str, name: str, *args: object) -> Response:
        """A completion from the reply table (see :func:`reply`)."""
        return reply(tag, name, *args)

    def send(self, response: Response) -> None:
        if response.tag not in ("*", "+") and response.data.startswith(b"BAD"):
            self.bad_count += 1
        self._out.append(response.to_bytes())

    def send_raw(self, data: bytes) -> None:
        self._out.append(data)

    def data_to_send(self) -> bytes:
        """Everything queued for the client since the last call."""
        data = b"".join(self._out)
        self._out.clear()
        if self.user:
            self.bytes_out += len(data)
        return data

    # -- capabilities ------------------------------------------------------------
    def plaintext_ok(self) -> bool:
        return self.secure or not self.config.disable_plaintext_auth

    def capabilities(self) -> List[str]:
        if self.state in (State.AUTHENTICATED, State.SELECTED):
            return list(CAPABILITIES)
        caps = list(PRE_LOGIN_CAPABILITIES)
        if self.config.tls_available and not self.tls:
            caps.append("STARTTLS")
        if self.plaintext_ok():
            caps += [f"AUTH={m}" for m in self.config.mechanisms]
        else:
            caps.append("LOGINDISABLED")
        return caps

    def greeting(self) -> bytes:
        """The first line the server sends."""
        text = f"* OK [CAPABILITY {' '.join(self.capabilities())}] {self.config.greeting}\r\n"
        return text.encode()

    # -- input -------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; responses queue up for :meth:`data_to_send`."""
        if self.closed:
            return
        if self.user:
            self.bytes_in += len(data)
        for event in self.framer.feed(data):
            if self.closed or self.starttls_requested:
                # RFC 3501 §6.2.1 / RFC 2595: nothing pipelined after STARTTLS counts
                break
            if isinstance(event, NeedContinuation):
                if self._idle_tag is None and self._auth is None:
                    self.send(continuation("OK"))
            elif isinstance(event, TooLong):
                self._too_long(event)
            else:
                self._line(event.data)
            limit = MAX_BAD_PRELOGIN if self.user is None else MAX_BAD_COMMANDS
            if self.bad_count >= limit and not self.closed:
                # Dovecot hangs up on clients that keep sending garbage; before
                # login the last BAD itself is replaced by the BYE
                if self.user is None and self._out:
                    self._out.pop()
                self.send(Response("*", b"BYE Too many invalid IMAP commands."))
                self.close("Too many invalid IMAP commands.")
        if self.starttls_requested:
            self.framer.reset()

    def _too_long(self, event: TooLong) -> None:
        tag = event.tag if event.tag and event.tag != "*" else "*"
        if event.what == "literal":
            self.send(reply(tag, "literal_too_big"))
        else:
            self.send(reply(tag, "too_long"))

    def _line(self, data: bytes) -> None:
        if self._auth is not None:
            self._auth_continue(data)
            return
        if self._idle_tag is not None:
            self._idle_input(data)
            return
        try:
            cmd = parse_command(data)
        except ParseError as exc:
            self._bad(data, exc)
            return
        self.dispatch(cmd)

    def _bad(self, data: bytes, exc: ParseError) -> None:
        tag = exc.tag or "*"
        if exc.message.startswith("[BADCHARSET"):
            self.send(reply(tag, "badcharset"))
            return
        words = data.split(b" ", 3)
        name = words[1].decode("ascii", "replace").upper() if len(words) > 1 else ""
        if name == "UID" and len(words) > 2:
            name = "UID " + words[2].decode("ascii", "replace").upper()
        if exc.tag is None or exc.message.startswith("Unknown command") or not name:
            self.send(reply(tag, "bad_command"))
        else:
            self.send(reply(tag, "bad_syntax", name, exc.message))

    def dispatch(self, cmd: Command) -> None:
        """Run one parsed command in the current state."""
        if not allowed(self.state, cmd.name):
            if self.state == State.AUTHENTICATED and cmd.name in self.SELECTED_ONLY:
                self.send(reply(cmd.tag, "bad_state_noselect"))
            elif self.state == State.NOT_AUTHENTICATED:
                self.send(reply(cmd.tag, "bad_command"))
            else:
                self.send(reply(cmd.tag, "bad_state_auth", cmd.name))
            return
        before = self.state
        self.current = cmd.name
        handler = getattr(self, "cmd_" + cmd.name.lower())
        try:
            ok = handler(cmd)
        except MailboxLocked:
            # a mailbox lock that did not come free in time (Dovecot's wording)
            self.send(reply(cmd.tag, "lock_timeout"))
            ok = False
        except Exception:  # a bug or a disk error must not kill the session
            logger.exception("IMAP %s failed", cmd.name)
            self.send(reply(cmd.tag, "server_error"))
            ok = False
        finally:
            self.current = None
        key = (before, cmd.name)
        if ok is not False and key in TRANSITIONS:
            self.state = TRANSITIONS[key]
        elif ok is False and key in FAILED_TRANSITIONS:
            self.state = FAILED_TRANSITIONS[key]

    # -- any state -------------------------------------------------------------
    def cmd_capability(self, cmd: Command) -> bool:
        self.send(untagged("CAPABILITY", " ".join(self.capabilities())))
        logged_in = self.state in (State.AUTHENTICATED, State.SELECTED)
        self._asked_capability = True
        self.finish(cmd, "capability_auth" if logged_in else "capability")
        return True

    def cmd_noop(self, cmd: Command) -> bool:
        self.finish(cmd, "noop")
        return True

    def cmd_logout(self, cmd: Command) -> bool:
        self.send(Response("*", b"BYE Logging out"))
        self.send(reply(cmd.tag, "logout"))
        self.close("Logged out")
        return True

    def cmd_id(self, cmd: Command) -> bool:
        self.send(untagged("ID", encode(["name", "Dovecot"])))
        self.finish(cmd, "id")
        return True

    def finish(self, cmd: Command, name: str, *args: object) -> None:
        """Send pending mailbox updates (where allowed), then the completion."""
        if self.state == State.SELECTED:
            self.send_updates(cmd)
        self.send(reply(cmd.tag, name, *args))

    # -- login -----------------------------------------------------------------
    def cmd_starttls(self, cmd: Command) -> bool:
        if self.tls:
            self.send(reply(cmd.tag, "starttls_again"))
        elif not self.config.tls_available:
            self.send(reply(cmd.tag, "starttls_none"))
        else:
            self.send(reply(cmd.tag, "starttls_ok"))
            self.starttls_requested = True
        return False

    def tls_started(self) -> None:
        """The adapter finished the TLS handshake after STARTTLS."""
        self.starttls_requested = False
        self.tls = self.secure = True
        self.framer.reset()

    def cmd_login(self, cmd: Command) -> bool:
        if not self.plaintext_ok():
            self.send(Response("*", b"BAD [ALERT] Plaintext authentication not allowed without "
                               b"SSL/TLS, but your client did it anyway. If anyone was "
                               b"listening, the password was exposed."))
            self.send(reply(cmd.tag, "login_disabled"))
            return False
        user, password = cmd.args
        return self._check_login(cmd.tag, user, password, "PLAIN")

    def _check_login(self, tag: str, user: str, password: str, mech: str) -> bool:
        self.auth_attempts += 1
        self._last_mech = mech
        self._attempted_user = user
        canonical = self.authenticate(user, password)
        if canonical is None or self.mailboxes_for is None:
            # Dovecot answers a failed login only after auth_failure_delay: the
            # adapter holds the reply (and this client's input) that long
            self.output_delay = self.config.auth_failure_delay
            self.send(reply(tag, "auth_failed"))
            return False
        self.user = canonical
        self.mailboxes = self.mailboxes_for(canonical)
        self.mailboxes.special = dict(self.config.special_use)
        if self.config.autocreate:
            # two logins of one user may run at once (worker threads): take turns
            with getattr(self.mailboxes, "lock", None) or contextlib.nullcontext():
                self.mailboxes.ensure_special_folders(self.config.autocreate,
                                                      self.config.autosubscribe)
        self.state = State.AUTHENTICATED
        if self._asked_capability:
            # Dovecot: a client that asked CAPABILITY may ignore response codes
            self.send(untagged("CAPABILITY", " ".join(CAPABILITIES)))
            self.send(tagged(tag, "OK", REPLIES["login_ok"][2]))
        else:
            self.send(tagged(tag, "OK", REPLIES["login_ok"][2],
                             "CAPABILITY " + " ".join(CAPABILITIES)))
        self._log(login_line("imap", self._conn(), canonical, mech))
        return True

    def cmd_authenticate(self, cmd: Command) -> bool:
        mech, initial = cmd.args
        if mech not in self.config.mechanisms:
            self.send(reply(cmd.tag, "auth_mech"))
            return False
        if not self.plaintext_ok():
            self.send(reply(cmd.tag, "auth_disabled"))
            return False
        self._auth = (cmd.tag, mech, [])
        if initial is not None and mech == "PLAIN":
            self._auth_continue(b"" if initial == "=" else initial.encode())
        else:
            self.send(Response("+", b"VXNlcm5hbWU6" if mech == "LOGIN" else b""))
        return False   # the state changes in _auth_continue

    def _auth_continue(self, line: bytes) -> None:
        assert self._auth is not None
        tag, mech, got = self._auth
        if line.strip() == b"*":
            self._auth = None
            self.send(reply(tag, "auth_aborted"))
            return
        try:
            decoded = base64.b64decode(line.strip(), validate=True)
        except (binascii.Error, ValueError):
            self._auth = None
            self.send(tagged(tag, "BAD", "Invalid base64 data in continued response"))
            return
        if mech == "LOGIN":
            got.append(decoded.decode("utf-8", "replace"))
            if len(got) == 1:
                self.send(Response("+", b"UGFzc3dvcmQ6"))
                return
            user, password = got
        else:
            parts = decoded.split(b"\0")
            if len(parts) != 3:
                self._auth = None
                self.auth_attempts += 1
                self.output_delay = self.config.auth_failure_delay
                self.send(reply(tag, "auth_failed"))
                return
            user = parts[1].decode("utf-8", "replace")
            password = parts[2].decode("utf-8", "replace")
        self._auth = None
        self._check_login(tag, user, password, mech)

    # -- IDLE (RFC 2177) -----------------------------------------------------------
    def cmd_idle(self, cmd: Command) -> bool:
        self._idle_tag = cmd.tag
        self.send(Response("+", b"idling"))
        if self.state == State.SELECTED:
            self.send_updates(None)
        return True

    def _idle_input(self, data: bytes) -> None:
        tag, self._idle_tag = self._idle_tag, None
        assert tag is not None
        if data.strip().upper() == b"DONE":
            if self.state == State.SELECTED:
                self.send_updates(None)
            self.send(reply(tag, "idle_done"))
        else:
            self.send(tagged(tag, "BAD", "Expected DONE."))

    @property
    def idling(self) -> bool:
        return self._idle_tag is not None

    def mailbox_changed(self) -> None:
        """Another session or a delivery changed the selected folder.

        While IDLE the client hears about it at once (RFC 2177); otherwise
        the news waits for the next command, as RFC 3501 §5.2 allows.
        """
        if self.idling and self.state == State.SELECTED:
            self.send_updates(None)

    # -- the end -------------------------------------------------------------------
    def timed_out(self) -> None:
        """The client was idle longer than the autologout timer."""
        self.send(Response("*", b"BYE Disconnected for inactivity."))
        self.close("Disconnected for inactivity")

    def close(self, why: str) -> None:
        """Move to LOGOUT and log the disconnect the way Dovecot does."""
        if self.closed:
            return
        self.closed = True
        self.state = State.LOGOUT
        self.unselect()
        if self.user:
            self._log(f"imap({self.user})<{self.pid}><{self.session_id}>: Disconnected: {why} "
                      f"in={self.bytes_in} out={self.bytes_out} deleted=0 "
                      f"expunged={self.expunged_count} trashed=0 hdr_count=0 hdr_bytes=0 "
                      f"body_count=0 body_bytes=0")
        else:
            # imap-login's wording for the same events (Dovecot 2.3)
            reason = _LOGIN_REASONS.get(why, why)
            self._log(login_disconnect_line(
                "imap", self._conn(), reason, getattr(self, "_attempted_user", ""),
                self._last_mech, self.auth_attempts, 0))

    def _conn(self) -> ConnInfo:
        return ConnInfo(rip=self.peer[0], lip=self.local[0], session=self.session_id,
                        mpid=self.pid, secured=self.secure and not self.tls, tls=self.tls)

    def connection_lost(self) -> None:
        """The peer went away (or the adapter closed the socket)."""
        self.close("Connection closed")
