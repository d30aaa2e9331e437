"""IMAP response grammar (RFC 3501 §4, §7, §9): values in, exact bytes out.

Everything the server writes goes through :func:`encode`, so the choice
between an atom, a quoted string, a literal and ``NIL`` is made in one place,
the way Dovecot makes it: a string is sent quoted when it is short 7-bit text
without CR/LF, and as a literal ``{n}\\r\\n...`` otherwise (RFC 3501 §4.3).

Value types:

=====================  ==============================================
Python value           IMAP
=====================  ==============================================
``None``               ``NIL``
``int``                number
``Atom("\\\\Seen")``      atom written as is (flags, keywords, names)
``str`` / ``bytes``    quoted string or literal
``Literal(b"...")``    always a literal (message bodies)
``list`` / ``tuple``   parenthesized list
=====================  ==============================================

>>> encode([Atom("\\\\Seen"), None, 3, "hi there"])
b'(\\\\Seen NIL 3 "hi there")'
>>> encode("line\\r\\nbreak")
b'{11}\\r\\nline\\r\\nbreak'
>>> mutf7_encode("Entwürfe")
'Entw&APw-rfe'
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple, Union

__all__ = ["Atom", "Literal", "Run", "encode", "quoted_ok", "untagged", "tagged",
           "continuation", "mutf7_encode", "mutf7_decode", "Response"]


@dataclass(frozen=True)
class Atom:
    """A value sent without quotes (flags, keywords, section names)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Run:
    """Values written next to each other with no spaces.

    The grammar wants this inside ENVELOPE address lists and multipart
    BODYSTRUCTURE (``((a)(b))``, RFC 3501 §9 ``1*address``, ``1*body``).

    >>> encode([Run([[1], [2]]), "mixed"])
    b'((1)(2) "mixed")'
    """

    items: Tuple[Any, ...]


@dataclass(frozen=True)
class Literal:
    """Bytes that are always sent as a literal (message data)."""

    data: bytes


#: Dovecot sends longer strings as literals; quoted strings stay short lines.
QUOTED_MAX = 1024


# Dovecot also sends strings containing a quote or backslash as literals
_NOT_QUOTABLE = re.compile(rb'[\x00\r\n"\\\x80-\xff]')


def quoted_ok(data: bytes) -> bool:
    """True when *data* may be sent as a quoted string (RFC 3501 §4.3)."""
    return len(data) <= QUOTED_MAX and _NOT_QUOTABLE.search(data) is None


def encode(value: Any) -> bytes:
    """Encode one response value (see the module table)."""
    out: List[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Any, out: List[bytes]) -> None:
    if isinstance(value, bytes):
        if len(value) <= QUOTED_MAX and _NOT_QUOTABLE.search(value) is None:
            out.append(b'"' + value + b'"')
        else:
            out.append(b"{%d}\r\n" % len(value) + value)
    elif value is None:
        out.append(b"NIL")
    elif isinstance(value, bool):
        raise TypeError("booleans have no IMAP form")
    elif isinstance(value, int):
        out.append(str(value).encode())
    elif isinstance(value, Atom):
        out.append(value.text.encode("utf-8"))
    elif isinstance(value, Run):
        for item in value.items:
            _encode(item, out)
    elif isinstance(value, Literal):
        out.append(b"{%d}\r\n" % len(value.data) + value.data)
    elif isinstance(value, (str, bytes)):
        data = value.encode("utf-8") if isinstance(value, str) else value
        if quoted_ok(data):
            out.append(b'"' + data + b'"')       # nothing in it needs escaping
        else:
            out.append(b"{%d}\r\n" % len(data) + data)
    elif isinstance(value, (list, tuple)):
        out.append(b"(")
        for i, item in enumerate(value):
            if i:
                out.append(b" ")
            _encode(item, out)
        out.append(b")")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as IMAP")


def encode_seq(values: Sequence[Any]) -> bytes:
    """Space-separated values without the surrounding parentheses."""
    return b" ".join(encode(v) for v in values)


@dataclass(frozen=True)
class Response:
    """One response line as the protocol core hands it to the adapter.

    ``tag`` is ``"*"`` for untagged data, ``"+"`` for a continuation
    request, or the client's tag for a completion.
    """

    tag: str
    data: bytes

    def to_bytes(self) -> bytes:
        return self.tag.encode() + b" " + self.data + b"\r\n"


def untagged(*words: Any) -> Response:
    """``* word word ...``; str words are written as atoms.

    >>> untagged(3, "EXISTS").to_bytes()
    b'* 3 EXISTS\\r\\n'
    """
    return Response("*", _words(words))


def tagged(tag: str, status: str, text: str, code: Optional[str] = None) -> Response:
    """A completion ``tag OK [CODE] text``.

    >>> tagged("a1", "OK", "Logged in").to_bytes()
    b'a1 OK Logged in\\r\\n'
    """
    body = f"{status} [{code}] {text}" if code else f"{status} {text}"
    return Response(tag, body.encode("utf-8"))


def continuation(text: str = "OK") -> Response:
    """``+ text`` asking the client to go on (RFC 3501 §7.5)."""
    return Response("+", text.encode("utf-8"))


def _words(words: Sequence[Any]) -> bytes:
    parts = []
    for w in words:
        if isinstance(w, str):
            parts.append(w.encode("utf-8"))
        elif isinstance(w, bytes):
            parts.append(w)
        else:
            parts.append(encode(w))
    return b" ".join(parts)


# --- modified UTF-7 for mailbox names (RFC 3501 §5.1.3) ----------------------

def _b64_encode(chunk: str) -> str:
    raw = chunk.encode("utf-16-be")
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def mutf7_encode(name: str) -> str:
    """Encode a Unicode mailbox name in modified UTF-7.

    >>> mutf7_encode("A&B")
    'A&-B'
    """
    out: List[str] = []
    pending: List[str] = []
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            if pending:
                out.append("&" + _b64_encode("".join(pending)) + "-")
                pending = []
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    if pending:
        out.append("&" + _b64_encode("".join(pending)) + "-")
    return "".join(out)


def mutf7_decode(name: Union[str, bytes]) -> str:
    """Decode a modified UTF-7 mailbox name; ValueError when malformed.

    >>> mutf7_decode("Entw&APw-rfe")
    'Entwürfe'
    """
    if isinstance(name, bytes):
        name = name.decode("ascii")
    out: List[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ord(ch) > 0x7E or ord(ch) < 0x20:
            raise ValueError("mailbox name not 7-bit printable")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.find("-", i)
        if end < 0:
            raise ValueError("unterminated &-sequence in mailbox name")
        chunk = name[i + 1:end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            try:
                raw = base64.b64decode(b64, validate=True)
                text = raw.decode("utf-16-be")
            except Exception as exc:  # binascii.Error, UnicodeDecodeError
                raise ValueError("bad base64 in mailbox name") from exc
            if mutf7_encode(text) != "&" + chunk + "-":
                raise ValueError("non-canonical modified UTF-7")
            out.append(text)
        i = end + 1
    return "".join(out)
