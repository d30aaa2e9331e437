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

The file work of a batch runs in the *sync helper*, a small child process
(:mod:`labmail.mta.syncfiles`), so the event loop that serves every session
only writes one request to a pipe and reads one answer per batch; with
``LABMAIL_SYNC_HELPER=0``, or where no child process can be started, it runs
in worker threads of this process instead (same function, same guarantees).

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
import atexit
import collections
import errno
import logging
import os
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import syncfiles

__all__ = ["GroupCommit", "fsync_dir", "write_durable"]

logger = logging.getLogger("labmail.queue")


#: fsync a directory so a rename or create in it survives a crash.
fsync_dir = syncfiles.fsync_dir


def write_durable(final: Path, data: bytes, *, fsync: bool = True) -> None:
    """Atomically create *final* with *data*: tmp, fsync, rename, dir fsync
    (one :func:`syncfiles.flush` item, in this thread)."""
    status, err, msg = syncfiles.flush([(syncfiles.CREATE, fsync, os.fspath(final), "", data)])[0]
    if status == syncfiles.ERROR:
        raise OSError(err, msg)


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


#: Data per batch beyond its first item (one request frame to the sync helper).
MAX_BATCH_BYTES = 32 * 1024 * 1024

_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "syncfiles.py")
_HELPERS: Dict[int, "_SyncHelper"] = {}
_HELPERS_PID = 0
_HELPER_FAILED = False


def _helper_for(loop: asyncio.AbstractEventLoop) -> Optional["_SyncHelper"]:
    """The sync helper process serving *loop* (started on first use), or
    None to use threads: ``LABMAIL_SYNC_HELPER=0``, or the helper could not
    be started (then once logged)."""
    global _HELPERS_PID, _HELPER_FAILED
    if os.environ.get("LABMAIL_SYNC_HELPER", "1") == "0":
        return None
    if _HELPERS_PID != os.getpid():                 # a forked child: not its parent's
        _HELPERS.clear()
        _HELPERS_PID = os.getpid()
    helper = _HELPERS.get(id(loop))
    if helper is not None and helper.loop is loop and not helper.dead:
        return helper
    for key, old in list(_HELPERS.items()):         # labs stopped since: their loops closed
        if old.loop.is_closed() or old.dead or old.loop is loop:
            old.close()
            del _HELPERS[key]
    if _HELPER_FAILED:
        return None
    try:
        helper = _SyncHelper(loop)
    except OSError as exc:
        logger.warning("sync helper not started (%s); file work runs in threads", exc)
        _HELPER_FAILED = True
        return None
    _HELPERS[id(loop)] = helper
    return helper


def close_helper(loop: asyncio.AbstractEventLoop) -> None:
    """Let the sync helper of *loop* go (a lab stopping); the next batch on a
    loop starts a new one."""
    helper = _HELPERS.pop(id(loop), None) if _HELPERS_PID == os.getpid() else None
    if helper is not None:
        helper.close()


