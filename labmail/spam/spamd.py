"""spamd: the SpamAssassin daemon of each lab host (protocol in :mod:`.protocol`).

:class:`SpamdService` answers one :class:`~.protocol.Request` with a
:class:`~.protocol.Response`: it finds the user's configuration (the rule
set, ``/etc/mail/spamassassin/*.cf``, ``~/.spamassassin/user_prefs``) and
Bayes database, checks the message and shapes the reply the way the real
spamd does. :func:`start_spamd_server` is the thin asyncio shell around it,
so Debian's ``spamc -d HOST -p PORT`` and ``labmail spamc`` both work::

    server = await start_spamd_server(host, host.ip, 10783)

Every request is logged to the host's maillog in spamd's words
(``spamd: identified spam (7.2/5.0) for bob:1001 in 0.1 seconds, 812 bytes.``).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..clock import Clock, IdGenerator
from ..firewall.gate import listen, stream_factory
from .bayes import BayesStore
from .engine import Engine, Resolver, Result
from .protocol import (EX_CODES, Method, RemoteProtocolError, Request, Response, ServerConnection,
                       encode_response)
from .report import ReportContext, report_text, rewrite
from .rules import Config, load_config

__all__ = ["SpamdService", "start_spamd_server", "spam_header_value", "READ_TIMEOUT"]

log = logging.getLogger(__name__)
READ_TIMEOUT = 30.0


def spam_header_value(result: Result, method: Optional[Method] = None) -> str:
    """``True ; 7.2 / 5.0``: the value of spamd's ``Spam:`` response header.

    (REPORT_IFSPAM says ``Yes``/``No`` instead, as spamd 4.0 does.)
    """
    from .report import _score_tag
    yes, no = ("Yes", "No") if method is Method.REPORT_IFSPAM else ("True", "False")
    return f"{yes if result.is_spam else no} ; {_score_tag(result, None)} / {result.required:.1f}"


class SpamdService:
    """Checks messages for a host's users (no sockets here; see the module docstring).

    >>> svc = SpamdService(hostname="mail.example.com")
    >>> svc.handle(Request(Method.CHECK, "1.5", (), b"Subject: hi\\n\\nhello\\n")).header("Spam")[:8]
    'False ; '
    """

    def __init__(self, *, hostname: str = "localhost", site_dir: Optional[Path] = None,
                 home_of: Callable[[str], Optional[Path]] = lambda user: None,
                 default_home: Optional[Path] = None, resolver: Optional[Resolver] = None,
                 clock: Optional[Clock] = None, ids: Optional[IdGenerator] = None,
                 maillog: Any = None, uid_of: Callable[[str], int] = lambda user: 1000,
                 allow_tell: bool = True) -> None:
        self.hostname, self.site_dir, self.home_of = hostname, site_dir, home_of
        self.default_home, self.resolver = default_home, resolver
        self.clock, self.ids, self.maillog, self.uid_of = clock, ids, maillog, uid_of
        self.allow_tell = allow_tell
        self._configs: Dict[str, Tuple[tuple, Config, Engine]] = {}
        self._bayes: Dict[str, BayesStore] = {}
        self.lock = threading.Lock()            # one check at a time: Bayes is shared state

    # -- per-user state -----------------------------------------------------------
    def _home(self, user: Optional[str]) -> Optional[Path]:
        home = self.home_of(user) if user else None
        return home if home is not None else self.default_home

    def _files(self, user: Optional[str]) -> List[Path]:
        files = sorted(self.site_dir.glob("*.pre")) + sorted(self.site_dir.glob("*.cf")) if self.site_dir and self.site_dir.is_dir() else []
        home = self._home(user)
        if home is not None:
            files.append(home / ".spamassassin" / "user_prefs")
        return files

    def bayes_for(self, user: Optional[str], config: Config) -> Optional[BayesStore]:
        """The user's token database (``~/.spamassassin/bayes_*``), or None without a home."""
        if not config.use_bayes:
            return None
        home = self._home(user)
        key = str(home)
        if key not in self._bayes:
            self._bayes[key] = BayesStore(home / ".spamassassin" if home else None, autosave=True)
        return self._bayes[key]

    def engine_for(self, user: Optional[str]) -> Engine:
        """The compiled rules for *user*, re-read when any configuration file changed."""
        files = self._files(user)
        stamp = tuple((str(f), f.stat().st_mtime_ns if f.exists() else 0) for f in files)
        key = user or ""
        cached = self._configs.get(key)
        if cached and cached[0] == stamp:
            return cached[2]
        site = [f for f in stamp if not f[0].endswith("user_prefs")]
        if cached and [f for f in cached[0] if not f[0].endswith("user_prefs")] != site:
            # user_prefs is read per request by a real spamd too; local.cf is not.
            self._log("spamd: site configuration changed, rules reloaded "
                      "(a real spamd reads local.cf at start: systemctl reload spamd)")
        prefs = files[-1] if files and files[-1].name == "user_prefs" else None
        config, errors = load_config(self.site_dir, prefs, strict=False)
        for err in errors:
            log.warning("config: %s", err)
            self._log(f"config: {err}")
        resolver = self.resolver
        if config.dns_servers:             # local.cf's dns_server wins over the lab's resolver
            from ..net.resolver import LabResolver
            resolver = LabResolver(*config.dns_servers[0], timeout=3.0).addresses
        engine = Engine(config, bayes=self.bayes_for(user, config), resolver=resolver)
        self._configs[key] = (stamp, config, engine)
        return engine

    def _log(self, message: str) -> None:
        if self.maillog is not None:
            self.maillog.write("spamd", message)

    # -- one request ------------------------------------------------------------
    def handle(self, req: Request, peer: Optional[Tuple[str, int]] = None) -> Optional[Response]:
        """The response to *req* (None for SKIP: just close)."""
        if req.method is Method.SKIP:
            return None
        if req.method is Method.PING:
            return Response(0, "PONG", version="1.5")
        user = req.user
        if user and self.home_of(user) is None and self.default_home is not None and self.maillog is not None:
            self._log(f"spamd: handle_user (getpwnam) unable to find user: '{user}'")
        with self.lock:
            engine = self.engine_for(user)
            if req.method is Method.TELL:
                return self._tell(req, engine)
            started = time.monotonic()
            result = engine.check(req.body)
            elapsed = time.monotonic() - started
        self._log_result(result, req, user, elapsed, peer)
        spam = ("Spam", spam_header_value(result, req.method))
        if req.method is Method.CHECK:
            return Response(0, EX_CODES[0], (spam,))
        ctx = ReportContext(self.hostname, self.clock, self.ids)
        if req.method is Method.SYMBOLS:
            body = ",".join(result.tests).encode()
        elif req.method is Method.REPORT or (req.method is Method.REPORT_IFSPAM and result.is_spam):
            body = report_text(result, ctx).encode("utf-8")
        elif req.method is Method.REPORT_IFSPAM:
            body = b""
        else:
            body = rewrite(result, ctx)
            if req.method is Method.HEADERS:
                end = body.find(b"\r\n\r\n")
                end = end + 4 if end >= 0 else body.find(b"\n\n") + 2
                body = body[:end] if end > 1 else body
        return Response(0, EX_CODES[0], (("Content-length", str(len(body))), spam), body)

    def _tell(self, req: Request, engine: Engine) -> Response:
        if not self.allow_tell:
            return Response(69, "EX_UNAVAILABLE TELL commands are not enabled, set the --allow-tell switch.")
        cls = (req.header("Message-class") or "").lower()
        sets = {s.strip() for s in (req.header("Set") or "").split(",") if s.strip()}
        removes = {s.strip() for s in (req.header("Remove") or "").split(",") if s.strip()}
        if sets & removes:
            return Response(64, "EX_USAGE Set and Remove name the same database")
        store = engine.bayes
        if store is None:
            return Response(69, "EX_UNAVAILABLE Bayes is off (use_bayes 0)")
        headers = []
        if "local" in sets:
            if cls not in ("spam", "ham"):
                return Response(64, "EX_USAGE Message-class must be spam or ham")
            store.learn(req.body, spam=cls == "spam")  # type: ignore[attr-defined]
            headers.append(("DidSet", "local"))
        if "local" in removes:
            store.forget(req.body)  # type: ignore[attr-defined]
            headers.append(("DidRemove", "local"))
        self._log(f"spamd: {'learned' if sets else 'forgot'} message as {cls or 'unknown'} for {req.user or 'nobody'}")
        return Response(0, EX_CODES[0], tuple(headers))

    def _log_result(self, r: Result, req: Request, user: Optional[str], elapsed: float,
                    peer: Optional[Tuple[str, int]]) -> None:
        user = user or "nobody"
        uid = self.uid_of(user)
        mid = r.view.header("Message-ID").strip() or "(unknown)"
        size = len(req.body)
        score, reqd = spam_header_value(r).split(" ; ")[1].split(" / ")
        verb = "processing" if req.method in (Method.PROCESS, Method.HEADERS) else "checking"
        self._log(f"spamd: {verb} message {mid} for {user}:{uid}")
        what = "identified spam" if r.is_spam else "clean message"
        self._log(f"spamd: {what} ({score}/{reqd}) for {user}:{uid} in {elapsed:.1f} seconds, {size} bytes.")
        raddr, rport = peer if peer else ("127.0.0.1", 0)
        self._log(f"spamd: result: {'Y' if r.is_spam else '.'} {int(r.score)} - {','.join(r.tests) or 'none'} "
                  f"scantime={elapsed:.1f},size={size},user={user},uid={uid},required_score={reqd},"
                  f"rhost=localhost,raddr={raddr},rport={rport},mid={mid},autolearn={r.autolearn} "
                  f"autolearn_force={'yes' if r.autolearn_force else 'no'}")

    # -- wiring to a lab Host --------------------------------------------------------
    @classmethod
    def for_host(cls, host: Any, *, resolver: Optional[Resolver] = None) -> "SpamdService":
        """A service reading a lab host's files (``/etc/mail/spamassassin``, homes, passwd)."""
        def home_of(user: str) -> Optional[Path]:
            users = getattr(host, "users", None)
            if users is not None and users.exists(user):
                return host.path(users.home(user))
            return None

        def uid_of(user: str) -> int:
            try:
                for line in host.path("/etc/passwd").read_text(encoding="utf-8").splitlines():
                    f = line.split(":")
                    if len(f) == 7 and f[0] == user:
                        return int(f[2])
            except (OSError, ValueError):
                pass
            return 65534

        if resolver is None and getattr(host, "lab", None) is not None:
            def resolver(name: str) -> List[str]:
                res = getattr(host.lab, "resolver", None)
                return res.addresses(name) if res is not None else []

        return cls(hostname=host.hostname, site_dir=host.path("/etc/mail/spamassassin"), home_of=home_of,
                   default_home=host.path("/var/lib/spamassassin"), resolver=resolver,
                   clock=getattr(host, "clock", None), ids=getattr(host, "ids", None),
                   maillog=getattr(host, "maillog", None), uid_of=uid_of)


