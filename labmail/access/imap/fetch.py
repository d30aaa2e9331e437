"""FETCH data from message bytes: ENVELOPE, BODYSTRUCTURE, BODY[section]<partial>.

Pure functions over a message's bytes (RFC 3501 §6.4.5, §7.4.2), written to
give what Dovecot 2.3 gives for the same message (the differential tests in
``tests/test_imap_dovecot.py`` hold us to it).

>>> v = MessageView(b"From: Al <al@example.com>\\nSubject: hi\\n\\nbody\\n")
>>> encode(v.envelope())
b'(NIL "hi" (("Al" NIL "al" "example.com")) (("Al" NIL "al" "example.com")) (("Al" NIL "al" "example.com")) NIL NIL NIL NIL NIL)'
>>> v.section(Section(text="TEXT"))
b'body\\r\\n'
>>> v.bodystructure(extended=False)
['text', 'plain', ['charset', 'us-ascii'], None, None, '7bit', 6, 1]
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from .mime import (_FIELD_SPLIT, _FOLD, Part, header_fields, parse_message, parse_params,
                   split_header, to_crlf, tokenize)
from .parser import FetchAtt, Section
from .response import _NOT_QUOTABLE, QUOTED_MAX, Literal, Run, encode

__all__ = ["MessageView", "parse_addresses", "fetch_item", "CONTENT_ITEMS"]

#: what Dovecot reports as the host of an address without a domain
MISSING_DOMAIN = b"MISSING_DOMAIN"
MISSING_MAILBOX = b"MISSING_MAILBOX"

Address = Tuple[Optional[bytes], Optional[bytes], Optional[bytes], Optional[bytes]]


def _phrase(tokens: List[Tuple[str, bytes]], spaces: List[bool]) -> Optional[bytes]:
    """A display name: words as written, white space runs made one space
    (Dovecot keeps "John.Smith" and "Dr. Who" apart), comments dropped."""
    words = [v for k, v in tokens if k in ("atom", "quoted") or (k == "special" and v == b".")]
    if not words:
        return None
    out = b""
    pending = False
    for (k, v), gap in zip(tokens, spaces):
        if k == "comment":
            pending = pending or gap
            continue
        if out and (gap or pending):
            out += b" "
        pending = False
        out += v
    # Dovecot collapses white space runs, also inside quotes; an empty name is NIL
    return b" ".join(out.split()) or None


def _addr_spec(tokens: List[Tuple[str, bytes]]) -> Tuple[Optional[bytes], Optional[bytes]]:
    toks = [t for t in tokens if t[0] != "comment"]
    at = next((i for i, t in enumerate(toks) if t == ("special", b"@")), None)
    local_toks = toks if at is None else toks[:at]
    local = b"".join(v for _, v in local_toks)
    if at is None:
        return (local or None), None
    domain = b"".join(v for _, v in toks[at + 1:])
    return local, domain


def _simple_address(value: bytes) -> Optional[Address]:
    """``user@host`` or ``Name <user@host>`` / ``"Name" <user@host>``; None for other shapes."""
    m = _PLAIN_ADDR.match(value)
    if m:
        return (None, None, m.group(1), m.group(2))
    m = _NAMED_ADDR.match(value)
    if m and b"=?" not in value:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        name = b" ".join(name.split()) if name is not None else b""
        return (name or None, None, m.group(3), m.group(4))
    return None


def parse_addresses(value: Optional[bytes]) -> Optional[List[Address]]:
    """An address-list header as ENVELOPE address tuples (RFC 3501 §7.4.2).

    Groups become ``(NIL NIL name NIL)`` ... ``(NIL NIL NIL NIL)``.

    >>> parse_addresses(b'"Bob B." <bob@example.org>, carol@example.net')
    [(b'Bob B.', None, b'bob', b'example.org'), (None, None, b'carol', b'example.net')]
    """
    if value is None:
        return None
    # fast paths for the everyday shapes (one address, or a list of plain and
    # named ones); anything else takes the tokenizer
    simple = _simple_address(value)
    if simple is not None:
        return [simple]
    if b"," in value and _COMPLEX.search(value) is None:
        found = [_simple_address(item) for item in value.split(b",")]
        if all(a is not None for a in found):
            return found          # type: ignore[return-value]
    return _parse_tokens(value)


def _parse_tokens(value: bytes) -> Optional[List[Address]]:
    """The general address-list parser (RFC 5322 tokens, groups, routes, comments)."""
    spaces: List[bool] = []
    toks = tokenize(value, spaces=spaces)
    out: List[Address] = []
    i, n = 0, len(toks)
    in_group = False
    while i < n:
        j = i
        while j < n and toks[j] not in (("special", b"<"), ("special", b":"),
                                        ("special", b","), ("special", b";")):
            j += 1
        stop = toks[j][1] if j < n else b""
        if stop == b":" and not in_group:
            out.append((None, None, _phrase(toks[i:j], spaces[i:j]) or b"", None))
            in_group = True
            i = j + 1
            continue
        if stop == b"<":
            k = j + 1
            while k < n and toks[k] != ("special", b">"):
                k += 1
            inner = toks[j + 1:k]
            adl = None
            colon = next((x for x, t in enumerate(inner) if t == ("special", b":")), None)
            if inner and inner[0] == ("special", b"@") and colon is not None:
                adl = b"".join(v for _, v in inner[:colon])
                inner = inner[colon + 1:]
            local, domain = _addr_spec(inner)
            name = _phrase(toks[i:j], spaces[i:j])
            if local is not None or domain is not None:
                out.append((name, adl, local, domain if domain is not None else MISSING_DOMAIN))
            elif not inner:
                # "<>" (a null address): Dovecot fills in placeholders
                out.append((name, adl, MISSING_MAILBOX, MISSING_DOMAIN))
            i = k + 1
            while i < n and toks[i][0] == "comment":
                i += 1
            continue
        chunk = toks[i:j]
        if any(k != "comment" for k, _ in chunk):
            local, domain = _addr_spec(chunk)
            # Dovecot takes a trailing "(comment)" as the display name
            comments = [v for k, v in chunk if k == "comment"]
            out.append((comments[-1] if comments else None, None, local,
                        domain if domain is not None else MISSING_DOMAIN))
        if stop == b";" and in_group:
            out.append((None, None, None, None))
            in_group = False
        i = j + 1
    if in_group:
        out.append((None, None, None, None))
    return out or None


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_ATEXT = rb"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = _ATEXT + rb"(?:\." + _ATEXT + rb")*"
_PLAIN_ADDR = re.compile(rb"[ \t]*(" + _DOT_ATOM + rb")@(" + _DOT_ATOM + rb")[ \t]*\Z")
# words separated by required white space: no nested quantifier to backtrack through
_NAMED_ADDR = re.compile(rb'[ \t]*(?:"([^"\\\r\n]*)"|(' + _ATEXT + rb'(?:[ \t]+' + _ATEXT
                         + rb')*))?[ \t]*<(' + _DOT_ATOM + rb")@(" + _DOT_ATOM + rb")>[ \t]*\Z")
#: what keeps a comma-separated list off the fast path (quotes may hide commas;
#: groups, comments, routes and encoded words have their own rules)
_COMPLEX = re.compile(rb'["(:;\\]|=\?')
_ENVELOPE_KEYS = {n.encode(): n for n in ("date", "subject", "from", "sender", "reply-to", "to",
                                            "cc", "bcc", "in-reply-to", "message-id")}
_ENVELOPE_FIELDS = frozenset({"date", "subject", "from", "sender", "reply-to", "to", "cc",
                              "bcc", "in-reply-to", "message-id"})


def _ns(value: Optional[bytes]) -> bytes:
    """An nstring (NIL, quoted or literal) as :func:`~.response.encode` writes it."""
    if value is None:
        return b"NIL"
    if len(value) <= QUOTED_MAX and _NOT_QUOTABLE.search(value) is None:
        return b'"' + value + b'"'      # the everyday case, without encode()'s dispatch
    return encode(value)


def _count_lines(body: bytes) -> int:
    # Dovecot counts line ends: a last line without CRLF is not counted
    return body.count(b"\n")


@functools.lru_cache(maxsize=4096)
def _address_list_bytes(value: bytes) -> Optional[bytes]:
    """An address-list header value as ENVELOPE bytes (None when it holds none).

    Remembered by value: the same From and To come back message after
    message (the owner's address above all), and parsing is the costly part
    of a first ENVELOPE.
    """
    found = parse_addresses(value)
    if not found:
        return None
    return b"(" + b"".join(b"(" + _ns(a[0]) + b" " + _ns(a[1]) + b" " + _ns(a[2])
                           + b" " + _ns(a[3]) + b")" for a in found) + b")"


def envelope_fields(header: bytes) -> Tuple[Dict[str, bytes], set]:
    """The first value of each ENVELOPE field in *header*, and which were folded.

    What :func:`~.mime.header_fields` gives for those ten fields, inlined:
    the others cost one partition each (the first FETCH ENVELOPE of a
    folder does this for every message).
    """
    first: Dict[str, bytes] = {}
    folded: set = set()
    for raw in _FIELD_SPLIT.split(header):
        field, sep, value = raw.partition(b":")
        if not sep:
            continue
        key = _ENVELOPE_KEYS.get(field.strip().lower())
        if key is None or key in first:
            continue
        if b"\n" in raw:
            folded.add(key)
            value = _FOLD.sub(b"", value)
        first[key] = value.strip(b" \t")
    return first, folded


class MessageView:
    """One message prepared for FETCH: CRLF bytes plus a lazily parsed MIME tree."""

    def __init__(self, raw: Optional[bytes] = None, *,
                 loader: Optional[Callable[[], bytes]] = None,
                 top_header: Optional[bytes] = None,
                 head_loader: Optional[Callable[[], bytes]] = None) -> None:
        # *loader* reads the message only when something beyond the cached
        # top header is needed (Dovecot's header cache plays the same role);
        # *head_loader* reads just its first bytes, for the header alone
        self._orig_bytes = raw
        self._loader = loader
        self._head_loader = head_loader
        self._raw: Optional[bytes] = None
        self._root: Optional[Part] = None
        self._top: Optional[Part] = None
        self._top_header: Optional[bytes] = top_header

    @property
    def _orig(self) -> bytes:
        if self._orig_bytes is None:
            assert self._loader is not None, "MessageView needs bytes or a loader"
            self._orig_bytes = self._loader()
        return self._orig_bytes

    @property
    def raw(self) -> bytes:
        """The whole message in CRLF form."""
        if self._raw is None:
            self._raw = to_crlf(self._orig)
        return self._raw

    @property
    def top_header(self) -> bytes:
        """The top-level header (CRLF, with its blank line) without converting the body."""
        if self._top_header is None:
            if self._raw is not None or self._root is not None:
                self._top_header = self.top.header
            else:
                orig = self._orig_bytes
                if orig is None and self._head_loader is not None:
                    head = self._head_loader()
                    # a header that ends inside the first bytes is complete
                    if head.startswith((b"\n", b"\r\n")) or _BLANK_LINE.search(head):
                        orig = head
                if orig is None:
                    orig = self._orig
                if orig.startswith((b"\n", b"\r\n")):
                    self._top_header = b"\r\n"
                else:
                    m = _BLANK_LINE.search(orig)
                    self._top_header = to_crlf(orig[:m.end()] if m else orig)
        return self._top_header

    @property
    def size(self) -> int:
        """RFC822.SIZE: octets in CRLF form."""
        return len(self.raw)

    @property
    def root(self) -> Part:
        if self._root is None:
            self._root = parse_message(self.raw)
        return self._root

    # -- ENVELOPE ---------------------------------------------------------
    @property
    def top(self) -> Part:
        """The top-level header alone (ENVELOPE needs no MIME tree)."""
        if self._root is not None:
            return self._root
        if self._top is None:
            header, body = split_header(self.raw)
            self._top = Part(header, body)
        return self._top

    def envelope(self, part: Optional[Part] = None) -> List[Any]:
        part = part or self.top
        first: Dict[str, bytes] = {}
        for name, value, _ in part.fields():
            first.setdefault(name, value)
        def addrs(name: str) -> Optional[List[Any]]:
            found = parse_addresses(first.get(name))
            return [Run(tuple(list(a) for a in found))] if found else None
        frm = addrs("from")
        return [first.get("date"), first.get("subject"), frm,
                addrs("sender") or frm, addrs("reply-to") or frm, addrs("to"),
                addrs("cc"), addrs("bcc"), first.get("in-reply-to"),
                first.get("message-id")]

    def envelope_bytes(self) -> bytes:
        """ENVELOPE already encoded: the same bytes as ``encode(self.envelope())``, faster."""
        first, folded = envelope_fields(self.top_header)

        def text(name: str) -> bytes:
            value = first.get(name)
            if value is not None and name in folded:
                # Dovecot sends a header that was folded as a literal, CR LF removed
                return encode(Literal(value))
            return _ns(value)

        def addrs(name: str) -> Optional[bytes]:
            value = first.get(name)
            return None if value is None else _address_list_bytes(value)
        frm = addrs("from")
        parts = [text("date"), text("subject"), frm or b"NIL",
                 addrs("sender") or frm or b"NIL", addrs("reply-to") or frm or b"NIL",
                 addrs("to") or b"NIL", addrs("cc") or b"NIL", addrs("bcc") or b"NIL",
                 text("in-reply-to"), text("message-id")]
        return b"(" + b" ".join(parts) + b")"

    # -- BODYSTRUCTURE ----------------------------------------------------
    def bodystructure(self, extended: bool = True, part: Optional[Part] = None) -> List[Any]:
        """BODYSTRUCTURE (*extended*) or BODY as nested Python lists."""
        return self._structure(part or self.root, extended)

    def _structure(self, part: Part, ext: bool) -> List[Any]:
        if part.is_multipart:
            kids = [self._structure(c, ext) for c in part.children]
            if not kids:
                kids = [self._structure(Part(b"\r\n", b""), ext)]
            out: List[Any] = [Run(tuple(kids)), part.type_text[1]]
            if ext:
                out.append(_flat(part.params) or None)
                out.extend(self._ext_tail(part))
            return out
        enc = part.get("content-transfer-encoding")
        params = list(part.params)
        if part.ctype == "text" and not any(k.lower() == "charset" for k, _ in params):
            params.append(("charset", "us-ascii"))     # RFC 2045 §5.2 default
        out = [part.type_text[0], part.type_text[1], _flat(tuple(params)) or None,
               part.get("content-id"), part.get("content-description"),
               enc.decode("latin-1") if enc else "7bit", len(part.body)]
        if part.is_message:
            assert part.message is not None
            out.append(self.envelope(part.message))
            out.append(self._structure(part.message, ext))
            out.append(_count_lines(part.body))
        elif part.ctype == "text":
            out.append(_count_lines(part.body))
        if ext:
            out.append(part.get("content-md5"))
            out.extend(self._ext_tail(part))
        return out

    def _ext_tail(self, part: Part) -> List[Any]:
        disp = part.get("content-disposition")
        disposition = None
        if disp is not None:
            toks = [t for t in tokenize(disp, b'()<>@,;:\\"/[]?=') if t[0] != "comment"]
            if toks and toks[0][0] == "atom":
                params = _flat(parse_params(tokenize(disp, b'()<>@,;:\\"/[]?=')))
                disposition = [toks[0][1].decode("latin-1"), params or None]
        lang = part.get("content-language")
        language: Any = None
        if lang is not None:
            langs = [v for k, v in tokenize(lang) if k == "atom"]
            language = langs or None
        return [disposition, language, part.get("content-location")]

    # -- BODY[section] ----------------------------------------------------
    def find(self, numbers: Tuple[int, ...]) -> Optional[Part]:
        """The part with these part numbers (RFC 3501 §6.4.5), or None."""
        part = self.root
        # Dovecot: a single-part entity reached as a message or as a multipart
        # child is also its own part 1, once (BODY[1.1] of a multipart's text
        # part is that text; BODY[1.1] of a single-part message is empty)
        fresh = True
        for n in numbers:
            if part.is_message and part.message is not None:
                part, fresh = part.message, True
            if part.is_multipart:
                if n > len(part.children):
                    return None
                part, fresh = part.children[n - 1], True
            elif n != 1 or not fresh:
                return None
            else:
                fresh = False
        return part

    def section(self, section: Section, partial: Optional[Tuple[int, int]] = None) -> Optional[bytes]:
        """The bytes of BODY[section]<partial>, or None when the part is absent."""
        data = self._section(section)
        if data is None or partial is None:
            return data
        start, count = partial
        return data[start:start + count]

    def _section(self, section: Section) -> Optional[bytes]:
        if not section.part and not section.text:
            return self.raw                       # BODY[]: no parsing at all
        if not section.part:
            # the top-level header and text need no MIME tree
            target: Optional[Part] = self.top
        else:
            target = self.find(section.part)
            if target is None:
                return None
        assert target is not None
        text = section.text
        if not text:
            if not section.part:
                return self.raw
            return target.body
        if text == "MIME":
            return target.header
        if section.part:
            # HEADER/TEXT of a part apply to its encapsulated message
            if not target.is_message:
                return b""
            target = target.message
            assert target is not None
        if text == "TEXT":
            return target.body
        if text == "HEADER":
            return target.header
        wanted = set(f.lower() for f in section.fields)
        keep = text == "HEADER.FIELDS"
        lines = [raw for name, _, raw in header_fields(target.header)
                 if (name in wanted) == keep]
        return b"".join(lines) + b"\r\n"


def _flat(params: Tuple[Tuple[str, str], ...]) -> List[str]:
    out: List[str] = []
    for k, v in params:
        out += [k, v]
    return out


CONTENT_ITEMS = ("ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER",
                 "RFC822.TEXT", "RFC822.SIZE", "BINARY")


def fetch_item(view: MessageView, att: FetchAtt) -> bytes:
    """``NAME value`` for one content-derived FETCH item, as Dovecot writes it.

    >>> fetch_item(MessageView(b"Subject: x\\n\\nhello\\n"), FetchAtt("RFC822.SIZE"))
    b'RFC822.SIZE 21'
    """
    name = att.name
    if att.section is not None:
        data = view.section(att.section, att.partial) or b""
        return att.response_name().encode() + b" " + encode(Literal(data))
    if name == "ENVELOPE":
        return b"ENVELOPE " + view.envelope_bytes()
    if name == "BODYSTRUCTURE":
        value: Any = view.bodystructure(extended=True)
    elif name == "BODY":
        value = view.bodystructure(extended=False)
    elif name == "RFC822.SIZE":
        value = view.size
    elif name == "RFC822":
        value = Literal(view.raw)
    elif name == "RFC822.HEADER":
        value = Literal(view.top.header)
    elif name == "RFC822.TEXT":
        value = Literal(view.top.body)
    else:
        raise ValueError(f"{name} is not a content item")
    return name.encode() + b" " + encode(value)
