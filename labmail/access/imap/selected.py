"""Commands of the SELECTED state and the untagged updates (RFC 3501 §6.4, §7.3–7.4).

The session keeps its own view of the selected folder: the uid of every
sequence number it has announced and the flags/modseq it last reported.
:meth:`SelectedCommands.send_updates` compares that view with the folder and
sends ``EXPUNGE``, ``FETCH (FLAGS ..)`` and ``EXISTS``/``RECENT`` — never
an EXPUNGE while answering FETCH, STORE or SEARCH (RFC 3501 §7.4.1), so a
message expunged by another session stays a "ghost" until a later command.

>>> SelectedCommands.flag_text(frozenset({"\\\\Seen", "work", "\\\\Answered"}))
'(\\\\Answered \\\\Seen work)'
"""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from ...store.base import MailboxLocked, NoSuchFolder, NoSuchMessage, StoreError
from .fetch import MessageView, fetch_item
from .grammar import SequenceSet, _merged, format_datetime
from .parser import Command, FetchAtt
from .response import Response
from .search import Candidate, matches
from .viewsync import ViewSync

from .backend import UidMap

if TYPE_CHECKING:  # pragma: no cover
    from .backend import FolderView, Mailboxes, Msg

__all__ = ["SelectedCommands"]

_SETS_SEEN = ("RFC822", "RFC822.TEXT")
_CACHED_ITEMS = frozenset({"ENVELOPE", "BODYSTRUCTURE", "BODY"})
_BUFFERED = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ"})


def _uses_modseq(key: tuple) -> bool:
    if key[0] == "MODSEQ":
        return True
    if key[0] == "AND":
        return any(_uses_modseq(k) for k in key[1])
    if key[0] in ("NOT", "OR"):
        return any(_uses_modseq(k) for k in key[1:])
    return False


def _keywords_in(key: tuple) -> List[str]:
    """The keywords a SEARCH key names (KEYWORD/UNKEYWORD, also nested)."""
    if key[0] in ("KEYWORD", "UNKEYWORD"):
        return [key[1]]
    if key[0] == "AND":
        return [w for k in key[1] for w in _keywords_in(k)]
    if key[0] in ("NOT", "OR"):
        return [w for k in key[1:] for w in _keywords_in(k)]
    return []


