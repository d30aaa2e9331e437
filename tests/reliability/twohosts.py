"""A two-host lab in its own process, for the crash test: ``python twohosts.py STATE``.

mail.example.com (alice) and mail.example.org (bob) on free ports; prints
``<hostname> <service> <ip>:<port>`` lines, then ``ready``, and serves until
SIGTERM.  On start it flushes the deferred queues, as an administrator runs
``postqueue -f`` after a crash.  (``labmail serve`` runs one host only.)
"""
from __future__ import annotations

import signal
import sys
import threading


def main(state: str) -> int:
    from labmail import Lab
    lab = Lab(ports="auto", state_dir=state)
    a = lab.add_host("mail.example.com", users={"alice": "secret"})
    b = lab.add_host("mail.example.org", users={"bob": "hunter2"})
    lab.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for host in (a, b):
        for service, (ip, port) in host.endpoints.items():
            print(f"{host.hostname} {service} {ip}:{port}")
        host.flush(wait=False)
    print("ready", flush=True)
    while not stop.wait(0.5):
        pass
    lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
