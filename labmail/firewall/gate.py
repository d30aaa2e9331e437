"""Making a listener obey the firewall, without root: a guard around a protocol factory.

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

>>> import asyncio                                                # doctest: +SKIP
>>> server = await loop.create_server(guarded(factory, lambda ip: fw.decide(993, src=ip)),
...                                   "127.0.0.2", 10993)
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import Any, Callable, Optional

__all__ = ["guarded", "GuardProtocol", "enforce"]

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
