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
    lines = head.splitlines(True)
    prev: dict = {}
    kept: List[str] = []
    skipping, current = False, None
    for line in lines:
        pm = re.match(r"(?i)X-Spam-Prev-(Subject|From|To):[ \t]?(.*)", line, re.S)
        if pm:
            current = pm.group(1).lower()
            prev[current] = pm.group(2)
            skipping = True
            continue
        if re.match(r"(?i)X-Spam-", line):
            skipping, current = True, None
            continue
        if skipping and line[:1] in (" ", "\t"):
            if current:
                prev[current] += line           # a folded previous value keeps its folding
            continue
        skipping, current = False, None
        kept.append(line)
    out_lines = []
    for line in kept:
        hm = re.match(r"(?i)(Subject|From|To):", line)
        if hm and hm.group(1).lower() in prev:
            value = prev[hm.group(1).lower()]
            if value.strip() == "(nonexistent)":
                continue
            line = f"{hm.group(1)}: {value}"
        out_lines.append(line)
    out = "".join(out_lines).encode("utf-8", "surrogateescape")
    return p.mbox + (out.replace(b"\n", b"\r\n") if p.crlf else out) + p.separator + p.body
