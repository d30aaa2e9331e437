"""End to end: SMTP in -> queue -> local Maildir, and the latency from 250 to a readable file.

The load: MESSAGES messages of about 2 KB, SESSIONS concurrent client
sessions, a new connection per message, from a separate client process.
The client notes the moment each ``250`` arrives after the message text; a
watcher thread in the same process lists the recipient's ``Maildir/new``
every half millisecond and notes when each message's file first appears
(it reads the file, so "seen" means readable).  CLOCK_MONOTONIC is shared
by all processes, so the two moments compare directly.

Side by side, in one run:

* **labmail** — a lab host: smtpd, cleanup, the queue file fsync'd before
  the 250 (group commit across sessions), qmgr, local delivery into the
  Maildir (fsync'd, group commit), queue file removed; the file work runs in
  the lab's sync helper process (two processes, as Postfix uses several);
* **peer** — a minimal aiosmtpd server that writes the Maildir file itself
  (tmp/, fsync, rename into new/, fsync of new/) before its 250: no queue,
  so its latency after the 250 is zero by construction;
* **Postfix** — when installed and startable (root, ``/usr/sbin/postfix``):
  a private instance on loopback (own config and queue directory, no chroot)
  delivering with ``virtual(8)`` into a Maildir, so no system account is
  needed.

Figures, not assertions: throughput (messages/s from the first connection
until the last file is readable) and the 250-to-readable latency (median and
p99), the median of REPEATS runs, with ratios to the peer and to Postfix.
"""
from __future__ import annotations

import asyncio
import warnings
import multiprocessing as mp
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import labmail  # noqa: E402

SESSIONS = 10
MESSAGES = 500
REPEATS = 3
BODY = ("X" * 76 + "\r\n") * 25          # ~2 KB with the header
_MID = re.compile(rb"Message-Id: <e2e-(\d+)@", re.I)


def message(i: int) -> bytes:
    return (f"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: e2e {i}\r\n"
            f"Message-Id: <e2e-{i}@example.org>\r\n\r\n{BODY}").encode()


# -- the client process -------------------------------------------------------
async def _load(addr: Tuple[str, int], acks: Dict[int, float]) -> None:
    todo = list(range(MESSAGES))

    async def one(i: int) -> None:
        reader, writer = await asyncio.open_connection(*addr)

        async def reply() -> bytes:
            while True:
                line = await reader.readline()
                if line[3:4] != b"-":
                    if line[:1] not in b"23":
                        raise RuntimeError(line)
                    return line
        await reply()
        for cmd in (b"EHLO load.example.org", b"MAIL FROM:<bob@example.org>",
                    b"RCPT TO:<alice@example.com>", b"DATA"):
            writer.write(cmd + b"\r\n")
            await reply()
        writer.write(message(i) + b".\r\n")
        await reply()
        acks[i] = time.monotonic()
        writer.write(b"QUIT\r\n")
        await reply()
        writer.close()

    async def worker() -> None:
        while todo:
            await one(todo.pop(0))
    await asyncio.gather(*(worker() for _ in range(SESSIONS)))


def _watch(new: Path, seen: Dict[int, float], stop: threading.Event) -> None:
    known = set()
    while not stop.is_set():
        try:
            names = os.listdir(new)
        except FileNotFoundError:
            names = []
        for name in names:
            if name in known:
                continue
            now = time.monotonic()
            try:
                head = (new / name).read_bytes()[:2048]
            except FileNotFoundError:           # moved to cur/ meanwhile
                continue
            known.add(name)
            m = _MID.search(head)
            if m:
                seen.setdefault(int(m.group(1)), now)
        if len(seen) >= MESSAGES:
            return
        time.sleep(0.0005)


def _client(addr, new: str, conn) -> None:
    acks: Dict[int, float] = {}
    seen: Dict[int, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(Path(new), seen, stop), daemon=True)
    watcher.start()
    t0 = time.monotonic()
    asyncio.run(_load(addr, acks))
    watcher.join(60)
    stop.set()
    last = max(seen.values()) if seen else time.monotonic()
    conn.send((t0, last, acks, seen))


