"""mbox folders (``/var/mail/alice``), read and changed under the mbox locks.

An mbox is one file of messages, each after a ``From `` line.  The system
INBOX is shared with the delivery agent, so every access holds the same
locks Postfix's ``local`` takes (``mailbox_delivery_lock = fcntl, dotlock``):
the standard library's :meth:`mailbox.mbox.lock` takes both.

Flags live in ``Status:``/``X-Status:`` headers (R = \\Seen, A = \\Answered,
F = \\Flagged, D = \\Deleted, T = \\Draft); those headers are hidden from
clients as Dovecot hides them.  Uids are kept in a ``dovecot-uidlist``
under ``<root>/.imap/<folder>/`` keyed by a digest of the message.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> f = MboxFolder(d / "alice", "INBOX", d / ".imap/INBOX")
>>> f.append(b"Subject: hi\\n\\nhello\\n")
1
>>> f.read(1)
b'Subject: hi\\n\\nhello\\n'
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import mailbox
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from .base import (ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, Folder, FolderExists, UidListFolder,
                   FolderLock, MailboxLocked, MessageInfo, NoSuchFolder, NoSuchMessage, Store,
                   StoreError)
from .locking import SessionLock, dotlock
from .uidlist import UIDLIST_NAME, UidList

__all__ = ["MboxFolder", "MboxStore"]

_HIDDEN = (b"status:", b"x-status:", b"x-uid:", b"x-imapbase:", b"x-keywords:",
           b"content-length:")
_STATUS = {SEEN: "R", DELETED: "D"}
_XSTATUS = {ANSWERED: "A", FLAGGED: "F", DRAFT: "T"}


def _strip_internal(data: bytes) -> bytes:
    """Drop the mbox bookkeeping headers (and their continuation lines)."""
    head, sep, body = data.partition(b"\n\n")
    out, skipping = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                out.append(line)
            continue
        skipping = line.lower().startswith(_HIDDEN)
        if not skipping:
            out.append(line)
    return b"\n".join(out) + sep + body


def _with_status(raw: bytes, status: str, xstatus: str) -> bytes:
    """*raw* (From_ line included) with new Status/X-Status headers."""
    head, sep, body = raw.partition(b"\n\n")
    lines = [ln for ln in head.split(b"\n")
             if not ln.lower().startswith((b"status:", b"x-status:"))]
    lines.append(b"Status: " + status.encode())
    if xstatus:
        lines.append(b"X-Status: " + xstatus.encode())
    return b"\n".join(lines) + (sep or b"\n\n") + body


def _crlf_size(data: bytes) -> int:
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


class MboxFolder(UidListFolder):
    """One mbox file as a :class:`Folder`."""

    def __init__(self, path: Path, name: str, index_dir: Path,
                 now: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.name = name
        self.index_dir = Path(index_dir)
        self._now = now
        self._mutex = threading.RLock()
        self._keys: Dict[int, str] = {}       # uid -> mailbox.mbox key
        self._list: Optional[UidList] = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch()

    def path_key(self) -> str:
        return str(self.path.resolve())

    def _open(self) -> mailbox.mbox:
        return mailbox.mbox(str(self.path), create=True)

    def _sync(self, box: mailbox.mbox) -> List[Tuple[int, str, bytes, mailbox.mboxMessage]]:
        """Under the caller's lock: uids for every message, in file order."""
        ul_path = self.index_dir / UIDLIST_NAME
        with dotlock(ul_path):
            ul = UidList.load(ul_path)
            if ul is None:
                stamp = int(self._now())
                ul = UidList(uidvalidity=stamp, guid=f"{stamp:08x}")
            by_digest = ul.by_base()
            rows, seen_digests = [], set()
            for key in box.keys():
                msg = box.get_message(key)
                raw = _strip_internal(box.get_bytes(key))
                digest = hashlib.sha1(raw).hexdigest()
                n = 0
                while f"{digest}-{n}" in seen_digests:
                    n += 1
                ident = f"{digest}-{n}"
                seen_digests.add(ident)
                uid = by_digest.get(ident)
                if uid is None:
                    uid = ul.add(ident)
                rows.append((uid, key, raw, msg))
            for uid in [u for u, b in ul.records.items() if b not in seen_digests]:
                del ul.records[uid]
            ul.save(ul_path)
        self._list = ul
        self._keys = {uid: key for uid, key, _, _ in rows}
        return sorted(rows, key=lambda r: r[0])

    def _locked(self) -> "_Locked":
        return _Locked(self)

    def messages(self) -> List[MessageInfo]:
        with self._locked() as box:
            rows = self._sync(box)
        out = []
        for uid, key, raw, msg in rows:
            flags = set()
            status, xstatus = msg.get("Status", ""), msg.get("X-Status", "")
            for flag, ch in _STATUS.items():
                if ch in status:
                    flags.add(flag)
            for flag, ch in _XSTATUS.items():
                if ch in xstatus:
                    flags.add(flag)
            when = None
            from_line = msg.get_from()
            parts = from_line.split(None, 1)
            if len(parts) == 2:
                try:
                    when = _dt.datetime.strptime(parts[1].strip(), "%a %b %d %H:%M:%S %Y") \
                        .replace(tzinfo=_dt.timezone.utc)
                except ValueError:
                    when = None
            out.append(MessageInfo(uid=uid, key=str(key), size=len(raw), vsize=_crlf_size(raw),
                                   flags=frozenset(flags), internaldate=when,
                                   recent="O" not in status))
        return out

    def read(self, uid: int) -> bytes:
        with self._locked() as box:
            for u, key, raw, _ in self._sync(box):
                if u == uid:
                    return raw
        raise NoSuchMessage(f"{self.name}: no message with uid {uid}")

    def set_flags(self, uid: int, flags: Iterable[str]) -> MessageInfo:
        flags = frozenset(flags)
        with self._locked() as box:
            self._sync(box)
            if uid not in self._keys:
                raise NoSuchMessage(f"{self.name}: no message with uid {uid}")
            status = "".join(ch for f, ch in _STATUS.items() if f in flags) + "O"
            xstatus = "".join(ch for f, ch in _XSTATUS.items() if f in flags)
            self._rewrite(box, {self._keys[uid]: (status, xstatus)})
        self.notify_changed()
        return self.info(uid)

    def _rewrite(self, box: mailbox.mbox, changes: Dict[str, Optional[Tuple[str, str]]]) -> None:
        """Rewrite the file in place (same inode) under the held locks.

        *changes* maps a key to None (remove it) or to new Status/X-Status
        values.  The standard library would write a new file and rename it,
        which would make a delivery agent that already opened the old file
        append to a file nobody reads any more; Dovecot rewrites in place too.
        """
        parts = []
        for key in box.keys():
            raw = box.get_bytes(key, from_=True)
            if key in changes:
                change = changes[key]
                if change is None:
                    continue
                raw = _with_status(raw, *change)
            if not raw.endswith(b"\n"):
                raw += b"\n"
            parts.append(raw + b"\n")       # the blank line before the next From_
        blob = b"".join(parts)
        with open(self.path, "r+b") as fh:
            fh.write(blob)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, data: bytes, flags: Iterable[str] = (),
               internaldate: Optional[_dt.datetime] = None) -> int:
        data = data.replace(b"\r\n", b"\n")
        msg = mailbox.mboxMessage(data)
        when = internaldate or _dt.datetime.fromtimestamp(self._now(), _dt.timezone.utc)
        msg.set_from("MAILER-DAEMON", time.gmtime(when.timestamp()))
        letters = "".join(ch for f, ch in {**_STATUS, **_XSTATUS}.items() if f in set(flags))
        if letters:
            msg.set_flags(letters)
        with self._locked() as box:
            box.add(msg)
            box.flush()
            rows = self._sync(box)
        self.notify_changed()
        digest = hashlib.sha1(_strip_internal(data)).hexdigest()
        assert self._list is not None
        matches = [u for u, b in self._list.records.items() if b.startswith(digest + "-")]
        return max(matches) if matches else rows[-1][0]

    def expunge(self, uids: Iterable[int]) -> List[int]:
        wanted = set(uids)
        with self._locked() as box:
            self._sync(box)
            removed = sorted(u for u in wanted if u in self._keys)
            if removed:
                self._rewrite(box, {self._keys[u]: None for u in removed})
        if removed:
            self.notify_changed()
        return removed

    def lock(self, owner: str = "") -> FolderLock:
        lock = SessionLock(self.index_dir / "dovecot.pop3-session.lock")
        return FolderLock(lock.release)


