"""Every SMTP reply the lab's smtpd sends, in one table, worded as Postfix words them.

The lab's smtpd is built on aiosmtpd, which has replies of its own
("500 Error: command "X" not recognized"); students must see what a real
Postfix says ("502 5.5.2 Error: command not recognized").  So there is one
table of our replies (:data:`REPLIES`) and one table (:data:`AIOSMTPD`) that
rewrites aiosmtpd's wording into Postfix's, with the RFC 3463 enhanced status
code Postfix adds when ENHANCEDSTATUSCODES is on.

>>> reply("rcpt_ok")
'250 2.1.5 Ok'
>>> reply("user_unknown", rcpt="bob@example.com")
'550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in local recipient table'
>>> translate('500 Error: command "FOO" not recognized')
'500 5.5.2 Error: command not recognized'
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

__all__ = ["Reply", "REPLIES", "AIOSMTPD", "reply", "translate"]


@dataclass(frozen=True)
class Reply:
    """One reply: basic code (RFC 5321 §4.2), enhanced code (RFC 3463), text."""

    code: int
    enhanced: str
    text: str

    def format(self, **values: str) -> str:
        """The reply line, with ``{name}`` placeholders filled in."""
        text = self.text.format(**values)
        return f"{self.code} {self.enhanced} {text}" if self.enhanced else f"{self.code} {text}"


#: Our replies, keyed by what happened.  Wording follows Postfix 3.x smtpd.
REPLIES = {
    "mail_ok": Reply(250, "2.1.0", "Ok"),
    "rcpt_ok": Reply(250, "2.1.5", "Ok"),
    "ok": Reply(250, "2.0.0", "Ok"),
    "queued": Reply(250, "2.0.0", "Ok: queued as {queue_id}"),
    "bye": Reply(221, "2.0.0", "Bye"),
    "vrfy_ok": Reply(252, "2.0.0", "{user}"),
    "vrfy_syntax": Reply(501, "5.5.4", "Syntax: VRFY address"),
    "vrfy_disabled": Reply(502, "5.5.1", "VRFY command is disabled"),
    "user_unknown": Reply(550, "5.1.1", "<{rcpt}>: Recipient address rejected: "
                                         "User unknown in local recipient table"),
    "relay_denied": Reply(454, "4.7.1", "<{rcpt}>: Relay access denied"),
    "relay_denied_perm": Reply(554, "5.7.1", "<{rcpt}>: Relay access denied"),
    "size_exceeded": Reply(552, "5.3.4", "Message size exceeds fixed limit"),
    "line_too_long": Reply(500, "5.5.2", "Error: line too long"),
    "data_line_too_long": Reply(500, "5.5.2", "Error: message line longer than the lab's "
                                              "limit of 65536 octets"),
    "not_recognized": Reply(500, "5.5.2", "Error: command not recognized"),
    "bad_syntax": Reply(500, "5.5.2", "Error: bad syntax"),
    # a command line that is not UTF-8 (smtputf8_enable = yes), Postfix 3.7
    "bad_utf8": Reply(500, "5.5.2", "Error: bad UTF-8 syntax"),
    "smtputf8_unsupported": Reply(555, "5.5.4", "Unsupported option: SMTPUTF8"),
    "need_helo": Reply(503, "5.5.1", "Error: send HELO/EHLO first"),
    "need_mail": Reply(503, "5.5.1", "Error: need MAIL command"),
    "need_rcpt": Reply(503, "5.5.1", "Error: need RCPT command"),
    "nested_mail": Reply(503, "5.5.1", "Error: nested MAIL command"),
    "no_valid_rcpt": Reply(554, "5.5.1", "Error: no valid recipients"),
    "mail_syntax": Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>"),
    "rcpt_syntax": Reply(501, "5.5.4", "Syntax: RCPT TO:<address>"),
    "bad_sender": Reply(501, "5.1.7", "Bad sender address syntax"),
    "bad_recipient": Reply(501, "5.1.3", "Bad recipient address syntax"),
    "too_many_errors": Reply(421, "4.7.0", "{hostname} Error: too many errors"),
    "timeout": Reply(421, "4.4.2", "{hostname} Error: timeout exceeded"),
    "too_many_connections": Reply(421, "4.7.0", "{hostname} Error: too many connections from {ip}"),
    "write_failed": Reply(451, "4.3.0", "Error: queue file write error"),
    "tls_not_available": Reply(454, "4.7.0", "TLS not available due to local problem"),
    "tls_ready": Reply(220, "2.0.0", "Ready to start TLS"),
    "tls_active": Reply(554, "5.5.1", "Error: TLS already active"),
    "not_implemented": Reply(502, "5.5.1", "Error: command not implemented"),
    "starttls_first": Reply(530, "5.7.0", "Must issue a STARTTLS command first"),
    # SMTP AUTH (RFC 4954), as Postfix 3.7 with Dovecot SASL answers
    "auth_ok": Reply(235, "2.7.0", "Authentication successful"),
    "auth_failed": Reply(535, "5.7.8", "Error: authentication failed: {reason}"),
    "auth_aborted": Reply(501, "5.7.0", "Authentication aborted"),
    "auth_not_enabled": Reply(503, "5.5.1", "Error: authentication not enabled"),
    "auth_again": Reply(503, "5.5.1", "Error: already authenticated"),
    "auth_in_transaction": Reply(503, "5.5.1", "Error: MAIL transaction in progress"),
    "auth_syntax": Reply(501, "5.5.4", "Syntax: AUTH mechanism"),
}


def reply(key: str, **values: str) -> str:
    """The reply line for *key* from :data:`REPLIES`."""
    entry = REPLIES[key]
    if values:
        return entry.format(**values)
    known = _PLAIN.get(key)         # most replies have no placeholders: made once
    if known is None or known[0] is not entry:
        known = _PLAIN[key] = (entry, entry.format())
    return known[1]


_PLAIN: Dict[str, Tuple[Reply, str]] = {}


#: aiosmtpd's own reply lines (regular expressions) and what Postfix says instead.
AIOSMTPD: List[Tuple["re.Pattern[str]", str]] = [
    (re.compile(p), r) for p, r in [
        (r'^500 Error: command ".*" not recognized$', reply("not_recognized")),
        (r"^500 Error: command 'AUTH' not recognized$", reply("not_recognized")),
        (r"^500 Command line too long$", reply("line_too_long")),
        (r"^500 Line too long \(see RFC5321 4\.5\.3\.1\.6\)$", reply("data_line_too_long")),
        (r"^500 Error: bad syntax$", reply("bad_syntax")),
        (r"^500 Error: strict ASCII mode$", reply("bad_syntax")),
        (r"^503 Error: send (HELO|EHLO) first$", reply("need_helo")),
        (r"^503 Error: need MAIL command$", reply("need_mail")),
        (r"^503 Error: need RCPT command$", reply("need_rcpt")),
        (r"^503 Error: nested MAIL command$", reply("nested_mail")),
        (r"^501 Syntax: MAIL FROM: ?<address>.*$", reply("mail_syntax")),
        (r"^501 Syntax: RCPT TO: ?<address>.*$", reply("rcpt_syntax")),
        (r"^553 5\.1\.3 Error: malformed address$", "501 5.1.3 Bad recipient address syntax"),
        (r"^552 Error: message size exceeds fixed maximum message size$", reply("size_exceeded")),
        (r"^552 Error: Too much mail data$", reply("size_exceeded")),
        (r"^555 MAIL FROM parameters not recognized or not implemented$",
         "555 5.5.4 Unsupported option in MAIL FROM"),
        (r"^555 RCPT TO parameters not recognized or not implemented$",
         "555 5.5.4 Unsupported option in RCPT TO"),
        (r"^501 Error: BODY can only be one of 7BIT, 8BITMIME$",
         "501 5.5.4 Bad BODY parameter: use 7BIT or 8BITMIME"),
        (r"^501 Error: SMTPUTF8 takes no arguments$", "501 5.5.4 Bad SMTPUTF8 parameter"),
        (r"^501 Syntax: DATA$", "501 5.5.4 Syntax: DATA"),
        (r"^501 Syntax: RSET$", "501 5.5.4 Syntax: RSET"),
        (r"^501 Syntax: QUIT$", "501 5.5.4 Syntax: QUIT"),
        (r"^501 Syntax: STARTTLS$", "501 5.5.4 Syntax: STARTTLS"),
        (r"^501 Syntax: VRFY <address>$", reply("vrfy_syntax")),
        (r"^502 EXPN not implemented$", reply("not_recognized")),
        (r"^250 OK$", reply("ok")),
        (r"^221 Bye$", reply("bye")),
        (r"^220 Ready to start TLS$", reply("tls_ready")),
        (r"^454 TLS not available$", reply("tls_not_available")),
    ]
]


def translate(line: str) -> str:
    """Postfix's wording for a reply line aiosmtpd produced (others unchanged)."""
    for pattern, replacement in _BY_CODE.get(line[:4], ()) if _BY_CODE is not None else AIOSMTPD:
        if pattern.match(line):
            return replacement
    return line


def _by_code() -> "Optional[Dict[str, List[Tuple[re.Pattern[str], str]]]]":
    """:data:`AIOSMTPD` grouped by the ``^NNN `` each pattern starts with: a reply
    can only match the patterns of its own code, in their order (every reply
    passes through translate, and the queued reply is new each time); None
    when a pattern does not start so."""
    groups: Dict[str, List[Tuple["re.Pattern[str]", str]]] = {}
    for pattern, replacement in AIOSMTPD:
        head = re.match(r"\^(\d{3}) ", pattern.pattern)
        if head is None:
            return None
        groups.setdefault(head.group(1) + " ", []).append((pattern, replacement))
    return groups


_BY_CODE = _by_code()
