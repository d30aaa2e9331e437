"""The lab: a small simulated internet of mail hosts, running beside the notebook.

A :class:`Lab` owns one asyncio event loop in a daemon thread.  Every host's
servers run on that loop, so a notebook cell can use blocking clients
(``smtplib``, ``poplib``, ``imaplib``) against them, and nothing touches the
kernel's own event loop.

>>> import labmail, smtplib
>>> with labmail.Lab(ports="auto") as lab:                      # doctest: +SKIP
...     host = lab.add_host("mail.example.com", users={"alice": "secret"})
...     lab.start()
...     with smtplib.SMTP(*host.endpoints["smtp"]) as s:
...         s.sendmail("bob@example.org", ["alice@example.com"], "Subject: hi\\r\\n\\r\\nhello")

Ports: privileged ports need root, which students on Binder don't have, so a
service listens on ``port_base + standard port`` (SMTP 10025, POP3 10110,
IMAP 10143, …); ``ports="auto"`` takes free ports instead (tests, several
labs at once).  Each host gets its own loopback address (127.0.0.2,
127.0.0.3, …); when that address is taken by another lab the host moves to
the next free one.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import errno
import logging
import os
import shutil
import ssl
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Awaitable, Dict, Optional, TypeVar, Union

from .clock import Clock, IdGenerator
from .errors import LabError
from .mta import groupcommit
from .host import STANDARD_PORTS, Host
from .mta.profiles import debian_install
from .net.certs import LabCA
from .net.dns import LabDNS, register_host
from .net.resolver import LabResolver

__all__ = ["Lab"]

logger = logging.getLogger("labmail.lab")
T = TypeVar("T")

#: highest last octet tried for host addresses (127.0.0.2 ... 127.0.0.N)
_LAST_OCTET = 250
#: the lab's /etc/hosts: consulted before DNS, as nsswitch's "files dns" does
HOSTS_FILE = {"127.0.0.1": "localhost"}
#: where the lab's DNS server listens: 127.0.0.1, or (if another lab has that
#: port) one of these
_DNS_ADDRESSES = ["127.0.0.1"] + [f"127.0.0.{n}" for n in range(254, _LAST_OCTET, -1)]


class Lab:
    """A set of mail hosts served by one event loop in a background thread.

    Parameters
    ----------
    port_base:
        Services listen on ``port_base + standard port``; by default 10000, or
        the environment variable ``LABMAIL_PORT_BASE`` when set (a kernel
        inherits it: parallel notebook tests give each worker its own).
    ports:
        ``"auto"`` to take free ephemeral ports instead.
    state_dir:
        Where hosts keep their files; a temporary directory when omitted
        (removed when the interpreter exits).
    seed:
        Seed for queue ids and session ids, so lessons are reproducible.
    clock:
        A :class:`~labmail.Clock`, an ISO date string for a fixed clock, or
        ``None`` for real time.
    """

    def __init__(self, port_base: Optional[int] = None, ports: Optional[str] = None,
                 state_dir: Optional[Union[str, Path]] = None, *,
                 seed: Optional[int] = None,
                 clock: Optional[Union[Clock, str]] = None) -> None:
        if ports not in (None, "auto"):
            raise ValueError('ports must be None or "auto"')
        if port_base is None:
            port_base = int(os.environ.get("LABMAIL_PORT_BASE") or 10000)
        if not 0 < port_base < 65536 - 1000:
            raise ValueError("port_base must leave room for the standard ports")
        self.port_base = port_base
        self.auto_ports = ports == "auto"
        if state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="labmail-"))
            weakref.finalize(self, shutil.rmtree, str(self.state_dir), True)
        else:
            self.state_dir = Path(state_dir)
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.clock = clock if isinstance(clock, Clock) else Clock(clock) if clock else Clock()
        self.ids = IdGenerator(seed)
        self.hosts: Dict[str, Host] = {}
        self.loop: asyncio.AbstractEventLoop = asyncio.new_event_loop()
        self._thread: Optional[threading.Thread] = None
        self.dns = LabDNS(clock=self.clock)
        self._ca: Optional[LabCA] = None
        self.resolver: Optional[LabResolver] = None
        self._rcache: Dict[str, Any] = {}
        self._single_address = False
        self._started = False
        _LABS.add(self)

    # -- the loop thread ------------------------------------------------------
    def _ensure_loop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if self.loop.is_closed():
            self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="labmail-loop",
                                        daemon=True)
        self._thread.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Awaitable[T], timeout: Optional[float] = 30) -> T:
        """Run *coro* on the lab's loop and wait for its result (from any thread)."""
        self._ensure_loop()
        if threading.current_thread() is self._thread:
            raise LabError("Lab.run() called from the lab's own loop; await the coroutine instead")
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise LabError(f"the lab did not answer within {timeout} s") from None

    # -- hosts ----------------------------------------------------------------
    def add_host(self, hostname: str, users: Optional[Dict[str, str]] = None, *,
                 ip: Optional[str] = None, main_cf: Optional[str] = None,
                 profile: Optional[str] = None,
                 files: Optional[Dict[str, str]] = None) -> Host:
        """Add a mail host; it starts with the lab (or at once if the lab runs).

        ``users`` maps account names to passwords.  ``main_cf`` replaces the
        lab's default ``main.cf`` text; ``profile`` instead writes what
        Debian's installer writes for one of its configuration types
        ("Internet Site", "Internet with smarthost", "Satellite system",
        "Local only"; "No configuration" leaves no main.cf, so Postfix — and
        the lab — cannot start that host).  ``files`` maps absolute paths
        (``/etc/mailname``) to text written before ``main.cf`` is first read.

        >>> host = lab.add_host("mail.example.com", users={"alice": "secret"})  # doctest: +SKIP
        >>> host = lab.add_host("mail.example.org", profile="internet-site")     # doctest: +SKIP
        """
        name = hostname.lower().rstrip(".")
        if name in self.hosts:
            raise LabError(f"the lab already has a host named {name}")
        if "." not in name:
            raise ValueError(f"{hostname!r}: give a fully qualified name, e.g. mail.example.com")
        if profile is not None:
            if main_cf is not None:
                raise ValueError("give either main_cf or profile, not both")
            install = debian_install(
                profile, hostname=name,
                # the lab's idea of "this machine": the student's 127.0.0.1 and the host itself
                mynetworks=f"127.0.0.1/32 {ip or f'127.0.0.{2 + len(self.hosts)}'}/32")
            if install.main_cf is None:
                raise LabError("'No configuration' leaves no /etc/postfix/main.cf: Postfix "
                               "cannot start without one.  " + " ".join(install.messages))
            main_cf, files = install.main_cf, {**install.files, **(files or {})}
        host = Host(self, name, self.state_dir / name, ip=ip, index=len(self.hosts),
                    main_cf=main_cf, files=files)
        for user, password in (users or {}).items():
            host.add_user(user, password)
        self.hosts[name] = host
        if self.running:
            self.run(self._start_host(host))
        return host

    def host(self, hostname: str) -> Host:
        """The host called *hostname*."""
        try:
            return self.hosts[hostname.lower().rstrip(".")]
        except KeyError:
            raise LabError(f"no host {hostname!r} in this lab; hosts: "
                           f"{', '.join(self.hosts) or 'none'}") from None

    def __getitem__(self, hostname: str) -> Host:
        return self.host(hostname)

    def _dns_version(self) -> tuple:
        return tuple((z.origin, z.serial) for z in list(self.dns.zones.values()))

    def reverse_name(self, ip: str) -> str:
        """The name of *ip* as last looked up (``unknown`` if it has none).

        Servers call :meth:`areverse_name`, which asks the lab's DNS.
        """
        if ip in HOSTS_FILE:
            return HOSTS_FILE[ip]
        hit = self._rcache.get(ip)
        return hit[1] if hit else "unknown"

    async def areverse_name(self, ip: str) -> str:
        """The verified name of a client address, as Postfix's smtpd finds it.

        The lab's hosts file first (127.0.0.1 is ``localhost``), then DNS: a
        PTR lookup whose name must resolve back to the same address
        ("forward-confirmed"); otherwise the client is ``unknown``.  Answers
        are reused until a zone changes.
        """
        if ip in HOSTS_FILE:
            return HOSTS_FILE[ip]
        if self.resolver is None:
            return "unknown"
        version = self._dns_version()
        hit = self._rcache.get(ip)
        if hit and hit[0] == version:
            return hit[1]
        name = "unknown"
        try:
            for candidate in await self.resolver.aptr(ip):
                if ip in await self.resolver.aaddresses(candidate):
                    name = candidate
                    break
        except LabError as exc:
            logger.info("reverse lookup of %s failed: %s", ip, exc)
        self._rcache[ip] = (version, name)
        return name

    @property
    def ca(self) -> LabCA:
        """The lab's certificate authority ("Lab Encrypt"); its root is what lab clients trust."""
        if self._ca is None:
            self._ca = LabCA.load_or_create(self.state_dir / "lab-ca", clock=self.clock)
        return self._ca

    def client_tls_context(self, verify: bool = True) -> "ssl.SSLContext":
        """A client context that trusts the lab CA (``verify=False``: trusts anything)."""
        from .net.tlsctx import client_context
        return client_context(self.ca.root_path, verify=verify)

    def smtp_port_for(self, ip: str) -> int:
        """The SMTP port a lab host at *ip* listens on (for the smtp transport)."""
        for h in self.hosts.values():
            if h.ip == ip and h._smtp_port:
                return h._smtp_port
        return self.port_base + STANDARD_PORTS["smtp"]

    def connection_verdict(self, ip: str, port: int, src: str) -> Optional[str]:
        """What the lab host at *ip* does with a connection from *src* to its *port*.

        ``"ACCEPT"``, ``"DROP"`` or ``"REJECT"`` as its firewall and
        ``inet_interfaces`` say (see :func:`labmail.firewall.gate.judge`); None
        when no lab host listens there.  The lab's own SMTP client asks first,
        so a closed port 25 looks to the sender as it would on a real network:
        "Connection refused" at once, or "Connection timed out".
        """
        from .firewall.gate import judge
        for h in self.hosts.values():
            if h.ip == ip and h.running:
                for name, (_, lab_port) in h.endpoints.items():
                    if lab_port == port:
                        return judge(h, STANDARD_PORTS[name], src,
                                     local_only=name == "spamd")
        return None

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until no host is delivering (mail in flight has arrived).

        A host that was idle when its turn came may receive mail from one
        that was still relaying, so the hosts are looked at again until a
        whole round finds every one of them idle.
        """
        end = time.monotonic() + timeout
        while True:
            quiet = True
            for h in self.hosts.values():
                if h.delivering():
                    quiet = False
                if not h.settle(max(0.0, end - time.monotonic())):
                    return False
            if quiet:
                return True
            if time.monotonic() > end:
                return False

    def _port_offset(self, host: Host) -> int:
        # Where the OS cannot bind 127.0.0.N (macOS), hosts share 127.0.0.1 and
        # each gets its own block of ports instead.
        return 1000 * host.index if self._single_address else 0

    def _used_ips(self, exclude: Host) -> set:
        return {h.ip for h in self.hosts.values() if h is not exclude and h.running}

    async def _start_host(self, host: Host, qmgr: bool = True) -> None:
        if host.running:
            if qmgr:
                await host._start_qmgr()
            return
        if host.requested_ip or self._single_address:
            await host._start_services(host.requested_ip or "127.0.0.1")
        else:
            used = self._used_ips(host)
            first = 2 + host.index
            candidates = [f"127.0.0.{n}" for n in range(first, _LAST_OCTET)]
            candidates += [f"127.0.0.{n}" for n in range(2, first)]
            last_error: Optional[OSError] = None
            for ip in candidates:
                if ip in used:
                    continue
                try:
                    await host._start_services(ip)
                    break
                except OSError as exc:
                    last_error = exc
                    if exc.errno == errno.EADDRNOTAVAIL:
                        self._single_address = True
                        await host._start_services("127.0.0.1")
                        break
                    if exc.errno != errno.EADDRINUSE:
                        raise
            else:
                raise LabError(f"no free loopback address for {host.hostname}: {last_error}")
        register_host(self.dns, host.hostname, host.ip)
        if qmgr:
            await host._start_qmgr()
        host.maillog.write("postfix/master", "daemon started -- version labmail, "
                           "configuration /etc/postfix")

    async def _start_dns(self) -> None:
        if self.dns.address is not None:
            return
        port = 0 if self.auto_ports else self.port_base + 53
        last: Optional[OSError] = None
        for ip in _DNS_ADDRESSES:
            try:
                addr = await self.dns.start(ip, port)
                break
            except OSError as exc:
                last = exc
                if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                    raise
        else:
            # many labs on one machine (a JupyterHub node): any free port will do,
            # the lab's resolver is the only client of its DNS server
            try:
                addr = await self.dns.start(_DNS_ADDRESSES[0], 0)
            except OSError:
                raise LabError(f"no free address for the lab's DNS server: {last}") from None
        self.resolver = LabResolver(*addr, timeout=2.0)

    # -- start / stop ---------------------------------------------------------
    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._started

    def start(self) -> "Lab":
        """Start every host's services; returns when all of them listen."""
        async def start_all() -> None:
            await self._start_dns()
            # two passes: every host listens and is in DNS before any queue
            # manager starts delivering what a previous run left queued
            for host in self.hosts.values():
                await self._start_host(host, qmgr=False)
            for host in self.hosts.values():
                await host._start_qmgr()
        self._started = True
        try:
            self.run(start_all())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every service, close client connections and release the ports."""
        self._started = False
        if self._thread is None or not self._thread.is_alive():
            return

        async def stop_all() -> None:
            for host in self.hosts.values():
                await host._stop_services()
            await self.dns.stop()
            self.resolver = None
            # Whatever is still running (a session mid-DATA, a bounce just
            # submitted) ends now, before the loop and its executor close.
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
            for t in rest:
                t.cancel()
            if rest:
                await asyncio.gather(*rest, return_exceptions=True)
            groupcommit.close_helper(asyncio.get_running_loop())   # its batches are all answered
        try:
            self.run(stop_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            self._thread = None
            if not self.loop.is_running():
                self.loop.close()

    def __enter__(self) -> "Lab":
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def endpoints(self) -> Dict[str, Dict[str, Any]]:
        """Every host's service endpoints, by host name."""
        return {name: dict(h.endpoints) for name, h in self.hosts.items()}

    def port_table(self) -> str:
        """A table of every host's services next to the standard port numbers."""
        rows = [f"{'host':<20} {'service':<11} {'standard':>8}   lab address"]
        if self.dns.address:
            rows.append(f"{'(lab DNS)':<20} {'dns':<11} {53:>8}   {self.dns.address[0]}:{self.dns.address[1]}")
        for name, h in self.hosts.items():
            for svc, (addr, port) in h.endpoints.items():
                rows.append(f"{name:<20} {svc:<11} {STANDARD_PORTS[svc]:>8}   {addr}:{port}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Lab {state}: {', '.join(map(repr, self.hosts.values())) or 'no hosts'}>"


_LABS: "weakref.WeakSet[Lab]" = weakref.WeakSet()


@atexit.register
def _stop_all_labs() -> None:  # pragma: no cover - interpreter exit
    for lab in list(_LABS):
        try:
            lab.stop()
        except Exception:
            pass


