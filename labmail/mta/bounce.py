"""Non-delivery notifications: RFC 3464 DSNs in Postfix's shape.

When a recipient bounces (a permanent 5xx, or the message outlived
``maximal_queue_lifetime``), Postfix's ``bounce(8)`` sends the envelope sender
a ``multipart/report; report-type=delivery-status`` message (RFC 3464 §2)
from ``MAILER-DAEMON`` with three parts:

1. a human-readable explanation (the familiar "I'm sorry to have to inform
   you ..." text, then ``<recipient>: reason`` wrapped at 79 columns),
2. ``message/delivery-status``: per-message fields (``Reporting-MTA``,
   ``Arrival-Date``) then per-recipient fields (``Final-Recipient``,
   ``Action: failed``, ``Status``, ``Remote-MTA``, ``Diagnostic-Code``),
   RFC 3464 §2.2 and §2.3,
3. the returned message (``message/rfc822``), or only its header
   (``text/rfc822-headers``) when it is larger than ``bounce_size_limit``.

The DSN itself has the null envelope sender (``MAIL FROM:<>``, RFC 5321
§4.5.5) so it can never bounce back and forth.

>>> import datetime as dt
>>> from labmail.mta.queue import QueueFile, Recipient
>>> r = Recipient("erin@example.org", "erin@example.org", "bounced", "5.1.1",
...     "host mx[127.0.0.3] said: 550 5.1.1 unknown (in reply to RCPT TO command)",
...     diag="smtp; 550 5.1.1 unknown", remote_mta="mx")
>>> qf = QueueFile("B70B82207AE", "henry@example.com", [r], b"Subject: x\\r\\n\\r\\nhi\\r\\n", arrival=0)
>>> when = dt.datetime(2026, 11, 28, 0, 3, 21, tzinfo=dt.timezone.utc)
>>> dsn = build_dsn(qf, [r], myhostname="mail.example.com", myorigin="example.com",
...                 bounce_id="BA73D2207B3", when=when)
>>> dsn.splitlines()[3]
b'From: Mail Delivery System <MAILER-DAEMON@example.com>'
"""
from __future__ import annotations

import datetime as _dt
from typing import List, Optional, Sequence

from .cleanup import rfc2822_date
from .queue import QueueFile, Recipient

__all__ = ["build_dsn", "wrap", "NOTIFICATION_TEXT", "BOUNCE_SUBJECT"]

BOUNCE_SUBJECT = "Undelivered Mail Returned to Sender"

#: The failure template of Postfix's bounce(8) (``bounce_template_file`` default).
NOTIFICATION_TEXT = """\
This is the mail system at host {myhostname}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system
"""

WIDTH = 79
INDENT = "    "


def wrap(text: str, width: int = WIDTH, indent: str = INDENT) -> List[str]:
    """Word-wrap *text* as Postfix's bounce does: lines of at most *width*
    characters, continuation lines indented by four spaces.

    >>> wrap("<erin@example.org>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1 "
    ...      "<erin@example.org>: Recipient address rejected: User unknown "
    ...      "(in reply to RCPT TO command)")  # doctest: +NORMALIZE_WHITESPACE
    ['<erin@example.org>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1',
     '    <erin@example.org>: Recipient address rejected: User unknown (in reply to',
     '    RCPT TO command)']
    """
    lines: List[str] = []
    current = ""
    for word in text.split():
        prefix = indent if lines else ""
        candidate = f"{current} {word}" if current else prefix + word
        if current and len(candidate) > width:
            lines.append(current)
            current = indent + word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _header_only(content: bytes) -> bytes:
    end = content.find(b"\r\n\r\n")
    return content if end < 0 else content[:end + 2]


def build_dsn(original: QueueFile, failed: Sequence[Recipient], *, myhostname: str,
              myorigin: str, bounce_id: str, when: _dt.datetime,
              mail_name: str = "Postfix", bounce_size_limit: int = 50000,
              arrival: Optional[_dt.datetime] = None) -> bytes:
    """The DSN for *failed* recipients of *original*, as bytes with CRLF ends.

    *bounce_id* is the queue id the DSN itself gets; *when* is now.  The
    boundary is ``<original id>.<epoch>/<myhostname>`` like Postfix's.
    """
    if arrival is None:
        arrival = _dt.datetime.fromtimestamp(original.arrival, when.tzinfo)
    boundary = f"{original.queue_id}.{int(when.timestamp())}/{myhostname}"
    date = rfc2822_date(when)
    out: List[str] = [
        f"Received: by {myhostname} ({mail_name})",
        f"\tid {bounce_id}; {date}",
        f"Date: {date}",
        f"From: Mail Delivery System <MAILER-DAEMON@{myorigin}>",
        f"Subject: {BOUNCE_SUBJECT}",
        f"To: {original.sender}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
        "Content-Transfer-Encoding: 8bit",
        f"Message-Id: <{when:%Y%m%d%H%M%S}.{bounce_id}@{myhostname}>",
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
    ]
    out += NOTIFICATION_TEXT.format(myhostname=myhostname).splitlines()
    out.append("")
    for r in failed:
        out += wrap(f"<{r.address}>: {r.reason}")
        out.append("")
    # RFC 3464 §2.2: per-message fields, then one block per recipient (§2.3).
    out += [
        f"--{boundary}",
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {myhostname}",
        f"X-Postfix-Queue-ID: {original.queue_id}",
        f"X-Postfix-Sender: rfc822; {original.sender}",
        f"Arrival-Date: {rfc2822_date(arrival)}",
    ]
    for r in failed:
        out += ["", f"Final-Recipient: rfc822; {r.address}"]
        if r.original:
            out.append(f"Original-Recipient: rfc822;{r.original}")
        out += ["Action: failed", f"Status: {r.dsn or '5.0.0'}"]
        if r.remote_mta:
            out.append(f"Remote-MTA: dns; {r.remote_mta}")
        if r.diag:
            out += wrap(f"Diagnostic-Code: {r.diag}")
    out.append("")
    returned = original.content
    if len(returned) > bounce_size_limit:
        out += [f"--{boundary}", "Content-Description: Undelivered Message Headers",
                "Content-Type: text/rfc822-headers", "Content-Transfer-Encoding: 8bit", ""]
        returned = _header_only(returned)
    else:
        out += [f"--{boundary}", "Content-Description: Undelivered Message",
                "Content-Type: message/rfc822", "Content-Transfer-Encoding: 8bit", ""]
    head = ("\r\n".join(out) + "\r\n").encode("utf-8")
    body = f"Return-Path: <{original.sender}>\r\n".encode("utf-8") + returned
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    return head + body + tail
