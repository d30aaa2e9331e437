"""SEARCH: evaluate a parsed search key against one message (RFC 3501 §6.4.4).

The key is the tuple tree from :mod:`.parser`; the message is described by a
:class:`Candidate` (sequence number, uid, flags, dates, size and a lazily
parsed :class:`~.fetch.MessageView`).  String keys match case-insensitively
as substrings of the MIME-decoded text, as RFC 3501 asks.

>>> from .parser import parse_command
>>> key = parse_command(b'a SEARCH OR FROM alice SUBJECT lunch NOT SEEN').args[1]
>>> c = Candidate(1, 10, frozenset(), 500, lambda: MessageView(b"From: Alice <a@x>\\n\\nhi\\n"))
>>> matches(key, c, 1, 10)
True
"""
from __future__ import annotations

import datetime as _dt
import email.header
import email.utils
import quopri
import base64
from dataclasses import dataclass, field
from typing import Callable, Optional

from .fetch import MessageView
from .mime import Part, header_fields

__all__ = ["Candidate", "matches", "decode_header_text"]

_EPOCH = _dt.date(1970, 1, 1)
_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True), "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True), "FLAGGED": ("\\Flagged", True), "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False), "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False), "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}


@dataclass
class Candidate:
    """One message as SEARCH sees it; ``view`` is called only when content is needed."""

    seq: int
    uid: int
    flags: frozenset
    size: int
    view: Callable[[], MessageView]
    internaldate: Optional[_dt.datetime] = None
    recent: bool = False
    modseq: int = 0
    _cached: Optional[MessageView] = field(default=None, repr=False)

    def message(self) -> MessageView:
        if self._cached is None:
            self._cached = self.view()
        return self._cached


def decode_header_text(value: bytes) -> str:
    """Decode RFC 2047 encoded words into text (for matching only).

    >>> decode_header_text(b"=?UTF-8?Q?Caf=C3=A9?= menu")
    'Café menu'
    """
    text = value.decode("utf-8", "replace")
    if "=?" not in text:
        return text
    try:
        parts = email.header.decode_header(text)
    except Exception:  # malformed encoded words: match the raw text
        return text
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            try:
                out.append(chunk.decode(charset or "utf-8", "replace"))
            except LookupError:
                out.append(chunk.decode("utf-8", "replace"))
        else:
            out.append(chunk)
    return "".join(out)


def _header_has(view: MessageView, name: str, needle: str) -> bool:
    found = False
    for n, value, _ in header_fields(view.top_header):
        if n == name.lower():
            found = True
            if needle in decode_header_text(value).casefold():
                return True
    # RFC 3501: HEADER field "" matches every message having the field
    return found and needle == ""


def _decoded_texts(part: Part, depth: int = 0):
    """Bodies of the text parts, with transfer encoding undone."""
    if depth > 20:
        return
    if part.is_multipart:
        for child in part.children:
            yield from _decoded_texts(child, depth + 1)
        return
    if part.is_message and part.message is not None:
        yield decode_header_text(part.message.header)
        yield from _decoded_texts(part.message, depth + 1)
        return
    if part.ctype not in ("text", "message"):
        return
    cte = (part.get("content-transfer-encoding") or b"").strip().lower()
    data = part.body
    try:
        if cte == b"base64":
            data = base64.b64decode(data, validate=False)
        elif cte == b"quoted-printable":
            data = quopri.decodestring(data)
    except Exception:  # undecodable: search the raw bytes
        pass
    yield data.decode(part.param("charset") or "utf-8", "replace") \
        if _known(part.param("charset")) else data.decode("utf-8", "replace")


def _known(charset: Optional[str]) -> bool:
    if not charset:
        return False
    try:
        "".encode(charset)
        return True
    except LookupError:
        return False


def _body_has(view: MessageView, needle: str) -> bool:
    # the decoded text parts only: no preamble, no base64 of attachments (as Dovecot)
    return any(needle in t.casefold() for t in _decoded_texts(view.root))


def _sent_date(view: MessageView) -> Optional[_dt.date]:
    value = view.top.get("date")
    if value is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(value.decode("latin-1")).date()
    except (TypeError, ValueError, IndexError):
        return None


def _cmp_date(op: str, day: Optional[_dt.date], ref: _dt.date) -> bool:
    if day is None:
        return False
    if op.endswith("BEFORE"):
        return day < ref
    if op.endswith("ON"):
        return day == ref
    return day >= ref


def matches(key: tuple, c: Candidate, max_seq: int, max_uid: int) -> bool:
    """Does message *c* satisfy *key*? (``*`` means *max_seq* / *max_uid*)."""
    word = key[0]
    if word == "AND":
        return all(matches(k, c, max_seq, max_uid) for k in key[1])
    if word == "ALL":
        return True
    if word in _FLAG_KEYS:
        flag, want = _FLAG_KEYS[word]
        return (flag in c.flags) == want
    if word == "NOT":
        return not matches(key[1], c, max_seq, max_uid)
    if word == "OR":
        return matches(key[1], c, max_seq, max_uid) or matches(key[2], c, max_seq, max_uid)
    if word == "SEQ":
        return key[1].contains(c.seq, max_seq)
    if word == "UID":
        return key[1].contains(c.uid, max_uid)
    if word == "RECENT":
        return c.recent
    if word == "NEW":
        return c.recent and "\\Seen" not in c.flags
    if word == "OLD":
        return not c.recent
    if word == "KEYWORD":       # a system flag is no keyword (Dovecot matches nothing)
        return not key[1].startswith("\\") and key[1] in c.flags
    if word == "UNKEYWORD":
        return key[1].startswith("\\") or key[1] not in c.flags
    if word == "LARGER":
        return c.size > key[1]
    if word == "SMALLER":
        return c.size < key[1]
    if word == "MODSEQ":
        return c.modseq >= key[1]
    if word in ("BEFORE", "ON", "SINCE"):
        day = c.internaldate.date() if c.internaldate else None
        return _cmp_date(word, day, key[1])
    if word in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        # like Dovecot, a message without a usable Date: was "sent" at the epoch
        sent = _sent_date(c.message()) or _EPOCH
        return _cmp_date(word, sent, key[1])
    if word in ("FROM", "TO", "CC", "BCC", "SUBJECT"):
        return _header_has(c.message(), word, key[1].casefold())
    if word == "HEADER":
        return _header_has(c.message(), key[1], key[2].casefold())
    if word == "BODY":
        return _body_has(c.message(), key[1].casefold())
    if word == "TEXT":
        view = c.message()
        needle = key[1].casefold()
        return needle in decode_header_text(view.top.header).casefold() or _body_has(view, needle)
    raise ValueError(f"unknown search key {word}")
