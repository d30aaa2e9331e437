"""What the rules look at: decoded headers, rendered body paragraphs, URIs.

SpamAssassin never tests the raw bytes of a body with ``body`` rules: it
decodes every text part (quoted-printable, base64, charsets), renders HTML
to plain text, joins the lines of each paragraph, and puts the Subject first.
:class:`MessageView` does the same once per message, so every rule reads
the prepared text.

>>> v = MessageView.parse(b"Subject: Hi\\r\\nContent-Type: text/html\\r\\n\\r\\n<p>Cheap <b>pills</b><br>here</p>"
...                       b'<a href="http://x.example/buy">buy</a>')
>>> v.body_paragraphs
['Hi', 'Cheap pills here', 'buy']
>>> v.uris
['http://x.example/buy']
"""
from __future__ import annotations

import base64
import email
import email.header
import email.utils
import re
from dataclasses import dataclass, field
from functools import lru_cache
from email.message import Message
from html.parser import HTMLParser
from typing import Dict, List, Optional, Tuple

from .pristine import split_pristine

__all__ = ["MessageView", "html_to_text", "decode_header_value"]

_BLOCK = frozenset("p br div tr li ul ol h1 h2 h3 h4 h5 h6 table blockquote hr pre title td".split())
_SKIP = frozenset(("script", "style", "head"))
_URI_TEXT = re.compile(r"""(?i)\b((?:https?|ftp)://[^\s<>"')\]]+|www\.[a-z0-9-]+\.[^\s<>"')\]]+|mailto:[^\s<>"')]+)""")


