"""The queue manager: deliver promptly, defer with back-off, expire, bounce.

Postfix's ``qmgr(8)`` takes each new message from ``incoming/`` into
``active/``, hands every recipient to a delivery agent (``local``, ``smtp``)
and then either removes the file (all done), moves it to ``deferred/`` with a
retry time (some temporary failure), or returns it to the sender as a bounce
(a permanent failure, or a message older than ``maximal_queue_lifetime``).
The deferred queue is scanned every ``queue_run_delay``; a message is retried
once its back-off has passed.  The back-off is the message's age clamped to
``minimal_backoff_time``..``maximal_backoff_time``, so the wait roughly
doubles after each attempt (300 s, 300 s, 600 s, 1200 s, 2400 s, 4000 s ...).

Wiring contract (for :class:`~labmail.host.Host`)
-------------------------------------------------

1. Build the pieces once per host::

       queue = Queue(host.state_dir, host.clock, host.ids, group_commit=True)
       settings = QmgrSettings.from_config(host.config)
       qmgr = QueueManager(queue, deliver, clock=host.clock,
                           maillog=host.maillog, settings=settings)
       await qmgr.start()          # on the lab loop; recovers active/incoming/deferred

2. ``deliver`` is ``async def deliver(qf: QueueFile, rcpt: Recipient) -> Outcome``
   (the host chooses ``local`` or ``smtp`` per recipient).  It must not log
   the ``to=<..>, relay=.., status=..`` line: qmgr writes it from the
   :class:`Outcome` (``program`` names the agent, e.g. ``postfix/local``),
   computing ``delay`` and ``delays=a/b/c/d`` with the lab clock.  Agents
   may log their own extra lines (``connect to ...: Connection refused``).
   An exception from ``deliver`` counts as a temporary failure (4.3.0).
   Exactly-once after a crash: a process killed after an agent delivered
   but before qmgr removed/updated the queue file would deliver again (as
   Postfix would).  qmgr marks such messages ``qf.recovered = True`` (they
   were in ``active/`` at start-up); an agent stores ``qf.delivery_key(rcpt)``
   with each delivered copy (e.g. in the Maildir file name) and, only when
   ``qf.recovered``, first checks whether that key was already delivered.

3. smtpd, after cleanup, makes the message durable *before* answering 250::

       qf = await queue.enqueue_async(sender, rcpts, content, queue_id=qid, attrs=...)
       qmgr.submit(qf)             # delivery starts at once (same loop)

   and logs ``logfmt.cleanup_message_id`` itself; qmgr logs ``queue_active``,
   each delivery, ``removed``, ``expired`` and the bounce lines.

4. ``qmgr.flush()`` is ``postfix flush``; ``qmgr.wakeup()`` (thread-safe)
   after ``lab.clock.advance(...)`` makes the next check immediate (it also
   polls every ``poll_interval`` real seconds); ``await qmgr.idle()`` waits
   until no delivery is in progress; ``await qmgr.run_queue(flush=False)``
   scans now and waits for what it started (use it from ``host.flush()`` and
   after advancing the clock); ``await qmgr.stop()`` on shutdown.
   Files appearing in ``incoming/`` from other processes (``labmail flush``,
   ``labmail sendmail``) are picked up by the poll.

>>> next_retry(arrival=0, now=0, settings=QmgrSettings())
300.0
>>> next_retry(arrival=0, now=1200, settings=QmgrSettings())
2400.0
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, List, Optional, Set, Union

from ..clock import Clock
from . import logfmt
from .bounce import build_dsn
from .queue import Queue, QueueFile, QueueFileError, Recipient
from .schedule import Deliver, Outcome, QmgrSettings, is_expired, next_retry, parse_time

__all__ = ["Outcome", "QmgrSettings", "QueueManager", "next_retry", "is_expired",
           "parse_time", "Deliver"]

logger = logging.getLogger("labmail.qmgr")


class QueueManager:
    """Drives a :class:`Queue`: see the module docstring for the contract."""

    def __init__(self, queue: Queue, deliver: Deliver, *, clock: Clock, maillog: Any,
                 settings: Optional[QmgrSettings] = None, poll_interval: float = 0.5) -> None:
        self.queue = queue
        self.deliver = deliver
        self.clock = clock
        self.maillog = maillog
        self.settings = settings or QmgrSettings()
        self.poll_interval = poll_interval
        self._inflight: Set[str] = set()
        self._tasks: Set[asyncio.Task] = set()
        self._sem: Optional[asyncio.Semaphore] = None
        self._wake: Optional[asyncio.Event] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[asyncio.Task] = None
        self._next_scan = 0.0
        self._flush = False
        self._stopping = False
        self._recovered: Set[str] = set()
        self.attempts = 0           # delivery attempts made (for lessons and tests)

    # -- lifecycle -------------------------------------------------------
    async def start(self) -> None:
        """Recover the queue after a (re)start and begin the periodic runs."""
        self._loop = asyncio.get_running_loop()
        self._sem = asyncio.Semaphore(self.settings.concurrency)
        self._wake = asyncio.Event()
        # Postfix moves what was active at a crash back to incoming: it is retried now.
        for qid in self.queue.ids_in("active"):
            try:
                self.queue.move(self.queue.load(qid, "active"), "incoming")
                self._recovered.add(qid)
            except (KeyError, QueueFileError, OSError):
                continue
        self._next_scan = 0.0
        self._runner = self._loop.create_task(self._run())

    async def stop(self) -> None:
        """Stop scanning and wait for deliveries in progress to finish."""
        if self._runner is not None:
            # The flag ends the loop even when a cancel is lost: Python 3.11's
            # wait_for() can swallow one when its inner wait completes at the
            # same moment (a wakeup() from another thread).
            self._stopping = True
            if self._wake is not None:
                self._wake.set()
            self._runner.cancel()
            try:
                await self._runner
            except asyncio.CancelledError:
                pass
            self._runner = None
            self._stopping = False
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def running(self) -> bool:
        return self._runner is not None and not self._runner.done()

    def wakeup(self) -> None:
        """Check the queue now (thread-safe; call after advancing the lab clock)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def flush(self) -> None:
        """``postfix flush``: try every deferred message now (thread-safe)."""
        self._flush = True
        self.wakeup()

    async def idle(self, timeout: float = 30.0) -> bool:
        """Wait until no message is being delivered; False on timeout."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self._tasks or self._inflight:
            if loop.time() > end:
                return False
            await asyncio.sleep(0.005)
        return True

    async def run_queue(self, *, flush: bool = False, timeout: float = 30.0) -> int:
        """Scan now (every deferred message when *flush*) and wait until the
        deliveries it started are done; returns how many messages it took.

        Lessons call this after ``lab.clock.advance(...)`` to see the retries.
        """
        # a message still in an attempt would be skipped by the scan and then
        # wait out its backoff: let the attempts under way end first
        await self.idle(timeout)
        if flush:
            self._flush = True
        started = self.scan()
        await self.idle(timeout)
        return started

    def submit(self, qf: Union[QueueFile, str]) -> bool:
        """Deliver a message now (call on the loop, after it is durable)."""
        qid = qf if isinstance(qf, str) else qf.queue_id
        if qid in self._inflight or self._loop is None:
            return False
        self._inflight.add(qid)
        task = self._loop.create_task(self._process(qf))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    # -- the periodic run ------------------------------------------------
    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            try:
                self.scan()
            except Exception:                      # never let the runner die
                logger.exception("queue scan failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass
            if self._stopping:
                break
            self._wake.clear()

    def scan(self) -> int:
        """One look at the queue: new files in incoming, and the deferred
        queue when ``queue_run_delay`` has passed (or a flush was asked).
        Returns the number of messages submitted."""
        now = self.clock.timestamp()
        started = 0
        for qid in self.queue.ids_in("incoming"):
            started += self.submit(qid)
        if self._flush or now >= self._next_scan:
            flush, self._flush = self._flush, False
            self._next_scan = now + self.settings.queue_run_delay
            for qid in self.queue.ids_in("deferred"):
                if qid in self._inflight:
                    continue
                if not flush:
                    try:
                        qf = self.queue.load(qid, "deferred")
                    except (KeyError, QueueFileError):
                        continue
                    if qf.next_try > now:
                        continue
                started += self.submit(qid)
        return started

    # -- one message -----------------------------------------------------
    def _log(self, program: str, message: str) -> None:
        if self.maillog is not None:
            self.maillog.write(program, message)

    async def _process(self, item: Union[QueueFile, str]) -> None:
        qid = item if isinstance(item, str) else item.queue_id
        try:
            assert self._sem is not None
            async with self._sem:
                await self._deliver_message(item)
        except Exception:
            logger.exception("%s: delivery failed", qid)
            # Never strand a message in active/: the next queue run retries it.
            try:
                if self.queue.locate(qid) == "active":
                    self.queue.path("active", qid).replace(self.queue.path("deferred", qid))
            except OSError:
                pass
        finally:
            self._inflight.discard(qid)

    def _activate(self, item: Union[QueueFile, str]) -> Optional[QueueFile]:
        try:
            if isinstance(item, str):
                where = self.queue.locate(item)
                if where not in ("incoming", "deferred"):
                    return None                     # held, gone or already active
                qf = self.queue.load(item, where)
            else:
                qf = item
            self.queue.move(qf, "active")
        except (KeyError, QueueFileError, FileNotFoundError):
            return None
        qf.active_since = self.clock.timestamp()
        if qf.queue_id in self._recovered:
            self._recovered.discard(qf.queue_id)
            qf.recovered = True
        return qf

    async def _deliver_message(self, item: Union[QueueFile, str]) -> None:
        qf = self._activate(item)
        if qf is None:
            return
        pending = qf.pending()
        self._log(logfmt.QMGR, logfmt.queue_active(qf.queue_id, qf.sender, qf.size,
                                                   len(qf.recipients)))
        bounced: List[Recipient] = []
        for rcpt in pending:
            await self._attempt(qf, rcpt)
            if rcpt.status == "bounced":
                bounced.append(rcpt)
        qf.attempts += 1
        self.attempts += 1
        now = self.clock.timestamp()
        still = qf.pending()
        if still and is_expired(qf, now, self.settings):
            self._log(logfmt.QMGR, logfmt.expired(qf.queue_id, qf.sender))
            for rcpt in still:
                rcpt.status = "bounced"
                bounced.append(rcpt)
            still = []
        if bounced:
            await self._bounce(qf, bounced)
        if still:
            qf.next_try = next_retry(qf.arrival, now, self.settings)
            qf.last_reason = still[-1].reason
            if not self.queue.path("active", qf.queue_id).exists():
                return                              # taken away (postsuper) meanwhile
            # Rewrite in place, then rename: there is never a second copy.
            # The fsyncs run off the loop so a pile of deferrals never stalls it.
            await asyncio.get_running_loop().run_in_executor(None, self._defer_file, qf)
        else:
            # unlink can take milliseconds on a busy journal: keep it off the loop
            # (removals of concurrent deliveries share one trip to a worker thread).
            await self.queue.remove_async(qf)
            self._log(logfmt.QMGR, logfmt.removed(qf.queue_id))

    def _defer_file(self, qf: QueueFile) -> None:
        self.queue.write(qf)
        self.queue.move(qf, "deferred", durable=True)

    async def _attempt(self, qf: QueueFile, rcpt: Recipient) -> None:
        start = self.clock.timestamp()
        try:
            out = await self.deliver(qf, rcpt)
        except Exception as exc:                    # an agent bug is a temporary failure
            logger.exception("%s: delivery agent failed", qf.queue_id)
            out = Outcome("deferred", "4.3.0", "none", f"mail system error: {exc}")
        end = self.clock.timestamp()
        active = qf.active_since if qf.active_since is not None else start
        a = max(0.0, active - qf.arrival)
        b = max(0.0, start - active)
        c, d = out.conn_time, out.xfer_time
        if c + d == 0:
            d = max(0.0, end - start)
        self._log(out.program, logfmt.delivery(
            qf.queue_id, out.to or rcpt.address, relay=out.relay, delay=end - qf.arrival,
            delays=(a, b, c, d), dsn=out.dsn, status=out.status, text=out.text,
            orig_to=rcpt.original if out.to and rcpt.original != out.to else None))
        rcpt.status = {"deferred": "pending"}.get(out.status, out.status)
        rcpt.dsn, rcpt.reason, rcpt.relay = out.dsn, out.text, out.relay
        # Postfix's DSN names a local agent's failure "X-Postfix; <reason>".
        local_diag = f"X-Postfix; {out.text}" if out.program == logfmt.LOCAL else ""
        rcpt.diag, rcpt.remote_mta = out.diag or local_diag, out.remote_mta

    async def _bounce(self, qf: QueueFile, failed: List[Recipient]) -> None:
        if qf.sender == "":
            # A bounce that bounces goes nowhere (RFC 5321 §4.5.5); Postfix
            # would tell the postmaster, the lab just says so in the log.
            self._log(logfmt.BOUNCE, f"{qf.queue_id}: undeliverable bounce discarded")
            return
        s = self.settings
        when = self.clock.now()
        bounce_id = self.queue.new_id()
        content = build_dsn(qf, failed, myhostname=s.myhostname, myorigin=s.myorigin,
                            bounce_id=bounce_id, when=when, mail_name=s.mail_name,
                            bounce_size_limit=s.bounce_size_limit)
        dsn = self.queue.make("", [qf.sender], content, queue_id=bounce_id)
        await asyncio.get_running_loop().run_in_executor(None, self.queue.write, dsn)
        self._log(logfmt.CLEANUP, logfmt.cleanup_message_id(
            bounce_id, f"<{when:%Y%m%d%H%M%S}.{bounce_id}@{s.myhostname}>"))
        self._log(logfmt.BOUNCE, logfmt.bounce_notification(qf.queue_id, bounce_id))
        self.submit(dsn)

