"""Local delivery: what Postfix's ``local(8)`` does with mail for a local user.

It prepends ``Return-Path:`` (the envelope sender) and ``Delivered-To:`` (the
final recipient) and stores the message in one of two places, depending on
``main.cf``:

* ``home_mailbox = Maildir/`` (the lab's default): one file per message in
  ``~/Maildir/new/``, written to ``tmp/`` first, synced to disk, then renamed
  (the Maildir protocol: a reader never sees a half-written message);
* otherwise the user's mbox file in ``mail_spool_directory`` (``/var/mail/alice``),
  appended under a lock with a ``From `` separator line.

Both are synced with ``fsync`` before the function returns: a delivery that
returns is on disk.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["DeliveryResult", "deliver_maildir", "deliver_mbox", "prepend_headers",
           "ensure_maildir"]


@dataclass(frozen=True)
class DeliveryResult:
    """Where a message went: the file and the words Postfix logs for it."""

    path: Path
    how: str          # "delivered to maildir" / "delivered to mailbox"


def prepend_headers(content: bytes, sender: str, recipient: str) -> bytes:
    """``Return-Path`` and ``Delivered-To`` as local(8) adds them."""
    head = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n"
    return head.encode("utf-8") + content


def ensure_maildir(root: Path) -> None:
    """Create ``root/{cur,new,tmp}`` if missing (mode 0700, as Postfix does)."""
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def deliver_maildir(root: Path, content: bytes, *, now: float, hostname: str,
                    unique: Callable[[], str]) -> DeliveryResult:
    """Write *content* as a new message in the Maildir at *root*.

    The file name follows Postfix's ``time.VdevIinodeMusec.hostname`` pattern
    with *unique* (a counter) added, so names sort in delivery order.
    """
    ensure_maildir(root)
    usec = int((now % 1) * 1_000_000)
    tmp_name = f"{int(now)}.P{os.getpid()}Q{unique()}M{usec}.{hostname}"
    tmp_path = root / "tmp" / tmp_name
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        st = os.fstat(fd)
        view = memoryview(content)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp_path.unlink(missing_ok=True)
        raise
    os.close(fd)
    # Postfix's time.VdevIinodeMusec.host, with the lab's delivery counter in
    # front of the unique part: under a fixed lab clock, names still sort in
    # delivery order (and never collide when an inode is reused).
    name = f"{int(now)}.Q{int(unique()):06d}V{st.st_dev:x}I{st.st_ino:x}M{usec}.{hostname}"
    new_path = root / "new" / name
    os.rename(tmp_path, new_path)
    _fsync_dir(root / "new")                    # the rename itself must be durable
    return DeliveryResult(new_path, "delivered to maildir")


def deliver_mbox(path: Path, content: bytes, *, sender: str,
                 when: _dt.datetime) -> DeliveryResult:
    """Append *content* to the mbox file *path* (``From `` line, ``>From`` quoting).

    Locks with ``fcntl`` as Postfix's ``mailbox_delivery_lock`` does on Linux,
    so concurrent deliveries and readers never interleave.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = when.strftime("%a %b %d %H:%M:%S %Y").replace(" 0", "  ", 1) \
        if when.day < 10 else when.strftime("%a %b %d %H:%M:%S %Y")
    lines = content.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    body = []
    for line in lines:
        stripped = line.lstrip(b">")
        body.append(b">" + line if stripped.startswith(b"From ") else line)
    blob = (f"From {sender or 'MAILER-DAEMON'} {stamp}\n".encode("utf-8")
            + b"\n".join(body) + b"\n\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        os.write(fd, blob)
        os.fsync(fd)
    finally:
        os.close(fd)
    return DeliveryResult(path, "delivered to mailbox")