class _HTMLText(HTMLParser):
    """Collects visible text, links and a few facts rules care about."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []
        self.uris: List[str] = []
        self.tags: Dict[str, int] = {}
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag in _SKIP:
            self._skip += 1
        if tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "div", "table", "h1", "h2", "h3", "blockquote") else "\n")
        for name, value in attrs:
            if value and name in ("href", "src", "action") and not value.startswith(("#", "cid:")):
                self.uris.append(value.strip())
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip:
            self._skip -= 1
        if tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "div", "table") else "\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> Tuple[str, List[str], Dict[str, int]]:
    """Render HTML as the text a reader sees; also return its links and tag counts.

    >>> html_to_text("<p>Hello<br>World</p><script>x()</script>")[0].split()
    ['Hello', 'World']
    """
    p = _HTMLText()
    try:
        p.feed(html)
        p.close()
    except Exception:  # malformed HTML is what spammers send; keep what we have
        pass
    return "".join(p.parts), p.uris, p.tags


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")


def _decode_word(charset: str, kind: str, text: str) -> str:
    if kind in "Bb":
        # invalid characters are skipped and missing padding supplied (never an error)
        data = re.sub(r"[^A-Za-z0-9+/]", "", text)
        data = data[: len(data) - len(data) % 4 + (len(data) % 4 if len(data) % 4 > 1 else 0)]
        raw = base64.b64decode(data + "=" * (-len(data) % 4))
    else:
        raw = re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                     text.replace("_", " ").encode("latin-1", "replace"))
    return _decode(raw, charset.split("*", 1)[0])


@lru_cache(maxsize=1024)
def decode_header_value(value: str) -> str:
    """Decode RFC 2047 encoded-words (``=?UTF-8?B?...?=``) into text.

    White space between two encoded words goes (RFC 2047 section 6.2); an
    unknown or lying charset falls back as body text does. Linear in the
    length (Python's email.header is quadratic in the number of words).

    >>> decode_header_value("=?utf-8?q?Caf=C3=A9?= time")
    'Café time'
    >>> decode_header_value("=?utf-8?B?R3LDvA==?= =?utf-8?Q?=C3=9Fe?=")
    'Grüße'
    """
    if "=?" not in value:
        return value
    out: List[str] = []
    pos, last_end = 0, -1
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos:m.start()]
        if not (m.start() == last_end or (last_end == pos and gap.strip() == "" and out)):
            out.append(gap)
        out.append(_decode_word(*m.groups()))
        pos = last_end = m.end()
    out.append(value[pos:])
    return "".join(out)


def _valid_fields(head: bytes) -> bytes:
    """The header block without lines that are no header field (nor their continuations)."""
    out, keep = [], False
    for line in re.split(rb"(?<=\n)", head):
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        keep = bool(re.match(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:", line))
        if keep:
            out.append(line)
    return b"".join(out)


_W1252_PLAUSIBLE = re.compile(rb"[^\x00-\x7f\xa0\xa9\xad\x82\x84\x85\x91-\x97\x99\xc0-\xd6\xd8-\xde\xe0-\xf6\xf8-\xfe]")


def _decode(data: bytes, charset: str) -> str:
    """*data* as text, the way SpamAssassin 4.0 normalizes a part's charset.

    ASCII stays; 8-bit text is tried as UTF-8 first whatever the label says,
    then as the declared charset (ISO-8859-1 read as Windows-1252; UTF-16
    labels are not trusted), then as Windows-1252 if every byte is one that
    is common there; what is left is read byte for byte (Latin-1).

    >>> _decode(b"caf\\xc3\\xa9", "iso-8859-1"), _decode(b"caf\\xe9", "utf-8"), _decode(b"\\xff", "x")
    ('café', 'café', 'ÿ')
    """
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    cs = charset.strip().lower()
    if cs in ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "windows-1252", "cp1252"):
        cs = "cp1252"
    if cs not in ("us-ascii", "ascii", "utf-8", "utf8") and not cs.startswith("utf-16") \
            and not cs.startswith("utf16"):
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            pass
    if not _W1252_PLAUSIBLE.search(data):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


def _payload_bytes(part: Message) -> bytes:
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        # SpamAssassin decodes only base64 and quoted-printable: uuencoded text
        # is read as it stands (Python would decode it)
        raw = part.get_payload(decode=False)
        data = raw.encode("ascii", "replace") if isinstance(raw, str) else b""
    elif cte == "base64" and isinstance(part.get_payload(decode=False), str):
        data = sa_base64_decode(part.get_payload(decode=False).encode("ascii", "replace"))
    else:       # quoted-printable; anything else comes back as the raw bytes
        data = part.get_payload(decode=True) or b""
    return data


_B64_VALUE = {c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_B64_VALUE[ord("=")] = 63


def sa_base64_decode(text: bytes) -> bytes:
    """Base64 as SpamAssassin's decoder reads it, broken input included.

    Clean input decodes as usual. Otherwise every character outside the
    alphabet is dropped, trailing ``=`` too, an ``=`` left inside counts as
    63, and the groups are decoded as they fall (so a corrupt part gives
    SpamAssassin's garbage, not nothing).

    >>> sa_base64_decode(b"aGVsbG8=\\n"), sa_base64_decode(b"aGVs!bG8")
    (b'hello', b'hello')
    """
    s = re.sub(rb"\s+", b"", text)
    if len(s) % 4 == 0 and re.fullmatch(rb"[A-Za-z0-9+/=]{2,}={0,2}", s):
        try:
            return base64.b64decode(re.sub(rb"(=+)(?!=*$)", lambda m: b"A" * len(m.group(1)), s))
        except ValueError:
            pass
    s = re.sub(rb"[^A-Za-z0-9+/=]", b"", s).rstrip(b"=")
    if len(s) % 4 == 1:
        s = s[:-1]
    out = bytearray()
    for i in range(0, len(s), 4):
        group = [_B64_VALUE[c] for c in s[i:i + 4]]
        n = 0
        for v in group:
            n = n << 6 | v
        n <<= 6 * (4 - len(group))
        out += n.to_bytes(3, "big")[: len(group) - 1]
    return bytes(out)


def _payload_text(part: Message, data: bytes) -> str:
    try:
        charset = part.get_content_charset() or "us-ascii"
    except Exception:           # a charset parameter that is no string at all
        charset = "us-ascii"
    return _decode(data, charset)


def _paragraphs(text: str) -> List[str]:
    out = []
    # a NUL ends a paragraph too: SpamAssassin marks paragraph breaks with NULs
    # and turns every NUL into a line break afterwards
    for para in re.split(r"\n[ \t\xa0]*\n", text.replace("\r\n", "\n")):
        pieces = [" ".join(p.split()) for p in para.split("\x00")]
        # (an empty piece between NULs is a line of its own, as in SpamAssassin)
        out.extend(p for p in pieces if p or len(pieces) > 1)
    return out


@dataclass
class MessageView:
    """One message, prepared for the rules (see the module docstring)."""

    raw: bytes
    msg: Message
    header_text: str                                  # the header block, unfolded lines kept
    headers: List[Tuple[str, str]]                    # (name, raw value) in order
    body_paragraphs: List[str] = field(default_factory=list)
    rawbody_lines: List[str] = field(default_factory=list)
    uris: List[str] = field(default_factory=list)
    html_tags: Dict[str, int] = field(default_factory=dict)
    content_types: List[str] = field(default_factory=list)
    attachments: List[str] = field(default_factory=list)
    text_length: int = 0
    pristine_body_length: int = 0                     # bytes after the blank line, as they came

    @classmethod
    def parse(cls, raw: bytes) -> "MessageView":
        """Parse and prepare *raw* (the message as bytes, CRLF or LF)."""
        # Header and body are told apart as SpamAssassin's parser does (an mbox
        # From line, up to three lines that are no header field, a body that
        # starts with a MIME boundary); the lines that are no field are dropped.
        pristine = split_pristine(raw)
        raw_lf = (_valid_fields(pristine.head) + b"\n" + pristine.body).replace(b"\r\n", b"\n")
        try:
            msg = email.message_from_bytes(raw_lf)
            walked = list(msg.walk())
        except RecursionError:
            # absurdly deep MIME nesting: read the header and treat the body as
            # one opaque text part rather than let the scan fail
            split_at = raw_lf.find(b"\n\n")
            head_only = raw_lf[: split_at + 2 if split_at >= 0 else len(raw_lf)]
            msg = email.message_from_bytes(head_only)
            del msg["Content-Type"]
            msg.set_payload(raw_lf[len(head_only):].decode("utf-8", "replace"))
            walked = [msg]
        head = pristine.head_text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        view = cls(raw=raw, msg=msg, header_text=head,
                   headers=[(k, str(v)) for k, v in msg.items()])
        subject = view.header("Subject")
        paragraphs = [" ".join(subject.split())] if subject.strip() else []
        texts: List[str] = []
        for part in walked:
            ctype = part.get_content_type()
            view.content_types.append(ctype)
            if part.is_multipart():
                continue
            filename = part.get_filename()
            disposition = (part.get("Content-Disposition") or "").lower()
            if filename or disposition.startswith("attachment"):
                view.attachments.append(decode_header_value(filename or ""))
                if not ctype.startswith("text/"):
                    continue
            if not ctype.startswith(("text/", "multipart/")):
                continue
            data = _payload_bytes(part)
            # rawbody sees the bytes as they are after base64/QP, not charset-converted
            # (SpamAssassin's normalize_charset is off by default): read them as UTF-8
            raw_text = _decode(data, "utf-8")
            if ctype == "text/html":
                view.rawbody_lines.extend(raw_text.splitlines())
                # SpamAssassin's HTML reader turns curly double quotes into plain ones
                html = re.sub("[\u201c\u201d]", '"', _payload_text(part, data))
                text, uris, tags = html_to_text(html)
                view.uris.extend(uris)
                for t, n in tags.items():
                    view.html_tags[t] = view.html_tags.get(t, 0) + n
                texts.append(text)
            elif ctype.startswith("text/") or ctype.startswith("multipart/"):
                # (a multipart without a boundary, or whose boundary never
                # appears, is one text part to SpamAssassin)
                text = _payload_text(part, data)
                view.rawbody_lines.extend(raw_text.splitlines())
                texts.append(text)
        for text in texts:
            view.text_length += len(text)
            paragraphs.extend(_paragraphs(text))
            view.uris.extend(m.group(1).rstrip(".,;:!?") for m in _URI_TEXT.finditer(text))
        view.body_paragraphs = paragraphs
        view.pristine_body_length = len(pristine.body)
        seen: Dict[str, None] = {}
        for u in view.uris:
            seen.setdefault(u, None)
        view.uris = list(seen)
        return view

    # -- headers ---------------------------------------------------------------
    def header(self, name: str, *, raw: bool = False) -> str:
        """All values of header *name* joined by newlines (decoded unless *raw*)."""
        lname = name.lower()
        vals = [v for k, v in self.headers if k.lower() == lname]
        if not raw:
            vals = [decode_header_value(" ".join(v.split())) for v in vals]
        return "\n".join(vals)

    def has_header(self, name: str) -> bool:
        """True when the message has at least one *name* header."""
        lname = name.lower()
        return any(k.lower() == lname for k, _ in self.headers)

    def from_address(self) -> str:
        """The address in From: (lower case), as welcomelist_from compares it."""
        return email.utils.parseaddr(self.header("From"))[1].lower()

    @property
    def body_text(self) -> str:
        """Rendered body text without the Subject line (for previews)."""
        subj = 1 if self.header("Subject").strip() else 0
        return "\n".join(self.body_paragraphs[subj:])
