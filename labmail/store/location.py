"""Dovecot's ``mail_location``: where a user's mail lives and in what format.

``maildir:~/Maildir`` — Maildir++ under the home directory (the lab's default,
matching Postfix's ``home_mailbox = Maildir/``);
``mbox:~/mail:INBOX=/var/mail/%u`` — folders as mbox files in ``~/mail``
and INBOX in the system spool that Postfix's ``local`` appends to.

>>> parse_mail_location("mbox:~/mail:INBOX=/var/mail/%u", user="alice", home="/home/alice")
MailLocation(format='mbox', root='/home/alice/mail', inbox='/var/mail/alice')
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .base import Store, StoreError
from .maildir import MaildirStore
from .mbox import MboxStore

__all__ = ["MailLocation", "parse_mail_location", "open_store", "expand_vars"]


@dataclass(frozen=True)
class MailLocation:
    """A parsed ``mail_location`` with variables expanded (virtual paths)."""

    format: str
    root: str
    inbox: Optional[str] = None


def expand_vars(text: str, user: str, home: str) -> str:
    """Expand ``~``, ``%u``, ``%n``, ``%d``, ``%h`` and ``%%`` as Dovecot does."""
    local, _, domain = user.partition("@")
    table = {"u": user, "n": local, "d": domain, "h": home, "%": "%"}
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and i + 1 < len(text) and text[i + 1] in table:
            out.append(table[text[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    s = "".join(out)
    if s.startswith("~/") or s == "~":
        s = home.rstrip("/") + s[1:]
    return s


def parse_mail_location(value: str, *, user: str, home: str) -> MailLocation:
    """Split ``format:root[:KEY=VALUE...]``; raises StoreError when unusable."""
    fmt, sep, rest = value.partition(":")
    fmt = fmt.strip().lower()
    if not sep or fmt not in ("maildir", "mbox"):
        raise StoreError(f"mail_location {value!r}: the lab knows the formats maildir: and mbox:")
    parts = rest.split(":")
    root = expand_vars(parts[0], user, home)
    inbox = None
    for p in parts[1:]:
        key, _, val = p.partition("=")
        if key.upper() == "INBOX":
            inbox = expand_vars(val, user, home)
    return MailLocation(fmt, root, inbox)


def open_store(value: str, *, user: str, home: str,
               map_path: Callable[[str], Path] = Path,
               now: Callable[[], float] = time.time, hostname: str = "") -> Store:
    """Open *user*'s store for a ``mail_location`` value.

    *home* is the path as the user sees it (``/home/alice``); *map_path*
    turns such a path into the real one (a lab host's ``host.path``).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> s = open_store("maildir:~/Maildir", user="alice", home="/home/alice",
    ...                map_path=lambda p: d / p.lstrip("/"))
    >>> s.root == d / "home/alice/Maildir"
    True
    """
    loc = parse_mail_location(value, user=user, home=home)
    if loc.format == "maildir":
        return MaildirStore(map_path(loc.root), now=now, hostname=hostname)
    inbox = map_path(loc.inbox) if loc.inbox else None
    return MboxStore(map_path(loc.root), inbox=inbox, now=now)