class SelectedCommands(ViewSync):
    """The selected folder and its commands (mixin of ImapSession)."""

    condstore: bool
    expunged_count: int

    if TYPE_CHECKING:  # provided by ImapSession and FolderCommands
        mailboxes: "Mailboxes"

        def send(self, response: Response) -> None: ...
        def send_raw(self, data: bytes) -> None: ...
        def finish(self, cmd: Command, name: str, *args: object) -> None: ...
        def reply(self, tag: str, name: str, *args: object) -> Response: ...
        def invalid_flags(self, flags: Any) -> Optional[str]: ...
        def canonical_flags(self, flags: Any) -> frozenset: ...

    SELECTED_ONLY = frozenset({"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH",
                               "STORE", "COPY", "MOVE"})

    def init_selected(self) -> None:
        self.box: Optional["FolderView"] = None
        self.readonly = False
        self.msgs = UidMap()
        self.recent: set = set()        # \Recent as this session first saw it
        self.on_folder_change: Optional[Callable[[], None]] = None
        self._unwatch: Optional[Callable[[], None]] = None
        self.keywords: List[str] = []   # keywords announced in * FLAGS
        self.init_view()

    # -- helpers --------------------------------------------------------------------
    def _targets(self, cmd: Command, seqset: SequenceSet) -> Optional[List[Tuple[int, int]]]:
        """(seq, uid) pairs named by *seqset*; None when a number is out of range."""
        uids = self.uids
        if cmd.uid:
            largest = uids[-1] if uids else 0
            return [(i + 1, u) for i, u in enumerate(uids) if seqset.contains(u, largest)]
        count = len(uids)
        for lo, hi in seqset.bounds(count):
            if hi > count or lo < 1:
                return None
        out: List[Tuple[int, int]] = []
        starts, ends = _merged(seqset.ranges, count)     # overlapping ranges once
        for lo, hi in zip(starts, ends):
            out.extend((s, uids[s - 1]) for s in range(lo, hi + 1))
        return out

    def _bad_set(self, cmd: Command) -> bool:
        self.send(Response(cmd.tag, f"BAD Error in IMAP command {cmd.name}: "
                                    f"Invalid messageset".encode()))
        return False

    def _folder_changed(self) -> None:
        if self.on_folder_change is not None:
            self.on_folder_change()

    # -- SELECT / EXAMINE / CLOSE / UNSELECT -----------------------------------------------
    def select_mailbox(self, cmd: Command, readonly: bool) -> bool:
        name, condstore = cmd.args
        if condstore:
            self.condstore = True
        if self.box is not None:
            self.unselect()
            self.send(Response("*", b"OK [CLOSED] Previous mailbox closed."))
        try:
            box = self.mailboxes.open(name)
        except NoSuchFolder:
            self.send(self.reply(cmd.tag, "select_missing", name))
            return False
        msgs, self._gen = box.messages_gen()
        self.box, self.readonly = box, readonly
        self.msgs = UidMap(msgs)
        self._ghost_uids, self._ghosts = set(), False
        self.share_view(self._gen)
        self.recent = box.claim_recent(msgs)
        self._token = box.stamp()
        self.keywords = []
        self.announce_flags(first=True)
        self.send(Response("*", b"%d EXISTS" % len(msgs)))
        self._recent_sent = len(self.recent)
        self.send(Response("*", b"%d RECENT" % self._recent_sent))
        unseen = next((i for i, m in enumerate(msgs, 1) if "\\Seen" not in m.flags), None)
        if unseen:
            self.send(Response("*", b"OK [UNSEEN %d] First unseen." % unseen))
        self.send(Response("*", b"OK [UIDVALIDITY %d] UIDs valid" % box.uidvalidity))
        snap = box.modseqs.snapshot     # the scan above: no second wait for a busy lock
        uidnext = snap[2] if snap is not None and snap[1] is msgs else box.uidnext
        self.send(Response("*", b"OK [UIDNEXT %d] Predicted next UID" % uidnext))
        if self.condstore:
            box.modseqs.enable()
        if box.modseqs.enabled:
            # like Dovecot: once a client used CONDSTORE here, every SELECT reports it
            self.send(Response("*", b"OK [HIGHESTMODSEQ %d] Highest" % box.highestmodseq))
        self._unwatch = box.watch(self._folder_changed)
        self.send(self.reply(cmd.tag, "examine_ok" if readonly else "select_ok"))
        return True

    def unselect(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
        self.box, self._unwatch, self.msgs = None, None, UidMap()
        self.recent = set()
        self._gen, self._ghost_uids, self._ghosts = -1, set(), False

    def cmd_close(self, cmd: Command) -> bool:
        assert self.box is not None
        if not self.readonly:
            # RFC 3501 §6.4.2: expunge silently
            gone = self.box.expunge(u for u, m in self.folder_now().items()
                                    if "\\Deleted" in m.flags)
            self.expunged_count += len(gone)
        self.unselect()
        self.send(self.reply(cmd.tag, "close_ok"))
        return True

    def cmd_unselect(self, cmd: Command) -> bool:
        self.unselect()
        self.send(self.reply(cmd.tag, "unselect_ok"))
        return True

    def cmd_check(self, cmd: Command) -> bool:
        self.finish(cmd, "check_ok")
        return True

    # -- FETCH ------------------------------------------------------------------------------
    def cmd_fetch(self, cmd: Command) -> bool:
        seqset, atts, changedsince = cmd.args
        targets = self._targets(cmd, seqset)
        if targets is None:
            return self._bad_set(cmd)
        atts = list(atts)
        if changedsince is not None or any(a.name == "MODSEQ" for a in atts):
            self.condstore = True
        if changedsince is not None and not any(a.name == "MODSEQ" for a in atts):
            atts.append(FetchAtt("MODSEQ"))
        if cmd.uid and not any(a.name == "UID" for a in atts):
            atts.insert(0, FetchAtt("UID"))
        # Dovecot writes the cheap items first, then the ones that read the message
        atts = ([a for a in atts if a.name in _BUFFERED and a.section is None]
                + [a for a in atts if not (a.name in _BUFFERED and a.section is None)])
        n_buffered = sum(1 for a in atts if a.name in _BUFFERED and a.section is None)
        sets_seen = not self.readonly and any(
            (a.section is not None and not a.peek) or a.name in _SETS_SEEN for a in atts)
        needs_body = any(a.section is not None or a.name in
                         ("ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822", "RFC822.HEADER",
                          "RFC822.TEXT") for a in atts)
        box = self.box
        assert box is not None
        # FETCH shows the flags the folder has now, changes by other sessions
        # included; the view keeps what was reported, so the untagged update
        # still follows at the end (Dovecot sends both lines)
        current = self.folder_now()
        seen_set: List[int] = []
        for seq, uid in targets:
            m = self.msgs.get(uid)
            if m is None:
                continue
            m = self.latest(m, current) or m
            if changedsince is not None and m.modseq <= changedsince:
                continue
            view = None
            if needs_body:
                view = box.view(uid)
            parts: List[bytes] = []
            implicit_flags = False
            if sets_seen and "\\Seen" not in m.flags:
                try:
                    box.set_flags(uid, m.flags | {"\\Seen"})
                except NoSuchMessage:
                    continue
                m = type(m)(m.uid, m.flags | {"\\Seen"}, m.size, m.internaldate, m.recent, m.modseq)
                self.msgs[uid] = m
                seen_set.append(uid)
                implicit_flags = not any(a.name == "FLAGS" for a in atts)
            try:
                for i, att in enumerate(atts):
                    if i == n_buffered and implicit_flags:
                        # RFC 3501 §6.4.5: the client learns about the \Seen it caused
                        parts.append(b"FLAGS " + self.flags_of(m).encode())
                    parts.append(self._fetch_att(att, m, view))
            except (NoSuchMessage, OSError):
                continue            # expunged by someone else meanwhile
            if view is not None:
                box.remember(uid, view)
            self.send_raw(b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n")
        if seen_set:
            self.take_own(seen_set)
        if needs_body:
            box.flush_cache()
        self.finish(cmd, "fetch_ok")
        return True

    def _fetch_att(self, att: FetchAtt, m: "Msg", view: Optional[MessageView]) -> bytes:
        name = att.name
        if name == "UID":
            return b"UID %d" % m.uid
        if name == "FLAGS":
            return b"FLAGS " + self.flags_of(m).encode()
        if name == "INTERNALDATE":
            when = m.internaldate
            text = format_datetime(when) if when else "01-Jan-1970 00:00:00 +0000"
            return f'INTERNALDATE "{text}"'.encode()
        if name == "MODSEQ":
            return b"MODSEQ (%d)" % m.modseq
        if name == "RFC822.SIZE":      # the store knows the CRLF size
            return b"RFC822.SIZE %d" % m.size
        assert view is not None
        if name in _CACHED_ITEMS and att.section is None:
            assert self.box is not None
            return self.box.cached_item(m.uid, name, lambda: fetch_item(view, att))
        return fetch_item(view, att)

    # -- STORE ------------------------------------------------------------------------------
    def cmd_store(self, cmd: Command) -> bool:
        seqset, unchanged, mode, silent, flags = cmd.args
        targets = self._targets(cmd, seqset)
        if targets is None:
            return self._bad_set(cmd)
        bad = self.invalid_flags(flags)
        if bad:
            self.send(self.reply(cmd.tag, "invalid_flag", bad))
            return False
        if self.readonly:
            self.send(self.reply(cmd.tag, "readonly"))
            return False
        if unchanged is not None:
            self.condstore = True
        box = self.box
        assert box is not None
        wanted = self.canonical_flags(flags) - {"\\Recent"}
        if mode != "-":
            # new keywords join the folder's list in the order the client gave them
            words = [f for f in flags if not f.startswith("\\") and f not in self.keywords]
            add = getattr(box.folder, "add_keywords", None)
            if words and add is not None:
                add(words)
        modified: List[int] = []
        current = self.folder_now()
        for seq, uid in targets:
            m = self.msgs.get(uid)
            if m is None:
                continue
            now = self.latest(m, current) or m
            if unchanged is not None and now.modseq > unchanged:
                modified.append(uid if cmd.uid else seq)
                continue
            # on the folder's flags now: never undo another session's change
            new = wanted if mode == "" else (now.flags | wanted if mode == "+" else now.flags - wanted)
            if new == now.flags:
                continue            # Dovecot reports only messages that changed
            if uid in current:
                try:
                    box.set_flags(uid, new)
                except NoSuchMessage:
                    continue
            else:
                # a ghost (expunged elsewhere, not announced yet) answers as if it were set
                self.pending[uid] = type(m)(uid, frozenset(new), m.size, m.internaldate,
                                            m.recent, now.modseq)
            if silent:
                # what the client expects: its change on the flags it knows
                known = m.flags
                self.silenced[uid] = frozenset(
                    wanted if mode == "" else (known | wanted if mode == "+" else known - wanted))
            else:
                self.stored.add(uid)
        # the changes are reported with everyone else's, in sequence order, by the
        # update that ends the command (Dovecot: the STORE's own FETCH lines come
        # from its mailbox sync too)
        if modified:
            self.finish(cmd, "store_modified", SequenceSet.from_numbers(sorted(modified)))
        else:
            self.finish(cmd, "store_ok")
        return True

    # -- SEARCH -----------------------------------------------------------------------------
    def cmd_search(self, cmd: Command) -> bool:
        charset, key = cmd.args
        box = self.box
        assert box is not None
        if _uses_modseq(key):
            self.condstore = True
        found: List[int] = []
        top_modseq = 0
        max_seq, max_uid = len(self.uids), (self.uids[-1] if self.uids else 0)
        for seq, uid in enumerate(self.uids, 1):
            m = self.msgs.get(uid)
            if m is None:
                continue
            c = Candidate(seq, uid, m.flags, m.size, partial(box.view, uid),
                          m.internaldate, uid in self.recent, m.modseq)
            try:
                hit = matches(key, c, max_seq, max_uid)
            except (NoSuchMessage, OSError):
                hit = False
            if c._cached is not None:
                box.remember(uid, c._cached)
            if hit:
                found.append(uid if cmd.uid else seq)
                top_modseq = max(top_modseq, m.modseq)
        text = "SEARCH" + "".join(f" {n}" for n in found)
        if found and _uses_modseq(key):
            text += f" (MODSEQ {top_modseq})"
        self.send(Response("*", text.encode()))
        words = _keywords_in(key)
        if words:
            # Dovecot makes a keyword it is asked about known to the session's
            # folder, and announces it in FLAGS right after the result
            self.add_session_keywords(words)
            self.announce_flags()
        self.finish(cmd, "search_ok")
        return True

    # -- COPY / MOVE / EXPUNGE ------------------------------------------------------------------
    def _copy(self, cmd: Command) -> Optional[Tuple[List[int], List[int], int]]:
        seqset, name = cmd.args
        targets = self._targets(cmd, seqset)
        if targets is None:
            self._bad_set(cmd)
            return None
        try:
            dest = self.mailboxes.open(name)
        except NoSuchFolder:
            self.send(self.reply(cmd.tag, "trycreate", name))
            return None
        assert self.box is not None
        src, dst = [], []
        current = self.folder_now()
        for _seq, uid in targets:
            m = self.msgs.get(uid)
            if m is None:
                continue
            m = self.latest(m, current) or m      # the flags the message has now
            try:
                data = self.box.read(uid)
            except (NoSuchMessage, OSError):
                continue
            try:
                dst.append(dest.append(data, m.flags - {"\\Recent"}, m.internaldate))
            except MailboxLocked:
                # all or nothing, as Dovecot's copy transaction: undo the copies made
                if dst:
                    dest.expunge(dst)
                self.send(self.reply(cmd.tag, "lock_timeout"))
                return None
            src.append(uid)
        return src, dst, dest.uidvalidity

    def cmd_copy(self, cmd: Command) -> bool:
        result = self._copy(cmd)
        if result is None:
            return False
        src, dst, validity = result
        if not src:
            self.finish(cmd, "copy_none")
        else:
            self.finish(cmd, "copy_ok", validity, SequenceSet.from_numbers(src),
                        SequenceSet.from_numbers(dst))
        return True

    def cmd_move(self, cmd: Command) -> bool:
        if self.readonly:
            self.send(self.reply(cmd.tag, "readonly"))
            return False
        result = self._copy(cmd)
        if result is None:
            return False
        src, dst, validity = result
        if src:
            # RFC 6851 §4.3: COPYUID travels in an untagged OK before the EXPUNGEs
            self.send(Response("*", f"OK [COPYUID {validity} {SequenceSet.from_numbers(src)} "
                                    f"{SequenceSet.from_numbers(dst)}] Moved UIDs.".encode()))
            assert self.box is not None
            self.expunged_count += len(self.box.expunge(src))
        self.finish(cmd, "move_ok" if src else "copy_none")
        return True

    def cmd_expunge(self, cmd: Command) -> bool:
        if self.readonly:
            self.send(self.reply(cmd.tag, "readonly"))
            return False
        assert self.box is not None
        limit = cmd.args[0] if cmd.args else None
        largest = self.uids[-1] if self.uids else 0
        # the folder's flags now: a \Deleted set (or cleared) by another session counts
        doomed = [u for u, m in self.folder_now().items() if "\\Deleted" in m.flags
                  and (limit is None or limit.contains(u, largest))]
        try:
            self.expunged_count += len(self.box.expunge(doomed))
        except StoreError:
            self.send(self.reply(cmd.tag, "server_error"))
            return False
        self.finish(cmd, "expunge_ok")
        return True
