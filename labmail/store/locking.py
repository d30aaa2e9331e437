"""Locks as Dovecot and Postfix take them.

* :func:`dotlock` — ``<file>.lock`` created with ``O_EXCL`` (Dovecot's
  ``dovecot-uidlist.lock``, the mbox ``/var/mail/alice.lock``); a lock older
  than ``stale`` seconds is taken over, as Dovecot does.
* :class:`SessionLock` — a ``flock(2)`` on a lock file, held for a whole POP3
  session (RFC 1939 section 8: "exclusive-access lock on the maildrop").
  ``flock`` conflicts between two opens even in one process, so it guards
  threads and processes alike.
* :func:`fcntl_lock` — a POSIX record lock for mbox files (Postfix's
  ``mailbox_delivery_lock = fcntl, dotlock``).

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "dovecot-uidlist"
>>> with dotlock(p):
...     (p.parent / "dovecot-uidlist.lock").exists()
True
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Iterator, Optional, Union

from .base import MailboxLocked

__all__ = ["dotlock", "SessionLock", "fcntl_lock"]

PathLike = Union[str, Path]


@contextlib.contextmanager
def dotlock(path: PathLike, timeout: float = 10.0, stale: float = 120.0) -> Iterator[Path]:
    """Hold ``<path>.lock`` (created exclusively) for the ``with`` block."""
    lock = Path(str(path) + ".lock")
    deadline = time.monotonic() + timeout
    delay = 0.001
    # the lock appears with its pid already in it: written to a private file
    # first, then link()ed into place (fails if the lock exists), as Dovecot's
    # file_dotlock does -- a holder killed half-way never leaves an empty lock
    # whose owner nobody can check
    tmp = lock.with_name(f".{lock.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(f"{os.getpid()}\n")
    try:
        while True:
            try:
                os.link(tmp, lock)
                break
            except FileExistsError:
                pass
            try:
                age = time.time() - lock.stat().st_mtime
                if age > stale or _holder_is_dead(lock):   # a crashed holder: take over
                    lock.unlink()
                    continue
            except FileNotFoundError:
                continue
            if time.monotonic() > deadline:
                raise MailboxLocked(f"{lock} is held by someone else")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    try:
        yield lock
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _holder_is_dead(lock: Path) -> bool:
    """True when the dot-lock names a process of this machine that no longer
    exists (Dovecot's file_dotlock does the same check before waiting)."""
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:          # alive, someone else's
        return False
    return False


class SessionLock:
    """An exclusive, non-blocking ``flock`` on *path* held until :meth:`release`.

    Raises :class:`MailboxLocked` at once if someone else holds it.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._fd: Optional[int] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            self._fd = None
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise MailboxLocked(f"{self.path} is locked by another session") from None
            raise

    def release(self) -> None:
        """Unlock (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "SessionLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def fcntl_lock(fd: int, timeout: float = 10.0) -> Iterator[None]:
    """A POSIX write lock on an open file for the ``with`` block."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise MailboxLocked("mbox is locked by another process") from None
            time.sleep(0.01)
    try:
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)