class _Locked:
    """``with`` block holding the mbox (fcntl + dotlock) and the folder mutex."""

    def __init__(self, folder: MboxFolder) -> None:
        self.folder = folder
        self.box: Optional[mailbox.mbox] = None

    def __enter__(self) -> mailbox.mbox:
        self.folder._mutex.acquire()
        try:
            self.box = self.folder._open()
            # lockf + dotlock; another holder makes the standard library raise
            # at once, so wait (bounded) as a delivery agent would
            deadline = time.monotonic() + 10
            while True:
                try:
                    self.box.lock()
                    break
                except (mailbox.ExternalClashError, BlockingIOError, PermissionError):
                    if time.monotonic() > deadline:
                        raise MailboxLocked(f"{self.folder.path} stays locked") from None
                    time.sleep(0.01)
        except BaseException:
            if self.box is not None:
                self.box.close()
            self.folder._mutex.release()
            raise
        return self.box

    def __exit__(self, *exc: object) -> None:
        try:
            assert self.box is not None
            self.box.unlock()
            self.box.close()
        finally:
            self.folder._mutex.release()


class MboxStore(Store):
    """Folders as mbox files under *root*; INBOX optionally elsewhere (the spool)."""

    def __init__(self, root: Path, *, inbox: Optional[Path] = None,
                 now: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.inbox_path = Path(inbox) if inbox else self.root / "inbox"
        self._now = now

    def _file(self, name: str) -> Path:
        name = self.normalize(name)
        return self.inbox_path if name == "INBOX" else self.root / name.replace(".", "/")

    def list_folders(self) -> List[str]:
        names = []
        for p in sorted(self.root.rglob("*")):
            rel = p.relative_to(self.root)
            if p.is_file() and not any(part.startswith(".") for part in rel.parts) \
                    and p != self.inbox_path:
                names.append(".".join(rel.parts))
        return ["INBOX"] + names

    def folder(self, name: str) -> Folder:
        name = self.normalize(name)
        path = self._file(name)
        if name != "INBOX" and not path.is_file():
            raise NoSuchFolder(f"no folder named {name!r}")
        return MboxFolder(path, name, self.root / ".imap" / name, now=self._now)

    def create_folder(self, name: str) -> Folder:
        name = self.normalize(name)
        if name == "INBOX" or self._file(name).exists():
            raise FolderExists(f"folder {name!r} already exists")
        self._file(name).parent.mkdir(parents=True, exist_ok=True)
        self._file(name).touch()
        return self.folder(name)

    def delete_folder(self, name: str) -> None:
        name = self.normalize(name)
        if name == "INBOX":
            raise StoreError("INBOX cannot be deleted")
        if not self._file(name).is_file():
            raise NoSuchFolder(f"no folder named {name!r}")
        self._file(name).unlink()
        shutil.rmtree(self.root / ".imap" / name, ignore_errors=True)

    def rename_folder(self, old: str, new: str) -> None:
        old, new = self.normalize(old), self.normalize(new)
        if old == "INBOX":
            raise StoreError("renaming an mbox INBOX is not supported in the lab")
        if not self._file(old).is_file():
            raise NoSuchFolder(f"no folder named {old!r}")
        if self._file(new).exists():
            raise FolderExists(f"folder {new!r} already exists")
        self._file(new).parent.mkdir(parents=True, exist_ok=True)
        os.rename(self._file(old), self._file(new))
        if (self.root / ".imap" / old).exists():
            os.rename(self.root / ".imap" / old, self.root / ".imap" / new)
