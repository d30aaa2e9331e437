"""The asyncio adapter: sockets, TLS and logs around :class:`POP3Connection`.

>>> server = await start_pop3_server(host, "127.0.0.2", 10110)   # doctest: +SKIP
>>> server995 = await start_pop3_server(host, "127.0.0.2", 10995,
...                                     ssl_context=ctx, implicit_tls=True)  # doctest: +SKIP

The host provides ``state_dir``, ``path()`` (virtual -> real path),
``users``, ``maillog``, ``trace``, ``clock``, ``ids`` and ``hostname``.
Its ``/etc/dovecot/dovecot.conf`` is read at every new connection, so an
edit takes effect for the next client (a real Dovecot needs ``doveadm
reload``; the lessons say so).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import ssl
import time
import weakref
from pathlib import Path
from typing import Any, Optional, Tuple

from ...errors import ConfigError
from ...firewall.gate import listen, stream_factory
from ...store import open_store
from ...store.workers import mailbox_executor
from ..auth import PasswdFile
from ..dovecotconf import DovecotConfig, default_dovecot_conf, load_dovecot_conf, parse_dovecot_conf
from ..dovelog import ConnInfo, DovecotLogger
from .maildrop import Maildrop
from .protocol import (Close, Event, Heard, Pause, POP3Connection, Send, Settings, StartTLS)
from .states import State

__all__ = ["start_pop3_server", "stop_pop3_server", "HostBackend", "load_host_config",
           "IDLE_TIMEOUT"]

logger = logging.getLogger(__name__)

#: RFC 1939 section 3: an inactivity autologout timer of at least 10 minutes.
IDLE_TIMEOUT = 600.0
DOVECOT_CONF = "/etc/dovecot/dovecot.conf"


def _real(host: Any, virtual: str) -> Path:
    if hasattr(host, "path"):
        return Path(host.path(virtual))
    return Path(host.state_dir) / virtual.lstrip("/")


_last_good: "weakref.WeakKeyDictionary[Any, DovecotConfig]" = weakref.WeakKeyDictionary()
_sessions: "weakref.WeakKeyDictionary[Any, itertools.count]" = weakref.WeakKeyDictionary()


def _next_session(host: Any) -> int:
    """1, 2, 3... per host: each POP3 session's process id is the next one, as
    Dovecot forks one pop3 process per login (stable for seeded lessons)."""
    try:
        counter = _sessions.setdefault(host, itertools.count(1))
    except TypeError:
        return 1
    return next(counter)


def load_host_config(host: Any) -> DovecotConfig:
    """The host's dovecot.conf (the lab default when the file does not exist).

    An edit that does not parse is logged as Dovecot logs a failed reload
    (``doveconf: Fatal: Error in configuration file ...``) and the last good
    configuration stays in force; it raises only if there never was one.
    """
    path = _real(host, DOVECOT_CONF)
    try:
        if path.exists():
            conf = load_dovecot_conf(path, "pop3")
        else:
            conf = parse_dovecot_conf(default_dovecot_conf(), DOVECOT_CONF, "pop3")
    except ConfigError as exc:
        shown = DOVECOT_CONF if exc.path == str(path) else exc.path
        where = f" line {exc.line}" if exc.line else ""
        maillog = getattr(host, "maillog", None)
        if maillog is not None:
            maillog.write("dovecot", f"master: Error: doveconf: Fatal: Error in configuration "
                                     f"file {shown}{where}: {exc.message}")
        try:
            return _last_good[host]
        except (KeyError, TypeError):
            raise exc from None
    try:
        _last_good[host] = conf
    except TypeError:       # a host that cannot be weakly referenced
        pass
    return conf


class HostBackend:
    """Users from the passdb's passwd-file, mail from ``mail_location``."""

    def __init__(self, host: Any, config: DovecotConfig) -> None:
        self.host = host
        self.config = config
        users = config.passwd_file() or "/etc/dovecot/users"
        self.passwd = PasswdFile(_real(host, users))

    def check_password(self, user: str, password: str) -> str:
        if self.passwd.lookup(user) is None:
            self.passwd.verify(user, password)      # same cost as a wrong password
            return "unknown user"
        return "" if self.passwd.verify(user, password) else "Password mismatch"

    def plaintext_password(self, user: str) -> Optional[str]:
        entry = self.passwd.lookup(user)
        return entry.plaintext() if entry else None

    def home(self, user: str) -> str:
        entry = self.passwd.lookup(user)
        if entry and entry.home:
            return entry.home
        users = getattr(self.host, "users", None)
        if users is not None and hasattr(users, "home"):
            try:
                return str(users.home(user))
            except Exception:   # an account only in the passwd-file
                pass
        return f"/home/{user}"

    def open_maildrop(self, user: str) -> Maildrop:
        location = self.config.mail_location or "maildir:~/Maildir"
        clock = getattr(self.host, "clock", None)
        store = open_store(location, user=user, home=self.home(user),
                           map_path=lambda p: _real(self.host, p),
                           now=clock.timestamp if clock else time.time,
                           hostname=getattr(self.host, "hostname", "mail").split(".")[0])
        folder = store.folder("INBOX")
        lock = folder.lock() if self.config.pop3_lock_session else None
        return Maildrop(folder, lock, self.config.pop3_uidl_format)


