"""The IMAP server's small backend interface, adapted to :mod:`labmail.store`.

The protocol core needs a little more than the shared store gives POP3:

- a **modification sequence** per message for CONDSTORE (RFC 7162).  The
  store keeps flags in Maildir file names, so modseqs are derived here: a
  per-folder :class:`ModSeqTable` notices new messages, flag changes and
  expunges (whoever made them: this session, another session, POP3, the
  delivery agent) and gives each change the next modseq.  The table is kept
  next to the ``dovecot-uidlist`` in ``labmail-modseq`` so HIGHESTMODSEQ
  survives restarts, like Dovecot's index files;
- **special-use** attributes (RFC 6154) and auto-created folders, as
  Dovecot's ``namespace inbox { mailbox Sent { special_use = \\Sent } }``.

>>> import tempfile
>>> from labmail.store import MaildirStore
>>> boxes = Mailboxes(MaildirStore(Path(tempfile.mkdtemp()) / "Maildir"))
>>> boxes.ensure_special_folders(); boxes.list()[:2]
['INBOX', 'Drafts']
>>> f = boxes.open("INBOX"); uid = f.append(b"Subject: hi\\n\\nhello\\n", ("\\\\Seen",))
>>> [(m.uid, sorted(m.flags), m.modseq) for m in f.messages()]
[(1, ['\\\\Seen'], 2)]
"""
from __future__ import annotations

import bisect
import collections
import functools
import datetime as _dt
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import (TYPE_CHECKING, Any, Callable, Deque, Dict, FrozenSet, Iterable, List,
                    Optional, Tuple)

from ...store.base import Folder, FolderExists, Store, StoreError
from ...store.maildir import MaildirFolder
from .itemcache import CACHE_NAME, ItemCache

if TYPE_CHECKING:  # pragma: no cover
    from .fetch import MessageView

__all__ = ["Msg", "Mailboxes", "FolderView", "ModSeqTable", "UidMap", "DEFAULT_SPECIAL_USE"]

logger = logging.getLogger(__name__)

DEFAULT_SPECIAL_USE: Dict[str, str] = {
    "Drafts": "\\Drafts", "Junk": "\\Junk", "Sent": "\\Sent", "Trash": "\\Trash"}


@dataclass(frozen=True)
class Msg:
    """One message as the IMAP core sees it."""

    uid: int
    flags: FrozenSet[str]
    size: int                      # RFC822.SIZE (CRLF)
    internaldate: Optional[_dt.datetime]
    recent: bool
    modseq: int


@functools.lru_cache(maxsize=1024)
def _flag_json(flags: FrozenSet[str]) -> str:
    """The JSON list of *flags*, sorted (once per distinct set of flags)."""
    return json.dumps(sorted(flags), separators=(",", ":"))


