"""ENVELOPE/BODYSTRUCTURE bytes kept on disk, so a restarted lab need not parse again.

Dovecot keeps what it parsed out of messages in ``dovecot.index.cache``; the
lab keeps the encoded FETCH items in ``labmail-cache`` next to the folder's
``dovecot-uidlist``.  A Maildir message never changes under its uid, so an
item stays true until the folder's UIDVALIDITY changes.  The file is a
header line and appended records::

    labmail-cache 1 <uidvalidity>
    <uid> <ITEM> <length>
    <length bytes>

A record cut short by a crash ends the file: it is trimmed at the next load.
It is only a cache -- anything odd in it and it is started again.

>>> import tempfile, pathlib
>>> c = ItemCache(pathlib.Path(tempfile.mkdtemp()) / "labmail-cache")
>>> c.load(7)
{}
>>> c.add(1, "ENVELOPE", b'(NIL "hi")'); c.flush()
>>> ItemCache(c.path).load(7), ItemCache(c.path).load(8)
({(1, 'ENVELOPE'): b'(NIL "hi")'}, {})
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

__all__ = ["ItemCache", "CACHE_NAME"]

logger = logging.getLogger(__name__)

CACHE_NAME = "labmail-cache"
_MAGIC = b"labmail-cache 1 "
#: a record larger than this is not kept (BODYSTRUCTURE of absurd messages)
MAX_RECORD = 1 << 20
#: queued bytes written at once (the end of a FETCH writes the rest)
FLUSH_BYTES = 256 * 1024


class ItemCache:
    """The cache file of one folder (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.uidvalidity: Optional[int] = None
        self._lock = threading.Lock()
        self._pending: List[bytes] = []
        self._size = 0

    def load(self, uidvalidity: int) -> Dict[Tuple[int, str], bytes]:
        """The items kept for *uidvalidity* (an empty, fresh file for another one)."""
        with self._lock:
            self.uidvalidity = uidvalidity
            self._pending, self._size = [], 0       # queued for another UIDVALIDITY
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return {}
            except OSError as exc:
                logger.warning("%s: %s", self.path, exc)
                return {}
            items, good = _parse(data, uidvalidity)
            if good < len(data):
                self._rewrite(items if good else {})
            return items

    def add(self, uid: int, name: str, value: bytes) -> None:
        """Queue one item for the file (after :meth:`load`); see :meth:`flush`."""
        if self.uidvalidity is None or len(value) > MAX_RECORD:
            return
        record = b"%d %s %d\n" % (uid, name.encode("ascii"), len(value)) + value + b"\n"
        with self._lock:
            self._pending.append(record)
            self._size += len(record)
            full = self._size >= FLUSH_BYTES
        if full:
            self.flush()

    def flush(self) -> None:
        """Append the queued items (one write); errors only cost the cache."""
        with self._lock:
            if not self._pending or self.uidvalidity is None:
                return
            data, self._pending, self._size = b"".join(self._pending), [], 0
            try:
                if not self.path.exists():
                    data = _MAGIC + b"%d\n" % self.uidvalidity + data
                with open(self.path, "ab") as fh:
                    fh.write(data)
            except OSError as exc:      # a read-only or vanished folder: no cache
                logger.debug("%s: %s", self.path, exc)

    def _rewrite(self, items: Dict[Tuple[int, str], bytes]) -> None:
        assert self.uidvalidity is not None
        out = [_MAGIC + b"%d\n" % self.uidvalidity]
        for (uid, name), value in items.items():
            out.append(b"%d %s %d\n" % (uid, name.encode("ascii"), len(value)) + value + b"\n")
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_bytes(b"".join(out))
            os.replace(tmp, self.path)
        except OSError as exc:
            logger.debug("%s: %s", self.path, exc)


def _parse(data: bytes, uidvalidity: int) -> Tuple[Dict[Tuple[int, str], bytes], int]:
    """(items, length of the sound part); 0 when the file is for another UIDVALIDITY."""
    items: Dict[Tuple[int, str], bytes] = {}
    head = _MAGIC + b"%d\n" % uidvalidity
    if not data.startswith(head):
        return items, 0
    pos = len(head)
    while pos < len(data):
        nl = data.find(b"\n", pos, pos + 64)
        if nl < 0:
            break
        fields = data[pos:nl].split(b" ")
        if len(fields) != 3 or not fields[0].isdigit() or not fields[2].isdigit():
            break
        end = nl + 1 + int(fields[2])
        if end + 1 > len(data) or data[end:end + 1] != b"\n":
            break
        try:
            name = fields[1].decode("ascii")
        except UnicodeDecodeError:
            break
        items[(int(fields[0]), name)] = data[nl + 1:end]
        pos = end + 1
    return items, pos
