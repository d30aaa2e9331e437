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

from ..mta.syncfiles import fsync_dir

__all__ = ["DeliveryResult", "deliver_maildir", "deliver_mbox", "prepend_headers",
           "ensure_maildir", "maildir_name", "already_delivered"]


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


def maildir_name(now: float, hostname: str, pid: int, counter: int, key: str = "") -> str:
    """A unique Maildir file name: ``time.MusecPpidQdeliveries[Ikey].host``.

    This is the unique-name recipe of the Maildir specification (seconds,
    then microseconds, process id and a delivery counter, then the host
    name); it sorts in delivery order even when the lab clock stands still.
    *key* (queue id and recipient number) lets a restarted lab recognise a
    copy it delivered just before a crash.

    >>> maildir_name(1795770000.25, "mail.example.com", 4242, 7, "3F1A22C0E4B.0")
    '1795770000.M250000P4242Q000007I3F1A22C0E4B-0.mail.example.com'
    """
    usec = int(round((now % 1) * 1_000_000)) % 1_000_000
    tag = f"I{key.replace('.', '-')}" if key else ""
    return f"{int(now)}.M{usec}P{pid}Q{counter:06d}{tag}.{hostname}"


def already_delivered(root: Path, key: str) -> bool:
    """True when the Maildir at *root* holds a copy tagged with *key*."""
    tag = f"I{key.replace('.', '-')}."
    for sub in ("new", "cur"):
        try:
            if any(tag in name for name in os.listdir(root / sub)):
                return True
        except FileNotFoundError:
            continue
    return False


def deliver_maildir(root: Path, name: str, content: bytes) -> DeliveryResult:
    """Write *content* as ``new/NAME`` in the Maildir at *root* (blocking).

    Written to ``tmp/`` first, synced, renamed into ``new/``, and ``new/``
    synced: a reader never sees half a message, and a crash loses nothing
    that was reported delivered.  (A running lab host does the same through
    its group commit, sharing the syncs of concurrent deliveries.)
    """
    ensure_maildir(root)
    tmp_path, new_path = root / "tmp" / name, root / "new" / name
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp_path.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.rename(tmp_path, new_path)
    fsync_dir(root / "new")
    return DeliveryResult(new_path, "delivered to maildir")


def deliver_mbox(path: Path, content: bytes, *, sender: str,
                 when: _dt.datetime) -> DeliveryResult:
    """Append *content* to the mbox file *path* (``From `` line, ``>From`` quoting).

    Locks as Postfix's ``mailbox_delivery_lock = fcntl, dotlock`` does on
    Linux: ``<path>.lock`` (which also keeps out other threads of this
    process, where fcntl locks do not) and an fcntl lock on the file, so
    concurrent deliveries and POP3/IMAP readers never interleave.
    """
    from ..store.locking import dotlock
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
    with dotlock(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
    return DeliveryResult(path, "delivered to mailbox")
