"""A session's view of the selected folder and the untagged updates that sync it.

Each session keeps the uid of every sequence number it announced and the
flags it last reported (:class:`~.backend.UidMap`).  Other sessions, POP3 and
the delivery agent change the folder meanwhile; :meth:`ViewSync.send_updates`
tells the client, in the order Dovecot 2.3 uses (seen on the wire)::

    * FLAGS (...)  * OK [PERMANENTFLAGS (...)]   a keyword new to the folder
    * 2 FETCH (FLAGS (\\Answered \\Recent))         flag changes, old numbers,
                                                  none for expunged messages
    * 4 EXPUNGE  * 1 EXPUNGE                       highest number first
    * 4 EXISTS                                    new messages
    * 3 RECENT                                    whenever the count changed

During FETCH, STORE and SEARCH no EXPUNGE may be sent (RFC 3501 §7.4.1):
a message expunged elsewhere stays a "ghost" with the flags it last had,
and a change of those flags is still reported.  FETCH and STORE act on the
folder's current flags (a STORE never undoes another session's change), as
Dovecot does; SEARCH looks at the view.

>>> ViewSync.flag_text(frozenset({"\\\\Seen", "work", "\\\\Answered"}), True)
'(\\\\Answered \\\\Seen \\\\Recent work)'
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, List, Optional, Sequence

from .backend import Msg, UidMap
from .parser import Command
from .response import Response
from .states import MUST_NOT_EXPUNGE

if TYPE_CHECKING:  # pragma: no cover
    from .backend import FolderView

__all__ = ["ViewSync", "SYSTEM_ORDER"]

SYSTEM_ORDER = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class ViewSync:
    """The selected folder as this session knows it (mixin of the IMAP session)."""

    box: Optional["FolderView"]
    msgs: UidMap
    recent: set
    readonly: bool
    condstore: bool
    keywords: List[str]

    if TYPE_CHECKING:  # provided by ImapSession
        def send(self, response: Response) -> None: ...

    def init_view(self) -> None:
        self._token: Any = None
        self._ghosts = False           # expunged elsewhere, not yet announced
        self._ghost_uids: set = set()  # ... which ones
        #: the folder generation the view matches (-1: compare every message)
        self._gen = -1
        self._recent_sent = 0
        #: flags a STORE gave ghosts, reported by the next update
        self.pending: Dict[int, Msg] = {}
        #: messages a STORE .SILENT changed -> the flags it gave them: not
        #: reported unless someone else changed them too (then Dovecot does)
        self.silenced: Dict[int, FrozenSet[str]] = {}
        #: messages a STORE changed: reported even when their flags end up as
        #: the client last heard them (another session's change undone)
        self.stored: set = set()
        #: keywords this session made known without a message having them
        #: (Dovecot: SEARCH KEYWORD of an unknown one), per folder path
        self._extra_keywords: Dict[str, List[str]] = {}

    # -- the folder now ----------------------------------------------------------------
    def folder_now(self) -> Dict[int, Msg]:
        """uid -> the folder's message now (cheap while the folder is unchanged;
        the dict is shared by the folder's sessions: read it, never change it)."""
        assert self.box is not None
        return self.box.by_uid()

    def latest(self, m: Msg, current: Dict[int, Msg]) -> Optional[Msg]:
        """*m* as it is now: from the folder, or a ghost with its last flags (None: unknown)."""
        now = current.get(m.uid)
        if now is not None:
            return now
        assert self.box is not None
        last = self.box.modseqs.gone.get(m.uid)
        if last is None:
            return None
        return Msg(m.uid, last[1], m.size, m.internaldate, m.recent, last[0])

    def take_own(self, uids: Iterable[int]) -> None:
        """Our own flag changes (already reported) into the view, with fresh modseqs."""
        current = self.folder_now()
        for uid in uids:
            now = current.get(uid)
            if now is not None and uid in self.msgs:
                self.msgs[uid] = now

    # -- FLAGS / PERMANENTFLAGS ------------------------------------------------------------
    def folder_keywords(self) -> List[str]:
        assert self.box is not None
        words = list(self.box.keywords())
        extra = self._extra_keywords.get(self.box.folder.path_key(), ())
        return words + [w for w in extra if w not in words]

    def add_session_keywords(self, words: Sequence[str]) -> None:
        """Keywords a client named that the folder does not know (announced next)."""
        assert self.box is not None
        known = self.folder_keywords()
        new = [w for w in words if w not in known and not w.startswith("\\")]
        if new:
            self._extra_keywords.setdefault(self.box.folder.path_key(), []).extend(new)

    def announce_flags(self, first: bool = False) -> None:
        """``* FLAGS`` and ``[PERMANENTFLAGS]``, at SELECT and whenever a new keyword appears."""
        keywords = self.folder_keywords()
        if not first and keywords == self.keywords:
            return
        self.keywords = keywords
        flags = " ".join(list(SYSTEM_ORDER) + keywords)
        self.send(Response("*", f"FLAGS ({flags})".encode()))
        if self.readonly:
            if first:
                self.send(Response("*", b"OK [PERMANENTFLAGS ()] Read-only mailbox."))
        else:
            self.send(Response("*", f"OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted.".encode()))

    @staticmethod
    def flag_text(flags: Any, recent: bool = False, keywords: Sequence[str] = ()) -> str:
        """Dovecot's order: system flags, ``\\Recent``, then keywords as the folder lists them."""
        ordered = [f for f in SYSTEM_ORDER if f in flags]
        if recent:
            ordered.append("\\Recent")
        words = [f for f in flags if f not in SYSTEM_ORDER and f != "\\Recent"]
        if words:
            rank = {w: i for i, w in enumerate(keywords)}
            ordered += sorted(words, key=lambda w: (rank.get(w, len(rank)), w))
        return "(" + " ".join(ordered) + ")"

    def flags_of(self, m: Msg) -> str:
        return self.flag_text(m.flags, m.uid in self.recent, self.keywords)

    def flags_fetch(self, seq: int, m: Msg, with_uid: bool, silent: bool = False) -> Response:
        """``* n FETCH ([UID u] [MODSEQ (m)] FLAGS (..))`` in Dovecot's order."""
        parts = [f"UID {m.uid}"] if with_uid else []
        if self.condstore:
            parts.append(f"MODSEQ ({m.modseq})")
        if not silent:
            parts.append(f"FLAGS {self.flags_of(m)}")
        return Response("*", f"{seq} FETCH ({' '.join(parts)})".encode())

    # -- untagged updates --------------------------------------------------------------------
    def looks_unchanged(self) -> bool:
        """Cheap (no lock, no scan): nothing to tell an IDLE client since the last update."""
        box = self.box
        return box is None or (box.unchanged(self._token) and not self.pending
                               and not self._ghosts)

    def send_updates(self, cmd: Optional[Command]) -> None:
        """Tell the client what changed in the selected folder (see module docstring)."""
        box = self.box
        if box is None:
            return
        allow_expunge = cmd is None or cmd.uid or cmd.name not in MUST_NOT_EXPUNGE
        if box.unchanged(self._token) and not (self._ghosts and allow_expunge) \
                and not self.pending:
            self.silenced.clear()
            self.stored.clear()
            return
        current, gen = box.state()
        self._token = box.stamp()
        self.announce_flags()          # a new keyword in the folder comes first
        with_uid = cmd is not None and cmd.uid
        mine = self.msgs.msgs
        pending, silenced, stored = self.pending, self.silenced, self.stored
        # only messages that changed since the view was made can need a line:
        # the folder's change log names them (messages that did not change are
        # the very objects the view holds)
        changed = box.modseqs.changes_since(self._gen) if self._gen >= 0 else None
        if changed is None:
            positions: Iterable[int] = range(len(mine))
        else:
            changed.update(pending, silenced, stored, self._ghost_uids)
            index = self.msgs.index_of
            positions = sorted(i for i in map(index, changed) if i >= 0)
        for i in positions:
            old = mine[i]
            if old.uid in current:
                new = current[old.uid]
            elif allow_expunge:
                continue                # its EXPUNGE follows: no flag news for it
            else:
                new = pending.get(old.uid) or self.latest(old, current)
                if new is None or (new.modseq <= old.modseq and old.uid not in pending):
                    continue            # nothing newer known about this ghost
            if new.flags != old.flags or old.uid in stored:
                if silenced.get(old.uid) != new.flags:
                    self.send(self.flags_fetch(i + 1, new, with_uid))
                elif self.condstore:    # RFC 7162 §3.1.3: .SILENT still reports MODSEQ
                    self.send(self.flags_fetch(i + 1, new, with_uid, silent=True))
            if new is not old:
                mine = self.msgs.own()
                mine[i] = new
        pending.clear()
        silenced.clear()
        stored.clear()
        uids = self.uids
        if changed is None:
            gone = [i for i, u in enumerate(uids) if u not in current]
        else:
            gone = [i for i in positions if uids[i] not in current]
        if allow_expunge:
            for i in reversed(gone):
                uid = uids[i]
                self.send(Response("*", b"%d EXPUNGE" % (i + 1)))
                self.msgs.delete_at(i)
                self.recent.discard(uid)
            self._ghost_uids = set()
        else:
            self._ghost_uids = {uids[i] for i in gone}
        self._ghosts = bool(self._ghost_uids)
        self._gen = gen
        uids = self.uids                        # (delete_at may have copied a shared list)
        top = uids[-1] if uids else 0
        fresh: List[Msg] = []
        for uid in reversed(current):           # by uid: the new ones are at the end
            if uid <= top:
                break
            fresh.append(current[uid])
        fresh.reverse()
        if fresh:
            self.recent |= box.claim_recent(fresh)
            for m in fresh:
                self.msgs.append(m)
            self.send(Response("*", b"%d EXISTS" % len(self.uids)))
        if len(self.recent) != self._recent_sent:      # Dovecot: whenever it changed
            self._recent_sent = len(self.recent)
            self.send(Response("*", b"%d RECENT" % self._recent_sent))
        self.share_view(gen)

    def share_view(self, gen: int) -> None:
        """Hold the folder's shared lists instead of a copy when the view is
        exactly the folder's state (per session: two list slots per message)."""
        box = self.box
        if box is None or self.msgs.shared or self._ghost_uids:
            return
        lists = box.shared_lists(gen)
        # (list == compares identity first: the shared Msg objects make it cheap)
        if lists is not None and lists[1] == self.msgs.uids and lists[0] == self.msgs.msgs:
            self.msgs = UidMap(*lists)

    @property
    def uids(self) -> List[int]:
        """uid of each sequence number (index 0 is message 1)."""
        return self.msgs.uids
