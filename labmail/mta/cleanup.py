"""What Postfix's ``cleanup(8)`` does to a message before it is queued.

* prepends the ``Received:`` trace header (RFC 5321 §4.4) in Postfix's shape::

      Received: from laptop (localhost [127.0.0.1])
              by mail.example.com (labmail) with ESMTP id 3F1A22C0E4B
              for <alice@example.com>; Fri, 27 Nov 2026 09:00:00 +0000 (UTC)

* adds ``Message-Id:``, ``Date:`` and ``From:`` when they are missing and the
  client is one whose headers Postfix rewrites (``local_header_rewrite_clients``,
  by default the machine's own clients) — RFC 5322 §3.6 requires ``Date`` and
  ``From``.

>>> import datetime as dt
>>> when = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc)
>>> print(received_header(helo="laptop", client_name="localhost", client_ip="127.0.0.1",
...       myhostname="mail.example.com", mail_name="labmail", protocol="ESMTP",
...       queue_id="3F1A22C0E4B", recipients=["alice@example.com"], when=when).decode(), end="")
Received: from laptop (localhost [127.0.0.1])
	by mail.example.com (labmail) with ESMTP id 3F1A22C0E4B
	for <alice@example.com>; Fri, 27 Nov 2026 09:00:00 +0000 (UTC)
"""
from __future__ import annotations

import datetime as _dt
import email.utils
import re
from typing import Iterator, List, Optional, Sequence

__all__ = ["received_header", "rfc2822_date", "add_missing_headers", "header_names",
           "header_lines", "message_id"]

_HEADER_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


_last_date: tuple = (None, None, "")     # (second, tzinfo, text): cleanup asks twice a message


def rfc2822_date(when: _dt.datetime) -> str:
    """A date as Postfix writes it: ``Fri, 27 Nov 2026 09:00:00 +0000 (UTC)``."""
    global _last_date
    second, tz = when.replace(microsecond=0), when.tzinfo
    last = _last_date
    if last[1] is tz and tz is not None and last[0] == second:
        return last[2]
    base = email.utils.format_datetime(when)
    zone = when.tzname() or "UTC"
    text = f"{base} ({zone})"
    _last_date = (second, tz, text)
    return text


def received_header(*, helo: Optional[str], client_name: str, client_ip: str,
                    myhostname: str, mail_name: str, protocol: str, queue_id: str,
                    recipients: Sequence[str], when: _dt.datetime,
                    tls: Optional[str] = None) -> bytes:
    """The ``Received:`` header smtpd/cleanup prepend (folded as Postfix folds it)."""
    helo_part = helo if helo else client_name
    lines = [f"Received: from {helo_part} ({client_name} [{client_ip}])"]
    if tls:
        lines.append(f"\t({tls})")
    lines.append(f"\tby {myhostname} ({mail_name}) with {protocol} id {queue_id}")
    tail = f"; {rfc2822_date(when)}"
    if len(recipients) == 1:
        lines.append(f"\tfor <{recipients[0]}>{tail}")
    else:
        lines[-1] += tail
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def header_lines(content: bytes) -> Iterator[bytes]:
    """The header's lines (CR/LF stripped), up to the first empty line; the
    body is never split (it is most of a message).

    >>> list(header_lines(b"A: 1\\r\\n b\\r\\n\\r\\nbody\\r\\n"))
    [b'A: 1', b' b']
    """
    pos, end = 0, len(content)
    while pos < end:
        nl = content.find(b"\n", pos)
        if nl < 0:
            nl = end
        line = content[pos:nl].rstrip(b"\r")
        if not line:
            return
        yield line
        pos = nl + 1


def header_names(content: bytes) -> List[str]:
    """The (lower-case) names of the message's top-level header fields."""
    names = []
    for line in header_lines(content):
        if line[:1] in (b" ", b"\t"):
            continue
        m = _HEADER_NAME.match(line)
        if m:
            names.append(m.group(1).decode("ascii", "replace").lower())
    return names


def message_id(queue_id: str, myhostname: str, when: _dt.datetime) -> str:
    """A Message-ID in Postfix's style: ``<20261127090000.3F1A22C0E4B@mail.example.com>``."""
    return f"<{when:%Y%m%d%H%M%S}.{queue_id}@{myhostname}>"


def add_missing_headers(content: bytes, *, queue_id: str, myhostname: str,
                        sender: str, when: _dt.datetime) -> bytes:
    """Append missing ``Message-Id``, ``Date`` and ``From`` at the end of the header."""
    listed = header_names(content)
    names = set(listed)
    extra = []
    if "message-id" not in names:
        extra.append(f"Message-Id: {message_id(queue_id, myhostname, when)}")
    if "date" not in names:
        extra.append(f"Date: {rfc2822_date(when)}")
    if "from" not in names:
        extra.append(f"From: {sender or 'MAILER-DAEMON'}")
    if not extra:
        return content
    add = ("\r\n".join(extra) + "\r\n").encode("utf-8")
    if content.startswith((b"\r\n", b"\n")) or not listed:
        return add + (content if content.startswith((b"\r\n", b"\n")) else b"\r\n" + content)
    # find the end of the header (first empty line)
    m = re.search(rb"\r?\n\r?\n", content)
    if m is None:
        if content and not content.endswith(b"\n"):
            content += b"\r\n"
        return content + add
    cut = m.start() + (2 if content[m.start():m.start() + 2] == b"\r\n" else 1)
    return content[:cut] + add + content[cut:]
