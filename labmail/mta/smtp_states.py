"""The SMTP session as a state machine: everything that changes state lives here.

RFC 5321 §4.1.4 fixes the order of commands: a greeting, then EHLO/HELO, then
one or more mail transactions (MAIL, one or more RCPT, DATA), then QUIT.
This table is the lab smtpd's own record of where each session stands (it is
advanced on every reply the server sends) and the source of the diagram in
lesson 02.  Postfix, like the lab, does not insist on HELO before MAIL unless
``smtpd_helo_required = yes``.

>>> s = SessionState()
>>> for cmd, code in [("EHLO", 250), ("MAIL", 250), ("RCPT", 550), ("RCPT", 250), ("DATA", 354)]:
...     _ = s.advance(cmd, code)
>>> s.state.name
'DATA'
>>> s.advance("CONTENT", 250).name
'READY'
"""
from __future__ import annotations

import enum
from typing import Dict, List, Optional, Tuple

__all__ = ["State", "TRANSITIONS", "SessionState", "allowed_commands"]


class State(enum.Enum):
    """Where an SMTP session stands."""

    CONNECTED = "connected, greeting sent"
    READY = "greeted (after EHLO/HELO), no transaction"
    MAIL = "sender given (after MAIL FROM)"
    RCPT = "at least one recipient accepted"
    DATA = "receiving message content (after 354)"
    CLOSED = "closed (after QUIT)"


# (state, command, reply class) -> new state.  Reply class is "ok" for 2xx/3xx
# and "fail" for 4xx/5xx.  A pair missing here leaves the state unchanged.
TRANSITIONS: Dict[Tuple[State, str, str], State] = {}


def _add(states: List[State], command: str, outcome: str, new: State) -> None:
    for s in states:
        TRANSITIONS[(s, command, outcome)] = new


_OPEN = [State.CONNECTED, State.READY, State.MAIL, State.RCPT]
_add(_OPEN, "EHLO", "ok", State.READY)          # §4.1.4: EHLO resets the transaction
_add(_OPEN, "HELO", "ok", State.READY)
_add(_OPEN, "RSET", "ok", State.READY)          # §4.1.1.5
_add([State.CONNECTED, State.READY], "MAIL", "ok", State.MAIL)
_add([State.MAIL, State.RCPT], "RCPT", "ok", State.RCPT)
_add([State.RCPT], "DATA", "ok", State.DATA)     # the 354 reply
_add([State.DATA], "CONTENT", "ok", State.READY)     # 250 after the final "."
_add([State.DATA], "CONTENT", "fail", State.READY)   # rejected content ends the transaction too
_add(_OPEN, "STARTTLS", "ok", State.CONNECTED)  # RFC 3207 §4.2: forget everything
_add(_OPEN + [State.DATA], "QUIT", "ok", State.CLOSED)


def allowed_commands(state: State) -> List[str]:
    """Commands that can move a session on from *state* (for diagrams and hints)."""
    return sorted({cmd for (s, cmd, outcome) in TRANSITIONS if s is state and outcome == "ok"})


class SessionState:
    """The state of one session, advanced by (command, reply code) pairs."""

    def __init__(self) -> None:
        self.state = State.CONNECTED
        self.history: List[Tuple[str, int, State]] = []

    def advance(self, command: str, code: int) -> State:
        """Record that *command* got reply *code*; return the new state."""
        outcome = "ok" if 200 <= code < 400 else "fail"
        new: Optional[State] = TRANSITIONS.get((self.state, command.upper(), outcome))
        if new is not None:
            self.state = new
        self.history.append((command.upper(), code, self.state))
        return self.state
