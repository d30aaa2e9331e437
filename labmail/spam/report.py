"""What the recipient gets: X-Spam-* headers, templates, and ``report_safe`` 0/1/2.

``add_header all Status "_YESNO_, score=_SCORE_ required=_REQD_ tests=_TESTS_ ..."``
is a *template*: :func:`expand_tags` replaces each ``_TAG_`` (or
``_TAG(arg)_``) with its value. :func:`rewrite` then builds the delivered
message exactly the way SpamAssassin does:

* ``report_safe 0`` -- the original message, X-Spam-* headers added on top
  (and for spam ``X-Spam-Report`` and a rewritten Subject);
* ``report_safe 1`` -- for spam, a new ``multipart/mixed`` message: a
  text/plain report, then the original as a ``message/rfc822`` attachment;
* ``report_safe 2`` -- the same, but the original attached as ``text/plain``
  so no mail client renders it.

>>> fold_header("Status", "No, score=0.1 required=5.0 tests=NONE autolearn=no autolearn_force=no version=0.1.0")
'No, score=0.1 required=5.0 tests=NONE autolearn=no\\n\\tautolearn_force=no version=0.1.0'
"""
from __future__ import annotations

import base64
import email.utils
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .. import __version__
from ..clock import Clock, IdGenerator
from .engine import Result
from .pristine import split_pristine
from .markup import remove_markup  # noqa: F401  (re-exported: the inverse of rewrite)

__all__ = ["ReportContext", "expand_tags", "fold_header", "wrap", "added_headers",
           "report_text", "rewrite", "remove_markup", "format_score", "SUBVERSION"]

SUBVERSION = "2026-11-27"           # the rule set's date, shown as _SUBVERSION_
_TAG = re.compile(r"_([A-Z][A-Z0-9]*)(?:\(([^()]*)\))?_")
_COPY_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-Id")


@dataclass
class ReportContext:
    """Who is reporting and when (the host's name, clock and id generator)."""

    hostname: str = "localhost"
    clock: Optional[Clock] = None
    ids: Optional[IdGenerator] = None

    def now(self):
        """The current time on the reporting host."""
        return (self.clock or Clock()).now()


