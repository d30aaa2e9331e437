"""The backend interface shared by POP3 and IMAP: folders, messages, flags.

Everything a protocol server needs from storage goes through the two
abstract classes here, :class:`Store` (one user's mailboxes) and
:class:`Folder` (one mailbox), so POP3 and IMAP never touch files
themselves.  :mod:`labmail.store.maildir` and :mod:`labmail.store.mbox`
implement them.

Flags use IMAP's names (RFC 3501 section 2.3.2): the system flags
``\\Seen \\Answered \\Flagged \\Deleted \\Draft`` and keywords (atoms such as
``$Junk`` or ``work``).  On disk they become Maildir info letters
``S R F T D`` and Dovecot's keyword letters ``a``-``z``.
"""
from __future__ import annotations

import abc
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, FrozenSet, Iterable, Iterator, List, Optional, Sequence

from ..errors import LabError

__all__ = [
    "SEEN", "ANSWERED", "FLAGGED", "DELETED", "DRAFT", "SYSTEM_FLAGS",
    "MAILDIR_FLAG_LETTERS", "MessageInfo", "Folder", "Store",
    "StoreError", "NoSuchFolder", "FolderExists", "NoSuchMessage", "MailboxLocked",
]

SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = (
    "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
SYSTEM_FLAGS: FrozenSet[str] = frozenset({SEEN, ANSWERED, FLAGGED, DELETED, DRAFT})

#: Maildir "info" letters (cr.yp.to/proto/maildir.html): P (passed) has no
#: IMAP flag; T (trashed) is IMAP's \Deleted.
MAILDIR_FLAG_LETTERS = {DRAFT: "D", FLAGGED: "F", ANSWERED: "R", SEEN: "S", DELETED: "T"}


class StoreError(LabError):
    """A mailbox operation failed."""


class NoSuchFolder(StoreError):
    """The named folder does not exist."""


class FolderExists(StoreError):
    """A folder of that name already exists."""


class NoSuchMessage(StoreError):
    """No message with that uid (it may have been expunged)."""


class MailboxLocked(StoreError):
    """Another session holds the lock (POP3 answers ``-ERR [IN-USE]``)."""


@dataclass(frozen=True)
class MessageInfo:
    """What a folder knows about one message without reading it.

    ``size`` is the file's size in bytes (LF line ends, as stored);
    ``vsize`` is the size with CRLF line ends: what POP3 ``LIST`` and IMAP
    ``RFC822.SIZE`` report (RFC 1939 section 5: sizes are as transmitted).
    ``recent`` is true while the file is still in ``new/``.
    """

    uid: int
    key: str
    size: int
    vsize: int
    flags: FrozenSet[str] = field(default_factory=frozenset)
    internaldate: Optional[_dt.datetime] = None
    recent: bool = False


ChangeCallback = Callable[["Folder"], None]


class Folder(abc.ABC):
    """One mailbox: messages in uid order, their flags and bytes.

    UIDs follow RFC 3501 section 2.3.1.1: strictly ascending, never reused
    while ``uidvalidity`` stays the same; they are shared by POP3's UIDL
    and IMAP's UID.

    >>> folder = store.folder("INBOX")                      # doctest: +SKIP
    >>> uid = folder.append(b"Subject: hi\\r\\n\\r\\nhello\\r\\n", flags={SEEN})  # doctest: +SKIP
    >>> [m.uid for m in folder.messages()][-1] == uid                        # doctest: +SKIP
    True
    """

    name: str

    @property
    @abc.abstractmethod
    def uidvalidity(self) -> int:
        """The folder's UIDVALIDITY (changes only if uids are renumbered)."""

    @property
    @abc.abstractmethod
    def uidnext(self) -> int:
        """The uid the next new message will get."""

    @abc.abstractmethod
    def messages(self) -> List[MessageInfo]:
        """Sync with the disk (give new files uids) and list messages by uid."""

    @abc.abstractmethod
    def read(self, uid: int) -> bytes:
        """The message's bytes as stored (LF line ends on Maildir)."""

    @abc.abstractmethod
    def set_flags(self, uid: int, flags: Iterable[str]) -> MessageInfo:
        """Replace the message's flags and keywords; returns the new info."""

    @abc.abstractmethod
    def append(self, data: bytes, flags: Iterable[str] = (),
               internaldate: Optional[_dt.datetime] = None) -> int:
        """Store a new message; returns its uid."""

    @abc.abstractmethod
    def expunge(self, uids: Iterable[int]) -> List[int]:
        """Remove these messages for good; returns the uids removed."""

    @abc.abstractmethod
    def lock(self, owner: str = "") -> "FolderLock":
        """An exclusive session lock (POP3 maildrop lock, RFC 1939 section 8).

        Raises :class:`MailboxLocked` when another session holds it.  Use as a
        context manager or call ``release()``.
        """

    # -- conveniences built on the abstract methods --------------------------
    def info(self, uid: int) -> MessageInfo:
        """The :class:`MessageInfo` of one uid."""
        for m in self.messages():
            if m.uid == uid:
                return m
        raise NoSuchMessage(f"{self.name}: no message with uid {uid}")

    def add_flags(self, uid: int, flags: Iterable[str]) -> MessageInfo:
        """Add flags (IMAP ``STORE +FLAGS``)."""
        return self.set_flags(uid, self.info(uid).flags | frozenset(flags))

    def remove_flags(self, uid: int, flags: Iterable[str]) -> MessageInfo:
        """Remove flags (IMAP ``STORE -FLAGS``)."""
        return self.set_flags(uid, self.info(uid).flags - frozenset(flags))

    def keywords(self) -> List[str]:
        """Keywords defined in this folder (IMAP ``PERMANENTFLAGS`` extras)."""
        return []

    # -- change notification (IMAP IDLE, RFC 2177) ----------------------------
    def watch(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call *callback(folder)* whenever this folder changes.

        Returns a function that stops watching.  Callbacks run in the thread
        that made the change: an asyncio server should hop back onto its loop
        with ``loop.call_soon_threadsafe``.
        """
        from .events import watch
        return watch(self.path_key(), lambda _key: callback(self))

    def notify_changed(self) -> None:
        """Tell watchers this folder changed (delivery calls this)."""
        from .events import changed
        changed(self.path_key())

    @abc.abstractmethod
    def path_key(self) -> str:
        """A process-wide unique key for this folder (its absolute path)."""

    def __iter__(self) -> Iterator[MessageInfo]:
        return iter(self.messages())

    def __len__(self) -> int:
        return len(self.messages())


class UidListFolder(Folder):
    """A folder whose uids live in a dovecot-uidlist-style list (``self._list``),
    loaded by :meth:`messages`; Maildir and mbox folders share this."""

    _list: Any = None

    @property
    def uidvalidity(self) -> int:
        if self._list is None:
            self.messages()
        assert self._list is not None
        return self._list.uidvalidity

    @property
    def uidnext(self) -> int:
        self.messages()
        assert self._list is not None
        return self._list.next_uid


class FolderLock:
    """A held session lock; ``release()`` or leave the ``with`` block."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Optional[Callable[[], None]] = release

    def release(self) -> None:
        """Give the lock back (idempotent)."""
        if self._release is not None:
            rel, self._release = self._release, None
            rel()

    @property
    def held(self) -> bool:
        return self._release is not None

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Store(abc.ABC):
    """One user's mailboxes (Dovecot's "mail storage" for that user).

    Folder names are IMAP names with ``.`` as the hierarchy separator
    (Maildir++: folder ``Sent`` lives in ``~/Maildir/.Sent``); ``INBOX`` is
    case-insensitive and always exists (RFC 3501 section 5.1).

    >>> store = MaildirStore(Path("/tmp/alice/Maildir"))     # doctest: +SKIP
    >>> store.create_folder("Sent"); store.list_folders()     # doctest: +SKIP
    ['INBOX', 'Sent']
    """

    separator = "."

    @abc.abstractmethod
    def list_folders(self) -> List[str]:
        """All folder names, ``INBOX`` first, the rest sorted."""

    @abc.abstractmethod
    def folder(self, name: str) -> Folder:
        """Open an existing folder (raises :class:`NoSuchFolder`)."""

    @abc.abstractmethod
    def create_folder(self, name: str) -> Folder:
        """Create a folder (raises :class:`FolderExists`)."""

    @abc.abstractmethod
    def delete_folder(self, name: str) -> None:
        """Delete a folder and its messages (INBOX cannot be deleted)."""

    @abc.abstractmethod
    def rename_folder(self, old: str, new: str) -> None:
        """Rename a folder and its children (RFC 3501 section 6.3.5)."""

    def has_folder(self, name: str) -> bool:
        """True if the folder exists."""
        return self.normalize(name) in self.list_folders()

    @staticmethod
    def normalize(name: str) -> str:
        """``inbox`` and ``InBox`` both mean ``INBOX``."""
        if name.upper() == "INBOX":
            return "INBOX"
        if name.upper().startswith("INBOX."):
            return "INBOX" + name[5:]
        return name

    # Subscriptions (IMAP SUBSCRIBE/LSUB), kept in Dovecot's ``subscriptions``.
    def subscriptions(self) -> List[str]:
        return []

    def subscribe(self, name: str, on: bool = True) -> None:
        raise StoreError("this store keeps no subscriptions")


def keywords_of(flags: Iterable[str]) -> Sequence[str]:
    """The non-system flags of *flags*, sorted."""
    return sorted(f for f in flags if f not in SYSTEM_FLAGS)
