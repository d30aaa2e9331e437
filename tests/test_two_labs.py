"""Two kernels on one machine (a JupyterHub node): two labs with default settings.

Each lab runs in its own Python process, as two students' kernels would, with
``labmail.Lab()`` and no arguments.  The first takes the standard lab
addresses and ports; the second finds them taken and moves to free loopback
addresses (and its DNS server to another address), and both deliver mail.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

# One "kernel": a default lab with two hosts; on each "send" line from the test
# it mails alice@example.com over SMTP and reads the message back over IMAP.
KERNEL = textwrap.dedent("""
    import imaplib, json, smtplib, sys
    import labmail

    lab = labmail.Lab()
    com = lab.add_host("mail.example.com", users={"alice": "secret"})
    org = lab.add_host("mail.example.org", users={"bob": "hunter2"})
    lab.start()
    print(json.dumps({"event": "started", "pid": __import__("os").getpid(),
                      "dns": list(lab.dns.address),
                      "hosts": {n: {s: list(a) for s, a in h.endpoints.items()}
                                for n, h in lab.hosts.items()}}), flush=True)
    for line in sys.stdin:
        if line.strip() != "send":
            break
        tag = f"from-{__import__('os').getpid()}"
        with smtplib.SMTP(*com.endpoints["smtp"], timeout=10) as s:
            s.sendmail("bob@example.org", ["alice@example.com"],
                       f"Subject: {tag}\\r\\n\\r\\nhello\\r\\n")
        lab.settle(10)
        with imaplib.IMAP4(*com.endpoints["imap"], timeout=10) as imap:
            imap.login("alice", "secret")
            imap.select("INBOX")
            typ, data = imap.search(None, "ALL")
            subjects = []
            for num in data[0].split():
                typ, msg = imap.fetch(num, "(BODY[HEADER.FIELDS (SUBJECT)])")
                subjects.append(msg[0][1].decode().strip())
        print(json.dumps({"event": "read", "subjects": subjects}), flush=True)
    lab.stop()
    print(json.dumps({"event": "stopped"}), flush=True)
""")


class Kernel:
    """A child Python process running KERNEL, driven over its stdin/stdout."""

    def __init__(self, cwd: Path) -> None:
        env = dict(os.environ)
        env.pop("LABMAIL_PORT_BASE", None)      # default settings, as a fresh kernel
        self.proc = subprocess.Popen([sys.executable, "-c", KERNEL], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.started = self.read("started")

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def read(self, event: str, timeout: float = 60) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"kernel said nothing for {timeout} s (waiting for {event!r})")
        if not line:
            self.proc.wait(5)
            raise AssertionError(f"kernel ended before {event!r}: {self.proc.stderr.read()[-2000:]}")
        reply = json.loads(line)
        assert reply["event"] == event, reply
        return reply

    def send(self) -> list:
        self.proc.stdin.write("send\n")
        self.proc.stdin.flush()
        return self.read("read")["subjects"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stderr):
            pipe.close()


def _addresses(started: dict) -> set:
    return {(addr, port) for host in started["hosts"].values() for addr, port in host.values()}


def test_two_default_labs_in_two_processes_do_not_collide(tmp_path):
    first = Kernel(tmp_path)
    try:
        second = Kernel(tmp_path)
        try:
            a, b = first.started, second.started
            # the second lab moved: no (address, port) is shared, nor the DNS server
            assert not _addresses(a) & _addresses(b)
            assert a["dns"] != b["dns"]
            # the two hosts of one lab have distinct addresses, as on their own
            for started in (a, b):
                ips = {h["smtp"][0] for h in started["hosts"].values()}
                assert len(ips) == 2
            # both work, at the same time, and each student sees only their own mail
            tag_a, tag_b = f"Subject: from-{a['pid']}", f"Subject: from-{b['pid']}"
            assert first.send() == [tag_a]
            assert second.send() == [tag_b]
            assert first.send() == [tag_a, tag_a]
        finally:
            second.close()
        assert second.read("stopped")
    finally:
        first.close()
    assert first.read("stopped")


def test_dns_moves_to_a_free_port_when_every_dns_address_is_taken(tmp_path):
    """Past the few spare DNS addresses (many students on one node) any free port serves."""
    import socket

    from labmail.lab import _DNS_ADDRESSES, Lab
    held = []
    try:
        for _ in range(20):      # a port base whose DNS port we can hold on every address
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            if not 1053 < port < 64000:
                continue
            try:
                for ip in _DNS_ADDRESSES:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    held.append(s)
                    s.bind((ip, port))
                break
            except OSError:
                for s in held:
                    s.close()
                held.clear()
        else:
            pytest.skip("no port free on every lab DNS address")
        lab = Lab(port_base=port - 53, state_dir=tmp_path / "lab")
        try:
            lab.start()         # no hosts: only the DNS server, whose port we test
            assert lab.dns.address[0] == "127.0.0.1" and lab.dns.address[1] != port
            assert lab.resolver is not None
        finally:
            lab.stop()
    finally:
        for s in held:
            s.close()


def test_parallel_notebook_workers_get_port_bases_that_sanitize_back():
    """nbval -n N: each worker's lab ports differ, and sanitize.cfg maps them to the stored ones."""
    import importlib.util
    import re

    root = Path(__file__).resolve().parent.parent / "notebooks"
    spec = importlib.util.spec_from_file_location("notebooks_conftest", root / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    bases = [conftest.worker_port_base(f"gw{n}") for n in range(11)]
    assert bases[0] == conftest.worker_port_base("") == 10000
    assert len(set(bases)) == 11 and max(bases) + 1000 <= 32768   # below Linux's ephemeral ports
    rules = re.findall(r"^regex: (.*)$\n^replace: (.*)$", (root / "sanitize.cfg").read_text(), re.M)

    def sanitize(text: str) -> str:
        for regex, replace in rules:
            text = re.sub(regex, replace, text)
        return text
    stored = ("smtp  25  127.0.0.2:10025 | relay=mail.example.org[127.0.0.3]:10025 | "
              "('127.0.0.2', 10143) | dig @127.0.0.1 -p 10053 | lab 10993 | size=12345 pid 4242")
    for base in bases:
        fresh = stored
        for std in (25, 143, 53, 993):
            fresh = fresh.replace(str(10000 + std), str(base + std))
        assert sanitize(fresh) == sanitize(stored)
    assert sanitize(stored) == stored          # the stored text itself is left as it is
