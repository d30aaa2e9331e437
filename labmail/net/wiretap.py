"""A passive listener on the wire: what an eavesdropper sees of a mail session.

:class:`WireTap` sits between a client and a lab server on loopback and
relays every byte unchanged while keeping a copy -- the position of a
man-in-the-middle on the path.  Its transcript shows cleartext commands as
text (``AUTH PLAIN AGFsaWNlAHNlY3JldA==`` and all) and TLS records as what they
are: after STARTTLS, only record headers and ciphertext.

>>> tap = WireTap(("127.0.0.2", 10025))                         # doctest: +SKIP
>>> lab.run(tap.start())                                        # doctest: +SKIP
('127.0.0.1', 41234)
>>> # point smtplib at the tap's address, then:
>>> print(tap.transcript())                                     # doctest: +SKIP
S: 220 mail.example.com ESMTP Postfix (Debian/GNU)
C: EHLO client
...
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
C: [TLS handshake: ClientHello, 517 bytes]
S: [TLS handshake: ServerHello, 122 bytes] [TLS change_cipher_spec, 6 bytes] [TLS application_data, 2412 bytes]

The relay itself is a thin asyncio shell; :func:`describe_bytes` (bytes ->
readable lines) is plain data work and is what the tests exercise.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import List, Optional, Set, Tuple

__all__ = ["WireTap", "Chunk", "describe_bytes", "tls_records"]

_CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
_HANDSHAKE_TYPES = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket",
                    8: "EncryptedExtensions", 11: "Certificate", 12: "ServerKeyExchange",
                    13: "CertificateRequest", 14: "ServerHelloDone", 15: "CertificateVerify",
                    16: "ClientKeyExchange", 20: "Finished"}
_MAX_CHUNKS = 10000        # a tap is for lessons: bound what it keeps
_READ_SIZE = 65536


@dataclass(frozen=True)
class Chunk:
    """Bytes that crossed the wire in one read: ``who`` is ``C`` (client) or ``S``."""

    who: str
    data: bytes


def tls_records(data: bytes) -> Optional[List[Tuple[str, int]]]:
    """[(description, length)] if *data* is a run of TLS records, else None.

    A TLS record starts with a content type (20-23), version 3.x and a length
    (RFC 8446 §5.1); the first handshake message of a record names itself.

    >>> tls_records(bytes([22, 3, 1, 0, 4, 1, 0, 0, 0]))
    [('handshake: ClientHello', 9)]
    >>> tls_records(b"EHLO client\\r\\n") is None
    True
    """
    out: List[Tuple[str, int]] = []
    pos = 0
    while pos < len(data):
        head = data[pos:pos + 5]
        if len(head) < 5 or head[0] not in _CONTENT_TYPES or head[1] != 3:
            return None
        length = int.from_bytes(head[3:5], "big")
        kind = _CONTENT_TYPES[head[0]]
        if head[0] == 22 and length and pos + 5 < len(data):
            kind += ": " + _HANDSHAKE_TYPES.get(data[pos + 5], f"type {data[pos + 5]}")
        out.append((kind, min(length + 5, len(data) - pos)))
        pos += 5 + length
    return out


def describe_bytes(who: str, data: bytes, hex_bytes: int = 0) -> List[str]:
    """Readable transcript lines for one chunk: text lines, or TLS records summarised.

    >>> describe_bytes("C", b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\\r\\n")
    ['C: AUTH PLAIN AGFsaWNlAHNlY3JldA==']
    >>> describe_bytes("S", bytes([23, 3, 3, 0, 3]) + b"xyz")
    ['S: [TLS application_data, 8 bytes]']
    """
    records = tls_records(data)
    if records is not None:
        line = f"{who}: " + " ".join(f"[TLS {kind}, {n} bytes]" for kind, n in records)
        if hex_bytes:       # what the eavesdropper actually gets: noise
            line += f"\n{who}:   {data[:hex_bytes].hex(' ')} ..."
        return line.split("\n")
    try:
        text = data.decode("utf-8")       # protocol text: ASCII, or UTF-8 with SMTPUTF8
    except UnicodeDecodeError:
        text = ""
    if not text or not all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return [f"{who}: [{len(data)} bytes of binary: {data[:16].hex(' ')} ...]"]
    return [f"{who}: {line}" for line in text.replace("\r\n", "\n").split("\n") if line]


class WireTap:
    """Relay TCP between clients and *target*, keeping a copy of every byte.

    Thread-safe to read (``chunks``, :meth:`transcript`) from a notebook while
    it runs on the lab's loop.
    """

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self.address: Optional[Tuple[str, int]] = None
        self._chunks: List[Chunk] = []
        self._lock = threading.Lock()
        self._server: Optional[asyncio.AbstractServer] = None
        self._tasks: Set["asyncio.Task[None]"] = set()

    async def start(self, ip: str = "127.0.0.1", port: int = 0) -> Tuple[str, int]:
        """Listen on *ip*:*port* (0: a free port); returns the address clients should use."""
        self._server = await asyncio.start_server(self._relay, ip, port)
        self.address = self._server.sockets[0].getsockname()[:2]
        return self.address

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await self._server.wait_closed()
            self._server = None

    @property
    def chunks(self) -> List[Chunk]:
        with self._lock:
            return list(self._chunks)

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()

    def seen(self, needle: bytes) -> bool:
        """Did *needle* cross the wire in the clear (within one read)?"""
        return any(needle in c.data for c in self.chunks)

    def transcript(self, hex_bytes: int = 0) -> str:
        """Everything seen, one line per text line or per run of TLS records.

        *hex_bytes* > 0 adds the first bytes of each TLS run in hex.  Runs are
        grouped as the relay read them, which may vary between runs.
        """
        return "\n".join(line for c in self.chunks
                         for line in describe_bytes(c.who, c.data, hex_bytes))

    def _keep(self, who: str, data: bytes) -> None:
        with self._lock:
            if len(self._chunks) < _MAX_CHUNKS:
                self._chunks.append(Chunk(who, data))

    async def _relay(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)      # type: ignore[arg-type]
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.target)
        except OSError:
            c_writer.close()
            return
        try:
            await asyncio.gather(self._pump("C", c_reader, s_writer),
                                 self._pump("S", s_reader, c_writer))
        except asyncio.CancelledError:
            pass
        finally:
            for w in (c_writer, s_writer):
                w.close()
            if task is not None:
                self._tasks.discard(task)      # type: ignore[arg-type]

    async def _pump(self, who: str, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    break
                self._keep(who, data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                pass