class _Session:
    """One client connection."""

    def __init__(self, host: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 ssl_context: Optional[ssl.SSLContext], implicit_tls: bool,
                 idle_timeout: float) -> None:
        self.host, self.reader, self.writer = host, reader, writer
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        self.timed_out = False
        self._last_input = 0.0
        self._timer: Optional[asyncio.TimerHandle] = None
        peer = writer.get_extra_info("peername") or ("?", 0)
        local = writer.get_extra_info("sockname") or ("?", 0)
        self.peer: Tuple[str, int] = (peer[0], peer[1])
        self.local: Tuple[str, int] = (local[0], local[1])
        self.config = load_host_config(host)
        ids, clock = host.ids, host.clock
        self.started = clock.timestamp()
        secured = implicit_tls or self.config.is_secured(self.peer[0], self.local[0])
        self.info = ConnInfo(rip=self.peer[0], lip=self.local[0], session=ids.session_id(),
                             mpid=getattr(host.maillog, "pid", lambda p: 0)("pop3") + _next_session(host),
                             secured=secured, tls=implicit_tls)
        self.log = DovecotLogger(getattr(host, "maillog", None), "pop3")
        trace = getattr(host, "trace", None)
        self.transcript = trace.open("pop3", self.peer, self.local) if trace is not None else None
        if implicit_tls and self.transcript is not None:
            obj = writer.get_extra_info("ssl_object")
            self.transcript.start_tls(obj.version() if obj else "", (obj.cipher() or ("",))[0] if obj else "")
        mechs = tuple(m.upper() for m in self.config.auth_mechanisms if m.upper() in ("PLAIN", "LOGIN"))
        challenge = None
        if "apop" in self.config.auth_mechanisms:
            # Dovecot's shape: <pid.counter.hextime.random@hostname>
            challenge = (f"<{self.info.mpid}.{self.info.mpid % 1000}.{int(clock.timestamp()):x}."
                         f"{ids.token(8)}@{getattr(host, 'hostname', 'localhost')}>")
        settings = Settings(
            greeting=self.config.login_greeting, mechanisms=mechs, apop_challenge=challenge,
            secured=secured, tls_active=implicit_tls,
            # StreamWriter.start_tls exists from Python 3.11 on: no STLS before that
            tls_available=(ssl_context is not None and self.config.ssl != "no"
                           and not implicit_tls and hasattr(writer, "start_tls")),
            disable_plaintext_auth=self.config.disable_plaintext_auth,
            ssl_required=self.config.ssl == "required",
            auth_failure_delay=self.config.auth_failure_delay, implementation="labmail")
        self.conn = POP3Connection(HostBackend(host, self.config), settings)
        self._inflight: Optional["concurrent.futures.Future[list]"] = None

    def _check_idle(self) -> None:
        # RFC 1939 section 3: autologout after the idle time; the session ends
        # without UPDATE.  One timer re-armed lazily (cheaper than one per read).
        loop = asyncio.get_running_loop()
        remaining = self._last_input + self.idle_timeout - loop.time()
        if remaining > 0:
            self._timer = loop.call_later(remaining, self._check_idle)
            return
        self.timed_out = True
        self.writer.transport.abort()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.timed_out = False
        self._last_input = loop.time()
        self._timer = loop.call_later(self.idle_timeout, self._check_idle)
        try:
            if await self._do(self.conn.start()):
                return
            while True:
                data = await self.reader.read(65536)
                if not data:
                    reason = "Disconnected for inactivity" if self.timed_out else "Connection closed"
                    await self._do(await self._call(self.conn.connection_lost, reason),
                                   sending=False)
                    return
                self._last_input = loop.time()
                if self._on_loop(data):
                    # TRANSACTION commands work on the maildrop listed at login: no
                    # lock to wait for, one small file read -- a thread hand-off per
                    # RETR would cost more than the command (POP3 RETR 0.43x -> ...)
                    actions = self.conn.receive_data(data)
                else:
                    actions = await self._call(self.conn.receive_data, data)
                if await self._do(actions):
                    return
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            logger.debug("pop3 connection from %s ended: %s", self.peer, exc)
            reason = "Disconnected for inactivity" if self.timed_out else "Connection closed"
            await self._do(await self._call(self.conn.connection_lost, reason), sending=False)
        except asyncio.CancelledError:      # server shutting down
            inflight = self._inflight
            if inflight is not None and not inflight.done():
                # a step still runs in the pool: end the session after it, there
                inflight.add_done_callback(lambda _f: self.conn.connection_lost())
                raise
            # no await here: the task is being cancelled (the lock is released at once)
            await self._do(self.conn.connection_lost(), sending=False)
            raise
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if self.transcript is not None:
                self.transcript.close()
            if not self.writer.is_closing():
                self.writer.close()

    def _on_loop(self, data: bytes) -> bool:
        """Whether *data* can be handled on the loop: TRANSACTION state and no QUIT
        (QUIT enters UPDATE, which removes messages under the mailbox lock)."""
        return (getattr(self.conn, "state", None) is State.TRANSACTION
                and b"QUIT" not in data.upper())

    async def _call(self, method: Any, *args: Any) -> list:
        """Run a step of the session in the mailbox pool, not on the loop.

        Opening the maildrop at login and the UPDATE state may wait for the
        mailbox lock (``dovecot-uidlist.lock``) or read many files; the loop
        keeps serving every other client meanwhile.  The session awaits each
        step, so its commands still run one at a time and in order.
        """
        self._inflight = mailbox_executor().submit(method, *args)
        try:
            return await asyncio.wrap_future(self._inflight)
        finally:
            if self._inflight.done():
                self._inflight = None

    async def _do(self, actions: list, sending: bool = True) -> bool:
        """Carry out actions; True when the connection is to be closed."""
        closing = bool(actions) and isinstance(actions[-1], Close)
        last_send = max((i for i, a in enumerate(actions) if isinstance(a, Send)), default=-1)
        for i, act in enumerate(actions):
            if isinstance(act, Send):
                if self.transcript is not None:     # recorded before the client can see it
                    self.transcript.server(act.text)
                    if closing and i == last_send:
                        self.transcript.close()
                if sending:
                    self.writer.write(act.data)
            elif isinstance(act, Heard):
                if self.transcript is not None:
                    self.transcript.client(act.text)
            elif isinstance(act, Event):
                self._log(act)
            elif isinstance(act, Pause):
                await self.writer.drain()
                await asyncio.sleep(act.seconds)
            elif isinstance(act, StartTLS):
                await self.writer.drain()
                assert self.ssl_context is not None
                await self.writer.start_tls(self.ssl_context)   # RFC 2595 section 4
                self.info.tls = True
                self.conn.tls_started()
                if self.transcript is not None:
                    obj = self.writer.get_extra_info("ssl_object")
                    self.transcript.start_tls(obj.version() if obj else "",
                                              (obj.cipher() or ("",))[0] if obj else "")
            elif isinstance(act, Close):
                if sending:
                    await self.writer.drain()
                return True
        if sending and self.writer.transport.get_write_buffer_size() > 65536:
            await self.writer.drain()      # only wait when the client reads slowly
        return False

    def _log(self, ev: Event) -> None:
        f = ev.fields
        if ev.kind == "login":
            self.log.login(self.info, str(f["user"]), str(f["method"]))
        elif ev.kind == "auth_failed":
            self.log.auth_failed(self.info, str(f["user"]), str(f["reason"]))
        elif ev.kind == "logout":
            self.log.logout(self.info, str(f["user"]), str(f["reason"]), f,
                            self.config.pop3_logout_format)
        elif ev.kind == "login_disconnected":
            secs = int(self.host.clock.timestamp() - self.started)
            self.log.login_disconnected(self.info, str(f["reason"]), str(f["user"]),
                                        str(f["method"]), int(str(f["attempts"])), secs,
                                        bool(f.get("plaintext_refused")))


