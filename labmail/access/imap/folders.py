"""Mailbox-level IMAP commands, valid once logged in (RFC 3501 §6.3).

SELECT/EXAMINE (with CONDSTORE), CREATE, DELETE, RENAME (INBOX rename moves
the messages, §6.3.5), SUBSCRIBE/UNSUBSCRIBE, LIST/LSUB with ``*`` and ``%``,
STATUS, APPEND (APPENDUID, RFC 4315), NAMESPACE (RFC 2342), ENABLE
(RFC 5161).  A mixin of :class:`~.protocol.ImapSession`.

>>> list_regex("", "INBOX.%").match("inbox.Sent")
True
>>> list_regex("", "%").match("a.b")
False
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set

from ...store.base import FolderExists, MailboxLocked, NoSuchFolder, StoreError
from .parser import STATUS_ITEMS, Command
from .response import Atom, Response, encode, mutf7_decode, untagged

if TYPE_CHECKING:  # pragma: no cover
    from .backend import FolderView, Mailboxes

__all__ = ["FolderCommands", "ListPattern", "list_regex", "mailbox_value"]

_ATOM_RE = re.compile(r"[^(){ %*\"\\\]\x00-\x1f\x7f]+\Z")
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
_SYSTEM_BY_LOWER = {f.lower(): f for f in SYSTEM_FLAGS}


def mailbox_value(name: str) -> Any:
    """A mailbox name as Dovecot writes it: atom when it can, else a string."""
    return Atom(name) if _ATOM_RE.match(name) and name.upper() != "NIL" else name


class ListPattern:
    """A LIST/LSUB pattern (RFC 3501 §6.3.8): ``*`` matches anything, ``%``
    anything but the hierarchy separator; INBOX is case-insensitive.

    Matching is a dynamic programme over (pattern, name) positions, so a
    hostile pattern such as ``*a*a*a*a*b`` cannot make the server backtrack
    for ever (a translated regular expression could).
    """

    def __init__(self, pattern: str, sep: str = ".") -> None:
        # runs of wildcards collapse: "**" is "*", "%*" is "*"
        out: List[str] = []
        for ch in pattern:
            if ch in "*%" and out and out[-1] in "*%":
                out[-1] = "*" if "*" in (ch, out[-1]) else "%"
            else:
                out.append(ch)
        self.pattern = "".join(out)
        self.sep = sep

    def match(self, name: str) -> bool:
        p = self.pattern
        if p[:5].upper() == "INBOX" and name[:5].upper() == "INBOX":
            p, name = "INBOX" + p[5:], "INBOX" + name[5:]
        # reach[j]: the first i pattern characters can match name[:j]
        reach = [True] + [False] * len(name)
        for ch in p:
            nxt = [False] * (len(name) + 1)
            if ch == "*":
                seen = False
                for j in range(len(name) + 1):
                    seen = seen or reach[j]
                    nxt[j] = seen
            elif ch == "%":
                run = False
                for j in range(len(name) + 1):
                    if j and name[j - 1] == self.sep:
                        run = False
                    run = run or reach[j]
                    nxt[j] = run
            else:
                for j in range(1, len(name) + 1):
                    nxt[j] = reach[j - 1] and name[j - 1] == ch
            reach = nxt
            if not any(reach):
                return False
        return reach[len(name)]


def list_regex(reference: str, pattern: str, sep: str = ".") -> ListPattern:
    """The matcher for ``LIST reference pattern`` (the two are simply joined)."""
    return ListPattern(reference + pattern, sep)


class FolderCommands:
    """Commands on mailboxes as a whole (mixin; see module docstring)."""

    mailboxes: "Mailboxes"
    condstore: bool

    if TYPE_CHECKING:  # provided by ImapSession and SelectedCommands
        box: Optional["FolderView"]

        def send(self, response: Response) -> None: ...
        def finish(self, cmd: Command, name: str, *args: object) -> None: ...
        def reply(self, tag: str, name: str, *args: object) -> Response: ...
        def close(self, why: str) -> None: ...
        def select_mailbox(self, cmd: Command, readonly: bool) -> bool: ...

    def _valid_name(self, cmd: Command, name: str) -> bool:
        try:
            mutf7_decode(name)
        except ValueError:
            self.send(Response(cmd.tag, b"NO Mailbox name is not valid mUTF-7"))
            return False
        return True

    # -- SELECT / EXAMINE -------------------------------------------------------
    def cmd_select(self, cmd: Command) -> bool:
        return self.select_mailbox(cmd, readonly=False)

    def cmd_examine(self, cmd: Command) -> bool:
        return self.select_mailbox(cmd, readonly=True)

    # -- CREATE / DELETE / RENAME ---------------------------------------------------
    def cmd_create(self, cmd: Command) -> bool:
        name = cmd.args[0].rstrip(self.mailboxes.separator)
        if not self._valid_name(cmd, name):
            return False
        if name.upper() == "INBOX" or self.mailboxes.exists(name):
            self.send(self.reply(cmd.tag, "create_exists"))
            return False
        try:
            self.mailboxes.create(name)
        except FolderExists:
            self.send(self.reply(cmd.tag, "create_exists"))
            return False
        except StoreError as exc:
            self.send(Response(cmd.tag, f"NO {exc}".encode()))
            return False
        self.finish(cmd, "create_ok")
        return True

    def cmd_delete(self, cmd: Command) -> bool:
        name = cmd.args[0]
        boxes = self.mailboxes
        if name.upper() == "INBOX":
            self.send(self.reply(cmd.tag, "delete_inbox"))
            return False
        if not boxes.exists(name):
            self.send(self.reply(cmd.tag, "nonexistent", name))
            return False
        # Maildir++ keeps children in their own directories: deleting a parent
        # leaves them, and the parent lives on as a \Noselect name (as in Dovecot)
        selected = self.box is not None and self.box.name == boxes.store.normalize(name)
        boxes.delete(name)
        if name in boxes.subscriptions():
            boxes.subscribe(name, False)
        if selected:
            self.send(self.reply(cmd.tag, "delete_ok"))
            self.send(Response("*", b"BYE Selected mailbox was deleted, have to disconnect."))
            self.close("Selected mailbox was deleted, have to disconnect.")
            return True
        self.finish(cmd, "delete_ok")
        return True

    def cmd_rename(self, cmd: Command) -> bool:
        old, new = cmd.args
        if not self._valid_name(cmd, new):
            return False
        try:
            self.mailboxes.rename(old, new.rstrip(self.mailboxes.separator))
        except NoSuchFolder:
            self.send(self.reply(cmd.tag, "nonexistent", old))
            return False
        except FolderExists:
            self.send(self.reply(cmd.tag, "rename_exists"))
            return False
        except StoreError as exc:
            self.send(Response(cmd.tag, f"NO {exc}".encode()))
            return False
        self.finish(cmd, "rename_ok")
        return True

    # -- subscriptions ---------------------------------------------------------------
    def cmd_subscribe(self, cmd: Command) -> bool:
        name = cmd.args[0]
        if not self._valid_name(cmd, name):
            return False
        if not self.mailboxes.exists(name):
            self.send(self.reply(cmd.tag, "select_missing", name))   # no code, as Dovecot
            return False
        if name not in self.mailboxes.subscriptions():
            self.mailboxes.subscribe(name, True)
        self.finish(cmd, "subscribe_ok")
        return True

    def cmd_unsubscribe(self, cmd: Command) -> bool:
        self.mailboxes.subscribe(cmd.args[0], False)
        self.finish(cmd, "unsubscribe_ok")
        return True

    # -- LIST / LSUB --------------------------------------------------------------
    def _tree(self) -> Dict[str, bool]:
        """Every name LIST can show -> True when it really exists (else \\Noselect)."""
        sep = self.mailboxes.separator
        names: Dict[str, bool] = {n: True for n in self.mailboxes.list()}
        for n in list(names):
            parts = n.split(sep)
            for i in range(1, len(parts)):
                names.setdefault(sep.join(parts[:i]), False)
        return names

    def cmd_list(self, cmd: Command) -> bool:
        reference, pattern = cmd.args[0], cmd.args[1]
        extended = len(cmd.args) == 5
        selection, returns, more = cmd.args[2:] if extended else ((), (), ())
        sep = self.mailboxes.separator
        if pattern == "" and not more:
            # RFC 3501 §6.3.8: the hierarchy delimiter and root
            self.send(untagged("LIST", encode([Atom("\\Noselect")]), encode(sep), encode("")))
            self.finish(cmd, "list_ok")
            return True
        matchers = [list_regex(reference, p, sep) for p in (pattern,) + tuple(more)]
        subscribed = set(self.mailboxes.subscriptions())
        tree = self._tree()
        order = sorted(tree, key=lambda n: (n != "INBOX", n))
        for name in order:
            if not any(m.match(name) for m in matchers):
                continue
            special = self.mailboxes.special_use(name)
            # RFC 5258 / RFC 6154 selection options narrow the listing
            if "SUBSCRIBED" in selection and name not in subscribed:
                continue
            if "SPECIAL-USE" in selection and not special:
                continue
            attrs: List[str] = []
            if not tree[name]:
                attrs.append("\\Noselect")
            # an extended LIST returns only what it asked for (RFC 5258 §4, as Dovecot)
            if not extended or "CHILDREN" in returns:
                kids = any(n.startswith(name + sep) for n in tree)
                attrs.append("\\HasChildren" if kids else "\\HasNoChildren")
            if name in subscribed and ("SUBSCRIBED" in selection or "SUBSCRIBED" in returns):
                attrs.append("\\Subscribed")
            if special and (not extended or "SPECIAL-USE" in returns + selection):
                attrs.append(special)
            self.send(untagged("LIST", encode([Atom(a) for a in attrs]), encode(sep),
                               encode(mailbox_value(name))))
        self.finish(cmd, "list_ok")
        return True

    def cmd_lsub(self, cmd: Command) -> bool:
        reference, pattern = cmd.args
        sep = self.mailboxes.separator
        rx = list_regex(reference, pattern, sep)
        existing: Set[str] = set(self.mailboxes.list())
        for name in self.mailboxes.subscriptions():
            if not rx.match(name):
                continue
            attrs = []
            if name not in existing:
                attrs.append("\\NonExistent")
            special = self.mailboxes.special_use(name)
            if special:
                attrs.append(special)
            self.send(untagged("LSUB", encode([Atom(a) for a in attrs]), encode(sep),
                               encode(mailbox_value(name))))
        self.finish(cmd, "lsub_ok")
        return True

    # -- STATUS ---------------------------------------------------------------------
    def cmd_status(self, cmd: Command) -> bool:
        name, items = cmd.args
        try:
            box = self.mailboxes.open(name)
        except NoSuchFolder:
            self.send(self.reply(cmd.tag, "nonexistent", name))
            return False
        msgs = box.messages()
        values = {
            "MESSAGES": len(msgs),
            "RECENT": box.recent_count(msgs),
            "UIDNEXT": box.uidnext,
            "UIDVALIDITY": box.uidvalidity,
            "UNSEEN": sum(1 for m in msgs if "\\Seen" not in m.flags),
            "HIGHESTMODSEQ": box.highestmodseq,
        }
        out: List[Any] = []
        for item in sorted(set(items), key=STATUS_ITEMS.index):   # Dovecot's fixed order
            out += [Atom(item), values[item]]
        self.send(untagged("STATUS", encode(mailbox_value(box.name)), encode(out)))
        selected = self.box is not None and self.box.name == box.name
        # Dovecot tells a client that asks STATUS of the folder it has selected
        self.finish(cmd, "status_selected" if selected else "status_ok")
        return True

    # -- APPEND (RFC 3501 §6.3.11, APPENDUID RFC 4315) ------------------------------------
    def cmd_append(self, cmd: Command) -> bool:
        name, flags, when, message = cmd.args
        flags = tuple(flags or ())
        bad = self.invalid_flags(flags)
        if bad:
            self.send(Response(cmd.tag, f"BAD Error in IMAP command APPEND: Invalid system "
                                        f"flag {bad}".encode()))
            return False
        try:
            box = self.mailboxes.open(name)
        except NoSuchFolder:
            self.send(self.reply(cmd.tag, "trycreate", name))
            return False
        add = getattr(box.folder, "add_keywords", None)
        if add is not None and flags:
            add(f for f in flags if not f.startswith("\\"))     # in the client's order
        try:
            uid = box.append(message, self.canonical_flags(flags) - {"\\Recent"}, when)
        except MailboxLocked:
            self.send(self.reply(cmd.tag, "lock_timeout"))
            return False
        self.finish(cmd, "append_ok", box.uidvalidity, uid)
        return True

    def invalid_flags(self, flags: Any) -> Optional[str]:
        """The first flag that looks like a system flag but is none (Dovecot upper-cases it)."""
        for f in flags:
            if f.startswith("\\") and f.lower() not in _SYSTEM_BY_LOWER:
                return f.upper()
        return None

    @staticmethod
    def canonical_flags(flags: Any) -> frozenset:
        """``\\SEEN`` and ``\\seen`` mean ``\\Seen`` (system flags are case-insensitive)."""
        return frozenset(_SYSTEM_BY_LOWER.get(f.lower(), f) if f.startswith("\\") else f
                         for f in flags)

    # -- NAMESPACE / ENABLE ------------------------------------------------------------
    def cmd_namespace(self, cmd: Command) -> bool:
        personal = [["", self.mailboxes.separator]]
        self.send(untagged("NAMESPACE", encode(personal), "NIL", "NIL"))
        self.finish(cmd, "namespace_ok")
        return True

    def cmd_enable(self, cmd: Command) -> bool:
        enabled = []
        for cap in cmd.args:
            if cap == "CONDSTORE":
                if not self.condstore and self.box is not None:
                    self.send(Response("*", f"OK [HIGHESTMODSEQ {self.box.highestmodseq}] "
                                            f"Highest".encode()))
                self.condstore = True
                enabled.append(cap)
        self.send(untagged("ENABLED", *enabled) if enabled else Response("*", b"ENABLED"))
        self.finish(cmd, "enable_ok")
        return True
