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
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["GroupCommit", "fsync_dir", "write_durable"]

logger = logging.getLogger("labmail.queue")


def fsync_dir(path: "os.PathLike[str] | str") -> None:
    """fsync a directory so a rename or create in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: "os.PathLike[str] | str", data: bytes) -> int:
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


_POOL: Optional[ThreadPoolExecutor] = None
_POOL_PID = 0
_POOL_LOCK = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """The threads that write and sync files for every group commit of the
    process (created on first use; idle threads cost nothing).  A forked
    child has none of its parent's threads, so it makes its own pool."""
    global _POOL, _POOL_PID
    if _POOL is None or _POOL_PID != os.getpid():
        with _POOL_LOCK:
            if _POOL is None or _POOL_PID != os.getpid():
                _POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="labmail-sync")
                _POOL_PID = os.getpid()
    return _POOL


class _Item:
    """One writer's request: create *final* durably, or (``data is None``)
    unlink it -- or, with a *rename_to*, rename it there (no sync)."""

    __slots__ = ("final", "data", "fut", "tmp", "fsync", "rename_to")

    def __init__(self, final: str, data: Optional[bytes], fut: "asyncio.Future[Any]",
                 tmp: Optional[str], fsync: bool, rename_to: Optional[str] = None) -> None:
        self.final, self.data, self.fut, self.tmp, self.fsync = final, data, fut, tmp, fsync
        self.rename_to = rename_to


class GroupCommit:
    """Batch the durable creation of files written by concurrent coroutines.

    ``await gc.commit(path, data)`` returns once *path* holds *data* and is
    durable.  Writers arriving while a batch is being flushed form the next
    batch; up to *max_inflight* batches are in worker threads at once (a
    writer waits for its own batch, not the one before it too).  ``await
    gc.unlink(path)`` removes a file in the next batch (no sync: a removal
    lost in a crash only means a file is found again, which its owner must
    handle anyway).  One batch is one job for the worker threads, so
    concurrent writers also share the thread hand-offs.  ``batches`` counts
    flushed batches (for tests and benchmarks).
    """

    def __init__(self, max_batch: int = 256, max_inflight: int = 2) -> None:
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self._pending: List[_Item] = []
        self._launching = False         # a launch of the next batch is scheduled
        self._running = 0               # batches in worker threads now
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.batches = 0

    async def commit(self, final: Path, data: bytes, *, fsync: bool = True,
                     tmp: Optional[Path] = None) -> None:
        """Create *final* with *data* durably, sharing fsyncs with others.

        The data is written to *tmp* (default ``.<name>.tmp`` beside *final*;
        a Maildir delivery passes ``tmp/<name>``) and renamed into place.
        """
        await self._submit(_Item(os.fspath(final), data, asyncio.get_running_loop().create_future(),
                                 None if tmp is None else os.fspath(tmp), fsync))

    async def unlink(self, path: Path) -> bool:
        """Remove *path* with the next batch; False when it was already gone."""
        return await self._submit(_Item(os.fspath(path), None,
                                        asyncio.get_running_loop().create_future(), None, False))

    async def rename(self, path: Path, to: Path) -> bool:
        """Rename *path* to *to* with the next batch (no sync, like
        :meth:`unlink`); False when *path* was already gone."""
        return await self._submit(_Item(os.fspath(path), None,
                                        asyncio.get_running_loop().create_future(), None, False,
                                        rename_to=os.fspath(to)))

    async def _submit(self, item: _Item) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A lab started again runs a new loop: what the old one left half
            # done (a launch it never ran, a batch whose wake-up found it
            # closed) goes with it.
            self._loop = loop
            self._pending = [i for i in self._pending if i.fut.get_loop() is loop]
            self._launching = False
            self._running = 0
        self._pending.append(item)
        if not self._launching and self._running < self.max_inflight:
            # The batch leaves on the next pass of the loop, so the writers
            # that are ready in this pass join it.
            self._launching = True
            loop.call_soon(self._launch)
        return await item.fut

    def _launch(self) -> None:
        """Hand the pending writers to a worker thread (on the loop)."""
        self._launching = False
        if not self._pending or self._running >= self.max_inflight:
            return
        batch = self._pending[:self.max_batch]
        del self._pending[:self.max_batch]
        self._running += 1
        try:
            _workers().submit(self._work, asyncio.get_running_loop(), batch)
        except RuntimeError as exc:                 # interpreter shutting down
            self._done(batch, [exc] * len(batch))

    def _work(self, loop: asyncio.AbstractEventLoop, batch: List[_Item]) -> None:
        """In a worker thread: flush, then wake the writers straight from here
        (a pass of the loop sooner, and cheaper, than awaiting an executor
        future wrapped for asyncio)."""
        try:
            results = self._flush(batch)
        except BaseException as exc:  # pragma: no cover - a bug in _flush
            results = [exc] * len(batch)
        try:
            loop.call_soon_threadsafe(self._done, batch, results)
        except RuntimeError:  # pragma: no cover - the loop closed meanwhile
            pass

    def _done(self, batch: List[_Item], results: List[Any]) -> None:
        """Back on the loop: tell each writer how its file went."""
        self._running -= 1
        self.batches += 1
        for item, res in zip(batch, results):
            if item.fut.done():
                continue
            if isinstance(res, BaseException):
                item.fut.set_exception(res)
            else:
                item.fut.set_result(res)
        # While one batch waits for the disk, the next may already be flushed
        # by a second worker: a writer waits for its own batch only
        # (concurrent fsyncs overlap in the disk).
        if self._pending and not self._launching:
            self._launch()

    @staticmethod
    def _flush(batch: List[_Item]) -> List[Any]:
        """Write every file, then sync them, rename them, sync each directory
        once; removals (and recycling renames) last.  Returns each item's
        result or exception."""
        results: List[Any] = [None] * len(batch)
        fds: List[Tuple[int, int, str]] = []
        for i, item in enumerate(batch):
            if item.data is None:
                continue
            if item.tmp is None:
                head, name = os.path.split(item.final)
                tmp = os.path.join(head, f".{name}.tmp")
            else:
                tmp = item.tmp
            try:
                fds.append((i, _write_file(tmp, item.data), tmp))
            except OSError as exc:
                results[i] = exc
        dirs: Dict[str, List[int]] = {}
        for i, fd, tmp in fds:
            item = batch[i]
            try:
                try:
                    if item.fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, item.final)
                if item.fsync:
                    dirs.setdefault(os.path.dirname(item.final), []).append(i)
            except OSError as exc:
                results[i] = exc
        for d, members in dirs.items():
            try:
                fsync_dir(d)
            except OSError as exc:
                for i in members:
                    results[i] = exc
        for i, item in enumerate(batch):
            if item.data is None:
                try:
                    if item.rename_to is not None:
                        os.replace(item.final, item.rename_to)
                    else:
                        os.unlink(item.final)
                    results[i] = True
                except FileNotFoundError:
                    results[i] = False
                except OSError as exc:
                    results[i] = exc
        return results
