"""SIGKILL during a load of 500 messages: every acknowledged message is
delivered after a restart on the same state directory, exactly once.

The child process plays smtpd + qmgr: ten concurrent "sessions" make each
message durable (group commit) and only then print its queue id (the 250).
It is killed mid-load; a new queue manager on the same directory must finish
the job.  The delivery agent stores ``qf.delivery_key(rcpt)`` with each copy
and, for messages qmgr marks ``recovered``, checks it first.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from labmail.clock import Clock, IdGenerator
from labmail.mta.qmgr import Outcome, QueueManager
from labmail.mta.queue import Queue

CHILD = r"""
import asyncio, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from labmail.clock import Clock, IdGenerator
from labmail.mta.queue import Queue
from labmail.mta.qmgr import QueueManager
from tests.test_queue_crash import make_agent

state = Path(sys.argv[1])

async def main():
    q = Queue(state, Clock(), IdGenerator(), group_commit=True)
    m = QueueManager(q, make_agent(state, slow=0.02), clock=Clock(), maillog=None,
                     poll_interval=0.05)
    await m.start()
    async def session(k):
        for i in range(50):
            qf = await q.enqueue_async("a@example.com", [f"u{k}-{i}@example.org"],
                                       b"Subject: %d\r\n\r\n" % i + b"x" * 2000 + b"\r\n")
            m.submit(qf)
            sys.stdout.write(qf.queue_id + "\n")
            sys.stdout.flush()
    await asyncio.gather(*(session(k) for k in range(10)))
    await asyncio.sleep(60)

asyncio.run(main())
"""


def make_agent(state: Path, slow: float = 0.0):
    """A local-delivery stand-in: one fsync'd file per delivery key (*slow*
    seconds before writing, so a kill finds messages in active/)."""
    out = state / "delivered"
    out.mkdir(exist_ok=True)

    async def agent(qf, rcpt):
        if slow:
            await asyncio.sleep(slow)
        path = out / qf.delivery_key(rcpt)
        if path.exists():
            if not qf.recovered:                  # a real duplicate: record it
                with open(state / "duplicates", "a") as fh:
                    fh.write(path.name + "\n")
            return Outcome("sent", "2.0.0", "local", "already delivered", program="postfix/local")
        tmp = out / ("." + path.name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, qf.content)
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, path)
        return Outcome("sent", "2.0.0", "local", "delivered to maildir", program="postfix/local")
    return agent


def test_sigkill_mid_load_then_restart_delivers_every_acknowledged_message_once(tmp_path):
    root = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), root],
                            stdout=subprocess.PIPE, text=True, cwd=root)
    acked = []
    deadline = time.monotonic() + 30
    try:
        while len(acked) < 250 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()                 # acks already in the pipe count too
        acked += rest.split()
    finally:
        proc.kill()
        proc.wait(10)
    assert len(acked) >= 250, "child did not get far enough"

    async def restart():
        q = Queue(tmp_path, Clock(), IdGenerator())
        m = QueueManager(q, make_agent(tmp_path), clock=Clock(), maillog=None, poll_interval=0.01)
        await m.start()
        for _ in range(500):                      # bounded: about 5 s
            await asyncio.sleep(0.01)
            if len(q) == 0 and await m.idle(1):
                break
        await m.stop()
        return len(q)
    left = asyncio.run(asyncio.wait_for(restart(), 30))
    assert left == 0
    delivered = {p.name.split(".")[0] for p in (tmp_path / "delivered").iterdir()
                 if not p.name.startswith(".")}
    assert set(acked) <= delivered
    assert not (tmp_path / "duplicates").exists()
