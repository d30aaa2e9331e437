"""The POP3 state machine as data: everything that changes state lives here.

RFC 1939 section 3: a session passes through AUTHORIZATION (the client
identifies itself), TRANSACTION (it reads and marks messages) and, after
QUIT, UPDATE (the server removes the marked messages).  A connection that
drops in TRANSACTION never reaches UPDATE: nothing is deleted (section 6).

The lessons draw the diagram from :data:`TRANSITIONS`; the server refuses
any command not in :data:`ALLOWED` for the current state.

>>> next_state(State.TRANSACTION, "QUIT")
<State.UPDATE: 'UPDATE'>
>>> sorted(ALLOWED[State.AUTHORIZATION])
['APOP', 'AUTH', 'CAPA', 'PASS', 'QUIT', 'STLS', 'USER']
"""
from __future__ import annotations

import enum
from typing import Dict, FrozenSet, Tuple

__all__ = ["State", "ALLOWED", "TRANSITIONS", "next_state", "EXTENSION_COMMANDS"]


class State(enum.Enum):
    """RFC 1939 section 3 states, plus CLOSED (the connection is over)."""

    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    CLOSED = "CLOSED"


#: Commands a client may send in each state (RFC 1939 sections 4-7,
#: RFC 2449 CAPA, RFC 5034 AUTH, RFC 2595 STLS).
ALLOWED: Dict[State, FrozenSet[str]] = {
    State.AUTHORIZATION: frozenset({"USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "QUIT"}),
    State.TRANSACTION: frozenset({"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP",
                                  "UIDL", "CAPA", "QUIT"}),
    State.UPDATE: frozenset(),
    State.CLOSED: frozenset(),
}

#: Optional commands (RFC 1939 section 7 and extensions): shown differently in lessons.
EXTENSION_COMMANDS = frozenset({"APOP", "TOP", "UIDL", "CAPA", "AUTH", "STLS", "USER", "PASS"})

#: (state, event) -> new state.  Events are command names or the words below.
TRANSITIONS: Dict[Tuple[State, str], State] = {
    (State.AUTHORIZATION, "login"): State.TRANSACTION,    # PASS/APOP/AUTH accepted, maildrop locked
    (State.AUTHORIZATION, "QUIT"): State.CLOSED,          # nothing to update
    (State.AUTHORIZATION, "drop"): State.CLOSED,          # connection lost / too many errors
    (State.TRANSACTION, "QUIT"): State.UPDATE,            # RFC 1939 section 6
    (State.TRANSACTION, "drop"): State.CLOSED,            # lost: deletions are forgotten
    (State.UPDATE, "updated"): State.CLOSED,              # marked messages removed, lock released
    (State.UPDATE, "drop"): State.CLOSED,
}


def next_state(state: State, event: str) -> State:
    """The state after *event*; events without a transition leave it unchanged."""
    return TRANSITIONS.get((state, event), state)
