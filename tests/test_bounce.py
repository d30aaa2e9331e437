"""Bounces: the DSN compared line by line with one real Postfix 3.7 sent.

The expected texts were captured from Postfix 3.7.11 on loopback (relayhost
answering ``550 5.1.1`` to RCPT TO, and an expired deferred message).
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy

from labmail.mta.bounce import build_dsn, wrap
from labmail.mta.queue import QueueFile, Recipient

UTC = dt.timezone.utc

REAL_550 = '''\
Received: by mail.example.com (Postfix)
	id BA73D2207B3; Sat, 28 Nov 2026 00:03:21 +0000 (UTC)
Date: Sat, 28 Nov 2026 00:03:21 +0000 (UTC)
From: Mail Delivery System <MAILER-DAEMON@example.com>
Subject: Undelivered Mail Returned to Sender
To: henry@example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B70B82207AE.1795824201/mail.example.com"
Content-Transfer-Encoding: 8bit
Message-Id: <20261128000321.BA73D2207B3@mail.example.com>

This is a MIME-encapsulated message.

--B70B82207AE.1795824201/mail.example.com
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<erin@example.org>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1
    <erin@example.org>: Recipient address rejected: User unknown (in reply to
    RCPT TO command)

--B70B82207AE.1795824201/mail.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.com
X-Postfix-Queue-ID: B70B82207AE
X-Postfix-Sender: rfc822; henry@example.com
Arrival-Date: Sat, 28 Nov 2026 00:03:21 +0000 (UTC)

Final-Recipient: rfc822; erin@example.org
Original-Recipient: rfc822;erin@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; 127.0.0.1
Diagnostic-Code: smtp; 550 5.1.1 <erin@example.org>: Recipient address
    rejected: User unknown

--B70B82207AE.1795824201/mail.example.com
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

Return-Path: <henry@example.com>
Received: from [127.0.0.1] (localhost [127.0.0.1])
	by mail.example.com (Postfix) with ESMTP id B70B82207AE
	for <erin@example.org>; Sat, 28 Nov 2026 00:03:21 +0000 (UTC)
Subject: will bounce
From: Henry <henry@example.com>
To: erin@example.org
Message-ID: <abc123@example.com>
Date: Sat, 28 Nov 2026 00:03:21 +0000 (UTC)

This will bounce.

--B70B82207AE.1795824201/mail.example.com--
'''

REAL_EXPIRED = '''\
Received: by mail.example.com (Postfix)
	id 758C6220496; Sat, 28 Nov 2026 00:04:14 +0000 (UTC)
Date: Sat, 28 Nov 2026 00:04:14 +0000 (UTC)
From: Mail Delivery System <MAILER-DAEMON@example.com>
Subject: Undelivered Mail Returned to Sender
To: alice@example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="02C68220412.1795824254/mail.example.com"
Content-Transfer-Encoding: 8bit
Message-Id: <20261128000414.758C6220496@mail.example.com>

This is a MIME-encapsulated message.

--02C68220412.1795824254/mail.example.com
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<carol@example.net>: host 127.0.0.1[127.0.0.1] said: 450 4.2.0 Busy (in reply
    to RCPT TO command)

--02C68220412.1795824254/mail.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.com
X-Postfix-Queue-ID: 02C68220412
X-Postfix-Sender: rfc822; alice@example.com
Arrival-Date: Sat, 28 Nov 2026 00:01:32 +0000 (UTC)

Final-Recipient: rfc822; carol@example.net
Original-Recipient: rfc822;carol@example.net
Action: failed
Status: 4.2.0
Remote-MTA: dns; 127.0.0.1
Diagnostic-Code: smtp; 450 4.2.0 Busy

--02C68220412.1795824254/mail.example.com
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

Return-Path: <alice@example.com>
Received: from [127.0.0.1] (localhost [127.0.0.1])
	by mail.example.com (Postfix) with ESMTP id 02C68220412;
	Sat, 28 Nov 2026 00:01:32 +0000 (UTC)
Subject: hello
From: alice@example.com
To: bob@example.org
Message-Id: <20261128000132.02C68220412@mail.example.com>
Date: Sat, 28 Nov 2026 00:01:32 +0000 (UTC)

Hi Bob

--02C68220412.1795824254/mail.example.com--
'''


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def _original(real: str) -> bytes:
    """The returned message inside a captured bounce (after Return-Path)."""
    body = real.split("Return-Path: ", 1)[1].split("\n", 1)[1]
    return _crlf(body.rsplit("\n--", 1)[0])


def test_permanent_failure_dsn_matches_postfix_line_by_line():
    r = Recipient("erin@example.org", "erin@example.org", "bounced", "5.1.1",
                  "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <erin@example.org>: Recipient "
                  "address rejected: User unknown (in reply to RCPT TO command)",
                  diag="smtp; 550 5.1.1 <erin@example.org>: Recipient address rejected: User unknown",
                  remote_mta="127.0.0.1")
    qf = QueueFile("B70B82207AE", "henry@example.com", [r], _original(REAL_550),
                   arrival=1795824201)
    when = dt.datetime.fromtimestamp(1795824201, UTC)
    got = build_dsn(qf, [r], myhostname="mail.example.com", myorigin="example.com",
                    bounce_id="BA73D2207B3", when=when)
    assert got.decode().replace("\r\n", "\n").splitlines() == REAL_550.splitlines()


def test_expired_dsn_matches_postfix_line_by_line():
    r = Recipient("carol@example.net", "carol@example.net", "bounced", "4.2.0",
                  "host 127.0.0.1[127.0.0.1] said: 450 4.2.0 Busy (in reply to RCPT TO command)",
                  diag="smtp; 450 4.2.0 Busy", remote_mta="127.0.0.1")
    qf = QueueFile("02C68220412", "alice@example.com", [r], _original(REAL_EXPIRED),
                   arrival=1795824092)
    when = dt.datetime.fromtimestamp(1795824254, UTC)
    got = build_dsn(qf, [r], myhostname="mail.example.com", myorigin="example.com",
                    bounce_id="758C6220496", when=when)
    assert got.decode().replace("\r\n", "\n").splitlines() == REAL_EXPIRED.splitlines()


def test_dsn_is_a_valid_multipart_report():
    r = Recipient("nobody@example.com", "nobody@example.com", "bounced", "5.1.1",
                  'unknown user: "nobody"', diag='X-Postfix; unknown user: "nobody"')
    qf = QueueFile("ABCDEF12345", "alice@example.org", [r], b"Subject: hi\r\n\r\nbody\r\n",
                   arrival=1795824000)
    raw = build_dsn(qf, [r], myhostname="mail.example.com", myorigin="example.com",
                    bounce_id="0123456789A", when=dt.datetime.fromtimestamp(1795824100, UTC))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "message/rfc822"]
    # RFC 3464 §2.3: per-recipient fields
    text = raw.decode()
    assert "Final-Recipient: rfc822; nobody@example.com" in text
    assert "Action: failed" in text and "Status: 5.1.1" in text
    assert "Remote-MTA" not in text           # a local failure has no remote MTA
    assert 'Diagnostic-Code: X-Postfix; unknown user: "nobody"' in text


def test_large_message_returns_headers_only():
    big = b"Subject: big\r\n\r\n" + b"x" * 60000 + b"\r\n"
    r = Recipient("a@example.org", "a@example.org", "bounced", "5.0.0", "rejected")
    qf = QueueFile("ABCDEF12345", "s@example.com", [r], big, arrival=0)
    raw = build_dsn(qf, [r], myhostname="m.example.com", myorigin="example.com",
                    bounce_id="0123456789A", when=dt.datetime.fromtimestamp(10, UTC))
    assert b"Content-Type: text/rfc822-headers" in raw
    assert b"x" * 100 not in raw


def test_wrap_never_exceeds_79_columns():
    text = "<a@example.org>: " + " ".join(["word%d" % i for i in range(60)])
    lines = wrap(text)
    assert all(len(ln) <= 79 for ln in lines)
    assert all(ln.startswith("    ") for ln in lines[1:])
    assert " ".join(ln.strip() for ln in lines) == text
