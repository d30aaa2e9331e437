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

import email
import email.header
import email.utils
import re
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from typing import Dict, List, Optional, Tuple

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


def decode_header_value(value: str) -> str:
    """Decode RFC 2047 encoded-words (``=?UTF-8?B?...?=``) into text.

    >>> decode_header_value("=?utf-8?q?Caf=C3=A9?= time")
    'Café time'
    """
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return value


def _payload_text(part: Message) -> str:
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable"):
        data = part.get_payload(decode=True) or b""
    else:
        # SpamAssassin decodes only base64 and quoted-printable; anything else
        # (x-uuencode, 8bit, nonsense) is read as it stands
        raw = part.get_payload(decode=False)
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("latin-1")


def _paragraphs(text: str) -> List[str]:
    out = []
    # a NUL ends a paragraph too: SpamAssassin marks paragraph breaks with NULs
    # and turns every NUL into a line break afterwards
    for para in re.split(r"\n[ \t\xa0]*\n|\x00", text.replace("\r\n", "\n")):
        para = " ".join(para.split())
        if para:
            out.append(para)
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
        raw_lf = raw.replace(b"\r\n", b"\n")
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
        split = raw_lf.find(b"\n\n")
        head = raw_lf[: split + 1 if split >= 0 else len(raw_lf)].decode("utf-8", "replace")
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
            if ctype == "text/html":
                html = _payload_text(part)
                view.rawbody_lines.extend(html.splitlines())
                text, uris, tags = html_to_text(html)
                view.uris.extend(uris)
                for t, n in tags.items():
                    view.html_tags[t] = view.html_tags.get(t, 0) + n
                texts.append(text)
            elif ctype.startswith("text/") or ctype.startswith("multipart/"):
                # (a multipart without a boundary, or whose boundary never
                # appears, is one text part to SpamAssassin)
                text = _payload_text(part)
                view.rawbody_lines.extend(text.splitlines())
                texts.append(text)
        for text in texts:
            view.text_length += len(text)
            paragraphs.extend(_paragraphs(text))
            view.uris.extend(m.group(1).rstrip(".,;:!?") for m in _URI_TEXT.finditer(text))
        view.body_paragraphs = paragraphs
        sep = re.search(rb"\r?\n\r?\n", raw)
        view.pristine_body_length = len(raw) - sep.end() if sep else 0
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