class ModSeqTable:
    """Modseqs of one folder, shared by every session of this process."""

    _tables: Dict[str, "ModSeqTable"] = {}
    _tables_lock = threading.Lock()

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.highest = 1               # an empty folder is at modseq 1 (as Dovecot)
        self.uidvalidity = 0
        self.entries: Dict[int, Tuple[int, FrozenSet[str]]] = {}
        self._frags: Dict[int, Tuple[Tuple[int, FrozenSet[str]], str]] = {}   # see _save
        # last scan of the folder, shared by every session:
        # (token, msgs, uidnext, uidvalidity, scan start in ns)
        self.snapshot: Optional[Tuple[Any, List["Msg"], int, int, int]] = None
        self.enabled = False            # a client has used CONDSTORE on this folder
        self.claimed: set = set()       # uids whose \Recent a session already took
        self.seen_uid = 0               # highest uid any session has seen
        self.fresh: set = set()         # uids added by APPEND/COPY/MOVE (recent until seen)
        self.headers: Dict[int, bytes] = {}   # uid -> top header (messages never change)
        self.items: Dict[Tuple[int, str], bytes] = {}   # (uid, ENVELOPE/BODYSTRUCTURE) -> bytes
        #: uid -> (modseq, flags) last seen of messages expunged since: a session
        #: that has not announced the EXPUNGE yet still shows them (RFC 3501 §7.4.1)
        self.gone: Dict[int, Tuple[int, FrozenSet[str]]] = {}
        self.by_uid: Optional[Tuple[List["Msg"], Dict[int, "Msg"]]] = None   # see FolderView.by_uid
        #: each scan is a generation; the log says which uids changed (flags,
        #: modseq or expunged; not new ones) in each of the last CHANGE_LOG ones,
        #: so a session finds what to tell its client without comparing every message
        self.gen = 0
        self.log: Deque[Tuple[int, List[int]]] = collections.deque(maxlen=CHANGE_LOG)
        self.log_from = 0               # no entries for generations up to this one
        #: (gen, messages, uids) of FolderView.shared_lists
        self.lists: Optional[Tuple[int, List["Msg"], List[int]]] = None
        #: the items on disk (labmail-cache), loaded for this UIDVALIDITY
        self.disk = ItemCache(path.with_name(CACHE_NAME)) if path is not None else None
        self.disk_for: Optional[int] = None
        self._load()

    @classmethod
    def for_folder(cls, folder: Folder) -> "ModSeqTable":
        key = folder.path_key()
        with cls._tables_lock:
            table = cls._tables.get(key)
            if table is None:
                d = Path(key)
                path = d / "labmail-modseq" if d.is_dir() else None
                table = cls._tables[key] = cls(path)
            return table

    @classmethod
    def forget(cls, key: str) -> None:
        """Forget the table of folder *key* and of its Maildir++ children (``key.*``)."""
        with cls._tables_lock:
            for k in [k for k in cls._tables if k == key or k.startswith(key + ".")]:
                del cls._tables[k]

    def _load(self) -> None:
        if self.path is None:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.highest = int(data["highest"])
            self.enabled = bool(data.get("condstore", False))
            self.uidvalidity = int(data["uidvalidity"])
            self.entries = {int(u): (int(m), frozenset(f)) for u, (m, f) in data["entries"].items()}
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring damaged %s", self.path)

    def _save(self) -> None:
        if self.path is None or not self.path.parent.is_dir():
            return
        # the file is rewritten at each change: each entry's JSON text is kept
        # while the entry (an immutable tuple) is the same object
        frags = self._frags
        parts = []
        for u, e in self.entries.items():
            known = frags.get(u)
            if known is None or known[0] is not e:
                known = frags[u] = (e, f'"{u}":[{e[0]},{_flag_json(e[1])}]')
            parts.append(known[1])
        if len(frags) > len(parts):
            for u in [u for u in frags if u not in self.entries]:
                del frags[u]
        head = json.dumps({"highest": self.highest, "uidvalidity": self.uidvalidity,
                           "condstore": self.enabled}, separators=(",", ":"))
        text = head[:-1] + ',"entries":{' + ",".join(parts) + "}}"
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    def changes_since(self, gen: int) -> Optional[set]:
        """Uids whose message changed or went after generation *gen* (None: the
        log does not reach back that far -- compare everything)."""
        with self.lock:
            if gen < self.log_from or gen < self.gen - len(self.log):
                return None
            out: set = set()
            for g, uids in reversed(self.log):
                if g <= gen:
                    break
                out.update(uids)
            return out

    def update(self, changed: Iterable[Tuple[int, FrozenSet[str]]],
               gone: Iterable[int]) -> Dict[int, int]:
        """:meth:`sync` told only what differs from the last scan: messages new or
        with other flags, and the uids that went; returns uid -> modseq of *changed*."""
        with self.lock:
            out: Dict[int, int] = {}
            dirty = self._stamp(changed, out)
            return self._drop(out, [u for u in gone if u in self.entries], dirty)

    def _stamp(self, infos: Iterable[Tuple[int, FrozenSet[str]]], out: Dict[int, int],
               seen: Optional[set] = None) -> bool:
        """Give each message that is new or has other flags the next modseq;
        ``out[uid]`` = its modseq, *seen* collects the uids.  True when any
        changed.  Called with the lock held."""
        dirty = False
        for uid, flags in infos:
            if seen is not None:
                seen.add(uid)
            old = self.entries.get(uid)
            if old is None or old[1] != flags:
                self.highest += 1
                old = self.entries[uid] = (self.highest, flags)
                dirty = True
            out[uid] = old[0]
        return dirty

    def _drop(self, out: Dict[int, int], gone: List[int], dirty: bool) -> Dict[int, int]:
        """Forget the *gone* uids, save when anything changed; returns *out*."""
        if gone:
            self._forget(gone)
            dirty = True
        if dirty:
            self._save()
        return out

    def _forget(self, gone: List[int]) -> None:
        for u in gone:
            self.gone[u] = self.entries.pop(u)
            self.headers.pop(u, None)
        while len(self.gone) > GONE_MAX:
            self.gone.pop(next(iter(self.gone)))
        self.highest += 1          # RFC 7162 §3.1.9: expunge changes the mailbox

    def enable(self) -> None:
        """Remember that CONDSTORE was used here (SELECT then always shows HIGHESTMODSEQ)."""
        with self.lock:
            if not self.enabled:
                self.enabled = True
                self._save()

    def claim_recent(self, msgs: Iterable["Msg"]) -> set:
        """The uids among *msgs* whose \\Recent flag this session gets.

        RFC 3501 §2.3.2: a message is recent in exactly one session, the
        first to see it; new arrivals and files still in ``new/`` qualify.
        """
        with self.lock:
            mine = set()
            top = self.seen_uid
            for m in msgs:
                if self._candidate(m, top) and m.uid not in self.claimed:
                    self.claimed.add(m.uid)
                    mine.add(m.uid)
                self.seen_uid = max(self.seen_uid, m.uid)
            return mine

    def _candidate(self, m: "Msg", top: int) -> bool:
        return m.recent or m.uid in self.fresh or bool(top and m.uid > top)

    def recent_count(self, msgs: Iterable["Msg"]) -> int:
        """STATUS RECENT: messages still recent for whichever session comes next."""
        with self.lock:
            return sum(1 for m in msgs
                       if self._candidate(m, self.seen_uid) and m.uid not in self.claimed)

    def sync(self, uidvalidity: int, infos: Iterable[Tuple[int, FrozenSet[str]]]) -> Dict[int, int]:
        """Give changed/new messages new modseqs; returns uid -> modseq."""
        with self.lock:
            dirty = False
            if uidvalidity != self.uidvalidity:
                # new uids: nothing cached about the old ones may be reused
                self.uidvalidity, self.entries, dirty = uidvalidity, {}, True
                self.highest = max(self.highest, 1)
                self.headers.clear()
                self.items.clear()
                self.disk_for = None            # the file is for the old uids
                self.claimed.clear()
                self.fresh.clear()
                self.gone.clear()
                self.by_uid = None
                self.seen_uid = 0
            out: Dict[int, int] = {}
            seen: set = set()
            dirty = self._stamp(infos, out, seen) or dirty
            return self._drop(out, [u for u in self.entries if u not in seen], dirty)


