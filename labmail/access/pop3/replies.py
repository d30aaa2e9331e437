"""Every POP3 reply text in one table, worded as Dovecot 2.3 words them.

The texts were learned by talking to a real Dovecot on loopback; response
codes in brackets are RFC 2449 section 8 ([IN-USE], [LOGIN-DELAY]),
RFC 3206 ([SYS/TEMP], [AUTH]).

>>> reply("no_message", n=9)
b"-ERR There's no message 9.\\r\\n"
"""
from __future__ import annotations

from typing import Dict

__all__ = ["REPLIES", "reply", "line"]

REPLIES: Dict[str, str] = {
    # AUTHORIZATION (Dovecot's pop3-login)
    "greeting": "+OK {text}",
    "unknown_preauth": "-ERR Unknown command.",
    "too_many_bad": "-ERR Too many invalid bad commands.",
    "user_ok": "+OK",
    "no_username": "-ERR No username given.",
    "plaintext_disallowed": "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
    "plaintext_disabled": "-ERR [AUTH] Plaintext authentication disabled.",
    "auth_failed": "-ERR [AUTH] Authentication failed.",
    "logged_in": "+OK Logged in.",
    "apop_invalid": "-ERR Invalid parameters.",
    "apop_disabled": "-ERR APOP not enabled.",
    "auth_unsupported": "-ERR [AUTH] Unsupported authentication mechanism.",
    "auth_aborted": "-ERR Authentication aborted by client.",
    "auth_bad_base64": "-ERR [AUTH] Invalid base64 in response",
    "auth_bad_base64_continued": "-ERR [AUTH] Invalid base64 data in continued response",
    "auth_continue": "+ {challenge}",
    "stls_begin": "+OK Begin TLS negotiation now.",
    "tls_active": "-ERR TLS is already active.",
    "tls_unavailable": "-ERR TLS support isn't enabled.",
    "ssl_required": "-ERR [AUTH] Authentication not allowed until SSL/TLS is enabled.",
    "logout_preauth": "+OK Logging out",
    "in_use": "-ERR [IN-USE] Mailbox is locked by another POP3 session.",
    "sys_temp": "-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information.",
    "login_delay": "-ERR [LOGIN-DELAY] Too many logins, try again later.",
    # TRANSACTION (Dovecot's pop3)
    "unknown": "-ERR Unknown command: {cmd}",
    "ok": "+OK",
    "stat": "+OK {count} {size}",
    "list_all": "+OK {count} messages:",
    "list_one": "+OK {n} {size}",
    "uidl_one": "+OK {n} {uid}",
    "retr": "+OK {size} octets",
    "top": "+OK",
    "no_message": "-ERR There's no message {n}.",
    "invalid_number": "-ERR Invalid message number: {arg}",
    "number_too_large": "-ERR Message number too large: {arg}",
    "noise_after_number": "-ERR Noise after message number: {rest}",
    "invalid_size": "-ERR Invalid size: {arg}",
    "size_too_large": "-ERR Size too large: {arg}",
    "noise_after_size": "-ERR Noise after size: {rest}",
    "deleted": "-ERR Message is deleted.",
    "dele_ok": "+OK Marked to be deleted.",
    "logout": "+OK Logging out.",
    "logout_deleted": "+OK Logging out, messages deleted.",
    "update_failed": "-ERR [SYS/TEMP] Couldn't delete all messages.",
}


def line(key: str, **values: object) -> str:
    """The reply text for *key* (without CRLF)."""
    return REPLIES[key].format(**values)


def reply(key: str, **values: object) -> bytes:
    """The reply for *key* as bytes on the wire."""
    return (line(key, **values) + "\r\n").encode("utf-8", "surrogateescape")
