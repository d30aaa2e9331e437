"""Everything that changes an IMAP session's state lives here (RFC 3501 §3).

The four states, which commands each accepts, where a successful command
leads, and the one table of reply texts (worded as Dovecot 2.3 words them).
Lessons draw the state diagram from :data:`TRANSITIONS`.

>>> allowed(State.NOT_AUTHENTICATED, "SELECT")
False
>>> TRANSITIONS[(State.AUTHENTICATED, "SELECT")]
<State.SELECTED: 'selected'>
"""
from __future__ import annotations

import enum
from typing import Dict, FrozenSet, Tuple

__all__ = ["State", "COMMANDS", "TRANSITIONS", "allowed", "describe", "REPLIES", "CAPABILITIES",
           "PRE_LOGIN_CAPABILITIES", "MUST_NOT_EXPUNGE"]


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_ANY = frozenset({"CAPABILITY", "NOOP", "LOGOUT", "ID"})
_NOT_AUTH = frozenset({"STARTTLS", "AUTHENTICATE", "LOGIN"})
_AUTH = frozenset({"SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE",
                   "UNSUBSCRIBE", "LIST", "LSUB", "STATUS", "APPEND", "NAMESPACE",
                   "ENABLE", "IDLE"})
_SELECTED = frozenset({"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH",
                       "STORE", "COPY", "MOVE"})

#: commands accepted in each state (RFC 3501 §6.1–§6.4)
COMMANDS: Dict[State, FrozenSet[str]] = {
    State.NOT_AUTHENTICATED: _ANY | _NOT_AUTH,
    State.AUTHENTICATED: _ANY | _AUTH,
    State.SELECTED: _ANY | _AUTH | _SELECTED,
    State.LOGOUT: frozenset(),
}

#: (state, command) -> state after the command completed with OK
TRANSITIONS: Dict[Tuple[State, str], State] = {
    (State.NOT_AUTHENTICATED, "LOGIN"): State.AUTHENTICATED,
    (State.NOT_AUTHENTICATED, "AUTHENTICATE"): State.AUTHENTICATED,
    (State.AUTHENTICATED, "SELECT"): State.SELECTED,
    (State.AUTHENTICATED, "EXAMINE"): State.SELECTED,
    (State.SELECTED, "SELECT"): State.SELECTED,
    (State.SELECTED, "EXAMINE"): State.SELECTED,
    (State.SELECTED, "CLOSE"): State.AUTHENTICATED,
    (State.SELECTED, "UNSELECT"): State.AUTHENTICATED,
    (State.NOT_AUTHENTICATED, "LOGOUT"): State.LOGOUT,
    (State.AUTHENTICATED, "LOGOUT"): State.LOGOUT,
    (State.SELECTED, "LOGOUT"): State.LOGOUT,
}
#: a SELECT/EXAMINE that fails leaves the client in AUTHENTICATED (RFC 3501 §6.3.1)
FAILED_TRANSITIONS: Dict[Tuple[State, str], State] = {
    (State.SELECTED, "SELECT"): State.AUTHENTICATED,
    (State.SELECTED, "EXAMINE"): State.AUTHENTICATED,
}

#: RFC 3501 §7.4.1: no EXPUNGE responses while answering these (non-UID) commands
MUST_NOT_EXPUNGE = frozenset({"FETCH", "STORE", "SEARCH"})


def allowed(state: State, command: str) -> bool:
    """May *command* be used in *state*?"""
    return command in COMMANDS[state]


def describe() -> str:
    """The state machine as a Markdown table, for lessons (drawn from the tables above).

    >>> print(describe().splitlines()[2])
    | not authenticated | CAPABILITY, ID, LOGOUT, NOOP, AUTHENTICATE, LOGIN, STARTTLS | LOGIN, AUTHENTICATE → authenticated; LOGOUT → logout |
    """
    rows = ["| state | commands | transitions on OK |", "|---|---|---|"]
    for state in State:
        if state == State.LOGOUT:
            continue
        own = sorted(COMMANDS[state] - _ANY) if state != State.SELECTED else sorted(_SELECTED)
        cmds = ", ".join(sorted(_ANY) + own) if state != State.SELECTED else \
            "everything of authenticated, plus " + ", ".join(own)
        moves: dict = {}
        for (src, cmd), dst in TRANSITIONS.items():
            if src == state and dst != state:
                moves.setdefault(dst, []).append(cmd)
        trans = "; ".join(f"{', '.join(c)} → {dst.value}" for dst, c in moves.items())
        rows.append(f"| {state.value} | {cmds} | {trans} |")
    return "\n".join(rows)


PRE_LOGIN_CAPABILITIES = ("IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE",
                          "IDLE", "LITERAL+")
CAPABILITIES = ("IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE",
                "UNSELECT", "CHILDREN", "NAMESPACE", "UIDPLUS", "CONDSTORE", "MOVE",
                "LITERAL+", "SPECIAL-USE")

