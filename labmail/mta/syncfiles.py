"""Make a batch of new files durable -- the file work of a group commit.

This module uses only ``os``, ``struct`` and ``sys``: it is both a library
function (:func:`flush`) and the program of the *sync helper*, a small child
process (``python -S -E syncfiles.py``) that does the file work of the lab's
group commits, the way Postfix's ``cleanup(8)`` and ``local(8)`` processes
write queue files and mailboxes for ``smtpd(8)``.

Why a process and not a thread: every ``write``/``fsync``/``rename`` a
thread makes gives up Python's global interpreter lock and must take it back
from the event loop, which serves every SMTP session; with a few such calls
per message the two threads hand the lock back and forth thousands of times
a second and both wait.  A child process has its own interpreter: the loop
writes one frame to a pipe per batch and reads one answer.

Wire format (little-endian; one request, then one answer, in order):

request  ``<II`` body length, batch id; then per item ``<BBIII`` op
         (1 create, 2 unlink, 3 rename), fsync flag, and the lengths of the
         path, the second path (tmp file or rename target, may be 0) and the
         data, followed by those bytes.
answer   ``<II`` batch id, item count; then per item ``<BiI`` status (0 done,
         1 not found for unlink/rename, 2 error), errno, message length,
         followed by the UTF-8 message.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> flush([(CREATE, True, os.path.join(d, "m1"), "", b"hello")])
[(0, 0, '')]
>>> open(os.path.join(d, "m1"), "rb").read()
b'hello'
>>> flush([(UNLINK, False, os.path.join(d, "gone"), "", b"")])
[(1, 0, '')]
"""
import os
import struct
import sys

CREATE, UNLINK, RENAME = 1, 2, 3
DONE, MISSING, ERROR = 0, 1, 2

_HEAD = struct.Struct("<II")
_ITEM = struct.Struct("<BBIII")
_ANSWER = struct.Struct("<BiI")


def fsync_dir(path):
    """fsync a directory so a rename or create in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _error(exc):
    return (ERROR, exc.errno or 0, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))


def flush(items):
    """Do one batch: write every new file, then fsync them, rename them into
    place, fsync each directory once; removals and renames last (no sync).

    *items* are ``(op, fsync, path, second, data)``; for CREATE *second* is
    the temporary name ('' for ``.<name>.tmp`` beside *path*).  Returns one
    ``(status, errno, message)`` per item.
    """
    results = [(DONE, 0, "")] * len(items)
    fds = []
    for i, (op, _sync, path, second, data) in enumerate(items):
        if op != CREATE:
            continue
        if not second:
            head, name = os.path.split(path)
            second = os.path.join(head, f".{name}.tmp")
        try:
            fd = os.open(second, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            results[i] = _error(exc)
            continue
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            os.close(fd)
            results[i] = _error(exc)
            continue
        fds.append((i, fd, second))
    dirs = {}
    for i, fd, tmp in fds:
        op, sync, path = items[i][:3]
        try:
            try:
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            if sync:
                dirs.setdefault(os.path.dirname(path), []).append(i)
        except OSError as exc:
            results[i] = _error(exc)
    for d, members in dirs.items():
        try:
            fsync_dir(d)
        except OSError as exc:
            for i in members:
                results[i] = _error(exc)
    for i, (op, _sync, path, second, _data) in enumerate(items):
        if op == CREATE:
            continue
        try:
            if op == RENAME:
                os.replace(path, second)
            else:
                os.unlink(path)
        except FileNotFoundError:
            results[i] = (MISSING, 0, "")
        except OSError as exc:
            results[i] = _error(exc)
    return results


def encode_request(batch_id, items):
    """The request frame for *items* (see the module docstring)."""
    parts = []
    for op, sync, path, second, data in items:
        p, s = path.encode("utf-8", "surrogateescape"), second.encode("utf-8", "surrogateescape")
        parts += [_ITEM.pack(op, 1 if sync else 0, len(p), len(s), len(data)), p, s, data]
    body = b"".join(parts)
    return _HEAD.pack(len(body), batch_id) + body


def decode_request(body):
    items, pos = [], 0
    while pos < len(body):
        op, sync, lp, ls, ld = _ITEM.unpack_from(body, pos)
        pos += _ITEM.size
        path = body[pos:pos + lp].decode("utf-8", "surrogateescape")
        pos += lp
        second = body[pos:pos + ls].decode("utf-8", "surrogateescape")
        pos += ls
        items.append((op, bool(sync), path, second, body[pos:pos + ld]))
        pos += ld
    return items


def encode_answer(batch_id, results):
    parts = [_HEAD.pack(batch_id, len(results))]
    for status, err, msg in results:
        m = msg.encode("utf-8", "replace")
        parts += [_ANSWER.pack(status, err, len(m)), m]
    return b"".join(parts)


def decode_answers(buf):
    """Complete answers at the start of *buf*: ``([(batch_id, results)], rest)``."""
    out, pos = [], 0
    while len(buf) - pos >= _HEAD.size:
        batch_id, n = _HEAD.unpack_from(buf, pos)
        p, results = pos + _HEAD.size, []
        for _ in range(n):
            if len(buf) - p < _ANSWER.size:
                return out, buf[pos:]
            status, err, lm = _ANSWER.unpack_from(buf, p)
            p += _ANSWER.size
            if len(buf) - p < lm:
                return out, buf[pos:]
            results.append((status, err, buf[p:p + lm].decode("utf-8", "replace")))
            p += lm
        out.append((batch_id, results))
        pos = p
    return out, buf[pos:]


def _read_exact(fd, n):
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def main(workers=4):
    """The sync helper: answer request frames on stdin until it closes.

    Batches are done by *workers* threads, so the fsyncs of one batch wait
    for the disk while the next batch is written (answers carry their batch
    id and may come back in any order)."""
    import queue
    import threading
    rfd, wfd = sys.stdin.fileno(), sys.stdout.fileno()
    jobs = queue.SimpleQueue()
    out_lock = threading.Lock()

    def work():
        while True:
            job = jobs.get()
            if job is None:
                return
            batch_id, body = job
            try:
                results = flush(decode_request(body))
            except Exception as exc:          # a damaged frame: one error fails its batch
                results = [(ERROR, 0, f"sync helper: {exc!r}")]
            out = memoryview(encode_answer(batch_id, results))
            with out_lock:
                try:
                    while out:
                        out = out[os.write(wfd, out):]
                except OSError:
                    # the lab process is gone (killed): the files are done,
                    # nobody is left to tell; the end of stdin ends us too
                    continue

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    while True:
        head = _read_exact(rfd, _HEAD.size)
        body = None if head is None else _read_exact(rfd, _HEAD.unpack(head)[0])
        if body is None:
            break
        jobs.put((_HEAD.unpack(head)[1], body))
    for _ in threads:                          # finish what was asked, then exit
        jobs.put(None)
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
