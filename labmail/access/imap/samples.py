"""Sample MIME messages (written for labmail) used by tests, benchmarks and lessons.

They cover what IMAP clients ask about: plain text, multipart/alternative,
an attachment, a forwarded message (message/rfc822), encoded headers,
address groups and unusual but legal address forms.

>>> sorted(SAMPLES)[:2]
['alternative', 'attachment']
"""
from __future__ import annotations

from typing import Dict

__all__ = ["SAMPLES", "EDGE_SAMPLES"]

PLAIN = b"""\
Return-Path: <alice@example.com>
Date: Fri, 27 Nov 2026 09:00:00 +0000
From: Alice Example <alice@example.com>
To: bob@example.org
Subject: Lunch on Friday?
Message-ID: <lunch-1@example.com>

Hi Bob,

shall we have lunch on Friday?

Alice
"""

ALTERNATIVE = b"""\
Date: Fri, 27 Nov 2026 09:05:00 +0100
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>
To: "Bob, the builder" <bob@example.org>, carol@example.net
Cc: Team: dave@example.com, erin@example.com;
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgQmVybGlu?=
Message-ID: <alt-2@example.de>
In-Reply-To: <lunch-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1_alt"

This is a multi-part message in MIME format.

--b1_alt
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe aus Berlin!
--b1_alt
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>Gr=C3=BC=C3=9Fe aus <b>Berlin</b>!</p></body></html>

--b1_alt--
"""

ATTACHMENT = b"""\
Date: Sat, 28 Nov 2026 10:00:00 -0500
From: carol@example.net (Carol)
Sender: Mailer Daemon <mailer@example.net>
Reply-To: carol+replies@example.net
To: undisclosed-recipients:;
Subject: Report attached
Message-ID: <att-3@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: text/plain; charset=us-ascii
Content-Language: en

Please find the report attached.

--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64
Content-Description: Quarterly report
Content-ID: <part2.att-3@example.net>

JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K
ZW5kc3RyZWFtCmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK
--outer--
"""

FORWARD = b"""\
Date: Sun, 29 Nov 2026 12:00:00 +0000
From: Dave <dave@example.com>
To: Alice Example <alice@example.com>
Subject: Fwd: Lunch on Friday?
Message-ID: <fwd-4@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fw"

--fw
Content-Type: text/plain

See below.

--fw
Content-Type: message/rfc822
Content-Disposition: inline

Date: Fri, 27 Nov 2026 09:00:00 +0000
From: Alice Example <alice@example.com>
To: bob@example.org
Subject: Lunch on Friday?
Message-ID: <lunch-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=us-ascii

Lunch?
--inner
Content-Type: text/html; charset=us-ascii

<p>Lunch?</p>
--inner--

--fw--
"""

NOMIME = b"""\
From: "Quoted \\"Name\\"" <q@example.com>, <@relay.example.com:route@example.com>
To: plainuser
Subject: 
X-Note: no content type at all, no date, no message-id

just text, no final newline"""

RFC2231 = b"""\
From: erin@example.com
To: frank@example.com
Subject: =?ISO-8859-1?Q?Caf=E9?= menu
Date: Mon, 30 Nov 2026 08:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==x=="

--==x==
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: 8bit

Caf\xe9 au lait

--==x==
Content-Type: text/plain; name*=UTF-8''men%C3%BC.txt
Content-Disposition: attachment; filename*=UTF-8''men%C3%BC.txt

coffee 2.50
--==x==--
"""

SAMPLES: Dict[str, bytes] = {
    "plain": PLAIN, "alternative": ALTERNATIVE, "attachment": ATTACHMENT,
    "forward": FORWARD, "nomime": NOMIME, "rfc2231": RFC2231,
}

#: Unusual but real-world shapes: upper-case types, multipart/digest, a
#: multipart without boundary, an empty body, RFC 2231 continuations, folded
#: encoded words, null and group addresses, deeply nested multiparts.
EDGE_SAMPLES: Dict[str, bytes] = {
"upper": b"""From: A <a@x.org>
Subject: upper case types
MIME-Version: 1.0
Content-Type: TEXT/HTML; CHARSET=ISO-8859-1; Format=Flowed
Content-Transfer-Encoding: QUOTED-PRINTABLE
Content-ID: <X@Y>
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-Location: http://example.org/x.html
Content-Language: en, de

<p>caf=E9</p>
""",
"digest": b"""From: list@x.org
Subject: digest
MIME-Version: 1.0
Content-Type: multipart/digest; boundary=d

--d

From: one@x.org
Subject: first

body one
--d
Content-Type: message/rfc822

From: two@x.org
Subject: second

body two
--d--
""",
"noboundary": b"""From: a@x.org
Subject: broken multipart
MIME-Version: 1.0
Content-Type: multipart/mixed

no boundary here
""",
"emptybody": b"""From: a@x.org
Subject: empty
Content-Type: text/plain

""",
"continuation": b"""From: a@x.org
Subject: =?utf-8?q?long?=
 =?utf-8?q?_folded?= subject
To: "Last, First" <first.last@x.org>, (comment only) <c@x.org>, d@x.org (Dee)
Cc: <>
Reply-To: list:;
MIME-Version: 1.0
Content-Type: multipart/related; boundary="r"; type="text/html"
Content-Disposition: inline; filename*0="a very"; filename*1=" long name.txt"

preamble
--r
Content-Type: text/html

<img src="cid:i">
--r
Content-Type: image/png; name=i.png
Content-Transfer-Encoding: base64
Content-ID: <i>
Content-Disposition: INLINE; FILENAME="i.png"; size=3

iVBO
--r--
epilogue
""",
"nested": b"""From: a@x.org
Subject: nested multiparts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=a

--a
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

plain
--b
Content-Type: multipart/related; boundary=c

--c
Content-Type: text/html

<b>x</b>
--c--
--b--
--a
Content-Type: message/rfc822

Subject: inner
Content-Type: multipart/mixed; boundary=z

--z
Content-Type: text/plain

inner text
--z--
--a--
""",
}