#: bytes read for a header alone (a longer header costs a second, full read)
HEAD_BYTES = 16384

#: scans whose changed uids are remembered per folder (a session that fell
#: further behind compares all its messages once)
CHANGE_LOG = 256

#: expunged messages whose last flags are remembered per folder
GONE_MAX = 10000

#: top headers kept per folder (about 0.5 KB each)
HEADER_CACHE_MAX = 20000

#: A scan is trusted while the directories' mtimes are unchanged, provided the
#: scan started this long after the last mtime: file-system timestamps advance
#: in coarse ticks, so a change right after a scan could keep the same mtime.
STABLE_AFTER_NS = 50_000_000

Stamp = Tuple[Any, int]        # (directory mtimes, when the scan started)


class FolderView:
    """One folder for the IMAP core: messages with modseqs, flags, append, expunge.

    Scanning a Maildir of thousands of files is the expensive part of SELECT,
    so the last scan is shared through the folder's :class:`ModSeqTable` and
    reused while the ``new/`` and ``cur/`` directories have not changed.
    """

    def __init__(self, folder: Folder) -> None:
        self.folder = folder
        self.name = folder.name
        self.modseqs = ModSeqTable.for_folder(folder)

    def token(self) -> Any:
        """A cheap change detector (directory mtimes), or None when unknown."""
        poll = getattr(self.folder, "poll_token", None)
        if poll is None:
            return None
        try:
            return poll()
        except OSError:
            return None

    def unchanged(self, stamp: Optional[Stamp]) -> bool:
        """Is a scan made at *stamp* still the folder's state?"""
        if stamp is None or stamp[0] is None:
            return False
        token = self.token()
        # real time on purpose: it is compared with the file system's clock
        return token == stamp[0] and stamp[1] - max(token) > STABLE_AFTER_NS

    def stamp(self) -> Optional[Stamp]:
        """The stamp of the scan the last :meth:`messages` returned."""
        snap = self.modseqs.snapshot
        return (snap[0], snap[4]) if snap is not None else None

    @property
    def uidvalidity(self) -> int:
        snap = self.modseqs.snapshot
        return snap[3] if snap is not None else self.folder.uidvalidity

    @property
    def uidnext(self) -> int:
        if not self.unchanged(self.stamp()):
            self.messages()
        snap = self.modseqs.snapshot
        assert snap is not None
        return snap[2]

    @property
    def highestmodseq(self) -> int:
        return max(self.modseqs.highest, 1)

    def claim_recent(self, msgs: Iterable[Msg]) -> set:
        """See :meth:`ModSeqTable.claim_recent`."""
        return self.modseqs.claim_recent(msgs)

    def recent_count(self, msgs: Iterable[Msg]) -> int:
        """See :meth:`ModSeqTable.recent_count`."""
        return self.modseqs.recent_count(msgs)

    def view(self, uid: int) -> "MessageView":
        """A FETCH/SEARCH view of one message that reads the file only when needed."""
        from .fetch import MessageView
        head = None
        if isinstance(self.folder, MaildirFolder):
            # ENVELOPE and header SEARCH keys need the header only: read a
            # message's first bytes, not its attachments (the cold path)
            head = lambda: self.folder.read(uid, HEAD_BYTES)   # noqa: E731
        return MessageView(loader=lambda: self.folder.read(uid), head_loader=head,
                           top_header=self.modseqs.headers.get(uid))

    def cached_item(self, uid: int, name: str, compute: Callable[[], bytes]) -> bytes:
        """ENVELOPE/BODYSTRUCTURE bytes of *uid*, computed once (kept on disk
        in ``labmail-cache``, so also once across restarts of the lab)."""
        table = self.modseqs
        disk = table.disk
        if disk is not None and table.disk_for != table.uidvalidity and table.uidvalidity:
            with table.lock:
                if table.disk_for != table.uidvalidity:
                    for k, v in disk.load(table.uidvalidity).items():
                        table.items.setdefault(k, v)
                    table.disk_for = table.uidvalidity
        cache = table.items
        key = (uid, name)
        value = cache.get(key)
        if value is None:
            value = compute()
            if len(cache) >= 2 * HEADER_CACHE_MAX:
                cache.pop(next(iter(cache)))
            cache[key] = value
            if disk is not None and table.disk_for == table.uidvalidity:
                disk.add(uid, name, value)
        return value

    def flush_cache(self) -> None:
        """Write the items computed by this command to ``labmail-cache``."""
        if self.modseqs.disk is not None:
            self.modseqs.disk.flush()

    def remember(self, uid: int, view: "MessageView") -> None:
        """Keep the top header a view computed, for the next ENVELOPE or SEARCH."""
        cache = self.modseqs.headers
        header = view._top_header
        if header is not None and uid not in cache:
            if len(cache) >= HEADER_CACHE_MAX:
                cache.pop(next(iter(cache)))
            cache[uid] = header

    def messages(self) -> List[Msg]:
        """Sync with disk; every message with its current modseq, by uid."""
        with self.modseqs.lock:
            snap = self.modseqs.snapshot
            if snap is not None and self.unchanged((snap[0], snap[4])):
                return snap[1]
            token = self.token()
            started = time.time_ns()
            infos = self.folder.messages()
            validity = self.folder.uidvalidity
            uidlist = getattr(self.folder, "_list", None)   # avoid a second scan for UIDNEXT
            uidnext = uidlist.next_uid if uidlist is not None else self.folder.uidnext
            table = self.modseqs
            prev = table.by_uid
            if prev is None or validity != table.uidvalidity:
                # first scan (or new uids): every message against the saved table
                mods = table.sync(validity, ((m.uid, m.flags) for m in infos))
                prev = table.by_uid       # (sync drops it for a new UIDVALIDITY)
                todo = range(len(infos))
                msgs: List[Any] = [None] * len(infos)
                gone: List[int] = []
            else:
                # a message that did not change keeps its Msg (and modseq): the
                # sessions' views and every scan share one object per message
                # state, and only changed or new messages go through the table
                old = prev[1]
                msgs, todo, kept = [], [], 0
                for i, m in enumerate(infos):
                    p = old.get(m.uid)
                    if p is not None:
                        kept += 1
                        if p.flags == m.flags and p.recent == m.recent and p.size == m.vsize:
                            msgs.append(p)
                            continue
                    todo.append(i)
                    msgs.append(None)
                gone = []
                if kept != len(old):
                    present = {m.uid for m in infos}
                    gone = [u for u in old if u not in present]
                mods = table.update([(infos[i].uid, infos[i].flags) for i in todo], gone)
            old = prev[1] if prev is not None else {}
            changed: List[int] = []
            for i in todo:
                m = infos[i]
                uid = m.uid
                mod = mods[uid]
                p = old.get(uid)
                if p is None or p.modseq != mod or p.flags != m.flags or p.recent != m.recent \
                        or p.size != m.vsize:
                    if p is not None:
                        changed.append(uid)
                    p = Msg(uid, m.flags, m.vsize, m.internaldate, m.recent, mod)
                msgs[i] = p
            changed.extend(gone)
            by: Dict[int, Msg] = {m.uid: m for m in msgs}
            if getattr(self.folder, "incomplete", False):
                token = None        # new files wait for uids: never trust this scan
            if prev is not None and not changed and len(msgs) == len(prev[0]):
                # the same state: the same lists and generation (views stay shared)
                table.snapshot = (token, prev[0], uidnext, validity, started)
                return prev[0]
            table.gen += 1
            if prev is None:        # first scan or new uids: nothing to compare with
                table.log.clear()
                table.log_from = table.gen
            else:
                table.log.append((table.gen, changed))
            table.snapshot = (token, msgs, uidnext, validity, started)
            table.by_uid = (msgs, by)
            return msgs

    def state(self) -> Tuple[Dict[int, Msg], int]:
        """:meth:`by_uid` and the generation it belongs to (see :meth:`ModSeqTable.changes_since`)."""
        with self.modseqs.lock:
            return self.by_uid(), self.modseqs.gen

    def shared_lists(self, gen: int) -> Optional[Tuple[List[Msg], List[int]]]:
        """The messages of generation *gen* and their uids, one pair of lists
        for every session whose view is that state (None: the folder moved on).
        Never change them (:meth:`UidMap.own` copies first)."""
        table = self.modseqs
        with table.lock:
            if table.gen != gen or table.by_uid is None:
                return None
            lists = table.lists
            if lists is None or lists[0] != gen:
                msgs = table.by_uid[0]
                lists = table.lists = (gen, msgs, [m.uid for m in msgs])
            return lists[1], lists[2]

    def messages_gen(self) -> Tuple[List[Msg], int]:
        """:meth:`messages` and the generation it belongs to."""
        with self.modseqs.lock:
            return self.messages(), self.modseqs.gen

    def by_uid(self) -> Dict[int, Msg]:
        """uid -> message of :meth:`messages`, one dict per folder state shared by
        every session (a 5,000-message dict per session would cost ~300 KB each)."""
        msgs = self.messages()
        with self.modseqs.lock:
            cached = self.modseqs.by_uid
            if cached is None or cached[0] is not msgs:
                cached = self.modseqs.by_uid = (msgs, {m.uid: m for m in msgs})
            return cached[1]

    def _changed(self) -> None:
        self.modseqs.snapshot = None
        self.folder.notify_changed()

    def read(self, uid: int) -> bytes:
        return self.folder.read(uid)

    def set_flags(self, uid: int, flags: Iterable[str]) -> None:
        self.folder.set_flags(uid, flags)
        self._changed()

    def append(self, data: bytes, flags: Iterable[str] = (),
               internaldate: Optional[_dt.datetime] = None) -> int:
        uid = self.folder.append(data, flags, internaldate)
        self.modseqs.fresh.add(uid)
        self._changed()
        return uid

    def expunge(self, uids: Iterable[int]) -> List[int]:
        gone = self.folder.expunge(list(uids))
        if gone:
            self._changed()
        return gone

    def keywords(self) -> List[str]:
        return self.folder.keywords()

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        return self.folder.watch(lambda _f: callback())


