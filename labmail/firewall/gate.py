"""Making a host's listeners obey its firewall, without root.

A real firewall acts on packets before any program sees them.  Without root
the lab cannot, so each accepted connection is judged as it arrives
(``connection_made``) and then treated the way a client behind that verdict
would notice it:

* ``ACCEPT`` — the real protocol takes over the connection;
* ``REJECT`` — the connection is reset at once (``SO_LINGER`` 0, so the
  kernel sends RST): the client's first read fails with "Connection reset by
  peer".  (A real REJECT fails the ``connect()`` itself with "Connection
  refused"; the client's error differs, its meaning does not.)
* ``DROP`` — nothing ever arrives: no greeting, no reply, until the client
  gives up (its timeout) or *drop_hold* seconds pass.  (A real DROP makes
  the ``connect()`` itself time out.)

A host's listeners are started with :func:`listen` (instead of
``loop.create_server``): the verdict comes from ``host.firewall`` for the
service's *standard* port, before any byte — or TLS handshake — is
exchanged, and an accepted connection then belongs to the real protocol
alone (nothing of the guard stays in its data path).  Connections already
open are not judged again when the rules change (a real kernel, which sees
every packet, would freeze them unless a rule accepts ESTABLISHED).
:func:`guarded` wraps a single protocol factory the same way.

>>> server = await listen(host, 993, make_imap, "127.0.0.2", 10993,   # doctest: +SKIP
...                       ssl_context=ctx)
>>> server = await loop.create_server(guarded(factory, lambda ip: fw.decide(993, src=ip)),
...                                   "127.0.0.2", 10993)                # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
from asyncio import sslproto
from typing import Any, Callable, Optional, Set

__all__ = ["guarded", "GuardProtocol", "enforce", "judge", "listen", "stream_factory", "release",
           "Listener"]

logger = logging.getLogger("labmail.firewall")


def enforce(transport: asyncio.BaseTransport, verdict: str, *, drop_hold: float = 60.0) -> bool:
    """Treat a new connection as *verdict* says; True when it may go on (ACCEPT).

    For servers built on streams (``asyncio.start_server``): call it first in
    the client callback with ``writer.transport`` and return when it is False.
    """
    if verdict == "ACCEPT":
        return True
    if verdict == "REJECT":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:                                 # linger 0: close() sends RST, not FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()                        # type: ignore[attr-defined]
        return False
    # DROP: read nothing, say nothing; let go after drop_hold seconds
    if hasattr(transport, "pause_reading"):
        transport.pause_reading()                # type: ignore[attr-defined]
    asyncio.get_running_loop().call_later(drop_hold, transport.abort)  # type: ignore[attr-defined]
    return False


class GuardProtocol(asyncio.Protocol):
    """Judges one connection, then hands it to the real protocol (or resets / ignores it)."""

    def __init__(self, factory: Callable[[], asyncio.BaseProtocol],
                 decide: Callable[[str], str], drop_hold: float,
                 on_verdict: Optional[Callable[[str, str], None]] = None) -> None:
        self._factory = factory
        self._decide = decide
        self._drop_hold = drop_hold
        self._on_verdict = on_verdict
        self.inner: Optional[asyncio.BaseProtocol] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername") or ("0.0.0.0", 0)
        try:
            verdict = self._decide(peer[0])
        except Exception:                        # a broken rule must not kill the listener
            logger.exception("firewall decision failed; accepting %s", peer[0])
            verdict = "ACCEPT"
        if self._on_verdict is not None:
            self._on_verdict(peer[0], verdict)
        if enforce(transport, verdict, drop_hold=self._drop_hold):
            self.inner = self._factory()
            self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)       # type: ignore[attr-defined]

    def eof_received(self) -> Optional[bool]:
        if self.inner is not None:
            return self.inner.eof_received()     # type: ignore[attr-defined]
        return None

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


def guarded(factory: Callable[[], asyncio.BaseProtocol], decide: Callable[[str], str], *,
            drop_hold: float = 60.0,
            on_verdict: Optional[Callable[[str, str], None]] = None) -> Callable[[], Any]:
    """A protocol factory that asks ``decide(client_ip)`` before *factory* gets the connection.

    *decide* returns ``"ACCEPT"``, ``"DROP"`` or ``"REJECT"`` (e.g.
    ``lambda ip: host.firewall.decide(993, "tcp", ip)`` — the *standard* port,
    not the lab's).  Attributes of *factory* (such as aiosmtpd's) stay
    reachable on the returned factory.  Only for plain ``asyncio.Protocol``
    protocols; a ``BufferedProtocol`` must be wrapped in its own way.
    """
    class Factory:
        def __call__(self) -> GuardProtocol:
            return GuardProtocol(factory, decide, drop_hold, on_verdict)

        def __getattr__(self, name: str) -> Any:
            return getattr(factory, name)

    return Factory()


# -- a host's listeners -----------------------------------------------------------------

def _open_to_all(host: Any, port: int) -> bool:
    fw = getattr(host, "firewall", None)
    bound = getattr(host, "bound_interfaces", None)
    return (fw is None or fw.accepts_all()) and not (bound and port in bound)


def judge(host: Any, port: int, src: str, sport: int = 0, *, local_only: bool = False) -> str:
    """What *host*'s kernel does with a SYN from *src* to its standard *port*.

    ``ACCEPT`` (the daemon gets the connection), ``DROP`` (silence) or
    ``REJECT`` (a reset: "Connection refused").  The firewall decides first;
    a connection it lets through is still refused when the daemon does not
    listen on the address the client used (``inet_interfaces =
    loopback-only``, Dovecot's ``listen = 127.0.0.1``).
    """
    fw = getattr(host, "firewall", None)
    if local_only and fw is not None:
        src = fw.own_ip
    verdict = "ACCEPT"
    if fw is not None and not fw.accepts_all():
        try:
            verdict = fw.connection(port, src, sport)
        except Exception:                 # a broken rule must not kill the listener
            logger.exception("firewall decision failed; accepting %s", src)
    bound = getattr(host, "bound_interfaces", None) or {}
    if verdict == "ACCEPT" and not _bound_for(host, bound.get(port, "all"), src):
        return "REJECT"
    return verdict


def _bound_for(host: Any, mode: str, src: str) -> bool:
    """Whether a daemon bound as *mode* ("all", "local", "none") hears a client at *src*.

    "local" is a daemon on the loopback interface only: only the machine itself
    reaches it -- in the lab the host's own address and 127.0.0.1 (the
    notebook, like a shell on the server).
    """
    if mode == "all":
        return True
    if mode == "local":
        return src in ("127.0.0.1", getattr(host, "ip", None))
    return False


class Listener:
    """The firewall's view of one listening service of a host.

    ``port`` is the service's *standard* port (993), which the rules name,
    not the lab's (10993).  ``local_only`` services (spamd, which a real
    server binds to 127.0.0.1) can only be reached from the machine itself,
    so their clients are judged as arriving on ``lo`` from the host.
    """

    def __init__(self, host: Any, port: int, *, local_only: bool = False,
                 drop_hold: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.local_only = local_only
        self.drop_hold = drop_hold
        self.held: Set[asyncio.BaseTransport] = set()     # dropped, not yet let go

    def verdict(self, transport: asyncio.BaseTransport) -> str:
        """ACCEPT, DROP or REJECT for a new connection (cheap when nothing is filtered)."""
        if _open_to_all(self.host, self.port):
            return "ACCEPT"
        peer = transport.get_extra_info("peername") or ("0.0.0.0", 0)
        return judge(self.host, self.port, peer[0], peer[1], local_only=self.local_only)

    def hold(self, transport: asyncio.BaseTransport) -> None:
        """DROP: read nothing, answer nothing, let go after ``drop_hold`` seconds."""
        self.held.add(transport)
        transport.pause_reading()                                    # type: ignore[attr-defined]
        asyncio.get_running_loop().call_later(self.drop_hold, self.let_go, transport)

    def let_go(self, transport: asyncio.BaseTransport) -> None:
        self.held.discard(transport)
        transport.abort()                                            # type: ignore[attr-defined]

    def release(self) -> None:
        """Let every held connection go (the host stops)."""
        for transport in list(self.held):
            self.let_go(transport)


class _Gate(asyncio.Protocol):
    """First protocol of every connection: judges it, then steps out of the way.

    On ACCEPT the real protocol (behind TLS for implicit-TLS ports, exactly as
    ``create_server(ssl=...)`` would set it up) becomes the transport's
    protocol, so an accepted connection costs one verdict and nothing per byte.
    A refused one never gets a TLS handshake, as behind a real firewall.
    """

    __slots__ = ("_listener", "_factory", "_ssl", "_handshake_timeout", "_transport")

    def __init__(self, listener: Listener, factory: Callable[[], asyncio.BaseProtocol],
                 ssl_context: Any, handshake_timeout: Optional[float]) -> None:
        self._listener = listener
        self._factory = factory
        self._ssl = ssl_context
        self._handshake_timeout = handshake_timeout
        self._transport: Optional[asyncio.BaseTransport] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        verdict = self._listener.verdict(transport)
        if verdict == "ACCEPT":
            inner: asyncio.BaseProtocol = self._factory()
            if self._ssl is not None:
                # what create_server(ssl=...) builds for each connection (no waiter)
                inner = sslproto.SSLProtocol(
                    asyncio.get_running_loop(), inner, self._ssl, None,  # type: ignore[arg-type]
                    server_side=True,
                    ssl_handshake_timeout=self._handshake_timeout)  # type: ignore[arg-type]
            transport.set_protocol(inner)
            inner.connection_made(transport)
            return
        logger.debug("firewall: %s to port %s: %s", transport.get_extra_info("peername"),
                     self._listener.port, verdict)
        if verdict == "DROP":
            self._listener.hold(transport)
        else:
            enforce(transport, "REJECT")

    def data_received(self, data: bytes) -> None:      # DROP: what arrives is ignored
        pass

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self._transport is not None:
            self._listener.held.discard(self._transport)


async def listen(host: Any, std_port: int, factory: Callable[[], asyncio.BaseProtocol],
                 ip: str, port: int, *, ssl_context: Any = None,
                 ssl_handshake_timeout: Optional[float] = None,
                 local_only: bool = False) -> asyncio.AbstractServer:
    """``loop.create_server(factory, ip, port, ssl=ssl_context)`` behind *host*'s firewall.

    Each new connection is judged by ``host.firewall`` as a connection to
    *std_port* (the standard port: 25, 993 ...) from the client's address
    before any byte (or TLS handshake) is exchanged.  A host without a
    ``firewall`` attribute gets a plain listener.

    >>> server = await listen(host, 993, make_imap, "127.0.0.2", 10993,   # doctest: +SKIP
    ...                       ssl_context=ctx)
    """
    loop = asyncio.get_running_loop()
    if getattr(host, "firewall", None) is None:
        if ssl_context is None:
            return await loop.create_server(factory, ip, port, reuse_address=True)
        return await loop.create_server(factory, ip, port, ssl=ssl_context, reuse_address=True,
                                        ssl_handshake_timeout=ssl_handshake_timeout)
    listener = Listener(host, std_port, local_only=local_only)
    server = await loop.create_server(
        lambda: _Gate(listener, factory, ssl_context, ssl_handshake_timeout), ip, port,
        reuse_address=True)
    server.labmail_listener = listener                              # type: ignore[attr-defined]
    return server


def release(server: asyncio.AbstractServer) -> None:
    """Let go of the connections *server*'s firewall is holding (DROP); for shutdown."""
    listener = getattr(server, "labmail_listener", None)
    if listener is not None:
        listener.release()


def stream_factory(client_connected: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                              Any]) -> Callable[[], asyncio.Protocol]:
    """The protocol factory :func:`asyncio.start_server` builds, for :func:`listen`.

    >>> server = await listen(host, 110, stream_factory(handle), ip, port)  # doctest: +SKIP
    """
    def factory() -> asyncio.Protocol:
        loop = asyncio.get_running_loop()
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop),
                                            client_connected, loop=loop)
    return factory
