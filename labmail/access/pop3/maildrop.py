"""A POP3 session's view of a mailbox: numbered messages fixed at login.

RFC 1939 section 5: messages are numbered 1..n when the session enters
TRANSACTION and keep their numbers until it ends; sizes are "exact" octet
counts as transmitted (CRLF line ends).  UIDL uses Dovecot's default
``pop3_uidl_format = %08Xu%08Xv`` (uid and UIDVALIDITY in hex), so the ids
are the same the IMAP server's UIDs are built from.

>>> import tempfile, pathlib
>>> from labmail.store import MaildirStore
>>> folder = MaildirStore(pathlib.Path(tempfile.mkdtemp()) / "Maildir").folder("INBOX")
>>> folder.append(b"Subject: hi\\n\\n.hidden\\n")
1
>>> drop = Maildrop(folder)
>>> drop.count, drop.wire_bytes(1)
(1, b'Subject: hi\\r\\n\\r\\n..hidden\\r\\n')
"""
from __future__ import annotations

import re
from typing import Iterable, List, Optional, Set

from ...store import SEEN, Folder, FolderLock, MessageInfo

__all__ = ["Maildrop", "format_uidl", "to_wire", "top_of"]

_UIDL_VAR = re.compile(r"%(0?\d*)([xX]?)([uvmfg%])")


def format_uidl(fmt: str, uid: int, uidvalidity: int, key: str = "") -> str:
    """Expand a ``pop3_uidl_format`` for one message.

    >>> format_uidl("%08Xu%08Xv", 1, 0x6b0a1a83)
    '000000016b0a1a83'
    """
    def sub(m: "re.Match[str]") -> str:
        width, hexa, var = m.groups()
        if var == "%":
            return "%"
        if var in "mfg":
            return key
        value = uid if var == "u" else uidvalidity
        # Dovecot's X modifier prints lower-case hex (seen on the wire)
        spec = f"{width}x" if hexa else f"{width}d"
        return format(value, spec)
    return _UIDL_VAR.sub(sub, fmt)


def to_wire(data: bytes) -> bytes:
    """Message bytes as sent after +OK: CRLF ends, dot-stuffed (RFC 1939 section 3).

    The terminating ``.CRLF`` is not included.

    >>> to_wire(b".a\\nb")
    b'..a\\r\\nb\\r\\n'
    """
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


def top_of(data: bytes, lines: int) -> bytes:
    """The header, the blank line, and the first *lines* body lines (RFC 1939 TOP)."""
    data = data.replace(b"\r\n", b"\n")
    if data.startswith(b"\n"):
        head, body = b"\n", data[1:]
    else:
        head, sep, body = data.partition(b"\n\n")
        if not sep:
            return data
        head += b"\n\n"
    if lines <= 0:
        return head
    parts = body.split(b"\n")
    if body.endswith(b"\n"):
        parts = parts[:-1]
    kept = parts[:lines]
    return head + b"\n".join(kept) + (b"\n" if kept else b"")


class Maildrop:
    """The messages of one POP3 session, their deletion marks and counters."""

    def __init__(self, folder: Folder, lock: Optional[FolderLock] = None,
                 uidl_format: str = "%08Xu%08Xv") -> None:
        self.folder = folder
        self.lock = lock
        self.uidl_format = uidl_format
        self.messages: List[MessageInfo] = folder.messages()
        self.uidvalidity = folder.uidvalidity
        self.deleted: Set[int] = set()
        self.retrieved: Set[int] = set()
        #: counters for Dovecot's logout line (pop3_logout_format)
        self.top_count = self.top_bytes = self.retr_count = self.retr_bytes = 0
        self.initial_count = len(self.messages)
        self.initial_size = sum(m.vsize for m in self.messages)

    @property
    def count(self) -> int:
        """Messages not marked deleted."""
        return len(self.messages) - len(self.deleted)

    @property
    def size(self) -> int:
        """Octets of the messages not marked deleted."""
        return sum(m.vsize for i, m in enumerate(self.messages, 1) if i not in self.deleted)

    def exists(self, n: int) -> bool:
        return 1 <= n <= len(self.messages)

    def info(self, n: int) -> MessageInfo:
        return self.messages[n - 1]

    def uidl(self, n: int) -> str:
        m = self.messages[n - 1]
        return format_uidl(self.uidl_format, m.uid, self.uidvalidity, m.key)

    def wire_bytes(self, n: int) -> bytes:
        """Message *n* dot-stuffed with CRLF ends (no terminator)."""
        return to_wire(self.folder.read(self.messages[n - 1].uid))

    def top_bytes_of(self, n: int, lines: int) -> bytes:
        return to_wire(top_of(self.folder.read(self.messages[n - 1].uid), lines))

    def numbers(self) -> Iterable[int]:
        """Message numbers not marked deleted."""
        return (i for i in range(1, len(self.messages) + 1) if i not in self.deleted)

    def commit(self) -> int:
        """UPDATE state: remove marked messages, mark retrieved ones \\Seen.

        Returns the number removed.  (Dovecot sets \\Seen on retrieved mail
        unless ``pop3_no_flag_updates = yes``.)
        """
        uids = [self.messages[n - 1].uid for n in sorted(self.deleted)]
        removed = self.folder.expunge(uids) if uids else []
        for n in sorted(self.retrieved - self.deleted):
            m = self.messages[n - 1]
            if SEEN not in m.flags:
                try:
                    self.folder.add_flags(m.uid, {SEEN})
                except Exception:   # gone meanwhile (another client expunged it)
                    continue
        return len(removed)

    def release(self) -> None:
        """Give up the maildrop lock (idempotent)."""
        if self.lock is not None:
            self.lock.release()
