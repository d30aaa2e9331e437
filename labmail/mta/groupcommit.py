"""Group commit: make many new files durable with shared fsyncs.

When ten SMTP sessions each accept a message at the same moment, each must
not answer ``250`` before its queue file is on disk.  Doing one
``write + fsync(file) + rename + fsync(dir)`` after another costs ten journal
commits.  A *group commit* lets the writers that arrive together share the
work: all files of a batch are written first, then fsync'd (the file system
commits its journal once and the later fsyncs find nothing left to do), then
renamed, then each directory is fsync'd once.  Every writer's future resolves
only after its own file and directory entry are durable, so durability is
never traded for speed.

>>> import asyncio, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> async def demo():
...     gc = GroupCommit()
...     await asyncio.gather(*(gc.commit(d / f"m{i}", b"x") for i in range(5)))
...     return gc.batches
>>> asyncio.run(demo())
1
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import List, Optional, Tuple

__all__ = ["GroupCommit", "fsync_dir", "write_durable"]

logger = logging.getLogger("labmail.queue")


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or create in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_durable(final: Path, data: bytes, *, fsync: bool = True) -> None:
    """Atomically create *final* with *data*: tmp, fsync, rename, dir fsync."""
    tmp = final.with_name(f".{final.name}.tmp")
    fd = _write_file(tmp, data)
    try:
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    if fsync:
        fsync_dir(final.parent)


_Item = Tuple[Path, bytes, "asyncio.Future[None]", Optional[Path]]


class GroupCommit:
    """Batch the durable creation of files written by concurrent coroutines.

    ``await gc.commit(path, data)`` returns once *path* holds *data* and is
    durable.  Writers arriving while a batch is being flushed form the next
    batch.  ``batches`` counts flushed batches (for tests and benchmarks).
    """

    def __init__(self, max_batch: int = 256) -> None:
        self.max_batch = max_batch
        self._pending: List[_Item] = []
        self._leader: Optional[asyncio.Task] = None
        self.batches = 0

    async def commit(self, final: Path, data: bytes, *, fsync: bool = True,
                     tmp: Optional[Path] = None) -> None:
        """Create *final* with *data* durably, sharing fsyncs with others.

        The data is written to *tmp* (default ``.<name>.tmp`` beside *final*;
        a Maildir delivery passes ``tmp/<name>``) and renamed into place.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._pending.append((Path(final), data, fut, None if tmp is None else Path(tmp)))
        if self._leader is None or self._leader.done():
            self._leader = loop.create_task(self._run(fsync))
        await fut

    async def _run(self, fsync: bool) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            # One pass of the loop lets writers that are ready join this batch.
            await asyncio.sleep(0)
            batch = self._pending[:self.max_batch]
            del self._pending[:self.max_batch]
            try:
                errors = await loop.run_in_executor(None, self._flush, batch, fsync)
            except BaseException as exc:  # pragma: no cover - executor failure
                errors = [exc] * len(batch)
            self.batches += 1
            for (_, _, fut, _), err in zip(batch, errors):
                if fut.done():
                    continue
                if err is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(err)

    @staticmethod
    def _flush(batch: List[_Item], fsync: bool) -> List[Optional[BaseException]]:
        errors: List[Optional[BaseException]] = [None] * len(batch)
        fds: List[Tuple[int, int, Path, Path]] = []
        for i, (final, data, _, tmp_path) in enumerate(batch):
            tmp = tmp_path or final.with_name(f".{final.name}.tmp")
            try:
                fds.append((i, _write_file(tmp, data), tmp, final))
            except OSError as exc:
                errors[i] = exc
        dirs = set()
        for i, fd, tmp, final in fds:
            try:
                if fsync:
                    os.fsync(fd)
                os.close(fd)
                os.replace(tmp, final)
                dirs.add(final.parent)
            except OSError as exc:
                errors[i] = exc
        for d in dirs:
            if fsync:
                try:
                    fsync_dir(d)
                except OSError as exc:
                    for i, _, _, final in fds:
                        if final.parent == d and errors[i] is None:
                            errors[i] = exc
        return errors
