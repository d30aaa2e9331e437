"""POP3 RETR throughput: 1,000 messages of 2 KB, labmail side by side with Dovecot.

    python benchmarks/bench_pop3.py [--messages 1000] [--size 2048] [--rounds 3]

One client logs in, RETRs every message in one session (one command at a
time, as poplib does) and QUITs without deleting; the best of a few rounds
is reported in messages per second.  Dovecot runs too when it is installed
(a private instance on loopback), and the ratio labmail/Dovecot is printed.
"""
from __future__ import annotations

import argparse
import poplib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labmail.access.pop3.realdovecot import RealDovecot, dovecot_available  # noqa: E402
from labmail.access.pop3.testing import StandaloneHost, serve_in_thread  # noqa: E402


def dovecot_version() -> str:
    import subprocess
    try:
        return subprocess.run(["dovecot", "--version"], capture_output=True, text=True,
                              timeout=10).stdout.split()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return ""


def make_message(i: int, size: int) -> bytes:
    head = (f"From: bench@example.org\nTo: alice@example.com\nSubject: bench {i}\n"
            f"Message-ID: <{i}@bench.example.org>\n\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again.\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(head))]
    return head + body


def retr_all(ip: str, port: int, n: int) -> float:
    p = poplib.POP3(ip, port, timeout=60)
    p.user("alice")
    p.pass_("secret")
    count = p.stat()[0]
    assert count == n, f"expected {n} messages, server has {count}"
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        p.retr(i)
    elapsed = time.perf_counter() - t0
    p.quit()
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    msgs = {f"17000{i:05d}.M{i}P1.bench": make_message(i, args.size) for i in range(args.messages)}

    host = StandaloneHost(tempfile.mkdtemp(prefix="labmail-bench-pop3-"))
    host.write_dovecot_conf(greeting="labmail ready.", disable_plaintext_auth=False, ssl="no")
    host.add_user("alice", "secret")
    new = host.path("/home/alice/Maildir/new")
    for name, data in msgs.items():
        (new / name).write_bytes(data)

    dv = None
    if dovecot_available():
        dv = RealDovecot({"alice": "secret"})
        first, rest = next(iter(msgs)), list(msgs.items())[1:]
        dv.deliver("alice", first, msgs[first])      # makes the Maildir
        for name, data in rest:
            (dv.home("alice") / "Maildir" / "new" / name).write_bytes(data)
        dv.deliver("alice", first + ".x", b"")       # chowns everything
        (dv.home("alice") / "Maildir" / "new" / (first + ".x")).unlink()
        dv.start()
    ours, theirs = [], []
    try:
        with serve_in_thread(host) as (ip, port):
            # rounds alternate between the two servers, so a burst of load on
            # a shared machine hits both; the best round of each is reported
            for _ in range(args.rounds):
                ours.append(args.messages / retr_all(ip, port, args.messages))
                if dv is not None:
                    theirs.append(args.messages / retr_all(dv.ip, dv.port, args.messages))
    finally:
        if dv is not None:
            dv.cleanup()
    print(f"{args.messages} messages of {args.size} B, one session RETRs them all "
          f"(best of {args.rounds} alternating rounds)\n")
    print("| server | RETR messages/s | ratio |")
    print("|---|---:|---:|")
    print(f"| labmail POP3 | {max(ours):.0f} | |")
    if dv is None:
        print("| Dovecot POP3 | not installed (apt-get install dovecot-pop3d) | |")
        return 0
    ratio = max(ours) / max(theirs)
    print(f"| Dovecot {dovecot_version()} | {max(theirs):.0f} | labmail/Dovecot = {ratio:.2f}× |")
    print(f"\ntarget ≥ 0.5× Dovecot: {'met' if ratio >= 0.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
