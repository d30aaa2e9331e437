"""The asyncio adapter around :class:`~.protocol.ImapSession` (IMAP 143 and IMAPS 993).

It moves bytes between the socket and the sans-IO session, performs the TLS
upgrade after STARTTLS, keeps the autologout timer (RFC 3501 §5.4), wakes
IDLE sessions when the selected folder changes (the store's watch hook,
plus a cheap 50 ms poll while idling so a delivery by any process shows up
at once), records the transcript and writes Dovecot-style log lines.

The session itself runs in the mailbox worker pool (:mod:`labmail.store.workers`),
one batch of input at a time and in arrival order: a SELECT that waits for
``dovecot-uidlist.lock`` or a FETCH that reads thousands of files stalls its
own client only, while the loop keeps serving SMTP, POP3 and the other IMAP
clients -- as Dovecot's one process per IMAP session does.  Sessions of one
mailbox take turns (:func:`~labmail.store.workers.mailbox_lock`).

    server = await start_imap_server(host, "127.0.0.2", 10143, ssl_context=ctx)

The host supplies ``dovecot.conf`` (``/etc/dovecot/dovecot.conf``: greeting,
``ssl``, ``disable_plaintext_auth``, ``auth_mechanisms``, ``mail_location``,
the passwd-file, ``mailbox { special_use, auto }`` blocks), its accounts,
clock, ids, maillog and transcripts.  Timers and limits that Dovecot does not
configure can be changed per host for lessons and tests::

    host.imap_overrides = {"idle_timeout": 60, "max_literal": 10_000_000}
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from typing import Any, Callable, List, Optional, Tuple

from ...firewall.gate import listen
from ...store.workers import mailbox_executor
from .protocol import ImapSession
from .services import HostServices

__all__ = ["start_imap_server", "ImapServerProtocol", "HostServices"]

logger = logging.getLogger(__name__)

IDLE_POLL = 0.05            # seconds between folder checks while a client IDLEs
IDLE_NOTIFY = 120.0         # Dovecot's imap_idle_notify_interval: "* OK Still here"
TRANSCRIPT_LINES = 40       # server lines recorded per reply before summarising
MAX_QUEUED = 1 << 20        # bytes of unprocessed input before reading pauses

class ImapServerProtocol(asyncio.Protocol):
    """One client connection (created by :func:`start_imap_server`)."""

    def __init__(self, host: Any, ssl_context: Optional[ssl.SSLContext],
                 implicit_tls: bool) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.implicit_tls = implicit_tls
        self.loop = asyncio.get_running_loop()
        self.transport: Optional[asyncio.Transport] = None
        self.session: Optional[ImapSession] = None
        self.transcript: Any = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._poller: Optional[asyncio.TimerHandle] = None
        self._upgrading = False
        self._early: list = []       # decrypted bytes that arrive before start_tls() returns
        self._idle_notified = 0.0
        self._was_idling = False
        self._change_pending = False
        self._look_queued = False     # one look at the folder waits at most: they coalesce
        # the session runs in the mailbox worker pool, one batch at a time and
        # in arrival order: a command waiting for a mailbox lock stalls only
        # its own client, never the loop (and with it SMTP, POP3, the others)
        self._ops: List[Callable[[], None]] = []
        self._busy = False
        self._held = False           # a failed login's answer is being delayed
        self._queued = 0             # bytes received and not yet processed
        # the loop adds to _queued and a worker thread subtracts: `+=` is not atomic
        # across threads, and a lost update once left a session paused for good
        self._queued_lock = threading.Lock()
        self._paused = False

    # -- connection ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = _addr(transport.get_extra_info("peername"))
        local = _addr(transport.get_extra_info("sockname"))
        services = HostServices(self.host)
        config = services.config(tls_available=self.ssl_context is not None
                                 and not self.implicit_tls)
        maillog = getattr(self.host, "maillog", None)
        def log(line: str) -> None:
            if maillog is None:
                logger.info("%s", line)
                return
            try:
                maillog.write("dovecot", line)
            except OSError:      # the lab is being torn down: its state dir is gone
                logger.debug("maillog unavailable: %s", line)
        ids = getattr(self.host, "ids", None)
        self.session = ImapSession(
            config, services.authenticate, services.mailboxes,
            secure=services.is_secured(peer[0], local[0]), tls=self.implicit_tls, log=log,
            peer=peer, local=local, session_id=ids.session_id() if ids else "",
            pid=ids.pid("imap") if ids else 0)
        self.session.on_folder_change = self._changed_threadsafe
        trace = getattr(self.host, "trace", None)
        if trace is not None:
            self.transcript = trace.open("imap", peer, local)
            if self.implicit_tls:
                self.transcript.start_tls(*_tls_info(transport))
        conns = getattr(self.host, "_connections", None)
        if isinstance(conns, set):
            conns.add(self)
        self._write(self.session.greeting())
        self._arm_timer()

    def eof_received(self) -> Optional[bool]:
        """The client half-closed: answer everything it sent, then close.

        (Dovecot reads its input to the end; asyncio's default would close at
        once and drop the replies to commands still waiting in the queue.)
        """
        if self.session is None:
            return None
        # (even when the session is already closed: its last replies may still be on
        # their way from the worker, and _flush closes the transport after them)
        if self.transport is not None and self.transport.get_extra_info("sslcontext") is not None:
            return None               # TLS has no half-close: asyncio closes the transport
        self._submit(self._peer_done)
        return True

    def _peer_done(self) -> None:
        """In a worker thread, after the input before the EOF: the session ends."""
        if self.session is not None:
            self.session.connection_lost()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        for handle in (self._timer, self._poller):
            if handle is not None:
                handle.cancel()
        session = self.session
        if session is not None:
            self._ops.clear()            # input that was not processed yet is void now
            if self._busy:
                self._submit(session.connection_lost)
            else:
                session.connection_lost()
        if self.transcript is not None:
            self.transcript.close()
        conns = getattr(self.host, "_connections", None)
        if isinstance(conns, set):
            conns.discard(self)

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None:
            return
        if self._upgrading:
            # While the raw transport is paused for the handshake, only the TLS
            # layer can call us: a client may send its next command the moment
            # the handshake ends, before start_tls() has returned.  Keep it.
            # (Cleartext pipelined after STARTTLS never gets here: the session
            # discarded it with the STARTTLS command, RFC 3501 §6.2.1.)
            self._early.append(data)
            return
        self._record_client(data)
        self._arm_timer()
        with self._queued_lock:
            self._queued += len(data)
        if self._queued > MAX_QUEUED and not self._paused and self.transport is not None:
            self._paused = True      # a client far ahead of us: let TCP hold the rest
            self.transport.pause_reading()
        self._submit(lambda: self._feed(session, data))

    def _feed(self, session: ImapSession, data: bytes) -> None:
        with self._queued_lock:
            self._queued -= len(data)
        session.receive_data(data)

    # -- the worker ------------------------------------------------------------------
    def _submit(self, op: Callable[[], None]) -> None:
        self._ops.append(op)
        self._kick()

    def _kick(self) -> None:
        """Hand the queued operations to the mailbox pool unless a batch runs."""
        if self._busy or self._held or self._upgrading or not self._ops:
            return
        ops, self._ops = self._ops, []
        self._busy = True
        try:
            future = self.loop.run_in_executor(mailbox_executor(), self._run, ops)
        except RuntimeError:         # the loop or the pool is shutting down
            self._busy = False
            return
        future.add_done_callback(self._ran)

    def _run(self, ops: List[Callable[[], None]]) -> List[Callable[[], None]]:
        """In a worker thread: run *ops* in order; returns those left for later."""
        session = self.session
        assert session is not None
        for i, op in enumerate(ops):
            lock = getattr(session.mailboxes, "lock", None)
            try:
                if lock is None:
                    op()
                else:
                    with lock:
                        op()
            except Exception:        # a bug or a disk error must not kill the session
                logger.exception("IMAP session operation failed")
            if session.output_delay or session.starttls_requested or session.closed:
                # a failed login holds further input back; STARTTLS voids it
                return ops[i + 1:]
        return []

    def _ran(self, future: "asyncio.Future[List[Callable[[], None]]]") -> None:
        self._busy = False
        session = self.session
        if future.cancelled() or session is None:
            return
        left = future.result() if future.exception() is None else []
        self._ops[:0] = left
        self._flush()
        if session.starttls_requested and self.ssl_context is not None and not session.closed:
            self._upgrading = True
            # stop reading cleartext now: whatever a man in the middle injects
            # after STARTTLS must never be read as a command (RFC 3501 §6.2.1)
            self._ops.clear()
            with self._queued_lock:
                self._queued = 0
            if self.transport is not None and hasattr(self.transport, "pause_reading"):
                self.transport.pause_reading()
            asyncio.ensure_future(self._start_tls())
            return
        if self._paused and self._queued <= MAX_QUEUED // 2 and self.transport is not None \
                and not self._held and not self.transport.is_closing():
            self._paused = False
            self.transport.resume_reading()
        self._arm_poller()
        self._kick()

    # -- output ---------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if not data or self.transport is None or self.transport.is_closing():
            return
        self.transport.write(data)
        if self.transcript is not None:
            lines = data.split(b"\r\n")
            if lines and lines[-1] == b"":
                lines.pop()
            for line in lines[:TRANSCRIPT_LINES]:
                self.transcript.server(line.decode("utf-8", "replace")[:300])
            if len(lines) > TRANSCRIPT_LINES:
                self.transcript.note(f"... {len(lines) - TRANSCRIPT_LINES} more lines "
                                     f"({len(data)} bytes in this reply) ...")

    def _flush(self) -> None:
        assert self.session is not None
        delay = getattr(self.session, "output_delay", 0.0)
        if delay and self.transport is not None:
            # a failed login: the answer (and further input) waits, others are served
            self.session.output_delay = 0.0
            data = self.session.data_to_send()
            self.transport.pause_reading()
            self._held = True

            def later() -> None:
                self._held = False
                self._write(data)
                if self.transport is not None and not self.transport.is_closing():
                    self._paused = False
                    self.transport.resume_reading()
                self._kick()
            self.loop.call_later(delay, later)
            return
        self._write(self.session.data_to_send())
        if self.session.closed and self.transport is not None:
            self.transport.close()

    def _record_client(self, data: bytes) -> None:
        if self.transcript is None:
            return
        lines = data.split(b"\r\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for line in lines[:TRANSCRIPT_LINES]:
            self.transcript.client(line.decode("utf-8", "replace")[:300])
        if len(lines) > TRANSCRIPT_LINES:
            self.transcript.note(f"... {len(lines) - TRANSCRIPT_LINES} more lines from the client ...")

    # -- TLS --------------------------------------------------------------------------
    async def _start_tls(self) -> None:
        assert self.transport is not None and self.session is not None
        assert self.ssl_context is not None
        try:
            new = await self.loop.start_tls(self.transport, self, self.ssl_context,
                                            server_side=True)
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            logger.info("IMAP STARTTLS handshake failed: %s", exc)
            if self.transport is not None:
                self.transport.abort()
            return
        if new is None:
            return
        self.transport = new
        self.session.tls_started()     # no batch runs: _kick waits while upgrading
        self._upgrading = False
        if self.transcript is not None:
            self.transcript.start_tls(*_tls_info(new))
        early, self._early = self._early, []
        for chunk in early:
            self.data_received(chunk)

    # -- timers -------------------------------------------------------------------------
    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        assert self.session is not None
        self._timer = self.loop.call_later(self.session.config.idle_timeout, self._timeout)

    def _timeout(self) -> None:
        session = self.session
        if session is not None and not session.closed:
            if self._busy or self._held:
                # a command is still running (a lock wait): time it out afterwards
                self._arm_timer()
                return
            session.timed_out()
            self._flush()

    def _arm_poller(self) -> None:
        session = self.session
        if session is not None and session.idling and self._poller is None:
            if not self._was_idling:
                self._idle_notified = self.loop.time()
            self._poller = self.loop.call_later(IDLE_POLL, self._poll)
        self._was_idling = bool(session and session.idling)

    def _poll(self) -> None:
        self._poller = None
        session = self.session
        if session is None or session.closed or not session.idling:
            return
        now = self.loop.time()
        if now - self._idle_notified >= IDLE_NOTIFY and not self._busy:
            # keeps NAT boxes and firewalls from dropping a quiet connection
            self._idle_notified = now
            self._write(b"* OK Still here\r\n")
        if self._busy or self._ops:
            self._arm_poller()       # the batch under way ends with a look at the folder
            return
        try:
            # two stat() calls on the loop; only a change is worth a worker
            quiet = session.looks_unchanged()
        except OSError:
            quiet = False
        if quiet:
            self._arm_poller()
            return
        self._queue_look()

    def _queue_look(self) -> None:
        # a look already waiting will see this change too: a burst of deliveries
        # (or a STORE on many messages) costs an IDLE session one rescan, not one each
        if not self._look_queued:
            self._look_queued = True
            self._submit(self._look)

    def _look(self) -> None:
        """In a worker thread: has the folder changed under an IDLE client?"""
        self._look_queued = False
        session = self.session
        if session is None or session.closed:
            return
        try:
            session.mailbox_changed()
        except Exception:  # the store failed: keep the connection alive
            logger.exception("IMAP IDLE poll failed")

    def _changed_threadsafe(self) -> None:
        # a STORE on 1:* notifies once per message: coalesce into one update
        if self._change_pending:
            return
        self._change_pending = True
        try:
            self.loop.call_soon_threadsafe(self._changed)
        except RuntimeError:  # the loop is closed: the lab stopped
            pass

    def _changed(self) -> None:
        self._change_pending = False
        if self.session is not None and not self.session.closed and self.session.idling:
            # only IDLE hears of changes at once; others at their next command
            self._queue_look()


def _addr(value: Any) -> Tuple[str, int]:
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return ("?", 0)


def _tls_info(transport: asyncio.BaseTransport) -> Tuple[str, str]:
    obj = transport.get_extra_info("ssl_object")
    if obj is None:
        return ("", "")
    cipher = obj.cipher()
    return (obj.version() or "", cipher[0] if cipher else "")


async def start_imap_server(host: Any, ip: str, port: int, *,
                            ssl_context: Optional[ssl.SSLContext] = None,
                            implicit_tls: bool = False) -> asyncio.AbstractServer:
    """Listen for IMAP on *ip*:*port* for *host* (IMAPS when *implicit_tls*).

    With *ssl_context* and not *implicit_tls* the server offers STARTTLS.

    >>> # server = await start_imap_server(host, "127.0.0.2", 10143, ssl_context=ctx)
    """
    # judged by the host's firewall as its standard port (RFC 8314: 993 for implicit TLS)
    return await listen(host, 993 if implicit_tls else 143,
                        lambda: ImapServerProtocol(host, ssl_context, implicit_tls), ip, port,
                        ssl_context=ssl_context if implicit_tls else None)
