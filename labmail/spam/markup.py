"""Undoing SpamAssassin's markup: ``spamassassin -d``, and what sa-learn learns from.

A filtered message carries the filter's opinion (X-Spam-* headers, a
rewritten Subject, or a whole report with the original attached).
:func:`remove_markup` gives the message back as it arrived, so Bayes learns
the sender's words and not the report's.
"""
from __future__ import annotations

import re
from typing import List

from .pristine import split_pristine

__all__ = ["remove_markup"]


def remove_markup(data: bytes) -> bytes:
    """Undo what :func:`rewrite` did (``spamassassin -d``; sa-learn does it before learning).

    A report_safe 1/2 message gives back its attached original; otherwise the
    X-Spam-* headers go and a rewritten Subject/From/To gets its old value.

    >>> remove_markup(b"X-Spam-Flag: YES\\nSubject: [SPAM] hi\\nX-Spam-Prev-Subject: hi\\n\\nbody\\n")
    b'Subject: hi\\n\\nbody\\n'
    """
    p = split_pristine(data)             # an mbox From line stays in front, as with spamassassin -d
    head = p.head_text
    m = re.search(r'(?im)^Content-Type: multipart/mixed; boundary="([^"]+)"', head)
    if m and re.search(r"(?im)^X-Spam-", head):
        # the attached original, byte for byte (its line endings are its own)
        marker = re.search(rb"(?im)^Content-Type: (?:message/rfc822|text/plain); x-spam-type=original\r?\n"
                           rb"(?:[^\r\n][^\n]*\n)*\r?\n", p.body)
        if marker:
            original = p.body[marker.end():]
            end = original.rfind(b"\n--" + m.group(1).encode("utf-8", "surrogateescape") + b"--")
            if end > 0 and original[end - 1:end] == b"\r":
                end -= 1
            return p.mbox + (original[:end] if end >= 0 else original)
    # Headers: SpamAssassin's own steps, in its order (so even its quirks match)
    hdrs = head + p.separator.decode("ascii").replace("\r\n", "\n")
    body = p.body.replace(b"\r\n", b"\n")
    while True:     # unfold our X-Spam-* headers (not X-Spam-Prev-*)
        hdrs, n = re.subn(r"((?:^|\n)X-Spam-(?!Prev).+?)\n[ \t]+(\S.*\n)", r"\1 \2", hdrs)
        if not n:
            break
    while True:     # the body warning of SpamAssassin 2.x ("SPAM: ----")
        body, n = re.subn(rb"^\n?SPAM: ----.+\n(?:SPAM:.*\n)*SPAM: ----.+\n\n", b"", body, count=1)
        if not n:
            break
    if re.search(r"(?m)^X-Spam-Prev-Subject:\s*\(nonexistent\)$", hdrs) and \
            not re.search(r"(?m)^Subject:.*\(nonexistent\).*$", hdrs):
        # (Perl's /s: the "." of the Subject pattern runs on to the last newline)
        hdrs = re.sub(r"(^|\n)X-Spam-Prev-Subject:\s*\(nonexistent\)\n", r"\1\n", hdrs, count=1, flags=re.S)
        hdrs = re.sub(r"(^|\n)Subject:\s*[ \t]*.*\n(?:\s+\S.*\n)*", r"\1\n", hdrs, count=1, flags=re.S)
    while True:     # each X-Spam-Prev-Name replaces the first Name header
        m = re.search(r"(?m)^X-Spam-Prev-(([^:\n]+:)[ \t]*.*\n(?:[ \t]+\S.*\n)*)", hdrs)
        if not m:
            break
        old, name = m.group(1), m.group(2)
        hdrs = hdrs[:m.start()] + hdrs[m.end():]
        hdrs, n = re.subn(r"(?m)^" + re.escape(name) + r"[ \t]*.*\n(?:[ \t]+\S.*\n)*",
                          lambda _m: old, hdrs, count=1)
        if not n:
            hdrs = hdrs.replace("\n\n", "\n" + old + "\n", 1)
    while True:
        hdrs, n = re.subn(r"(^|\n)X-Spam-.*\n", r"\1", hdrs)
        if not n:
            break
    out = hdrs.encode("utf-8", "surrogateescape") + body
    return p.mbox + (out.replace(b"\n", b"\r\n") if p.crlf else out)
