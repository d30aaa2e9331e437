"""Lab start-to-ready and stop times, for one and three hosts.

Start-to-ready is measured from ``Lab(...)`` to ``start()`` returning (every
service listening); the peer is the smallest possible asyncio server start
on the same machine (``loop.create_server`` for one port), which bounds what
any Python lab could do.  Medians of 30 runs.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import labmail  # noqa: E402

RUNS = 30


def lab_times(nhosts: int):
    starts, stops = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            lab = labmail.Lab(ports="auto", state_dir=tmp)
            for i in range(nhosts):
                lab.add_host(f"mail.example{i}.com", users={"alice": "secret", "bob": "secret"})
            lab.start()
            t1 = time.perf_counter()
            lab.stop()
            t2 = time.perf_counter()
            starts.append(t1 - t0)
            stops.append(t2 - t1)
    return statistics.median(starts), statistics.median(stops)


def bare_asyncio_server():
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(loop.create_server(asyncio.Protocol, "127.0.0.1", 0))
        t1 = time.perf_counter()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
        times.append(t1 - t0)
    return statistics.median(times)


def main() -> None:
    rows = []
    for n in (1, 3):
        start, stop = lab_times(n)
        rows.append((f"Lab, {n} host{'s' if n > 1 else ''}", start, stop))
    peer = bare_asyncio_server()
    print(f"| what | start→ready median (ms) | stop median (ms) |")
    print(f"|---|---:|---:|")
    for name, start, stop in rows:
        print(f"| {name} | {start * 1000:.1f} | {stop * 1000:.1f} |")
    print(f"| peer: bare asyncio create_server | {peer * 1000:.2f} | – |")
    print(f"\ntarget: one host ready in ≤ 300 ms median → "
          f"{'met' if rows[0][1] <= 0.3 else 'NOT met'} ({rows[0][1] * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