class _SyncHelper:
    """The child process that does the group commits' file work for one loop
    (see :mod:`labmail.mta.syncfiles` for why and for the wire format).

    Requests go out through a non-blocking pipe (buffered when it is full);
    answers come back in order and resolve the batches on the loop.  If the
    child dies, every batch it had not answered fails with an OSError (the
    sessions answer ``451``: nothing acknowledged is lost) and the next batch
    starts a new child.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.dead = False
        self.proc = subprocess.Popen(
            # -I: nothing from the environment, and not the script's own
            # directory on sys.path (it holds a queue.py); -S: no site
            [sys.executable, "-I", "-S", _CHILD], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, bufsize=0, close_fds=True,
            start_new_session=True)     # a terminal's Ctrl-C is for the lab, not for it
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd, self.rfd = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self._out: "collections.deque[memoryview]" = collections.deque()   # unsent frames
        self._in = b""
        self._waiting: Dict[int, Callable[[Any], None]] = {}
        self._seq = 0
        self.answered_once = False
        loop.add_reader(self.rfd, self._readable)

    def submit(self, items: List[Tuple[int, bool, str, str, bytes]],
               answered: Callable[[Any], None]) -> None:
        """Send one batch; *answered* gets its results, or an OSError (on the loop)."""
        if self.dead:
            answered(OSError(errno.EPIPE, "the sync helper has exited"))
            return
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        try:
            frame = syncfiles.encode_request(self._seq, items)
        except (struct.error, OverflowError) as exc:     # an item over 4 GB
            answered(OSError(errno.EFBIG, f"too large for the sync helper: {exc}"))
            return
        self._waiting[self._seq] = answered
        if self._out:
            self._out.append(memoryview(frame))
            return
        try:
            n = os.write(self.wfd, frame)
        except BlockingIOError:
            n = 0
        except OSError as exc:
            self._fail(exc)
            return
        if n < len(frame):
            self._out.append(memoryview(frame)[n:])    # the rest, without copying it
            self.loop.add_writer(self.wfd, self._writable)

    def _writable(self) -> None:
        while self._out:
            head = self._out[0]
            try:
                n = os.write(self.wfd, head)
            except BlockingIOError:
                return
            except OSError as exc:
                self._fail(exc)
                return
            if n < len(head):
                self._out[0] = head[n:]
                return
            self._out.popleft()
        self.loop.remove_writer(self.wfd)

    def _readable(self) -> None:
        try:
            data = os.read(self.rfd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._fail(OSError(errno.EPIPE, "the sync helper exited"))
            return
        self.answered_once = True
        answers, self._in = syncfiles.decode_answers(self._in + data)
        for batch_id, results in answers:
            answered = self._waiting.pop(batch_id, None)
            if answered is not None:
                answered(results)

    def _fail(self, exc: OSError) -> None:
        global _HELPER_FAILED
        if not self.dead:
            logger.error("sync helper failed: %s", exc)
            if not self.answered_once:              # it cannot run here at all
                logger.warning("file work of group commits runs in threads from now on")
                _HELPER_FAILED = True
        self.close()
        waiting, self._waiting = self._waiting, {}
        for answered in waiting.values():
            answered(exc)

    def close(self) -> None:
        """Close the pipes: the child finishes its batch and exits."""
        if self.dead:
            return
        self.dead = True
        if not self.loop.is_closed():
            self.loop.remove_reader(self.rfd)
            if self._out:
                self.loop.remove_writer(self.wfd)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()                           # type: ignore[union-attr]
            except OSError:
                pass
        # Never wait here (this may run on a lab's loop): a process forked
        # meanwhile (multiprocessing's default) holds a copy of the pipe and
        # keeps the child from seeing the end of its input until it exits.
        # A watcher thread reaps it, and ends it if it lingers.
        if self.proc.poll() is None:
            threading.Thread(target=_reap, args=(self.proc,), daemon=True,
                             name="labmail-sync-reaper").start()


def _reap(proc: "subprocess.Popen[bytes]") -> None:
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@atexit.register
def _close_helpers() -> None:
    if _HELPERS_PID == os.getpid():
        for helper in _HELPERS.values():
            helper.dead = True                      # its loop may be gone: just the pipes
            for f in (helper.proc.stdin, helper.proc.stdout):
                try:
                    f.close()                       # type: ignore[union-attr]
                except OSError:
                    pass


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
    batch; up to *max_inflight* batches are with the sync helper at once (a
    writer waits for its own batch, not the one before it too).  ``await
    gc.unlink(path)`` removes a file in the next batch and ``await
    gc.rename(path, to)`` renames one (no sync: a removal lost in a crash only
    means a file is found again, which its owner must handle anyway).  One
    batch is one request to the helper, so concurrent writers also share the
    hand-offs.  ``batches`` counts flushed batches (for tests and benchmarks).
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
        """Hand the pending writers to the sync helper (or a worker thread), on the loop."""
        self._launching = False
        if not self._pending or self._running >= self.max_inflight:
            return
        # a batch is one request frame: at most max_batch items and, past
        # the first, about MAX_BATCH_BYTES of data (big messages go alone)
        count, size = 0, 0
        for item in self._pending[:self.max_batch]:
            size += len(item.data or b"")
            if count and size > MAX_BATCH_BYTES:
                break
            count += 1
        batch = self._pending[:count]
        del self._pending[:count]
        self._running += 1
        loop = asyncio.get_running_loop()
        helper = _helper_for(loop)
        if helper is not None:
            helper.submit(_wire(batch), lambda answers: self._answered(batch, answers))
            return
        try:
            _workers().submit(self._work, loop, batch)
        except RuntimeError as exc:                 # interpreter shutting down
            self._done(batch, [exc] * len(batch))

    def _answered(self, batch: List[_Item], answers: Any) -> None:
        """The sync helper's answer (or the OSError that ended it), on the loop."""
        if isinstance(answers, BaseException):
            self._done(batch, [answers] * len(batch))
        elif len(answers) != len(batch):            # the helper could not read the batch
            err = OSError(errno.EIO, answers[0][2] if answers else "sync helper: no answer")
            self._done(batch, [err] * len(batch))
        else:
            self._done(batch, _results(batch, answers))

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
        """Do a batch in this thread (see :func:`syncfiles.flush`); returns
        each item's result or exception."""
        return _results(batch, syncfiles.flush(_wire(batch)))


def _wire(batch: List[_Item]) -> List[Tuple[int, bool, str, str, bytes]]:
    """The batch as :mod:`syncfiles` items."""
    out = []
    for item in batch:
        if item.data is not None:
            out.append((syncfiles.CREATE, item.fsync, item.final, item.tmp or "", item.data))
        elif item.rename_to is not None:
            out.append((syncfiles.RENAME, False, item.final, item.rename_to, b""))
        else:
            out.append((syncfiles.UNLINK, False, item.final, "", b""))
    return out


def _results(batch: List[_Item], answers: List[Tuple[int, int, str]]) -> List[Any]:
    """Each item's result: None (created), True/False (removed / was gone),
    or the OSError to raise in its writer."""
    out: List[Any] = []
    for item, (status, err, msg) in zip(batch, answers):
        if status == syncfiles.ERROR:
            out.append(OSError(err, msg))
        elif item.data is not None:
            out.append(None)
        else:
            out.append(status == syncfiles.DONE)
    return out
