"""Threads for mailbox work, so a held lock never stalls the lab's event loop.

Opening a folder may wait for ``dovecot-uidlist.lock`` (:func:`.locking.dotlock`
sleeps until the holder lets go, up to its timeout), and a FETCH of large
bodies reads many files.  The access servers (IMAP, POP3) run such work in
this pool instead of on the loop, which keeps serving SMTP, DNS and every
other client meanwhile — as Dovecot's separate ``imap`` processes do.

A session's commands must still run one after the other and in order; the
servers queue them per connection and hand the pool one batch at a time.
Sessions of the same mailbox also take :func:`mailbox_lock`, so they change
the shared folder objects one at a time, as they did on the single loop.

>>> mailbox_executor().submit(sum, [1, 2]).result()
3
>>> mailbox_lock("/tmp/x/Maildir") is mailbox_lock("/tmp/x/Maildir")
True
"""
from __future__ import annotations

import concurrent.futures
import threading
from typing import Dict, Optional

__all__ = ["mailbox_executor", "mailbox_lock", "MAX_WORKERS"]

#: threads shared by every lab in the process: a session waiting for a lock
#: holds one at most for the lock timeout
MAX_WORKERS = 32

_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()
_locks: Dict[str, threading.RLock] = {}


def mailbox_executor() -> concurrent.futures.ThreadPoolExecutor:
    """The process-wide pool for mailbox work (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=MAX_WORKERS, thread_name_prefix="labmail-mailbox")
        return _pool


def mailbox_lock(key: str) -> "threading.RLock":
    """One re-entrant lock per mailbox *key* (the store's root path and user)."""
    with _pool_lock:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.RLock()
        return lock
