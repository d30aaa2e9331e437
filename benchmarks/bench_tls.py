"""TLS cost in the lab's smtpd: handshake rate and SMTP-over-TLS throughput, beside cleartext.

Two loads, each measured in clear text and with TLS on the same lab host, from a
separate client process (so the load generator does not share the server's
interpreter), SESSIONS connections at a time:

* **connections/s** — connect, greeting, EHLO, QUIT; with STARTTLS on port 25
  (EHLO, STARTTLS, handshake, EHLO again, as RFC 3207 requires) and with
  implicit TLS on the smtps port (handshake first).  The client verifies the
  server's certificate against the lab CA, as a real client does.
* **messages/s** — MESSAGES messages of ~2 KB over persistent sessions, until
  the last one is a file in the Maildir (the queue file and the Maildir file
  are both fsync'd, as in ``bench_smtp``).

Figures are medians of REPEATS runs, alternating clear text and TLS.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import labmail  # noqa: E402
from labmail.net.tlsctx import client_context  # noqa: E402

SESSIONS = 8
CONNECTIONS = 400
MESSAGES = 400
REPEATS = 5
NAME = "mail.example.com"
BODY = ("X" * 76 + "\r\n") * 25


def message(i: int) -> bytes:
    return (f"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: tls load {i}\r\n"
            f"Message-Id: <tls{i}@example.org>\r\n\r\n{BODY}").encode()


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            if line[:1] not in b"23":
                raise RuntimeError(line)
            return line


async def _open(addr: Tuple[str, int], mode: str, ctx: Optional[ssl.SSLContext]):
    """A ready session (greeted, EHLO done) in *mode*: clear, starttls or implicit."""
    if mode == "implicit":
        reader, writer = await asyncio.open_connection(*addr, ssl=ctx, server_hostname=NAME)
    else:
        reader, writer = await asyncio.open_connection(*addr)
    await _reply(reader)
    writer.write(b"EHLO load.example.org\r\n")
    await _reply(reader)
    if mode == "starttls":
        writer.write(b"STARTTLS\r\n")
        await _reply(reader)
        await writer.start_tls(ctx, server_hostname=NAME)
        writer.write(b"EHLO load.example.org\r\n")
        await _reply(reader)
    return reader, writer


async def _close(reader, writer) -> None:
    writer.write(b"QUIT\r\n")
    await _reply(reader)
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass


async def _connections(addr, mode, cafile) -> None:
    ctx = client_context(cafile) if mode != "clear" else None
    left = [CONNECTIONS]

    async def worker():
        while left[0] > 0:
            left[0] -= 1
            await _close(*await _open(addr, mode, ctx))
    await asyncio.gather(*(worker() for _ in range(SESSIONS)))


async def _messages(addr, mode, cafile) -> None:
    ctx = client_context(cafile) if mode != "clear" else None

    async def session(batch):
        reader, writer = await _open(addr, mode, ctx)
        for i in batch:
            for line in (b"MAIL FROM:<bob@example.org>\r\n", b"RCPT TO:<alice@example.com>\r\n",
                         b"DATA\r\n"):
                writer.write(line)
                await _reply(reader)
            writer.write(message(i) + b".\r\n")
            await _reply(reader)
        await _close(reader, writer)
    ids = list(range(MESSAGES))
    await asyncio.gather(*(session(ids[k::SESSIONS]) for k in range(SESSIONS)))


def _client(kind, addr, mode, cafile, conn) -> None:
    t0 = time.perf_counter()
    asyncio.run((_connections if kind == "connections" else _messages)(addr, mode, cafile))
    conn.send(time.perf_counter() - t0)


def drive(kind: str, addr, mode: str, cafile: str, delivered: Callable[[], int]) -> float:
    parent, child = mp.Pipe()
    p = mp.Process(target=_client, args=(kind, addr, mode, cafile, child))
    t0 = time.perf_counter()
    p.start()
    elapsed = parent.recv()
    p.join()
    if kind == "connections":
        return CONNECTIONS / elapsed
    deadline = time.monotonic() + 60
    while delivered() < MESSAGES and time.monotonic() < deadline:
        time.sleep(0.002)
    return MESSAGES / (time.perf_counter() - t0)


def run(kind: str, mode: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        lab = labmail.Lab(ports="auto", state_dir=tmp)
        host = lab.add_host(NAME, users={"alice": "secret"})
        lab.start()
        try:
            new = host.maildir_path("alice") / "new"
            service = "smtps" if mode == "implicit" else "smtp"
            return drive(kind, tuple(host.endpoints[service]), mode, str(lab.ca.root_path),
                         lambda: len(os.listdir(new)))
        finally:
            lab.stop()


def main() -> None:
    print(f"{SESSIONS} concurrent sessions; {CONNECTIONS} connections, {MESSAGES} messages of "
          f"~2 KB; median of {REPEATS} runs; TLS 1.3, ECDSA P-256 certificate, client "
          "verifies against the lab CA\n")
    print("| load | clear text | STARTTLS (25) | implicit TLS (465) | TLS / clear |")
    print("|---|---:|---:|---:|---:|")
    for kind, unit in (("connections", "connections/s"), ("messages", "messages/s")):
        modes = ("clear", "starttls", "implicit") if kind == "connections" else ("clear", "starttls")
        rates = {m: [] for m in modes}
        for _ in range(REPEATS):
            for m in modes:
                rates[m].append(run(kind, m))
        med = {m: statistics.median(v) for m, v in rates.items()}
        implicit = f"{med['implicit']:.0f}" if "implicit" in med else "—"
        print(f"| {unit} | {med['clear']:.0f} | {med['starttls']:.0f} | {implicit} | "
              f"{med['starttls'] / med['clear']:.2f}× |")


if __name__ == "__main__":
    main()
