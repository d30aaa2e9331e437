"""Maildir++ storage with Dovecot's uid lists and keyword letters.

Layout (``mail_location = maildir:~/Maildir``)::

    ~/Maildir/{tmp,new,cur}/            INBOX
    ~/Maildir/dovecot-uidlist           INBOX's uids (see uidlist.py)
    ~/Maildir/dovecot-keywords          keyword letters: "0 $Junk" -> 'a'
    ~/Maildir/.Sent/{tmp,new,cur}/      folder "Sent" (Maildir++)
    ~/Maildir/.Lists.python/            folder "Lists.python"
    ~/Maildir/subscriptions             IMAP subscriptions, one per line

A file name is ``<base>:2,<info>``: ``base`` is unique and stable (Dovecot
adds ``,S=<size>,W=<crlf size>``), ``info`` holds the flag letters ``DFRST``
then keyword letters ``a``-``z`` in ASCII order.

>>> import tempfile
>>> store = MaildirStore(Path(tempfile.mkdtemp()) / "Maildir")
>>> inbox = store.folder("INBOX")
>>> inbox.append(b"Subject: hi\\n\\nhello\\n")
1
>>> m = inbox.messages()[0]
>>> (m.uid, m.size, m.vsize, sorted(m.flags))
(1, 19, 22, [])
>>> from labmail.store import SEEN
>>> sorted(inbox.set_flags(1, {SEEN, "$Junk"}).flags)
['$Junk', '\\\\Seen']
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import itertools
import logging
import mailbox
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from .base import (MAILDIR_FLAG_LETTERS, Folder, UidListFolder, FolderExists, FolderLock,
                   MailboxLocked, MessageInfo, NoSuchFolder, NoSuchMessage, Store, StoreError)
from .locking import SessionLock, dotlock
from .uidlist import UIDLIST_NAME, UidList

__all__ = ["MaildirFolder", "MaildirStore"]

logger = logging.getLogger(__name__)

#: seconds a sync waits for ``dovecot-uidlist.lock`` (Dovecot waits up to about
#: two minutes, telling the client every 30 s; the lab keeps it short)
LOCK_TIMEOUT = 10.0

_LETTER_FLAG = {v: k for k, v in MAILDIR_FLAG_LETTERS.items()}
_KEYWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_seq = itertools.count(1)


def _crlf_size(data: bytes) -> int:
    """Size once every bare LF is sent as CRLF (RFC 1939 section 5 sizes)."""
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def _split_name(name: str) -> Tuple[str, str]:
    base, _, info = name.partition(":")
    return base, info[2:] if info.startswith("2,") else ""


def _name_field(base: str, key: str) -> Optional[int]:
    for part in base.split(",")[1:]:
        if part.startswith(key + "=") and part[2:].isdigit():
            return int(part[2:])
    return None


def _read_file(path: str, limit: int = -1) -> bytes:
    """A file's bytes (the first *limit* of them unless -1).

    Plain ``os.read`` calls: a first FETCH ENVELOPE opens every message of
    a folder, and a buffered file object costs twice the system calls.
    """
    if limit < 0:
        with open(path, "rb") as fh:
            return fh.read()
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, limit)   # a regular file reads short only at its end
    finally:
        os.close(fd)


class MaildirFolder(UidListFolder):
    """One Maildir (INBOX or a ``.Folder``) with a ``dovecot-uidlist``."""

    def __init__(self, path: Path, name: str, *, keywords_file: Path,
                 now: Callable[[], float] = time.time, hostname: str = "") -> None:
        self.path = Path(path)
        self.name = name
        self._keywords_file = keywords_file
        self._now = now
        self._hostname = hostname or socket.gethostname().split(".")[0]
        self._uidlist_path = self.path / UIDLIST_NAME
        self._mutex = threading.RLock()
        self._files: Dict[int, Tuple[str, str]] = {}   # uid -> (subdir, file name)
        self._infos: Dict[int, MessageInfo] = {}        # uid -> info at the last scan
        self._key: Optional[str] = None
        self._list: Optional[UidList] = None
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def path_key(self) -> str:
        if self._key is None:       # resolved once: flag changes notify often
            self._key = os.path.realpath(self.path)
        return self._key

    # -- uids ------------------------------------------------------------------
    def _new_uidlist(self) -> UidList:
        stamp = int(self._now())
        return UidList(uidvalidity=stamp, next_uid=1, guid=f"{stamp:08x}{next(_seq):08x}")

    def _scan(self) -> Dict[str, Tuple[str, str]]:
        found: Dict[str, Tuple[str, str]] = {}
        for sub in ("new", "cur"):
            with os.scandir(self.path / sub) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    base, _ = _split_name(entry.name)
                    found[base] = (sub, entry.name)
        return found

    def messages(self) -> List[MessageInfo]:
        """Sync with the disk under the uidlist lock; list messages by uid."""
        with self._mutex:
            incomplete = False
            found = self._scan()
            current = UidList.load(self._uidlist_path)
            known = current.by_base() if current else {}
            fresh = sorted(b for b in found if b not in known)
            gone = [u for u, b in (current.records.items() if current else ()) if b not in found]
            if current is None or fresh or gone:
                try:
                    with dotlock(self._uidlist_path, timeout=LOCK_TIMEOUT):
                        # re-read under the lock: another session may have synced
                        current = UidList.load(self._uidlist_path) or self._new_uidlist()
                        found = self._scan()
                        known = current.by_base()
                        for uid in [u for u, b in current.records.items() if b not in found]:
                            del current.records[uid]
                            current.vsizes.pop(uid, None)
                        fresh = [b for b in found if b not in known]
                        for base in sorted(fresh, key=lambda b: self._arrival_key(b, found[b])):
                            current.add(base, _name_field(base, "W"))
                        current.save(self._uidlist_path)
                except MailboxLocked:
                    if current is None:
                        raise
                    incomplete = True
                    # Dovecot's way when the uidlist lock times out: the command
                    # goes on with the uids already assigned; new files get theirs
                    # at a later sync (its SELECT still answers OK)
                    logger.warning("%s: timeout while waiting for lock; new mail not "
                                   "seen yet", self._uidlist_path)
            self._list = current
            by_base = current.by_base()
            self._files = {by_base[b]: loc for b, loc in found.items() if b in by_base}
            letters = self._keyword_letters()
            out = []
            vsize_missing = False
            for uid in sorted(self._files):
                sub, fname = self._files[uid]
                base, info = _split_name(fname)
                full = self.path / sub / fname
                try:
                    st = full.stat()
                except FileNotFoundError:   # renamed by another session meanwhile
                    continue
                vsize = current.vsizes.get(uid) or _name_field(base, "W")
                if vsize is None:
                    vsize = _crlf_size(full.read_bytes())
                    current.vsizes[uid] = vsize
                    vsize_missing = True
                flags = set()
                for ch in info:
                    if ch in _LETTER_FLAG:
                        flags.add(_LETTER_FLAG[ch])
                    elif ch in letters:
                        flags.add(letters[ch])
                out.append(MessageInfo(
                    uid=uid, key=base, size=st.st_size, vsize=vsize,
                    flags=frozenset(flags), recent=(sub == "new"),
                    internaldate=_dt.datetime.fromtimestamp(st.st_mtime, _dt.timezone.utc)))
            self._infos = {m.uid: m for m in out}
            #: files are waiting for uids (the lock was busy): the next call must rescan
            self.incomplete = incomplete
            if vsize_missing:
                # cache sizes (Dovecot's W field) so LIST stays cheap; only worth it
                # when nobody else holds the lock
                with contextlib.suppress(MailboxLocked), \
                        dotlock(self._uidlist_path, timeout=0.05):
                    latest = UidList.load(self._uidlist_path)
                    if latest is not None and latest.uidvalidity == current.uidvalidity:
                        for u, v in current.vsizes.items():
                            if u in latest.records:
                                latest.vsizes.setdefault(u, v)
                        latest.save(self._uidlist_path)
            return out

    def _arrival_key(self, base: str, loc: Tuple[str, str]) -> Tuple[int, int, int, str]:
        """Order new files as Dovecot does (name's seconds, then microseconds),
        and when those tie (a lab clock standing still) by when the file arrived."""
        secs_s, _, rest = base.partition(".")
        secs = int(secs_s) if secs_s.isdigit() else 0
        usec = 0
        m = rest.find("M")
        if m >= 0:
            digits = rest[m + 1:m + 1 + len(rest)]
            n = len(digits) - len(digits.lstrip("0123456789"))
            usec = int(digits[:n]) if n else 0
        try:
            mtime = (self.path / loc[0] / loc[1]).stat().st_mtime_ns
        except FileNotFoundError:
            mtime = 0
        return (secs, usec, mtime, base)

    def _locate(self, uid: int) -> Path:
        loc = self._files.get(uid)
        if loc is not None:
            p = self.path / loc[0] / loc[1]
            if p.exists():
                return p
        self.messages()
        loc = self._files.get(uid)
        if loc is None:
            raise NoSuchMessage(f"{self.name}: no message with uid {uid}")
        return self.path / loc[0] / loc[1]

    def read(self, uid: int, limit: int = -1) -> bytes:
        """The message's bytes (only the first *limit* when it is not -1:
        enough for its header, without reading a large body)."""
        with self._mutex:
            for _ in range(3):    # the file may be renamed (flag change) meanwhile
                loc = self._files.get(uid)
                if loc is None:
                    self.messages()
                    loc = self._files.get(uid)
                    if loc is None:
                        raise NoSuchMessage(f"{self.name}: no message with uid {uid}")
                try:
                    return _read_file(os.path.join(self.path, loc[0], loc[1]), limit)
                except FileNotFoundError:
                    self._files.pop(uid, None)
        raise NoSuchMessage(f"{self.name}: uid {uid} vanished")

    def info(self, uid: int) -> MessageInfo:
        """The message's info (from the last scan while its file is unchanged)."""
        with self._mutex:
            known, loc = self._infos.get(uid), self._files.get(uid)
            if known is not None and loc is not None and (self.path / loc[0] / loc[1]).exists():
                return known
            self.messages()
            if uid not in self._infos:
                raise NoSuchMessage(f"{self.name}: no message with uid {uid}")
            return self._infos[uid]

    def filename(self, uid: int) -> Path:
        """The message's current file (for lessons that ``cat`` it)."""
        with self._mutex:
            return self._locate(uid)

    # -- keywords (Dovecot's dovecot-keywords file) ----------------------------
    def _keyword_table(self) -> List[str]:
        try:
            lines = self._keywords_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        table: Dict[int, str] = {}
        for line in lines:
            idx, _, word = line.partition(" ")
            if idx.isdigit() and word:
                table[int(idx)] = word
        return [table[i] for i in sorted(table) if i < len(_KEYWORD_LETTERS)]

    def _keyword_letters(self) -> Dict[str, str]:
        return {_KEYWORD_LETTERS[i]: w for i, w in enumerate(self._keyword_table())}

    def keywords(self) -> List[str]:
        return self._keyword_table()

    def add_keywords(self, words: Iterable[str]) -> None:
        """Give keywords new to this folder their letters, in the order given
        (Dovecot lists a folder's keywords in the order they were first used)."""
        with self._mutex:
            table = self._keyword_table()
            added = [w for w in dict.fromkeys(words)
                     if w not in table and not w.startswith("\\")]
            if added:
                self._save_keywords(table + added)

    def _save_keywords(self, table: List[str]) -> None:
        if len(table) > len(_KEYWORD_LETTERS):
            raise StoreError("Maildir keeps at most 26 keywords per mailbox")
        tmp = self._keywords_file.with_name(self._keywords_file.name + ".tmp")
        tmp.write_text("".join(f"{i} {w}\n" for i, w in enumerate(table)), encoding="utf-8")
        os.replace(tmp, self._keywords_file)

    def _letters_for(self, flags: Iterable[str]) -> str:
        system = "".join(sorted(MAILDIR_FLAG_LETTERS[f] for f in flags if f in MAILDIR_FLAG_LETTERS))
        words = [f for f in flags if f not in MAILDIR_FLAG_LETTERS and not f.startswith("\\")]
        if not words:
            return system
        table = self._keyword_table()
        added = [w for w in sorted(set(words)) if w not in table]
        if added:
            table.extend(added)
            self._save_keywords(table)
        return system + "".join(sorted(_KEYWORD_LETTERS[table.index(w)] for w in set(words)))

    # -- changes ----------------------------------------------------------------
    def set_flags(self, uid: int, flags: Iterable[str]) -> MessageInfo:
        flags = frozenset(flags)
        with self._mutex:
            info = self.info(uid)
            src = self._locate(uid)
            base, _ = _split_name(src.name)
            dst = self.path / "cur" / f"{base}:2,{self._letters_for(flags)}"
            if dst != src:
                os.rename(src, dst)   # a flag change moves new/ -> cur/ as Dovecot does
                self._files[uid] = ("cur", dst.name)
            # keywords beyond the 26 letters are refused above, so flags are exact
            info = dataclasses.replace(info, flags=flags, recent=False)
            self._infos[uid] = info
        self.notify_changed()
        return info

    def _unique_base(self, data: bytes) -> str:
        now = self._now()
        secs, usec = int(now), int((now % 1) * 1_000_000)
        return (f"{secs}.M{usec}P{os.getpid()}Q{next(_seq)}.{self._hostname}"
                f",S={len(data)},W={_crlf_size(data)}")

    def append(self, data: bytes, flags: Iterable[str] = (),
               internaldate: Optional[_dt.datetime] = None) -> int:
        data = data.replace(b"\r\n", b"\n")   # stored with LF ends (mail_save_crlf=no)
        flags = frozenset(flags)
        with self._mutex:
            base = self._unique_base(data)
            tmp = self.path / "tmp" / base
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if internaldate is not None:
                ts = internaldate.timestamp()
                os.utime(tmp, (ts, ts))
            if flags:
                dst = self.path / "cur" / f"{base}:2,{self._letters_for(flags)}"
            else:
                dst = self.path / "new" / base
            os.rename(tmp, dst)
            self.messages()
            uid = self._list.by_base().get(base) if self._list is not None else None
            if uid is None:
                # the uidlist lock timed out: like Dovecot, the save fails and
                # nothing is kept (a uid must be known for APPENDUID)
                with contextlib.suppress(FileNotFoundError):
                    dst.unlink()
                raise MailboxLocked(f"{self._uidlist_path}: timeout while waiting for lock")
        self.notify_changed()
        return uid

    def expunge(self, uids: Iterable[int]) -> List[int]:
        removed = []
        with self._mutex:
            for uid in sorted(set(uids)):
                try:
                    p = self._locate(uid)
                    p.unlink()
                    removed.append(uid)
                except (NoSuchMessage, FileNotFoundError):
                    continue
            if removed:
                self.messages()
        if removed:
            self.notify_changed()
        return removed

    def lock(self, owner: str = "") -> FolderLock:
        # Dovecot's pop3_lock_session takes a lock next to the uid list
        lock = SessionLock(self.path / "dovecot.pop3-session.lock")
        return FolderLock(lock.release)

    def poll_token(self) -> Tuple[int, int]:
        """Cheap change detector for IDLE polling: the mtimes of new/ and cur/."""
        return ((self.path / "new").stat().st_mtime_ns, (self.path / "cur").stat().st_mtime_ns)