class Mailboxes:
    """One user's folders with special-use attributes (RFC 6154)."""

    def __init__(self, store: Store, special_use: Optional[Dict[str, str]] = None) -> None:
        self.store = store
        self.separator = store.separator
        self.special = dict(DEFAULT_SPECIAL_USE if special_use is None else special_use)
        #: taken by the server around each batch of a session's commands, so the
        #: sessions of one mailbox (each in a worker thread) change it in turn
        self.lock: Optional[Any] = None

    def ensure_special_folders(self, names: Optional[Iterable[str]] = None,
                               subscribe: Optional[Iterable[str]] = None) -> None:
        """Create missing folders, as Dovecot's ``auto = create``; those in
        *subscribe* (default: all of them) are also subscribed (``auto = subscribe``)."""
        names = list(self.special if names is None else names)
        subs = set(names if subscribe is None else subscribe)
        for name in names:
            if not self.store.has_folder(name):
                try:
                    self.store.create_folder(name)
                except FolderExists:    # another process made it just now
                    continue
                if name in subs and name not in self.store.subscriptions():
                    self.store.subscribe(name)

    def list(self) -> List[str]:
        return self.store.list_folders()

    def exists(self, name: str) -> bool:
        return self.store.has_folder(name)

    def special_use(self, name: str) -> Optional[str]:
        return self.special.get(self.store.normalize(name))

    def open(self, name: str) -> FolderView:
        return FolderView(self.store.folder(name))

    def create(self, name: str) -> None:
        self.store.create_folder(name)

    def _forget(self, name: str) -> None:
        """Drop the shared tables of *name* and its children (their uids die with them)."""
        try:
            key = self.store.folder(name).path_key()
        except StoreError:
            return
        ModSeqTable.forget(key)

    def delete(self, name: str) -> None:
        self._forget(name)
        self.store.delete_folder(name)

    def rename(self, old: str, new: str) -> None:
        self._forget(old)
        self.store.rename_folder(old, new)

    def subscriptions(self) -> List[str]:
        return self.store.subscriptions()

    def subscribe(self, name: str, on: bool = True) -> None:
        self.store.subscribe(name, on)


