"""Queue files: one file per message under ``<state>/var/spool/postfix/``.

Postfix keeps every message it has accepted in a *queue file* until every
recipient is delivered or bounced.  The file moves between directories as the
message makes progress::

    incoming/   written by cleanup, fsync'd before smtpd answers 250
    active/     the queue manager is delivering it now
    deferred/   a temporary failure; retried after a back-off
    hold/       put aside by ``postsuper -h`` until released
    corrupt/    a file that could not be read back

A lab queue file is readable text: a magic line, the envelope as JSON (sender,
recipients with their per-recipient status, arrival time, attempts, next try,
last reason) and, after a marker line, the message content exactly as it will
be transmitted (CRLF line ends, no dot-stuffing).  A file is always written to
a temporary name, fsync'd, renamed into place and the directory fsync'd, so a
crash leaves either the old file or the new one, never half of one.

>>> import tempfile, pathlib
>>> from labmail.clock import Clock, IdGenerator
>>> q = Queue(pathlib.Path(tempfile.mkdtemp()), Clock.fixed("2026-11-27T09:00:00"), IdGenerator(1))
>>> qf = q.enqueue("alice@example.com", ["bob@example.org"], b"Subject: hi\\r\\n\\r\\nhello\\r\\n")
>>> qf.queue, qf.size, [r.address for r in qf.recipients]
('incoming', 22, ['bob@example.org'])
>>> q.load(qf.queue_id).sender
'alice@example.com'
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ..clock import Clock, IdGenerator
from .groupcommit import GroupCommit, fsync_dir, write_durable

__all__ = ["QUEUES", "Recipient", "QueueFile", "Queue", "QueueFileError",
           "normalize_crlf"]

logger = logging.getLogger("labmail.queue")

#: Where spent queue files wait to be reused (``<state>/var/lib/labmail/spare/N``):
#: labmail's own directory, outside Postfix's queue directories, so ``ls`` of
#: a queue shows what Postfix's would.  At most MAX_SPARES are kept.
SPARE_DIR = "var/lib/labmail/spare"
MAX_SPARES = 64

#: Queue directories, in the order ``mailq`` lists them.
QUEUES = ("incoming", "active", "deferred", "hold", "corrupt")

MAGIC = b"LABMAIL-QUEUE-FILE 1\n"
CONTENT_MARK = b"\n*** MESSAGE CONTENTS ***\n"
END_MARK = b"*** MESSAGE FILE END ***\n"

_QID_RE = re.compile(r"^[0-9A-Za-z]{6,20}$")


class QueueFileError(ValueError):
    """A queue file that cannot be parsed (it goes to ``corrupt/``)."""


def normalize_crlf(data: bytes) -> bytes:
    """Return *data* with every line ending as CRLF (SMTP's wire form).

    >>> normalize_crlf(b"a\\nb\\r\\nc")
    b'a\\r\\nb\\r\\nc'
    """
    if data.count(b"\n") == data.count(b"\r\n"):     # already CRLF: the usual case
        return data
    return re.sub(rb"\r?\n", b"\r\n", data)


def dumps_indented(obj: object) -> str:
    """``json.dumps(obj, indent=1, ensure_ascii=False)``, several times faster.

    With an indent the json module falls back to its pure-Python encoder; a
    queue file is written per message, so its envelope (dicts, lists,
    strings and numbers) is laid out here with the C string encoder.  The
    text is exactly json's; anything unusual is left to json itself.

    >>> dumps_indented({"a": [1, 2.5, "é"], "b": {}, "c": None})
    '{\\n "a": [\\n  1,\\n  2.5,\\n  "é"\\n ],\\n "b": {},\\n "c": null\\n}'
    """
    out: List[str] = []
    try:
        _dump(obj, out, "\n")
    except _Unusual:
        return json.dumps(obj, indent=1, ensure_ascii=False)
    return "".join(out)


class _Unusual(Exception):
    """A value :func:`dumps_indented` leaves to the json module."""


_encode_str = json.encoder.encode_basestring     # the C one when available


def _dump(obj: object, out: List[str], nl: str) -> None:
    if isinstance(obj, str):
        out.append(_encode_str(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif type(obj) is int:
        out.append(int.__repr__(obj))
    elif type(obj) is float and math.isfinite(obj):
        out.append(float.__repr__(obj))
    elif type(obj) is dict:
        if not obj:
            out.append("{}")
            return
        inner = nl + " "
        sep = "{" + inner
        for key, value in obj.items():
            if type(key) is not str:
                raise _Unusual
            out.append(sep)
            out.append(_encode_str(key))
            out.append(": ")
            _dump(value, out, inner)
            sep = "," + inner
        out.append(nl + "}")
    elif type(obj) is list:
        if not obj:
            out.append("[]")
            return
        inner = nl + " "
        sep = "[" + inner
        for value in obj:
            out.append(sep)
            _dump(value, out, inner)
            sep = "," + inner
        out.append(nl + "]")
    else:
        raise _Unusual


@dataclass
class Recipient:
    """One envelope recipient and how far its delivery got.

    ``status`` is ``pending`` (not tried or deferred: still to do),
    ``sent`` or ``bounced`` (done).  ``dsn``, ``reason``, ``relay``,
    ``diag`` (the DSN Diagnostic-Code, e.g. ``smtp; 550 5.1.1 ...``) and
    ``remote_mta`` describe the last attempt.

    >>> Recipient("bob@example.org").done
    False
    """

    address: str
    original: str = ""
    status: str = "pending"
    dsn: str = ""
    reason: str = ""
    relay: str = ""
    diag: str = ""
    remote_mta: str = ""

    @property
    def done(self) -> bool:
        """True once the recipient is delivered or bounced."""
        return self.status in ("sent", "bounced")


@dataclass
class QueueFile:
    """A queued message: envelope plus content.

    ``arrival`` and ``next_try`` are lab timestamps (seconds since the
    epoch); ``attrs`` holds free-form named attributes (client name and
    address, helo, protocol) that ``postcat`` shows.
    """

    queue_id: str
    sender: str
    recipients: List[Recipient]
    content: bytes = b""
    arrival: float = 0.0
    attempts: int = 0
    next_try: float = 0.0
    last_reason: str = ""
    queue: str = "incoming"
    attrs: Dict[str, str] = field(default_factory=dict)
    #: when the queue manager moved it to ``active`` (not stored)
    active_since: Optional[float] = None
    #: True when the file was found in ``active/`` at start-up: a crash may
    #: have cut a delivery short *after* it happened (not stored)
    recovered: bool = False

    @property
    def size(self) -> int:
        """The message size as Postfix counts it (content with CRLF ends)."""
        return len(self.content)

    def delivery_key(self, rcpt: Recipient) -> str:
        """A name unique to this (message, recipient): an agent that stores it
        with the delivered copy can tell a redelivery after a crash.

        >>> QueueFile("3F1A22C0E4B", "", [Recipient("a@x"), Recipient("b@x")]).delivery_key(Recipient("b@x"))
        '3F1A22C0E4B.1'
        """
        for i, r in enumerate(self.recipients):
            if r.address == rcpt.address:
                return f"{self.queue_id}.{i}"
        return f"{self.queue_id}.{rcpt.address}"

    def pending(self) -> List[Recipient]:
        """Recipients still to be delivered."""
        return [r for r in self.recipients if not r.done]

    def to_bytes(self) -> bytes:
        """The file's bytes (see the module docstring for the layout)."""
        env = {
            "queue_id": self.queue_id, "sender": self.sender,
            "arrival": self.arrival, "attempts": self.attempts,
            "next_try": self.next_try, "last_reason": self.last_reason,
            "attrs": self.attrs,
            "recipients": [dict(vars(r)) for r in self.recipients],   # asdict, flat
        }
        head = dumps_indented(env).encode("utf-8")
        return MAGIC + head + CONTENT_MARK + self.content + b"\n" + END_MARK

    @classmethod
    def from_bytes(cls, data: bytes, queue: str = "incoming") -> "QueueFile":
        """Parse a queue file; raises :class:`QueueFileError` when damaged."""
        if not data.startswith(MAGIC):
            raise QueueFileError("not a labmail queue file")
        if not data.endswith(b"\n" + END_MARK):
            raise QueueFileError("queue file is truncated")
        head, sep, rest = data[len(MAGIC):].partition(CONTENT_MARK)
        if not sep:
            raise QueueFileError("no message contents marker")
        try:
            env = json.loads(head.decode("utf-8"))
            rcpts = [Recipient(**r) for r in env["recipients"]]
            return cls(queue_id=env["queue_id"], sender=env["sender"],
                       recipients=rcpts,
                       content=rest[:-len(b"\n" + END_MARK)],
                       arrival=float(env["arrival"]),
                       attempts=int(env["attempts"]),
                       next_try=float(env["next_try"]),
                       last_reason=env.get("last_reason", ""),
                       attrs=dict(env.get("attrs", {})), queue=queue)
        except (ValueError, KeyError, TypeError) as exc:
            raise QueueFileError(f"bad envelope: {exc}") from exc


class Queue:
    """The queue directories of one host and atomic operations on them.

    *root* is the host's state directory; the queue lives in
    ``root/var/spool/postfix``.  With ``group_commit=True`` the asynchronous
    :meth:`enqueue_async` batches the fsyncs of concurrent writers (one
    directory fsync per batch); a writer is never told "durable" before its
    own file and the directory entry are on disk.

    >>> import tempfile, pathlib
    >>> from labmail.clock import Clock, IdGenerator
    >>> q = Queue(pathlib.Path(tempfile.mkdtemp()), Clock(), IdGenerator(2))
    >>> sorted(p.name for p in q.spool.iterdir())
    ['active', 'corrupt', 'deferred', 'hold', 'incoming']
    """

    def __init__(self, root: Path, clock: Clock, ids: IdGenerator, *,
                 group_commit: bool = False, fsync: bool = True,
                 create: bool = True) -> None:
        self.root = Path(root)
        self.spool = self.root / "var" / "spool" / "postfix"
        self.clock = clock
        self.ids = ids
        self.fsync = fsync
        if create:
            for name in QUEUES:
                (self.spool / name).mkdir(parents=True, exist_ok=True)
        elif not self.spool.is_dir():
            raise FileNotFoundError(f"{self.spool}: no queue directory here "
                                    "(is this a lab host's state directory?)")
        self._group = GroupCommit() if group_commit else None
        self._dirs = {name: str(self.spool / name) for name in QUEUES}
        # Spare files: see remove_async().  Found again at start-up.
        self._spares: List[str] = []
        self._spare_seq = 0
        self._spares_coming = 0          # recycling renames under way
        self._spare_dir = self.root / SPARE_DIR
        self._spare_dir_made = False
        if group_commit and self._spare_dir.is_dir():      # made at the first recycling
            self._spare_dir_made = True
            for n in sorted(os.listdir(self._spare_dir)):
                self._spare_seq = max(self._spare_seq, int(n) if n.isdigit() else 0)
                if len(self._spares) < MAX_SPARES:
                    self._spares.append(str(self._spare_dir / n))
                else:
                    try:
                        os.unlink(self._spare_dir / n)
                    except OSError:
                        pass

    # -- paths ---------------------------------------------------------
    def dir(self, queue: str) -> Path:
        """The directory of *queue* (one of :data:`QUEUES`)."""
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}; use one of {', '.join(QUEUES)}")
        return self.spool / queue

    def path(self, queue: str, queue_id: str) -> Path:
        """Where the file of *queue_id* lives in *queue*."""
        return self.dir(queue) / queue_id

    def _file(self, queue: str, queue_id: str) -> str:
        """:meth:`path` as a string, for the per-message paths (no Path objects)."""
        return f"{self._dirs[queue]}/{queue_id}"

    def new_id(self) -> str:
        """A fresh queue id not used by any file in the queue."""
        for _ in range(1000):
            qid = self.ids.queue_id()
            if self.locate(qid) is None:
                return qid
        raise RuntimeError("could not find a free queue id")

    def locate(self, queue_id: str) -> Optional[str]:
        """The queue that holds *queue_id*, or None."""
        if not _QID_RE.match(queue_id):
            return None
        for name in QUEUES:
            if (self.spool / name / queue_id).exists():
                return name
        return None

    # -- writing -------------------------------------------------------
    def make(self, sender: str, recipients: Sequence[str], content: bytes, *,
             attrs: Optional[Dict[str, str]] = None,
             queue_id: Optional[str] = None) -> QueueFile:
        """Build (without writing) a queue file for a new message."""
        rcpts = [Recipient(address=r, original=r) for r in recipients]
        return QueueFile(queue_id=queue_id or self.new_id(), sender=sender,
                         recipients=rcpts, content=normalize_crlf(content),
                         arrival=self.clock.timestamp(), attrs=dict(attrs or {}),
                         queue="incoming")

    def enqueue(self, sender: str, recipients: Sequence[str], content: bytes, *,
                attrs: Optional[Dict[str, str]] = None,
                queue_id: Optional[str] = None) -> QueueFile:
        """Write a new message durably into ``incoming/`` and return it."""
        qf = self.make(sender, recipients, content, attrs=attrs, queue_id=queue_id)
        self.write(qf)
        return qf

    async def enqueue_async(self, sender: str, recipients: Sequence[str],
                            content: bytes, *, attrs: Optional[Dict[str, str]] = None,
                            queue_id: Optional[str] = None) -> QueueFile:
        """Like :meth:`enqueue` without blocking the loop; returns when durable."""
        qf = self.make(sender, recipients, content, attrs=attrs, queue_id=queue_id)
        final = self._file(qf.queue, qf.queue_id)
        if self._group is not None:
            # A spare file is rewritten in place (open, truncate, write) and
            # renamed to the new id: no inode is allocated or freed.
            spare = self._spares.pop() if self._spares else None
            await self._group.commit(final, qf.to_bytes(), fsync=self.fsync, tmp=spare)
        else:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.write, qf)
        return qf

    def write(self, qf: QueueFile) -> None:
        """Atomically (re)write *qf* in its queue: tmp, fsync, rename, dir fsync."""
        write_durable(self.path(qf.queue, qf.queue_id), qf.to_bytes(), fsync=self.fsync)

    def move(self, qf: QueueFile, queue: str, *, durable: bool = False) -> None:
        """Move *qf* to another queue directory (a rename, like Postfix)."""
        if qf.queue == queue:
            return
        if queue not in self._dirs:
            self.dir(queue)                         # raises ValueError, naming the queues
        src = self._file(qf.queue, qf.queue_id)
        dst = self._file(queue, qf.queue_id)
        os.replace(src, dst)
        if durable and self.fsync:
            fsync_dir(Path(self._dirs[queue]))
        qf.queue = queue

    def remove(self, qf: QueueFile) -> bool:
        """Delete *qf*'s file; False when it was already gone."""
        try:
            os.unlink(self.path(qf.queue, qf.queue_id))
            return True
        except FileNotFoundError:
            return False

    async def remove_async(self, qf: QueueFile) -> bool:
        """:meth:`remove` without blocking the loop (an unlink can wait on a
        busy disk); with group commit, removals share the writers' batches.

        With group commit a delivered message's file is not unlinked but
        renamed to a *spare* (:data:`SPARE_DIR`, outside the queue
        directories), and the next :meth:`enqueue_async` rewrites it for a new
        message.  Creating and deleting one inode per message is what costs
        most in a file system's inode allocator (ext4 without a journal walks
        past every inode freed in the last minutes); a spare costs two
        renames.  At most :data:`MAX_SPARES` are kept; the rest are unlinked.
        Either way the message is gone from the queue as ``postsuper`` and
        ``mailq`` see it.
        """
        path = self._file(qf.queue, qf.queue_id)
        if self._group is not None:
            if len(self._spares) + self._spares_coming < MAX_SPARES:
                if not self._spare_dir_made:
                    self._spare_dir.mkdir(parents=True, exist_ok=True)
                    self._spare_dir_made = True
                self._spare_seq += 1
                spare = f"{self._spare_dir}/{self._spare_seq}"
                self._spares_coming += 1
                try:
                    gone = await self._group.rename(path, spare)
                finally:
                    self._spares_coming -= 1
                if gone:
                    self._spares.append(spare)
                    return True
                # the file was gone, or the spare directory was (both ENOENT)
                self._spare_dir_made = False
            return await self._group.unlink(path)
        return await asyncio.get_running_loop().run_in_executor(None, self.remove, qf)

    # -- reading -------------------------------------------------------
    def ids_in(self, queue: str) -> List[str]:
        """Queue ids in *queue*, in directory order sorted for stability."""
        try:
            names = os.listdir(self.dir(queue))
        except FileNotFoundError:
            return []
        return sorted(n for n in names if not n.startswith("."))

    def load(self, queue_id: str, queue: Optional[str] = None) -> QueueFile:
        """Read the file of *queue_id*; KeyError when it is not queued.

        A damaged file is moved to ``corrupt/`` and QueueFileError raised.
        """
        queue = queue or self.locate(queue_id)
        if queue is None:
            raise KeyError(queue_id)
        path = self.path(queue, queue_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyError(queue_id) from None
        try:
            return QueueFile.from_bytes(data, queue)
        except QueueFileError:
            if queue != "corrupt":
                logger.warning("%s: corrupt queue file moved to corrupt/", queue_id)
                try:
                    os.replace(path, self.path("corrupt", queue_id))
                except OSError:
                    pass
            raise

    def entries(self, queues: Iterable[str] = ("active", "incoming", "deferred", "hold")
                ) -> List[QueueFile]:
        """Every readable message in *queues*, oldest first within each queue."""
        out: List[QueueFile] = []
        for name in queues:
            batch = []
            for qid in self.ids_in(name):
                try:
                    batch.append(self.load(qid, name))
                except (KeyError, QueueFileError):
                    continue
            batch.sort(key=lambda q: (q.arrival, q.queue_id))
            out.extend(batch)
        return out

    def __iter__(self) -> Iterator[QueueFile]:
        return iter(self.entries())

    def __len__(self) -> int:
        return sum(len(self.ids_in(n)) for n in ("incoming", "active", "deferred", "hold"))

    def table(self) -> List[Dict[str, object]]:
        """One plain dict per queued message (for widgets, pandas and plots).

        Keys: queue_id, queue, size, arrival, sender, recipients (pending),
        reason (the last deferral reason), attempts, next_try (timestamps are
        lab-time floats).
        """
        return [{"queue_id": q.queue_id, "queue": q.queue, "size": q.size,
                 "arrival": q.arrival, "sender": q.sender or "MAILER-DAEMON",
                 "recipients": [r.address for r in q.pending()],
                 "reason": q.last_reason, "attempts": q.attempts, "next_try": q.next_try}
                for q in self.entries()]

    def counts(self) -> Dict[str, int]:
        """Number of messages per queue directory (for plots)."""
        return {n: len(self.ids_in(n)) for n in QUEUES}


def split_ids(text: str) -> Tuple[str, ...]:
    """Split a command-line list of queue ids (``-`` or ALL handled by callers)."""
    return tuple(t for t in re.split(r"[\s,]+", text) if t)