async def _serve_one(service: SpamdService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     trace: Any) -> None:
    peer = writer.get_extra_info("peername")
    local = writer.get_extra_info("sockname")
    transcript = trace.open("spamd", peer, local) if trace is not None else None
    service._log(f"spamd: connection from localhost [{peer[0]}]:{peer[1]} to port {local[1]}, fd 5")
    conn = ServerConnection()
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + READ_TIMEOUT
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError
            data = await asyncio.wait_for(reader.read(65536), remaining)
            events = conn.receive_data(data) if data else conn.receive_eof()
            if not events:
                if not data:
                    break           # closed, nothing more will come
                continue
            event = events[0]
            if isinstance(event, RemoteProtocolError):
                resp: Optional[Response] = Response(event.code, f"{event.prefix}{event.text}", version="1.0")
            else:
                if transcript is not None:
                    transcript.client(f"{event.method.value} SPAMC/{event.version}")
                    for k, v in event.headers:
                        transcript.client(f"{k}: {v}")
                    if event.body:
                        transcript.note(f"... message of {len(event.body)} bytes ...")
                # The check may query the lab's DNS server, which runs on this
                # very loop: so it runs in a worker thread, never on the loop.
                resp = await loop.run_in_executor(None, service.handle, event, peer)
            if resp is not None:
                writer.write(encode_response(resp))
                await writer.drain()
                if transcript is not None:
                    transcript.server(f"SPAMD/{resp.version} {resp.code} {resp.message}")
                    for k, v in resp.headers:
                        transcript.server(f"{k}: {v}")
                    if resp.body:
                        transcript.note(f"... {len(resp.body)} bytes of response body ...")
            break
    except (asyncio.TimeoutError, ConnectionError) as exc:
        log.info("spamd: connection from %s ended: %r", peer, exc)
    except Exception:  # a bug must not kill the server
        log.exception("spamd: error while serving %s", peer)
        try:
            writer.write(encode_response(Response(70, "EX_SOFTWARE internal error", version="1.0")))
        except Exception:
            pass
    finally:
        if transcript is not None:
            transcript.close()
        writer.close()
        try:
            await writer.wait_closed()
        except Exception:
            pass


async def start_spamd_server(host: Any, ip: str, port: int, *, resolver: Optional[Resolver] = None,
                             service: Optional[SpamdService] = None) -> asyncio.AbstractServer:
    """Listen for spamc on *ip*:*port* for a lab *host* (port 0 picks a free one).

    ``host`` needs ``hostname`` and ``path()``; ``users``, ``clock``, ``ids``,
    ``maillog``, ``trace`` and ``lab.resolver`` are used when present.
    """
    svc = service or SpamdService.for_host(host, resolver=resolver)
    trace = getattr(host, "trace", None)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(svc, reader, writer, trace)

    # spamd listens on 127.0.0.1 on a real server: only the host itself reaches it, so
    # the firewall judges its clients as arriving on lo
    server = await listen(host, 783, stream_factory(on_connect), ip, port, local_only=True)
    server.spamd_service = svc  # type: ignore[attr-defined]
    return server