class UidMap:
    """uid -> Msg of the selected folder, as two parallel lists sorted by uid.

    A session keeps one entry per message; two list slots cost far less than
    a dict entry, which keeps a session on a 5,000-message folder small.

    >>> m = UidMap([Msg(3, frozenset(), 10, None, False, 1)])
    >>> 3 in m, m.get(4), m.uids
    (True, None, [3])
    """

    __slots__ = ("uids", "msgs", "shared")

    def __init__(self, msgs: Any = (), uids: Optional[List[int]] = None) -> None:
        if uids is None:
            self.msgs: List["Msg"] = list(msgs)
            self.uids: List[int] = [m.uid for m in self.msgs]
            self.shared = False
        else:
            # the folder's lists of one generation (FolderView.shared_lists), shared
            # by every session whose view is that state: copied before a change
            self.msgs, self.uids, self.shared = msgs, uids, True

    def own(self) -> List["Msg"]:
        """The message list, made this session's own first (to change it)."""
        if self.shared:
            self.msgs, self.uids, self.shared = list(self.msgs), list(self.uids), False
        return self.msgs

    def _index(self, uid: int) -> int:
        i = bisect.bisect_left(self.uids, uid)
        return i if i < len(self.uids) and self.uids[i] == uid else -1

    def index_of(self, uid: int) -> int:
        """The position of *uid* (its sequence number - 1), or -1."""
        return self._index(uid)

    def get(self, uid: int) -> Optional["Msg"]:
        i = self._index(uid)
        return self.msgs[i] if i >= 0 else None

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self._index(uid) >= 0

    def __getitem__(self, uid: int) -> "Msg":
        m = self.get(uid)
        if m is None:
            raise KeyError(uid)
        return m

    def __setitem__(self, uid: int, m: "Msg") -> None:
        i = self._index(uid)
        if i < 0:
            raise KeyError(uid)
        self.own()[i] = m

    def __len__(self) -> int:
        return len(self.uids)

    def append(self, m: "Msg") -> None:
        self.own().append(m)
        self.uids.append(m.uid)

    def delete_at(self, i: int) -> None:
        self.own()
        del self.uids[i]
        del self.msgs[i]
