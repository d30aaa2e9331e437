"""AUTHORIZATION-state commands (RFC 1939 section 4, 7; RFC 5034; RFC 2595).

USER/PASS, APOP, AUTH (PLAIN and LOGIN, with or without an initial
response), STLS and QUIT: a mixin of :class:`~.protocol.POP3Connection`,
which provides the shared state and helpers these methods use.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from typing import List

from ...store import MailboxLocked, StoreError
from .session import Session
from .actions import Action, Close, Event, Pause, StartTLS


__all__ = ["AuthorizationCommands"]

logger = logging.getLogger(__name__)


class AuthorizationCommands(Session):
    """The commands a client may give before it has logged in."""

    def _auth_user(self, args: str) -> List[Action]:
        if not self._plaintext_ok():
            # Dovecot counts this as a failed attempt by that user (its log says so)
            self._plaintext_refused = True
            self._counters.auth_attempts += 1
            self._attempt_user = args
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
        parts = args.split(" ")
        if not self.settings.apop_challenge:      # "apop" not in auth_mechanisms
            return [self._send("apop_disabled")]
        if len(parts) != 2 or len(parts[1]) != 32:
            return [self._send("apop_invalid")]
        if self.settings.ssl_required and not self.secured:
            return [self._send("ssl_required")]
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
        if self.settings.ssl_required and not self.secured:    # ssl = required
            return [self._send("ssl_required")]
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
        self._attempt_user = user
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

