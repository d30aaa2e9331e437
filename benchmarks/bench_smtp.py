"""SMTP-to-Maildir throughput: labmail side by side with a minimal aiosmtpd peer.

The load is ``smtp-source``-like: SESSIONS concurrent client sessions, 2 KB
messages, a new connection per message (and, separately, many messages over
persistent connections), from a separate client process so the load
generator does not share the server's interpreter.  Every message must land
as a file in the recipient's Maildir; the files are counted after each run.

The peer is the minimal server that does the same durable work: a bare
aiosmtpd server whose DATA handler writes the Maildir file (tmp/, fsync,
rename into new/, fsync of new/) before its 250.  labmail does what Postfix
does: it writes a queue file durably before its 250 (fsyncs batched across
sessions, done by the lab's sync helper process as Postfix leaves them to
cleanup(8)), then its queue manager delivers to the Maildir (fsync'd too) and
removes the queue file (kept as a spare for the next message); it also checks recipients, writes the transcript and
the maillog, adds Received/Return-Path/Delivered-To.  The clock runs from the
first connection until the last Maildir file exists, for both.
Figures are medians of REPEATS runs, alternating lab and peer.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import labmail  # noqa: E402

SESSIONS = 8
MESSAGES = 600
REPEATS = 5
BODY = ("X" * 76 + "\r\n") * 25          # ~2 KB with the header


def message(i: int) -> bytes:
    return (f"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: load {i}\r\n"
            f"Message-Id: <load{i}@example.org>\r\n\r\n{BODY}").encode()


async def _send_one(addr, msgs, persistent: bool):
    async def session(batch):
        reader, writer = await asyncio.open_connection(*addr)

        async def reply():
            while True:
                line = await reader.readline()
                if line[3:4] != b"-":
                    if line[:1] not in b"23":
                        raise RuntimeError(line)
                    return line
        await reply()
        writer.write(b"EHLO load.example.org\r\n")
        await reply()
        for i in batch:
            writer.write(b"MAIL FROM:<bob@example.org>\r\n")
            await reply()
            writer.write(b"RCPT TO:<alice@example.com>\r\n")
            await reply()
            writer.write(b"DATA\r\n")
            await reply()
            writer.write(message(i) + b".\r\n")
            await reply()
        writer.write(b"QUIT\r\n")
        await reply()
        writer.close()
    if persistent:
        chunks = [msgs[k::SESSIONS] for k in range(SESSIONS)]
        await asyncio.gather(*(session(c) for c in chunks))
    else:
        queue = list(msgs)

        async def worker():
            while queue:
                i = queue.pop()
                await session([i])
        await asyncio.gather(*(worker() for _ in range(SESSIONS)))


def _client(addr, persistent, conn):
    t0 = time.perf_counter()
    asyncio.run(_send_one(addr, list(range(MESSAGES)), persistent))
    conn.send(time.perf_counter() - t0)


def drive(addr, persistent: bool, delivered) -> float:
    """Messages/s from the first connection until the last Maildir file exists."""
    parent, child = mp.Pipe()
    p = mp.Process(target=_client, args=(addr, persistent, child))
    t0 = time.perf_counter()
    p.start()
    parent.recv()
    p.join()
    deadline = time.monotonic() + 60
    while delivered() < MESSAGES and time.monotonic() < deadline:
        time.sleep(0.002)
    return MESSAGES / (time.perf_counter() - t0)


class Peer:
    """The minimal aiosmtpd server writing Maildir files with fsync."""

    def __init__(self, root: Path) -> None:
        from aiosmtpd.smtp import SMTP
        self.root = root
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True)
        self.n = 0
        handler = self

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

        async def start():
            return await self.loop.create_server(
                lambda: SMTP(handler, hostname="peer.example.com", loop=self.loop),
                "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result()
        self.addr = self.server.sockets[0].getsockname()[:2]

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        name = f"{time.time():.6f}.{os.getpid()}_{self.n}.peer"
        tmp = self.root / "tmp" / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, envelope.original_content)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, self.root / "new" / name)
        dfd = os.open(self.root / "new", os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        return "250 OK"

    def close(self):
        self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)


def run_lab(persistent: bool):
    with tempfile.TemporaryDirectory() as tmp:
        lab = labmail.Lab(ports="auto", state_dir=tmp)
        host = lab.add_host("mail.example.com", users={"alice": "secret"})
        lab.start()
        new = host.maildir_path("alice") / "new"
        rate = drive(host.endpoints["smtp"], persistent, lambda: len(os.listdir(new)))
        count = len(os.listdir(new))
        lab.stop()
    return rate, count


def run_peer(persistent: bool):
    with tempfile.TemporaryDirectory() as tmp:
        peer = Peer(Path(tmp) / "Maildir")
        new = Path(tmp) / "Maildir" / "new"
        rate = drive(peer.addr, persistent, lambda: len(os.listdir(new)))
        count = len(os.listdir(new))
        peer.close()
    return rate, count


def loadavg() -> str:
    """The machine's 1/5/15-minute load: a busy disk or CPU moves both servers'
    figures, the peer's most (it syncs inside its event loop)."""
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    print(f"{MESSAGES} messages of ~2 KB, {SESSIONS} concurrent sessions, "
          f"median of {REPEATS} runs; load average at start {loadavg()}\n")
    print("| load | labmail msg/s | minimal aiosmtpd peer msg/s | ratio | "
          "paired ratio | files (lab/peer) |")
    print("|---|---:|---:|---:|---:|---|")
    ratios = {}
    for persistent in (False, True):
        lab_rates, peer_rates, counts = [], [], set()
        for _ in range(REPEATS):
            r, c1 = run_lab(persistent)
            lab_rates.append(r)
            r, c2 = run_peer(persistent)
            peer_rates.append(r)
            counts.add((c1, c2))
        lab_m, peer_m = statistics.median(lab_rates), statistics.median(peer_rates)
        name = "many messages per connection" if persistent else "one connection per message"
        ratios[name] = lab_m / peer_m
        files = ", ".join(f"{a}/{b}" for a, b in sorted(counts))
        # each lab run beside the peer run right after it, so a slow moment of
        # a shared machine weighs on both sides of one ratio
        paired = statistics.median(a / b for a, b in zip(lab_rates, peer_rates))
        print(f"| {name} | {lab_m:.0f} | {peer_m:.0f} | {lab_m / peer_m:.2f}× | "
              f"{paired:.2f}× | {files} |")
    print(f"\ntarget ≥ 0.8× the peer: " + ", ".join(
        f"{k}: {'met' if v >= 0.8 else 'NOT met'}" for k, v in ratios.items()))
    print(f"load average at end {loadavg()}; 'paired ratio' is the median of "
          "lab/peer over runs made one after the other")


if __name__ == "__main__":
    main()