class MaildirStore(Store):
    """A user's Maildir++ root: INBOX in the root, folders as ``.Name``.

    The standard library's :class:`mailbox.Maildir` creates the layout and
    the Maildir++ folders; uids and flags are kept by :class:`MaildirFolder`.
    """

    def __init__(self, root: Path, *, now: Callable[[], float] = time.time,
                 hostname: str = "", inbox: Optional[Folder] = None) -> None:
        self.root = Path(root)
        self._now = now
        self._hostname = hostname
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self._md = mailbox.Maildir(str(self.root), factory=None, create=True)
        self._folders: Dict[str, Folder] = {}
        self._inbox = inbox
        self._lock = threading.Lock()

    def _dir(self, name: str) -> Path:
        name = self.normalize(name)
        if name == "INBOX":
            return self.root
        if name.startswith("INBOX."):
            name = name[6:]
        return self.root / ("." + name)

    def _check_name(self, name: str) -> str:
        name = self.normalize(name)
        bad = not name or name.startswith(".") or name.endswith(".") or ".." in name \
            or "/" in name or "\x00" in name
        if bad:
            raise StoreError(f"invalid folder name {name!r}")
        return name

    def list_folders(self) -> List[str]:
        names = sorted(self._md.list_folders())
        return ["INBOX"] + [n for n in names if n.upper() != "INBOX"]

    def folder(self, name: str) -> Folder:
        name = self.normalize(name)
        if name == "INBOX" and self._inbox is not None:
            return self._inbox
        with self._lock:
            if name in self._folders and self._dir(name).is_dir():
                return self._folders[name]
            path = self._dir(name)
            if name != "INBOX" and not (path / "cur").is_dir():
                raise NoSuchFolder(f"no folder named {name!r}")
            f = MaildirFolder(path, name, keywords_file=path / "dovecot-keywords",
                              now=self._now, hostname=self._hostname)
            self._folders[name] = f
            return f

    def create_folder(self, name: str) -> Folder:
        name = self._check_name(name)
        if name == "INBOX" or self._dir(name).exists():
            raise FolderExists(f"folder {name!r} already exists")
        self._md.add_folder(name)     # creates .name/{tmp,new,cur} and maildirfolder
        return self.folder(name)

    def delete_folder(self, name: str) -> None:
        name = self.normalize(name)
        if name == "INBOX":
            raise StoreError("INBOX cannot be deleted")
        path = self._dir(name)
        if not path.is_dir():
            raise NoSuchFolder(f"no folder named {name!r}")
        shutil.rmtree(path)
        with self._lock:
            self._folders.pop(name, None)

    def rename_folder(self, old: str, new: str) -> None:
        old, new = self.normalize(old), self._check_name(new)
        if not self.has_folder(old):
            raise NoSuchFolder(f"no folder named {old!r}")
        if self._dir(new).exists():
            raise FolderExists(f"folder {new!r} already exists")
        if old == "INBOX":
            # RFC 3501 section 6.3.5: messages move, INBOX stays (empty)
            src = self.folder("INBOX")
            dst = self.create_folder(new)
            for m in src.messages():
                dst.append(src.read(m.uid), m.flags, m.internaldate)
            src.expunge(m.uid for m in src.messages())
            return
        children = [n for n in self.list_folders() if n.startswith(old + self.separator)]
        os.rename(self._dir(old), self._dir(new))
        for child in children:
            os.rename(self._dir(child), self._dir(new + child[len(old):]))
        with self._lock:
            self._folders.clear()

    # -- subscriptions ------------------------------------------------------------
    def subscriptions(self) -> List[str]:
        try:
            text = (self.root / "subscriptions").read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [ln for ln in text.splitlines() if ln]

    def subscribe(self, name: str, on: bool = True) -> None:
        subs = [s for s in self.subscriptions() if s != name]
        if on:
            subs.append(name)
        (self.root / "subscriptions").write_text("".join(s + "\n" for s in subs), encoding="utf-8")
