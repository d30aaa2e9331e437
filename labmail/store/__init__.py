"""Mail storage shared by POP3 and IMAP (Dovecot's role: the mailbox format).

The interface (see :mod:`labmail.store.base`)::

    store = open_store("maildir:~/Maildir", user="alice", home=Path(".../home/alice"))
    store.list_folders()              -> ['INBOX', 'Junk', 'Sent']
    store.create_folder("Lists.python") / delete_folder(name) / rename_folder(old, new)
    store.subscriptions() / subscribe(name, on=True)
    f = store.folder("INBOX")         # Folder; NoSuchFolder if absent
    f.uidvalidity, f.uidnext          # RFC 3501 2.3.1.1, kept in dovecot-uidlist
    f.messages()                      -> [MessageInfo(uid, key, size, vsize,
                                          flags, internaldate, recent), ...]
    f.read(uid)                       -> bytes (LF line ends on Maildir)
    f.set_flags(uid, {"\\\\Seen", "$Junk"}) / add_flags / remove_flags
    f.append(data, flags=(), internaldate=None) -> uid
    f.expunge(uids)                   -> uids removed
    f.lock()                          -> FolderLock (MailboxLocked if held)
    f.watch(callback)                 -> unwatch(); f.notify_changed()
    notify_delivery(path)             # a delivery agent tells IDLE watchers

``size`` is bytes on disk, ``vsize`` the size with CRLF line ends (POP3
LIST, IMAP RFC822.SIZE).  Flags are IMAP names; Maildir stores them as the
info letters S R F T D and Dovecot's keyword letters.

>>> import tempfile
>>> store = MaildirStore(Path(tempfile.mkdtemp()) / "Maildir")
>>> store.create_folder("Sent").name
'Sent'
>>> store.list_folders()
['INBOX', 'Sent']
"""
from pathlib import Path

from .base import (ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, SYSTEM_FLAGS, Folder,
                   FolderExists, FolderLock, MailboxLocked, MessageInfo, NoSuchFolder,
                   NoSuchMessage, Store, StoreError)
from .events import changed as notify_delivery
from .events import watch
from .location import open_store, parse_mail_location
from .maildir import MaildirFolder, MaildirStore
from .mbox import MboxFolder

__all__ = [
    "SEEN", "ANSWERED", "FLAGGED", "DELETED", "DRAFT", "SYSTEM_FLAGS",
    "Folder", "FolderLock", "MessageInfo", "Store", "StoreError", "NoSuchFolder",
    "FolderExists", "NoSuchMessage", "MailboxLocked", "MaildirFolder",
    "MaildirStore", "MboxFolder", "open_store", "parse_mail_location",
    "notify_delivery", "watch", "Path",
]