def drive(addr: Tuple[str, int], new: Path) -> dict:
    """One run against *addr*; the files appear in *new*."""
    parent, child = mp.Pipe()
    p = mp.Process(target=_client, args=(addr, str(new), child))
    p.start()
    t0, last, acks, seen = parent.recv()
    p.join()
    # a file seen before the client read the 250 (the peer writes it first) counts as 0
    lat = sorted(max(0.0, seen[i] - acks[i]) for i in acks if i in seen)
    return {"rate": len(seen) / (last - t0), "files": len(seen), "acked": len(acks),
            "p50": statistics.median(lat) * 1000 if lat else float("nan"),
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")}


# -- the three servers -----------------------------------------------------------
# The minimal aiosmtpd peer (Maildir file with fsync before its 250) is the
# one bench_smtp.py measures against; both benchmarks use the same class.
from bench_smtp import Peer, loadavg  # noqa: E402


def run_lab() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        lab = labmail.Lab(ports="auto", state_dir=tmp)
        host = lab.add_host("mail.example.com", users={"alice": "secret"})
        lab.start()
        try:
            return drive(host.endpoints["smtp"], host.maildir_path("alice") / "new")
        finally:
            lab.stop()


def run_peer() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        peer = Peer(Path(tmp) / "Maildir")
        try:
            return drive(peer.addr, Path(tmp) / "Maildir" / "new")
        finally:
            peer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postfix:
    """A private Postfix on loopback delivering to a Maildir with virtual(8)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="labmail-bench-pf-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        conf, spool, data = self.base / "conf", self.base / "spool", self.base / "data"
        vmail = self.base / "vmail"
        for d in (conf, spool, data, vmail):
            d.mkdir()
        nobody = pwd.getpwnam("nobody")
        shutil.chown(data, "postfix")
        os.chown(vmail, nobody.pw_uid, nobody.pw_gid)
        self.new = vmail / "alice" / "new"
        self.port = _free_port()
        (conf / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
myhostname = mail.example.net
mydomain = example.net
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = {self.base}/maillog
maillog_file_prefixes = {self.base}
alias_maps =
alias_database =
biff = no
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example.com
virtual_mailbox_base = {vmail}
virtual_mailbox_maps = inline:{{ alice@example.com=alice/ }}
virtual_uid_maps = static:{nobody.pw_uid}
virtual_gid_maps = static:{nobody.pw_gid}
virtual_minimum_uid = 1
""")
        lines = []
        for ln in Path("/etc/postfix/master.cf").read_text().splitlines():
            f = ln.split()
            if f[:2] == ["smtp", "inet"]:
                ln = f"127.0.0.1:{self.port} inet n - n - - smtpd"
            elif ln[:1].isalpha() and len(f) >= 8:
                f[4] = "n"                          # no chroot: nothing to copy in
                ln = " ".join(f)
            lines.append(ln)
        (conf / "master.cf").write_text("\n".join(lines) + "\n")
        self.conf = conf
        r = subprocess.run(["postfix", "-c", str(conf), "start"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            self.close()
            raise RuntimeError(r.stderr.strip() or r.stdout.strip())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        self.addr = ("127.0.0.1", self.port)

    def close(self) -> None:
        subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True,
                       timeout=60)
        time.sleep(0.5)
        shutil.rmtree(self.base, ignore_errors=True)


def postfix_unavailable() -> Optional[str]:
    """Why a private Postfix cannot run here, or None."""
    if shutil.which("postfix") is None and not Path("/usr/sbin/postfix").exists():
        return "not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root"
    try:
        pwd.getpwnam("postfix")
        pwd.getpwnam("nobody")
    except KeyError:
        return "no postfix/nobody user"
    return None


def run_postfix() -> dict:
    pf = Postfix()
    try:
        return drive(pf.addr, pf.new)
    finally:
        pf.close()


# -- the table ------------------------------------------------------------------
def _median(runs: List[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    warnings.filterwarnings("ignore", message=".*login_data.*")
    why_not = postfix_unavailable()
    contenders: List[Tuple[str, Callable[[], dict]]] = [("labmail", run_lab),
                                                        ("aiosmtpd peer", run_peer)]
    if why_not is None:
        contenders.append(("Postfix 3 (virtual → Maildir)", run_postfix))
    runs: Dict[str, List[dict]] = {name: [] for name, _ in contenders}
    start_load = loadavg()
    for _ in range(REPEATS):
        for name, fn in contenders:
            try:
                runs[name].append(fn())
            except Exception as exc:                 # a peer that cannot run is reported
                print(f"{name}: {exc}")
    print(f"{MESSAGES} messages of ~2 KB, {SESSIONS} concurrent sessions, a connection per "
          f"message, median of {REPEATS} runs; load average at start {start_load}\n")
    print("| server | msg/s | 250 → readable p50 ms | p99 ms | files/acked | "
          "throughput vs peer | vs Postfix |")
    print("|---|---:|---:|---:|---|---:|---:|")
    peer = _median(runs["aiosmtpd peer"], "rate") if runs["aiosmtpd peer"] else float("nan")
    pf_name = contenders[2][0] if len(contenders) > 2 else None
    pf = _median(runs[pf_name], "rate") if pf_name and runs[pf_name] else float("nan")
    for name, _ in contenders:
        if not runs[name]:
            continue
        rate = _median(runs[name], "rate")
        files = ", ".join(sorted({f"{r['files']}/{r['acked']}" for r in runs[name]}))
        print(f"| {name} | {rate:.0f} | {_median(runs[name], 'p50'):.1f} | "
              f"{_median(runs[name], 'p99'):.1f} | {files} | {rate / peer:.2f}× | "
              + (f"{rate / pf:.2f}× |" if pf == pf else "– |"))
    if why_not is not None:
        print(f"\nPostfix: skipped ({why_not})")
    lab = _median(runs["labmail"], "rate") if runs["labmail"] else float("nan")
    print(f"\ntargets: ≥ 0.8× the peer: {'met' if lab >= 0.8 * peer else 'NOT met'}"
          + (f"; ≥ 1.0× Postfix: {'met' if lab >= pf else 'NOT met'}" if pf == pf else ""))
    # each repeat runs the servers one after the other: ratios within a repeat
    # see the same moment of a shared machine
    pairs = [(name, [a["rate"] / b["rate"] for a, b in zip(runs["labmail"], runs[name])])
             for name, _ in contenders[1:] if runs[name] and runs["labmail"]]
    print("paired ratios (median over repeats of labmail/other in the same repeat): "
          + ", ".join(f"vs {name} {statistics.median(r):.2f}×" for name, r in pairs)
          + f"; load average at end {loadavg()}")


if __name__ == "__main__":
    main()
