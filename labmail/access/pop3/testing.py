"""Run the POP3 server on its own: a minimal host, a throwaway certificate,
and a server thread for blocking clients (tests, benchmarks, quick demos).

The lab's real :class:`Host` does all this and more; this stand-in has just
the attributes :func:`start_pop3_server` uses.

>>> import tempfile, poplib
>>> host = StandaloneHost(tempfile.mkdtemp())
>>> host.add_user("alice", "secret")
>>> host.deliver("alice", b"Subject: hi\\n\\nhello\\n")
1
>>> with serve_in_thread(host) as (ip, port):
...     p = poplib.POP3(ip, port)
...     _ = p.user("alice"); _ = p.pass_("secret")
...     p.stat()
(1, 22)
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import ssl
import threading
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

from ...clock import Clock, IdGenerator
from ...log import MailLog
from ...store import MaildirStore
from ...trace import TranscriptStore
from ..auth import add_user
from ..dovecotconf import default_dovecot_conf

__all__ = ["StandaloneHost", "self_signed", "serve_in_thread"]


class _Users:
    def __init__(self, host: "StandaloneHost") -> None:
        self._host = host
        self._names: List[str] = []

    def names(self) -> List[str]:
        return list(self._names)

    def exists(self, name: str) -> bool:
        return name in self._names

    def home(self, name: str) -> str:
        return f"/home/{name}"


class StandaloneHost:
    """A state directory laid out like a mail server's file system."""

    def __init__(self, state_dir: Union[str, Path], hostname: str = "mail.example.com",
                 ip: str = "127.0.0.1", clock: Optional[Clock] = None,
                 ids: Optional[IdGenerator] = None) -> None:
        self.state_dir = Path(state_dir)
        self.hostname, self.ip = hostname, ip
        self.clock = clock or Clock()
        self.ids = ids or IdGenerator()
        self.maillog = MailLog(self.state_dir / "var/log/maillog", hostname, self.clock, self.ids)
        self.trace = TranscriptStore(self.clock)
        self.users = _Users(self)
        conf = self.path("/etc/dovecot/dovecot.conf")
        if not conf.exists():
            self.write_dovecot_conf()

    def path(self, virtual: str) -> Path:
        """The real path of an absolute path on this host."""
        return self.state_dir / str(virtual).lstrip("/")

    def write_dovecot_conf(self, text: Optional[str] = None, **kw: object) -> Path:
        """Write ``/etc/dovecot/dovecot.conf`` (the lab default, or *text*)."""
        p = self.path("/etc/dovecot/dovecot.conf")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text if text is not None else default_dovecot_conf(**kw), encoding="utf-8")  # type: ignore[arg-type]
        return p

    def add_user(self, name: str, password: str, scheme: str = "SHA512-CRYPT") -> None:
        """Add a mail user: a passwd-file line and an empty Maildir."""
        add_user(self.path("/etc/dovecot/users"), name, password, scheme, home=f"/home/{name}")
        self.mailbox_store(name)
        if name not in self.users._names:
            self.users._names.append(name)

    def mailbox_store(self, user: str) -> MaildirStore:
        return MaildirStore(self.path(f"/home/{user}/Maildir"), now=self.clock.timestamp,
                            hostname=self.hostname.split(".")[0])

    def deliver(self, user: str, data: bytes) -> int:
        """Put a message into *user*'s INBOX (as local delivery would); returns its uid."""
        return self.mailbox_store(user).folder("INBOX").append(data)


def self_signed(hostname: str = "localhost", directory: Optional[Path] = None
                ) -> Tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway certificate: (server context, client context that trusts it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    import tempfile

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(days=1))
            .not_valid_after(now + _dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    d = Path(directory or tempfile.mkdtemp(prefix="labmail-tls-"))
    d.mkdir(parents=True, exist_ok=True)
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(d / "cert.pem", d / "key.pem")
    client = ssl.create_default_context(cafile=str(d / "cert.pem"))
    return server, client


@contextlib.contextmanager
def serve_in_thread(host: StandaloneHost, ip: str = "127.0.0.1", port: int = 0, *,
                    ssl_context: Optional[ssl.SSLContext] = None,
                    implicit_tls: bool = False,
                    idle_timeout: Optional[float] = None) -> Iterator[Tuple[str, int]]:
    """Run :func:`start_pop3_server` on a loop in a daemon thread; yields (ip, port)."""
    from .server import start_pop3_server, stop_pop3_server

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            try:
                extra = {} if idle_timeout is None else {"idle_timeout": idle_timeout}
                box["server"] = await start_pop3_server(host, ip, port, ssl_context=ssl_context,
                                                        implicit_tls=implicit_tls, **extra)
            except Exception as exc:   # report to the caller's thread
                box["error"] = exc
            ready.set()
        loop.run_until_complete(main())
        if "server" in box:
            loop.run_forever()

    thread = threading.Thread(target=run, name="pop3-server", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("POP3 server did not start within 10 s")
    if "error" in box:
        raise box["error"]
    server = box["server"]
    try:
        yield ip, server.sockets[0].getsockname()[1]
    finally:
        async def stop() -> None:
            await stop_pop3_server(server)
        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
