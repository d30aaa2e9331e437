"""The lab DNS server's sockets: UDP and TCP on one port around a sans-IO handler.

The DNS logic is :meth:`labmail.net.dns.LabDNS.handle` (a query's bytes in,
the response's bytes out); this module only moves bytes: datagrams over UDP,
and over TCP the two-byte length prefix of RFC 1035 §4.2.2, several queries
per connection (RFC 7766 §6.2.1) and a bounded idle time.

>>> import asyncio
>>> async def demo():
...     listener = await DNSListener.open(lambda wire, client, transport: None,
...                                       "127.0.0.1", 0)
...     await listener.close()
...     return listener.address is None
>>> asyncio.run(demo())
True
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, Optional, Set, Tuple

__all__ = ["DNSListener", "Handler"]

log = logging.getLogger(__name__)

#: (query bytes, client address, "UDP" or "TCP") -> response bytes, or None to drop
Handler = Callable[[bytes, str, str], Optional[bytes]]

_TCP_IDLE_SECONDS = 10.0      # RFC 7766 §6.2.3: servers may close idle connections
_PORT_ATTEMPTS = 20           # with port 0: tries to find a port free for UDP and TCP


class DNSListener:
    """UDP and TCP listeners on one address, feeding every query to *handler*."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.address: Optional[Tuple[str, int]] = None
        self._udp: Optional[asyncio.DatagramTransport] = None
        self._tcp: Optional[asyncio.AbstractServer] = None
        self._tasks: Set["asyncio.Task[None]"] = set()

    @classmethod
    async def open(cls, handler: Handler, ip: str = "127.0.0.1", port: int = 0) -> "DNSListener":
        """Listen on *ip*:*port*; with port 0, on a port free for both protocols."""
        self = cls(handler)
        loop = asyncio.get_running_loop()
        for _ in range(_PORT_ATTEMPTS):
            transport, _proto = await loop.create_datagram_endpoint(
                lambda: _UDPProtocol(self._answer), local_addr=(ip, port))
            bound = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, ip, bound)
            except OSError:
                transport.close()
                if port:
                    raise
                continue                 # the TCP side of that port is taken: try another
            self._udp = transport        # type: ignore[assignment]
            self.address = (ip, bound)
            return self
        raise OSError(f"no port free for both UDP and TCP on {ip}")

    async def close(self) -> None:
        """Stop listening and end open TCP connections."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._tasks):
                task.cancel()
            await self._tcp.wait_closed()
            self._tcp = None
        self.address = None

    def _answer(self, wire: bytes, client: str, transport: str) -> Optional[bytes]:
        try:
            return self.handler(wire, client, transport)
        except Exception:     # one bad packet must never stop the server
            log.exception("lab DNS: error answering %s over %s", client, transport)
            return None

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)      # type: ignore[arg-type]
        peer = writer.get_extra_info("peername")
        client = peer[0] if peer else "-"
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), _TCP_IDLE_SECONDS)
                wire = await asyncio.wait_for(
                    reader.readexactly(int.from_bytes(header, "big")), _TCP_IDLE_SECONDS)
                reply = self._answer(wire, client, "TCP")
                if reply is None:
                    break
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError,
                asyncio.CancelledError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)      # type: ignore[arg-type]


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.transport: Optional[asyncio.DatagramTransport] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Tuple[str, int]) -> None:
        reply = self.answer(data, addr[0], "UDP")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