def _octets(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def wrap(text: str, prefix: str = "\t", first: str = "", length: int = 79,
         overflow: bool = False, breaker: str = r"(?<=[\s,])") -> str:
    """Greedy line wrapping with SpamAssassin's rules (a tab counts 8 columns).

    Pieces end at whitespace or commas; a line grows while it stays within
    *length*; trailing blanks are trimmed where a line is cut.
    """
    parts = [p for p in re.split(breaker, text)] if text else [""]
    if first:
        parts.insert(0, first)
    lines: List[str] = []
    cur = parts[0]
    fresh = True
    for piece in parts[1:]:
        # (SpamAssassin wraps octets: a UTF-8 character counts its bytes)
        width = _octets(cur) + cur.count("\t") * 7
        if not fresh and not overflow:
            width += _octets(piece) + piece.count("\t") * 7
        if width <= length:
            cur += piece
            fresh = False
        else:
            lines.append(cur.rstrip())
            cur = prefix + piece
            fresh = True
    lines.append(cur)
    return "\n".join(lines)


def fold_header(name: str, data: str, fold: bool = True) -> str:
    """Fold an X-Spam-*name* header value as SpamAssassin does (79 columns)."""
    data = data.rstrip("\r\n")
    if not fold:
        return data.replace("\n", " ")
    if "\n" in data:
        return re.sub(r"\s*\n\s*", "\n\t", data)
    folded = wrap(f"X-Spam-{name}!!{data}", "\t", "", 79, False)
    folded = re.sub(r"(?m)^\s*\n", "", folded)
    return folded.split("!!", 1)[1]


def format_score(value: float) -> str:
    """A score as reports show it: 4 columns, one decimal below 10 points."""
    return f"{value:4.0f}" if abs(value) >= 10 else f"{value:4.1f}"


def _wrap_desc(desc: str, first: int, prefix: str, width: int = 75) -> str:
    """A long description wrapped under its column, as SpamAssassin's reports do."""
    return wrap(desc, prefix, " " * first, width, False, r"(\s)").lstrip()


def _score_tag(result: Result, pad: Optional[str]) -> str:
    score, reqd = f"{result.score:.1f}", f"{result.required:.1f}"
    # Never show "5.0 required=5.0" on a ham (or 4.9 on a spam): nudge by 0.1.
    if score == reqd and not result.is_spam:
        score = f"{result.required - 0.1:.1f}"
    elif result.is_spam and float(score) < result.required:
        score = reqd
    if pad and re.fullmatch(r"0+| +", pad):
        count = len(pad) + 3 - len(score)
        if count > 0:
            score = pad[:count] + score
    return score


def _summary(result: Result) -> str:
    lines = []
    for h in result.hits:
        score = format_score(h.score)
        desc = _wrap_desc(h.description, 3 + len(h.name) + len(score) + len(h.area), " " * 28)
        lines.append(f"{score} {h.name:<22} {h.area}{desc}\n")
    return "".join(lines)


def _report_tag(result: Result) -> str:
    lines = []
    for h in result.hits:
        score = format_score(h.score)
        desc = _wrap_desc(h.description, 4 + len(h.name) + len(score) + len(h.area), "*      ")
        lines.append(f"* {score} {h.name} {h.area}{desc}\n")
    return "\n" + "".join(lines)


def _preview(result: Result) -> str:
    paras = result.view.body_paragraphs
    if result.view.header("Subject").strip():
        paras = paras[1:]
    text, n = "", 3
    for p in paras:
        if len(text) >= 200 or n == 0:
            break
        text += p + "\n"
        n -= 1
    text = re.sub(r"(?m)^(.{200}).+$", r"\1 [...]", text)
    text = text.rstrip("\n") + "\n"
    text = re.sub(r"(?m)-----Original Message-----.*$", "", text)
    text = text.replace("This is a multi-part message in MIME format.", "")
    text = re.sub(r"[-_*.]{10,}", "", text)
    text = re.sub(r"\s+", " ", text)
    # Wrapped as SpamAssassin does: split at each blank (kept as its own piece),
    # two-space prefix, lines may overflow 75 columns by one word.
    out = wrap(text, "  ", "Content preview:  ", 75, True, r"(\s)")
    return re.sub(r"^Content preview:\s+", "", out)     # (all of an empty preview goes)


def expand_tags(template: str, result: Result, ctx: ReportContext) -> str:
    """Replace ``_TAG_`` and ``_TAG(arg)_`` in *template*; unknown tags stay as written.

    Known tags: YESNO, YESNOCAPS, SCORE, HITS, REQD, TESTS, TESTSSCORES,
    STARS, AUTOLEARN, BAYES, VERSION, SUBVERSION, HOSTNAME, CONTACTADDRESS,
    DATE, REPORT, SUMMARY, PREVIEW, HEADER(name).
    """
    cf = result.config

    def value(m: "re.Match[str]") -> str:
        tag, arg = m.group(1), m.group(2)
        if tag == "YESNO":
            if arg is not None and "," in arg:
                yes, no = arg.split(",", 1)
                return yes if result.is_spam else no
            return "Yes" if result.is_spam else "No"
        if tag == "YESNOCAPS":
            return "YES" if result.is_spam else "NO"
        if tag in ("SCORE", "HITS"):
            return _score_tag(result, arg)
        if tag == "REQD":
            return f"{result.required:.1f}"
        if tag == "TESTS":
            return (arg if arg is not None else ",").join(result.tests) or "none"
        if tag == "TESTSSCORES":
            by = {h.name: h.score for h in result.hits}
            return (arg if arg is not None else ",").join(f"{n}={by[n]:g}" for n in result.tests) or "none"
        if tag == "STARS":
            return (arg or "*") * max(0, min(50, int(result.score)))
        if tag == "AUTOLEARN":        # SpamAssassin says just "disabled" when autolearn is off
            if result.autolearn == "disabled":
                return "disabled"
            return f"{result.autolearn} autolearn_force={'yes' if result.autolearn_force else 'no'}"
        if tag == "BAYES":
            return "0.5" if result.bayes is None else f"{result.bayes:.4f}"
        if tag == "VERSION":
            return __version__
        if tag == "SUBVERSION":
            return SUBVERSION
        if tag == "HOSTNAME":
            return ctx.hostname
        if tag == "CONTACTADDRESS":
            return cf.report_contact
        if tag == "DATE":
            return email.utils.format_datetime(ctx.now())
        if tag == "REPORT":
            return _report_tag(result)
        if tag == "SUMMARY":
            return _summary(result)
        if tag == "PREVIEW":
            return _preview(result)
        if tag == "HEADER" and arg:     # SpamAssassin's value keeps its final newline
            return result.view.header(arg) + "\n" if result.view.has_header(arg) else ""
        if tag in ("RELAYSTRUSTED", "RELAYSUNTRUSTED", "LANGUAGES", "SUBJPREFIX"):
            return ""
        return m.group(0)

    return _TAG.sub(value, template)


def mime_encode_header(text: str) -> str:
    """Encode the non-ASCII stretch of each line as an RFC 2047 word, as SpamAssassin does.

    >>> mime_encode_header("Menu: Café\\n")
    'Menu: =?UTF-8?Q?Caf=C3=A9?=\\n'
    >>> mime_encode_header("Vorsicht: Grüße\\n")
    'Vorsicht: =?UTF-8?B?R3LDvMOfZQ==?=\\n'
    """
    out = []
    for line in text.encode("utf-8", "surrogateescape").splitlines(True):
        if re.fullmatch(rb"[\x09\x20-\x7e]*\r?\n?", line):
            out.append(line)
            continue
        prefix = suffix = b""
        m = re.search(rb"((?:^|[ \t])[\x09\x20-\x7e]*(?:\r?\n)?)\Z", line)
        if m:
            suffix, line = m.group(1), line[:m.start()]
        else:
            m = re.search(rb"(\r?\n)\Z", line)
            if m:
                suffix, line = m.group(1), line[:m.start()]
        m = re.match(rb"[\x09\x20-\x7e]*(?:[ \t]|\Z)", line)
        if m and m.group(0):
            prefix, line = m.group(0), line[m.end():]
        if not line:
            out.append(prefix + suffix)
            continue
        special = len(re.findall(rb"[=?_\x00-\x1f\x7f-\xff]", line))
        if len(line) + special * 2 <= 4 * (len(line) + 2) / 3:     # Q is shorter than B
            q = re.sub(rb"[=?_\x00-\x20\x7f-\xff]",
                       lambda c: b"_" if c.group(0) == b" " else b"=%02X" % c.group(0)[0], line)
            word = b"=?UTF-8?Q?" + q + b"?="
        else:
            word = b"=?UTF-8?B?" + base64.b64encode(line) + b"?="
        out.append(prefix + word + suffix)
    return b"".join(out).decode("ascii", "replace")


def added_headers(result: Result, ctx: ReportContext) -> str:
    """The X-Spam-* header lines (with newlines) for this result."""
    cf = result.config
    which = "spam" if result.is_spam else "ham"
    headers = [(n, t) for w, n, t in cf.headers if w in ("all", which)]
    if cf.report_safe == 0 and result.is_spam and not any(n == "Report" for n, _ in headers):
        headers.append(("Report", "_REPORT_"))       # report_safe 0 carries the report in a header
    return "".join(f"X-Spam-{n}: {mime_encode_header(fold_header(n, expand_tags(t, result, ctx), cf.fold_headers))}\n"
                   for n, t in headers)


def report_text(result: Result, ctx: ReportContext, *, unsafe: bool = False) -> str:
    """The report (``report`` template lines, tags expanded), as ``-t`` and report_safe show it.

    It always ends with one blank line; with *unsafe* the ``unsafe_report``
    warning follows (report_safe does that for non-plain-text originals).
    """
    cf = result.config
    text = expand_tags("".join(l + "\n" for l in cf.report_template), result, ctx)
    text = text.rstrip("\n") + "\n\n"
    if unsafe:
        text += expand_tags("".join(l + "\n" for l in cf.unsafe_report_template), result, ctx)
    return text


def _no_report_safe(result: Result, ctx: ReportContext, head: str) -> str:
    """The new header block (LF text) of a report_safe 0 (or ham) message."""
    cf = result.config
    lines = head.splitlines(True)
    kept: List[str] = []
    skipping = False
    for line in lines:            # drop X-Spam-* from an earlier filter (not X-Spam-Prev-*)
        if re.match(r"(?i)X-Spam-(?!Prev-)", line):
            skipping = True
            continue
        if skipping and line[:1] in (" ", "\t"):
            continue
        skipping = False
        kept.append(line)
    if result.is_spam and cf.rewrite_header:
        has_subject = any(re.match(r"(?i)Subject:", l) for l in kept)
        if not has_subject and "Subject" in cf.rewrite_header:
            kept.append("Subject: \n")
            kept.append("X-Spam-Prev-Subject: (nonexistent)\n")
        out: List[str] = []
        for line in kept:
            m = re.match(r"(?i)(From|Subject|To):", line)
            hdr = m.group(1).capitalize() if m else None
            if hdr and hdr in cf.rewrite_header and not line.startswith("X-Spam-Prev-"):
                if has_subject or hdr != "Subject":
                    kept.append("X-Spam-Prev-" + line)
                tag = expand_tags(cf.rewrite_header[hdr], result, ctx).replace("\n", " ")
                if hdr in ("From", "To"):
                    tag = f"({tag})"
                line = re.sub(r"^([^:]+:)[ \t]*(?:" + re.escape(tag) + " )?", lambda mm: f"{mm.group(1)} {tag} ", line)
            out.append(line)
        kept = out
    pre = ""
    if kept and re.match(r"(?i)Return-Path:", kept[0]):
        pre = kept.pop(0)
        while kept and kept[0][:1] in (" ", "\t"):
            pre += kept.pop(0)
    return pre + added_headers(result, ctx) + "".join(kept)


def _pristine(lines: List[str], name: str) -> Optional[str]:
    """The first *name* header's value with its folding and newline, as written."""
    for i, line in enumerate(lines):
        if line.lower().startswith(name.lower() + ":"):
            value = line.split(":", 1)[1].lstrip(" \t")
            for more in lines[i + 1:]:
                if more[:1] not in (" ", "\t"):
                    break
                value += more
            return value
    return None


def _pristine_all(lines: List[str], name: str) -> List[str]:
    """Every *name* header's value, folding kept."""
    out = []
    for i, line in enumerate(lines):
        if line.lower().startswith(name.lower() + ":"):
            out.append(_pristine(lines[i:], name) or "\n")
    return out


def _report_safe(result: Result, ctx: ReportContext, head: str, raw: str) -> Tuple[str, str]:
    """The report_safe 1/2 wrapper around the original *raw*: (text before it, text after it)."""
    cf = result.config
    lines = head.splitlines(True)
    # SpamAssassin copies the *last* of each (its get_pristine_header in scalar context)
    vals = {h: (_pristine_all(lines, h) or [None])[-1] for h in _COPY_HEADERS}
    for hdr in ("Subject", "To", "From"):
        if hdr not in cf.rewrite_header:
            continue
        tag = expand_tags(cf.rewrite_header[hdr], result, ctx).replace("\n", " ")
        cur = vals[hdr] if vals[hdr] is not None else "\n"
        if hdr == "Subject":
            cur = re.sub("^(?:" + re.escape(tag) + " )?", lambda m: tag + " ", cur, count=1)
        else:
            cur = cur.rstrip("\n")
            if not cur.endswith(f"\t({tag})"):
                cur += f"\t({tag})"
            cur += "\n"
        vals[hdr] = cur
    now = ctx.now()
    new = "".join(f"{h}: {vals[h]}" for h in _COPY_HEADERS if vals[h] is not None)
    new += added_headers(result, ctx)
    done = {h.lower() for h in _COPY_HEADERS}
    for name in cf.report_safe_copy_headers:          # more headers to carry over, on request
        if name.lower() in done:
            continue
        done.add(name.lower())
        copies = "".join(f"{name}: {v}" for v in _pristine_all(lines, name))
        new = copies + new if name.lower() == "received" else new + copies
    new = (f"Received: from localhost by {ctx.hostname}\n"
           f"\twith labmail (version {__version__});\n"
           f"\t{email.utils.format_datetime(now)}\n") + new
    rnd = int(ctx.ids.token(4), 16) if ctx.ids else 0
    boundary = f"----------=_{int(now.timestamp()) & 0xFFFFFFFF:08X}.{rnd:08X}"
    while re.search("(?m)^" + re.escape("--" + boundary) + "(?:--)?$", raw):
        boundary += f"/{rnd ^ 0x5A5A5A5A:08X}"
    ctype = result.view.msg.get("Content-Type") or ""
    unsafe = bool(ctype) and "text/plain" not in ctype.lower()
    report = report_text(result, ctx, unsafe=unsafe)
    kind = "message/rfc822" if cf.report_safe == 1 else "text/plain"
    new += (f"MIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"This is a multi-part message in MIME format.\n\n"
            f"--{boundary}\n"
            f"Content-Type: text/plain; charset={cf.report_charset}\n"
            f"Content-Disposition: inline\n"
            f"Content-Transfer-Encoding: 8bit\n\n"
            f"{report}\n\n"           # SpamAssassin's template: the report line, then a blank line
            f"--{boundary}\n"
            f"Content-Type: {kind}; x-spam-type=original\n"
            f"Content-Description: {cf.encapsulated_content_description}\n"
            f"Content-Disposition: {'attachment' if unsafe else 'inline'}\n"
            f"Content-Transfer-Encoding: 8bit\n\n")
    return new, f"\n--{boundary}--\n\n"


def rewrite(result: Result, ctx: Optional[ReportContext] = None) -> bytes:
    """The message as SpamAssassin passes it on (see the module docstring).

    Line endings follow the input: a CRLF message comes back CRLF (only the
    lines written here are converted; the body is never touched). An mbox
    ``From `` line stays in front.
    """
    ctx = ctx or ReportContext()
    p = split_pristine(result.view.raw)

    def out(text: str) -> bytes:          # our own lines take the message's line ending
        data = text.encode("utf-8", "surrogateescape")
        return data.replace(b"\n", b"\r\n") if p.crlf else data

    if result.is_spam and result.config.report_safe in (1, 2):
        original = p.original
        before, after = _report_safe(result, ctx, p.head_text, original.decode("utf-8", "surrogateescape"))
        return p.mbox + out(before) + original + out(after)
    # the body goes out byte for byte (SpamAssassin bug 5250: never touch 8-bit parts)
    return p.mbox + out(_no_report_safe(result, ctx, p.head_text)) + p.separator + p.body
