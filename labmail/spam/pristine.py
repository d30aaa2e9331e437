"""A message split the way SpamAssassin's parser splits it, bytes untouched.

SpamAssassin rewrites only the header block; the body goes out byte for
byte (8-bit attachments, odd line endings and all). :func:`split_pristine`
finds the pieces as ``Mail::SpamAssassin::Message`` does:

* an mbox ``From `` separator line in front is taken off (and put back in
  front of the output);
* the message is CRLF when its first or last line ends in CRLF;
* the header block ends at the first empty line, at a line starting with
  ``--`` (a MIME boundary: the separator is missing), or at the fourth line
  that is not a header field (up to three are kept as if they were);
* what follows is the body, exactly as it came.

>>> p = split_pristine(b"From a@b Fri Nov 27 09:00:00 2026\\nSubject: hi\\n\\nbody\\n")
>>> p.mbox, p.head, p.separator, p.body, p.crlf
(b'From a@b Fri Nov 27 09:00:00 2026\\n', b'Subject: hi\\n', b'\\n', b'body\\n', False)
>>> split_pristine(b"Subject: hi\\n\\nbody\\r\\n").crlf       # the last line decides too
True
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Pristine", "split_pristine"]

_MBOX = re.compile(rb"From\s+(?!:)")
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_BARE_LF = re.compile(rb"(?<!\r)\n")


@dataclass(frozen=True)
class Pristine:
    """The pieces of a message: ``mbox + head + separator + body`` is the input (see module doc)."""

    mbox: bytes
    head: bytes
    separator: bytes
    body: bytes
    crlf: bool

    @property
    def head_text(self) -> str:
        """The header block as LF text (8-bit bytes kept as surrogates)."""
        return self.head.replace(b"\r\n", b"\n").decode("utf-8", "surrogateescape")

    @property
    def original(self) -> bytes:
        """The message without its mbox line (what report_safe attaches)."""
        return self.head + self.separator + self.body


def split_pristine(raw: bytes) -> Pristine:
    """Split *raw* into mbox line, header block, separator and body (see the module doc)."""
    lines = [l for l in re.split(rb"(?<=\n)", raw) if l]      # split at LF only, as Perl's /^/m
    mbox = b""
    if lines and _MBOX.match(lines[0]):
        mbox = lines.pop(0)
    crlf = bool(lines) and (b"\r\n" in lines[0] or b"\r\n" in lines[-1])
    ending = b"\r\n" if crlf else b"\n"
    if not raw:
        # an empty message still gets a blank line after the added headers
        return Pristine(b"", b"", b"\n", b"", False)
    head, errors, i = [], 0, 0
    separator = b""
    while i < len(lines):
        cur = lines[i]
        if crlf:            # a header line with a bare LF gets its CR (as SpamAssassin squashes)
            cur = _BARE_LF.sub(b"\r\n", cur)
        if cur[:1] in (b" ", b"\t"):
            head.append(cur)
        elif cur == ending:
            separator = cur
            i += 1
            break
        elif cur.startswith(b"--"):
            break
        else:
            if not _FIELD.match(cur):
                errors += 1
                if errors > 3:
                    break
            head.append(cur)
        i += 1
    return Pristine(mbox, b"".join(head), separator, b"".join(lines[i:]), crlf)
