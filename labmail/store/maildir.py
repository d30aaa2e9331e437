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

import bisect
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
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

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
        # open/read/close only: a regular file reads short only at its end, so
        # the read that comes back short is the last one (half the time of a
        # buffered file object's open, fstat, read, read-to-EOF, close)
        fd = os.open(path, os.O_RDONLY)
        try:
            chunk = os.read(fd, 65536)
            if len(chunk) < 65536:
                return chunk
            chunks = [chunk]
            while len(chunk) == 65536:
                chunk = os.read(fd, 65536)
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
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
        #: (stat of dovecot-uidlist, its parse, base -> uid) while the file is unchanged
        self._uidlist_cache: Optional[Tuple[Tuple[int, int, int], UidList, Dict[str, int]]] = None
        self._letters: Dict[str, str] = {}                  # keyword letters at the last scan
        self._flagsets: Dict[str, FrozenSet[str]] = {}      # info letters -> flags
        # the last result (uid order) and its uids, patched by the next scan;
        # _touched: uids this object changed since (their entries are stale)
        self._out: Optional[List[MessageInfo]] = None
        self._out_uids: List[int] = []
        self._touched: set = set()
        self._vsize_missing = False
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
        root = str(self.path)
        for sub in ("new", "cur"):
            for name in os.listdir(os.path.join(root, sub)):
                if name[0] != ".":
                    found[name.partition(":")[0]] = (sub, name)
        return found

    def _load_uidlist(self) -> Tuple[Optional[UidList], Dict[str, int]]:
        """The uid list on disk and its base -> uid map, parsed again only when
        the file changed (a save replaces it: a new inode, size or mtime)."""
        try:
            st = os.stat(self._uidlist_path)
        except FileNotFoundError:
            self._uidlist_cache = None
            return None, {}
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = self._uidlist_cache
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        current = UidList.load(self._uidlist_path)
        if current is None:
            self._uidlist_cache = None
            return None, {}
        by_base = current.by_base()
        self._uidlist_cache = (stamp, current, by_base)
        return current, by_base

    def _save_uidlist(self, current: UidList, by_base: Dict[str, int]) -> None:
        self._uidlist_cache = None      # until the file is written and known again
        current.save(self._uidlist_path)
        st = os.stat(self._uidlist_path)
        self._uidlist_cache = ((st.st_ino, st.st_size, st.st_mtime_ns), current, by_base)

    def _flag_set(self, info: str, letters: Dict[str, str]) -> FrozenSet[str]:
        """The flags of a file name's info letters; one shared frozenset per
        distinct set (a folder has a handful, and each costs ~200 bytes)."""
        flags = self._flagsets.get(info)
        if flags is None:
            out = set()
            for ch in info:
                if ch in _LETTER_FLAG:
                    out.add(_LETTER_FLAG[ch])
                elif ch in letters:
                    out.add(letters[ch])
            flags = frozenset(out)
            if len(self._flagsets) < 4096:
                self._flagsets[info] = flags
        return flags

    def messages(self) -> List[MessageInfo]:
        """Sync with the disk under the uidlist lock; list messages by uid.

        Shared by every session of the folder and kept between calls: the
        uid list is parsed again only when its file changed, and a message
        whose file name is unchanged keeps its :class:`MessageInfo` (no
        stat); only the directory listing is read each time.
        """
        with self._mutex:
            incomplete = False
            found = self._scan()
            current, known = self._load_uidlist()
            files = {known[b]: loc for b, loc in found.items() if b in known}
            # a file without a uid, or a uid whose file is gone
            renumbered = current is None or len(files) != len(found) \
                or len(files) != len(known)
            if renumbered:
                try:
                    with dotlock(self._uidlist_path, timeout=LOCK_TIMEOUT):
                        # re-read under the lock: another session may have synced
                        before = current
                        current, known = self._load_uidlist()
                        if current is None:
                            current, known = self._new_uidlist(), {}
                        if current is not before or len(files) != len(known):
                            # list again, except when nobody synced since the listing
                            # above and it only found new files to number: a file
                            # being renamed (a flag change) can be missing from one
                            # listing, and a uid is never dropped on a single look
                            found = self._scan()
                        for uid in [u for u, b in current.records.items() if b not in found]:
                            base = current.records.pop(uid)
                            current.vsizes.pop(uid, None)
                            if known.get(base) == uid:
                                del known[base]
                        fresh_bases = [b for b in found if b not in known]
                        for base in sorted(fresh_bases,
                                           key=lambda b: self._arrival_key(b, found[b])):
                            known[base] = current.add(base, _name_field(base, "W"))
                        self._save_uidlist(current, known)
                except MailboxLocked:
                    if current is None:
                        raise
                    incomplete = True
                    # Dovecot's way when the uidlist lock times out: the command
                    # goes on with the uids already assigned; new files get theirs
                    # at a later sync (its SELECT still answers OK)
                    logger.warning("%s: timeout while waiting for lock; new mail not "
                                   "seen yet", self._uidlist_path)
            assert current is not None
            self._list = current
            old_files, old_infos = self._files, self._infos
            if renumbered:
                files = {known[b]: loc for b, loc in found.items() if b in known}
            letters = self._keyword_letters()
            if letters != self._letters:
                # keyword letters mean other words now: nothing parsed before holds
                self._letters, self._flagsets, old_infos = letters, {}, {}
            self._vsize_missing = False
            touched, self._touched = self._touched, set()
            # what differs from the last scan: new or renamed files, files gone,
            # and messages this object changed since (set_flags, a vanished file)
            cand = {u for u, _ in files.items() - old_files.items()}
            cand |= old_files.keys() - files.keys()
            cand |= touched
            if self._out is None or old_infos is not self._infos or len(cand) * 4 > len(files):
                out = []
                for uid in sorted(files):
                    loc = files[uid]
                    prev = old_infos.get(uid)
                    if prev is not None and old_files.get(uid) == loc:
                        out.append(prev)    # same file name: same size, date, flags
                        continue
                    info = self._build(uid, loc, current, letters)
                    if info is None:        # renamed by another session meanwhile
                        del files[uid]
                        continue
                    out.append(info)
                uids = [m.uid for m in out]
                self._infos = {m.uid: m for m in out}
            else:
                # patch the last result: a delivery costs its own messages only
                out, uids, infos = list(self._out), list(self._out_uids), old_infos
                for uid in sorted(cand):
                    i = bisect.bisect_left(uids, uid)
                    there = i < len(uids) and uids[i] == uid
                    loc = files.get(uid)
                    info = None
                    if loc is not None:
                        prev = old_infos.get(uid)
                        if prev is not None and old_files.get(uid) == loc:
                            info = prev     # (set_flags made it for this very name)
                        else:
                            info = self._build(uid, loc, current, letters)
                        if info is None:
                            del files[uid]
                    if info is None:
                        infos.pop(uid, None)
                        if there:
                            del out[i], uids[i]
                    else:
                        infos[uid] = info
                        if there:
                            out[i] = info
                        else:
                            out.insert(i, info)
                            uids.insert(i, uid)
                self._infos = infos
            self._out, self._out_uids = out, uids
            self._files = files
            vsize_missing = self._vsize_missing
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

    def _build(self, uid: int, loc: Tuple[str, str], current: UidList,
               letters: Dict[str, str]) -> Optional[MessageInfo]:
        """The info of one file (None if it is gone)."""
        sub, fname = loc
        base, _, info = fname.partition(":")
        info = info[2:] if info.startswith("2,") else ""
        full = os.path.join(self.path, sub, fname)
        try:
            st = os.stat(full)
            vsize = current.vsizes.get(uid) or _name_field(base, "W")
            if vsize is None:
                vsize = _crlf_size(_read_file(full))
                current.vsizes[uid] = vsize
                self._vsize_missing = True
        except FileNotFoundError:
            return None
        return MessageInfo(
            uid=uid, key=base, size=st.st_size, vsize=vsize,
            flags=self._flag_set(info, letters), recent=(sub == "new"),
            internaldate=_dt.datetime.fromtimestamp(st.st_mtime, _dt.timezone.utc))

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
            mtime = os.stat(os.path.join(self.path, loc[0], loc[1])).st_mtime_ns
        except FileNotFoundError:
            mtime = 0
        return (secs, usec, mtime, base)

    def _locate(self, uid: int) -> Path:
        loc = self._files.get(uid)
        if loc is not None and os.path.exists(os.path.join(self.path, loc[0], loc[1])):
            return self.path / loc[0] / loc[1]
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
                    self._touched.add(uid)
        raise NoSuchMessage(f"{self.name}: uid {uid} vanished")

    def info(self, uid: int) -> MessageInfo:
        """The message's info (from the last scan while its file is unchanged)."""
        with self._mutex:
            known, loc = self._infos.get(uid), self._files.get(uid)
            if known is not None and loc is not None and \
                    os.path.exists(os.path.join(self.path, loc[0], loc[1])):
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
            letters = self._letters_for(flags)
            dst = self.path / "cur" / f"{base}:2,{letters}"
            if dst != src:
                os.rename(src, dst)   # a flag change moves new/ -> cur/ as Dovecot does
                self._files[uid] = ("cur", dst.name)
            # keywords beyond the 26 letters are refused above, so these are the
            # flags a scan of the new name gives (the next scan keeps this info)
            stored = frozenset(f for f in flags if f in MAILDIR_FLAG_LETTERS
                               or not f.startswith("\\"))
            shared = self._flagsets.get(letters)
            info = dataclasses.replace(info, flags=shared if shared == stored else stored,
                                       recent=False)
            self._infos[uid] = info
            self._touched.add(uid)
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
