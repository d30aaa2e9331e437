"""Spam filtering: messages scored per second, and spamd round-trip latency.

    python benchmarks/bench_spam.py [--messages 400] [--rounds 3]

Throughput: 5 KB messages (headers of corpus messages, bodies grown from
corpus text to 5 KB), scored in one thread with the course's default rule
set, with and without a trained Bayes database; best of a few rounds.
Target: >= 200 messages/s on one core.

Latency: CHECK requests of one 5 KB message to the lab's spamd over TCP on
loopback (labmail's spamc library, and Debian's spamc when installed, which
includes starting the process), median and 95th percentile.

The peer is real SpamAssassin where it is installed: ``spamassassin -L``
per message (it has to load its rules each time; spamd is not installed
here), so the table also shows what one check costs the reference.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labmail.spam import Engine, default_config  # noqa: E402
from labmail.spam.bayes import BayesStore  # noqa: E402
from labmail.spam.protocol import Method  # noqa: E402
from labmail.spam.render import MessageView  # noqa: E402
from labmail.spam.spamc import request  # noqa: E402
from labmail.spam.spamd import start_spamd_server  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "labmail" / "data" / "corpus"
SIZE = 5 * 1024


def five_kb_messages(n: int) -> list:
    """*n* plain-text messages of ~5 KB built from the corpus (deterministic)."""
    rnd = random.Random(5)
    files = sorted(CORPUS.glob("*/*.eml"))
    texts = [MessageView.parse(f.read_bytes()).body_text for f in files]
    out = []
    for i in range(n):
        src = files[i % len(files)].read_bytes()
        head = BytesParser(policy=compat32).parsebytes(src, headersonly=True)
        for h in ("Content-Type", "Content-Transfer-Encoding", "MIME-Version"):
            del head[h]
        lines = "".join(f"{k}: {v}\n" for k, v in head.items())
        lines += "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        body = texts[i % len(texts)]
        while len(body.encode()) < SIZE - len(lines):
            body += "\n\n" + rnd.choice(texts)
        out.append((lines + body).encode()[:SIZE].rsplit(b" ", 1)[0] + b"\n")
    return out


def throughput(engine: Engine, messages: list, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for m in messages:
            engine.check(m)
        best = max(best, len(messages) / (time.perf_counter() - t0))
    return best


def trained_bayes() -> BayesStore:
    db = BayesStore(None)
    for kind in ("spam", "ham"):
        for f in sorted((CORPUS / kind).glob("*.eml")):
            db.learn(f.read_bytes(), spam=kind == "spam")
    return db


def spamd_latency(message: bytes, n: int) -> tuple:
    tmp = Path(tempfile.mkdtemp())
    host = types.SimpleNamespace(hostname="bench.example", path=lambda p: tmp / p.lstrip("/"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(start_spamd_server(host, "127.0.0.1", 0), loop).result(10)
    port = server.sockets[0].getsockname()[1]
    ours, debian = [], []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            request("127.0.0.1", port, Method.CHECK, message, user="bench")
            ours.append(time.perf_counter() - t0)
        spamc = shutil.which("spamc")
        if spamc:
            for _ in range(max(10, n // 10)):
                t0 = time.perf_counter()
                subprocess.run([spamc, "-d", "127.0.0.1", "-p", str(port), "-c"], input=message,
                               capture_output=True, timeout=30)
                debian.append(time.perf_counter() - t0)
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        shutil.rmtree(tmp, ignore_errors=True)
    return ours, debian


def real_spamassassin(messages: list, n: int = 3):
    exe = shutil.which("spamassassin")
    if not exe:
        return None
    times = []
    with tempfile.TemporaryDirectory() as home:
        for m in messages[:n]:
            t0 = time.perf_counter()
            subprocess.run([exe, "-L"], input=m, capture_output=True, timeout=120, env={"HOME": home, "PATH": "/usr/bin:/bin"})
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ms(values: list, q: float) -> float:
    values = sorted(values)
    return 1000 * values[min(len(values) - 1, int(q * len(values)))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args(argv)
    messages = five_kb_messages(args.messages)
    avg = sum(map(len, messages)) / len(messages)
    cf = default_config()
    print(f"{len(messages)} messages of {avg / 1024:.1f} KB on average, {len(cf.rules)} rules, one thread\n")
    plain = throughput(Engine(cf), messages, args.rounds)
    bayes = throughput(Engine(cf, bayes=trained_bayes(), autolearn=False), messages, args.rounds)
    print("| scoring | messages/s |")
    print("|---|---:|")
    print(f"| labmail, default rules | {plain:.0f} |")
    print(f"| labmail, default rules + Bayes ({len(list(CORPUS.glob('*/*.eml')))} messages learnt) | {bayes:.0f} |")
    sa = real_spamassassin(messages)
    if sa is None:
        print("| spamassassin -L | not installed (apt-get install spamassassin) |")
    else:
        print(f"| spamassassin -L, one process per message (loads its rules each time) | {1 / sa:.1f} |")
    print(f"\ntarget >= 200 messages/s: {'met' if min(plain, bayes) >= 200 else 'NOT met'}\n")
    ours, debian = spamd_latency(messages[0], args.requests)
    print("| spamd CHECK round trip (5 KB, loopback) | median ms | p95 ms |")
    print("|---|---:|---:|")
    print(f"| labmail spamc library -> labmail spamd | {ms(ours, 0.5):.1f} | {ms(ours, 0.95):.1f} |")
    if debian:
        print(f"| Debian spamc (process start included) -> labmail spamd | {ms(debian, 0.5):.1f} | {ms(debian, 0.95):.1f} |")
    else:
        print("| Debian spamc | not installed (apt-get install spamc) | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