async def start_pop3_server(host: Any, ip: str, port: int, *,
                            ssl_context: Optional[ssl.SSLContext] = None,
                            implicit_tls: bool = False,
                            idle_timeout: float = IDLE_TIMEOUT) -> asyncio.AbstractServer:
    """Listen for POP3 (or POP3S with *implicit_tls*, RFC 8314) on *ip*:*port*.

    *ssl_context* is a server context: with ``implicit_tls`` the handshake
    comes first; otherwise it is offered through STLS (RFC 2595).
    """
    if implicit_tls and ssl_context is None:
        raise ValueError("implicit TLS needs an ssl_context")

    sessions: "set[asyncio.Task]" = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            sessions.add(task)
            task.add_done_callback(sessions.discard)
        try:
            session = _Session(host, reader, writer, ssl_context, implicit_tls, idle_timeout)
        except Exception:
            logger.exception("cannot start a POP3 session")
            writer.write(b"-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information.\r\n")
            writer.close()
            return
        try:
            await session.run()
        except asyncio.CancelledError:   # stop_pop3_server: the session is over
            pass

    # judged by the host's firewall as its standard port (RFC 8314: 995 for implicit TLS)
    server = await listen(host, 995 if implicit_tls else 110, stream_factory(handle), ip, port,
                          ssl_context=ssl_context if implicit_tls else None)
    server.labmail_sessions = sessions    # type: ignore[attr-defined]
    return server


async def stop_pop3_server(server: asyncio.AbstractServer) -> None:
    """Stop listening and end every open session (no UPDATE: nothing is deleted)."""
    server.close()
    tasks = list(getattr(server, "labmail_sessions", ()))
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    await server.wait_closed()