#: name -> (status, response code or None, text); "{0}" is filled in
REPLIES: Dict[str, Tuple[str, str, str]] = {
    "greeting": ("OK", "", "Dovecot ready."),
    "bad_command": ("BAD", "", "Error in IMAP command received by server."),
    "bad_syntax": ("BAD", "", "Error in IMAP command {0}: {1}"),
    "bad_state_noselect": ("BAD", "", "No mailbox selected"),
    "bad_state_auth": ("BAD", "", "Error in IMAP command {0}: Unknown command"),
    "login_ok": ("OK", "", "Logged in"),
    "auth_failed": ("NO", "AUTHENTICATIONFAILED", "Authentication failed."),
    "login_disabled": ("NO", "PRIVACYREQUIRED",
                       "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."),
    "auth_disabled": ("NO", "PRIVACYREQUIRED", "Plaintext authentication disabled."),
    "auth_aborted": ("BAD", "", "Authentication aborted by client."),
    "auth_mech": ("NO", "ALERT", "Unsupported authentication mechanism."),
    "starttls_ok": ("OK", "", "Begin TLS negotiation now."),
    "starttls_again": ("BAD", "", "TLS is already active."),
    "starttls_none": ("BAD", "", "TLS support isn't enabled."),
    "capability": ("OK", "", "Pre-login capabilities listed, post-login capabilities have more."),
    "capability_auth": ("OK", "", "Capability completed."),
    "noop": ("OK", "", "NOOP completed."),
    "logout_bye": ("BYE", "", "Logging out"),
    "logout": ("OK", "", "Logout completed."),
    "id": ("OK", "", "ID completed."),
    "nonexistent": ("NO", "NONEXISTENT", "Mailbox doesn't exist: {0}"),
    "select_missing": ("NO", "", "Mailbox doesn't exist: {0}"),
    "trycreate": ("NO", "TRYCREATE", "Mailbox doesn't exist: {0}"),
    "select_ok": ("OK", "READ-WRITE", "Select completed."),
    "examine_ok": ("OK", "READ-ONLY", "Examine completed."),
    "create_ok": ("OK", "", "Create completed."),
    "create_exists": ("NO", "ALREADYEXISTS", "Mailbox already exists"),
    "delete_ok": ("OK", "", "Delete completed."),
    "delete_inbox": ("NO", "", "INBOX can't be deleted."),
    "rename_ok": ("OK", "", "Rename completed."),
    "rename_exists": ("NO", "ALREADYEXISTS", "Target mailbox already exists"),
    "subscribe_ok": ("OK", "", "Subscribe completed."),
    "unsubscribe_ok": ("OK", "", "Unsubscribe completed."),
    "list_ok": ("OK", "", "List completed."),
    "lsub_ok": ("OK", "", "Lsub completed."),
    "status_ok": ("OK", "", "Status completed."),
    "status_selected": ("OK", "CLIENTBUG", "Status on selected mailbox completed."),
    "append_ok": ("OK", "APPENDUID {0} {1}", "Append completed."),
    "namespace_ok": ("OK", "", "Namespace completed."),
    "enable_ok": ("OK", "", "Enabled"),
    "check_ok": ("OK", "", "Check completed."),
    "close_ok": ("OK", "", "Close completed."),
    "unselect_ok": ("OK", "", "Unselect completed."),
    "expunge_ok": ("OK", "", "Expunge completed."),
    "search_ok": ("OK", "", "Search completed."),
    "fetch_ok": ("OK", "", "Fetch completed."),
    "store_ok": ("OK", "", "Store completed."),
    "store_modified": ("OK", "MODIFIED {0}", "Conditional store failed"),
    "copy_ok": ("OK", "COPYUID {0} {1} {2}", "Copy completed."),
    "copy_none": ("OK", "", "No messages found."),
    "move_ok": ("OK", "", "Move completed."),
    "readonly": ("NO", "", "Mailbox is read-only."),
    "badcharset": ("NO", "BADCHARSET", "Unknown charset"),
    "idle_start": ("+", "", "idling"),
    "idle_done": ("OK", "", "Idle completed."),
    "too_long": ("BAD", "", "Error in IMAP command received by server: Command line too long."),
    "literal_too_big": ("NO", "TOOBIG", "Literal too large"),
    "autologout": ("BYE", "", "Disconnected for inactivity."),
    "lock_timeout": ("NO", "SERVERBUG", "Timeout while waiting for lock"),
    "server_error": ("NO", "SERVERBUG", "Internal error occurred. Refer to server log for more information."),
    "expunged": ("NO", "EXPUNGEISSUED", "Some of the requested messages no longer exist."),
    "invalid_flag": ("BAD", "", "Error in IMAP command STORE: Invalid system flag {0}"),
}
