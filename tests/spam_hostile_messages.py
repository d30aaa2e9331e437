"""Hostile but realistic messages, written for the lab's spam tests.

Each is the kind of thing a public corpus or a mailing-list archive holds:
broken MIME, unknown or wrong charsets, broken base64 and quoted-printable,
8-bit bytes and NULs in headers, RFC 2047 words everywhere, very long lines,
nested message/rfc822, missing headers, CRLF, an mbox ``From `` line, and
X-Spam-* headers left by an earlier filter. :data:`CASES` maps a name to the
bytes; :func:`spammy` adds the GTUBE string so the spam paths (report_safe
1 and 2, rewrite_header) run too; :func:`messages` is a hypothesis strategy
that recombines the pieces.

>>> sorted(CASES)[:3]
['b64_broken', 'body_only_crlf', 'crlf']
"""
from __future__ import annotations

import base64
from typing import Dict

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

_HEAD = (b"Received: from relay.example.net (relay.example.net [192.0.2.25])\n"
         b"\tby mx.example.com (Postfix) with ESMTP id 4AB12C0E4B\n"
         b"\tfor <bob@example.com>; Fri, 27 Nov 2026 09:00:00 +0000 (UTC)\n"
         b"From: Carla Sender <carla@example.net>\n"
         b"To: bob@example.com\n"
         b"Date: Fri, 27 Nov 2026 09:00:00 +0000\n"
         b"Message-ID: <hostile.%s@example.net>\n")


def _msg(name: str, extra_head: bytes, body: bytes, subject: bytes = b"Subject: quarterly numbers\n") -> bytes:
    return _HEAD.replace(b"%s", name.encode()) + subject + extra_head + b"\n" + body


_B64_TEXT = base64.encodebytes("Grüße aus Köln, the numbers are attached.\n".encode("utf-8"))

CASES: Dict[str, bytes] = {
    "plain": _msg("plain", b"", b"Hi Bob,\n\nthe numbers are in.\n\nCarla\n"),
    "no_body": _msg("nobody", b"", b"")[:-1],                     # headers only, no blank line
    "empty_body": _msg("empty", b"", b""),
    "crlf": _msg("crlf", b"", b"Hi Bob,\n\nsee you.\n").replace(b"\n", b"\r\n"),
    "mixed_eol": _msg("mixed", b"", b"line one\r\nline two\nline three\r\n"),
    "body_only_crlf": b"\r\n\r\njust a body\r\n",
    "mbox_from": b"From carla@example.net Fri Nov 27 09:00:00 2026\n" + _msg("mbox", b"", b">From the start\nok\n"),
    "old_xspam": _msg("old", b"X-Spam-Flag: YES\nX-Spam-Status: Yes, score=9.9 required=5.0 tests=OLD_RULE,\n"
                             b"\tANOTHER_OLD autolearn=no version=3.4.6\nX-Spam-Level: *********\n"
                             b"X-Spam-Checker-Version: SpamAssassin 3.4.6 (2021-04-09) on old.example\n"
                             b"X-Spam-Report: \n\t* 9.9 OLD_RULE old\n",
                      b"Forwarded after an earlier filter.\n"),
    "prev_subject": _msg("prev", b"X-Spam-Prev-Subject: quarterly numbers\n", b"body\n",
                         b"Subject: [SPAM] quarterly numbers\n"),
    "eightbit_header": _msg("8bit", b"X-Note: caf\xe9 cr\xe8me\n", b"body\n",
                            b"Subject: Gr\xfc\xdfe aus K\xf6ln\n"),
    "utf8_header_raw": _msg("utf8raw", b"", b"body\n", "Subject: Grüße – ça va?\n".encode()),
    "encoded_words": _msg("ew", b"Cc: =?iso-8859-1?q?J=F6rg?= <jorg@example.org>\n", b"body\n",
                          b"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= =?utf-8?q?und_mehr?=\n"),
    "encoded_word_unknown_charset": _msg("ewu", b"", b"body\n", b"Subject: =?x-unknown-42?Q?caf=E9?= hello\n"),
    "encoded_word_broken_b64": _msg("ewb", b"", b"body\n", b"Subject: =?utf-8?B?R3LDv!!!MOfZQ?= =?utf-8?Q?=ZZ?=\n"),
    "encoded_word_wrong_charset": _msg("eww", b"", b"body\n", b"Subject: =?utf-8?Q?K=F6ln_=E9t=E9?=\n"),
    "unknown_charset_body": _msg("ucb", b"MIME-Version: 1.0\nContent-Type: text/plain; charset=\"x-martian\"\n",
                                 b"caf\xe9 and \xff\xfe bytes\n"),
    "wrong_charset_body": _msg("wcb", b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n",
                               b"latin-1 pretending: Gr\xfc\xdfe\n"),
    "b64_broken": _msg("b64", b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                              b"Content-Transfer-Encoding: base64\n",
                       _B64_TEXT[:-6] + b"!!*&\n===\nQQ\n"),
    "qp_broken": _msg("qp", b"MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
                            b"Content-Transfer-Encoding: quoted-printable\n",
                      b"soft break =\nat the end=\nbad escape =ZZ and =4 and =\n=E9t=E9 =\n"),
    "unknown_cte": _msg("cte", b"MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n",
                        b"begin 644 x\n#8V%T\n`\nend\n"),
    "long_line": _msg("long", b"", b"A" * 20000 + b"\n" + b"word " * 4000 + b"\n"),
    "long_header": _msg("longh", b"X-Long: " + b"x" * 5000 + b"\nReferences: " +
                        b" ".join(b"<ref%d@example.org>" % i for i in range(300)) + b"\n", b"body\n"),
    "nested_rfc822": _msg("nest", b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer\"\n",
                          b"--outer\nContent-Type: text/plain\n\nsee attached\n--outer\n"
                          b"Content-Type: message/rfc822\n\nFrom: inner@example.org\nSubject: inner\n"
                          b"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"inner\"\n\n"
                          b"--inner\nContent-Type: text/plain\n\ninner text\n--inner\nContent-Type: message/rfc822\n\n"
                          b"Subject: innermost\n\ninnermost text\n--inner--\n--outer--\n"),
    "unclosed_multipart": _msg("unclosed", b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"zz\"\n",
                               b"preamble\n--zz\nContent-Type: text/plain\n\nfirst part\n--zz\n"
                               b"Content-Type: text/html\n\n<p>second <b>part\n"),
    "multipart_no_boundary": _msg("nob", b"MIME-Version: 1.0\nContent-Type: multipart/mixed\n",
                                  b"--x\nContent-Type: text/plain\n\ntext\n--x--\n"),
    "multipart_empty": _msg("mpe", b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"e\"\n", b""),
    "nul_bytes": _msg("nul", b"X-Nul: a\x00b\n", b"before\x00after\n\x00\x00\n"),
    "missing_headers": b"X-Only: one header\n\nA body without From, To, Subject or Date.\n",
    "garbage_header_line": _msg("garbage", b"this line has no colon\nX-After: garbage\n", b"body\n"),
    "continuation_first": b" folded first line\nSubject: starts folded\n\nbody\n",
    "html_broken": _msg("html", b"MIME-Version: 1.0\nContent-Type: text/html; charset=windows-1252\n",
                        b"<html><body><p>Price &euro;5 &#8364; &#xZZ; &bogus; <a href=\"http://sale.example.com/x\">"
                        b"click</a><p>unclosed <b><i>tags\x93quoted\x94</body>"),
    "utf16_html": _msg("u16", b"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-16\n",
                       "<p>hello in utf-16</p>".encode("utf-16")),
    "multiple_subjects": _msg("msub", b"Subject: second subject\n", b"body\n"),
    "empty_subject": _msg("esub", b"", b"body\n", b"Subject:\n"),
    "return_path": b"Return-Path: <carla@example.net>\n" + _msg("rp", b"", b"body\n"),
    "only_newline": b"\n",
    "empty_input": b"",
    "no_newline_at_end": _msg("nonl", b"", b"last line without newline"),
    "whitespace_separator": _msg("ws", b"X-A: 1\n \n", b"body after a blank-looking line\n"),
    "attachment_names": _msg("att", b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"a\"\n",
                             b"--a\nContent-Type: text/plain\n\nsee file\n--a\nContent-Type: application/octet-stream; "
                             b"name=\"=?utf-8?B?w6RyZ2VyLmV4ZQ==?=\"\nContent-Disposition: attachment; filename*=UTF-8''%C3%A4.zip\n"
                             b"Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--a--\n"),
}


