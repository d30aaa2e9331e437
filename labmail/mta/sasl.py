"""SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms, sans IO.

A :class:`SaslExchange` is one ``AUTH`` command and its continuation lines:
feed it the mechanism and optional initial response, then each line the
client sends after a ``334`` challenge; each step returns what the server
says next.  Replies and log texts are those of Postfix 3.7 with Dovecot SASL
(measured against the real daemons on loopback):

>>> ex = SaslExchange(lambda user, pw: (user, pw) == ("alice", "secret"))
>>> ex.start("PLAIN", "AGFsaWNlAHNlY3JldA==")
Success(method='PLAIN', username='alice')
>>> ex = SaslExchange(lambda user, pw: False)
>>> ex.start("LOGIN", None)
Challenge(text='VXNlcm5hbWU6')
>>> ex.respond("Ym9i")
Challenge(text='UGFzc3dvcmQ6')
>>> ex.respond("eA==").reply
'535 5.7.8 Error: authentication failed: (reason unavailable)'
"""
from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from typing import Callable, Optional, Union

from .replies import reply

__all__ = ["MECHANISMS", "SaslExchange", "Challenge", "Success", "Failure", "Aborted",
           "Step", "AUTH_OK", "ExchangeState"]

#: What the lab offers after ``250-AUTH`` (Dovecot's ``auth_mechanisms = plain login``)
MECHANISMS = ("PLAIN", "LOGIN")

AUTH_OK = reply("auth_ok")
_UNAVAILABLE = "(reason unavailable)"          # Dovecot's FAIL without a reason


@dataclass(frozen=True)
class Challenge:
    """Send ``334 <text>`` and wait for the client's next line."""
    text: str

    @property
    def reply(self) -> str:
        # RFC 4954 §4: the space after 334 is there even when the challenge is empty
        return f"334 {self.text}"


@dataclass(frozen=True)
class Success:
    """The client proved it is *username*."""
    method: str
    username: str

    @property
    def reply(self) -> str:
        return AUTH_OK


@dataclass(frozen=True)
class Failure:
    """Authentication failed for *reason*; *username* as far as it was learnt."""
    method: str
    reason: str
    username: Optional[str] = None

    @property
    def reply(self) -> str:
        return reply("auth_failed", reason=self.reason)

    def log(self, client: str) -> str:
        """The smtpd warning, e.g. ``warning: name[ip]: SASL PLAIN authentication failed: ...``."""
        who = self.username if self.username is not None else "(unavailable)"
        return (f"warning: {client}: SASL {self.method} authentication failed: "
                f"{self.reason}, sasl_username={who}")


@dataclass(frozen=True)
class Aborted:
    """The client sent ``*`` (RFC 4954 §4)."""
    method: str

    @property
    def reply(self) -> str:
        return reply("auth_aborted")

    def log(self, client: str) -> str:
        return f"warning: {client}: SASL {self.method} authentication aborted"


Step = Union[Challenge, Success, Failure, Aborted]


class ExchangeState(enum.Enum):
    """Where one AUTH exchange stands."""
    NEW = "new"
    PLAIN_RESPONSE = "plain response"        # PLAIN sent "334 ", awaiting the credentials
    LOGIN_USERNAME = "login username"        # LOGIN asked "Username:"
    LOGIN_PASSWORD = "login password"        # LOGIN asked "Password:"
    DONE = "done"


_USERNAME_PROMPT = base64.b64encode(b"Username:").decode()
_PASSWORD_PROMPT = base64.b64encode(b"Password:").decode()


def _decode(text: str) -> Optional[bytes]:
    """Base64 as RFC 4954 sends it; ``=`` alone is the empty initial response."""
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


class SaslExchange:
    """One ``AUTH`` exchange against *verify(username, password) -> bool*."""

    def __init__(self, verify: Callable[[str, str], bool]) -> None:
        self.verify = verify
        self.state = ExchangeState.NEW
        self.method = ""
        self._username: Optional[str] = None

    def start(self, mechanism: str, initial: Optional[str]) -> Step:
        """``AUTH <mechanism> [initial-response]``."""
        self.method = mechanism.upper()
        if self.method not in MECHANISMS:
            return self._finish(Failure(self.method, "Invalid authentication mechanism"))
        if initial is not None:
            data = _decode(initial)
            if data is None:
                return self._finish(Failure(self.method,
                                            "Invalid base64 data in initial response"))
            return self._credentials(data)
        if self.method == "PLAIN":
            self.state = ExchangeState.PLAIN_RESPONSE
            return Challenge("")
        self.state = ExchangeState.LOGIN_USERNAME
        return Challenge(_USERNAME_PROMPT)

    def respond(self, line: str) -> Step:
        """A continuation line from the client."""
        if self.state in (ExchangeState.NEW, ExchangeState.DONE):
            raise RuntimeError(f"no challenge outstanding (state {self.state.value})")
        line = line.strip()
        if line == "*":
            return self._finish(Aborted(self.method))
        data = _decode(line)
        if data is None:
            return self._finish(Failure(self.method, "Invalid base64 data in continued response",
                                        self._username))
        return self._credentials(data)

    def _credentials(self, data: bytes) -> Step:
        text = data.decode("utf-8", "replace")
        if self.method == "PLAIN":
            # RFC 4616 §2: [authzid] NUL authcid NUL passwd
            parts = text.split("\x00")
            if len(parts) != 3 or not parts[1]:
                return self._finish(Failure("PLAIN", _UNAVAILABLE))
            authzid, user, password = parts
            if authzid and authzid != user:   # no proxy authorisation in the lab
                return self._finish(Failure("PLAIN", _UNAVAILABLE, user))
            return self._check(user, password)
        if self.state in (ExchangeState.NEW, ExchangeState.LOGIN_USERNAME):
            self._username = text
            self.state = ExchangeState.LOGIN_PASSWORD
            return Challenge(_PASSWORD_PROMPT)
        return self._check(self._username or "", text)

    def _check(self, user: str, password: str) -> Step:
        if user and self.verify(user, password):
            return self._finish(Success(self.method, user))
        return self._finish(Failure(self.method, _UNAVAILABLE, user))

    def _finish(self, step: Step) -> Step:
        self.state = ExchangeState.DONE
        return step