def spammy(data: bytes) -> bytes:
    """*data* with the GTUBE string appended to its body (so it scores as spam)."""
    if b"\r\n" in data[:2000]:
        return data + GTUBE + b"\r\n"
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data + (b"" if b"\n\n" in data else b"\n") + GTUBE + b"\n"


def messages():
    """A hypothesis strategy: a header block and body built from hostile pieces."""
    from hypothesis import strategies as st
    header_piece = st.sampled_from([
        b"Subject: plain\n", b"Subject: =?utf-8?B?R3LDvMOfZQ==?=\n", b"Subject: \xe9t\xe9\n",
        b"From: x@example.org\n", b"X-Spam-Flag: YES\n", b"X-Spam-Status: Yes, score=1\n\tfolded\n",
        b"Content-Type: multipart/mixed; boundary=b\n", b"Content-Type: text/html; charset=x-bogus\n",
        b"Content-Transfer-Encoding: base64\n", b"Content-Transfer-Encoding: quoted-printable\n",
        b"MIME-Version: 1.0\n", b"X-Nul: \x00\n", b"no colon here\n", b" continued\n",
        b"Subject: =?koi8-r?Q?=F0=D2=C9=D7=C5=D4?=\n", b"Return-Path: <a@b>\n", b"To: \n",
    ])
    body_piece = st.sampled_from([
        b"--b\n", b"--b--\n", b"Content-Type: message/rfc822\n\n", b"Content-Type: text/plain\n\n",
        b"=ZZ=\n", b"QUJD!!\n", b"<p>x<b>y&amp;&#xZZ;\n", b"\xff\xfe\x00\n", b"x" * 300 + b"\n",
        GTUBE + b"\n", b"http://example.com/a b@example.org\n", b"\n", b"From the line\n",
    ])
    return st.builds(
        lambda hs, bs, crlf, sep: ((b"".join(hs) + (b"\n" if sep else b"") + b"".join(bs))
                                   .replace(b"\n", b"\r\n") if crlf else
                                   b"".join(hs) + (b"\n" if sep else b"") + b"".join(bs)),
        st.lists(header_piece, max_size=8), st.lists(body_piece, max_size=10), st.booleans(), st.booleans())
