"""Acceptance: SIGKILL a running lab mid-load; after a restart every message
that got a 250 is in the Maildir exactly once.

A ``labmail serve`` process (the whole lab: smtpd, cleanup, queue, qmgr,
local delivery) is started on a state directory.  Ten client threads send 500
messages, one SMTP connection each, and record the queue id of every ``250``.
Halfway through, the process is killed with SIGKILL (no clean-up of any
kind), then started again on the same state directory.  Every acknowledged
queue id must then appear in exactly one Maildir file (found by the ``id``
in the message's ``Received:`` header), and no message may appear twice.
"""
from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

TOTAL = 500
SESSIONS = 10
KILL_AFTER = 250
BODY = (b"x" * 76 + b"\r\n") * 26          # about 2 KB in RFC 5322-sized lines
RECEIVED_ID = re.compile(rb"by mail\.example\.com \(labmail\) with E?SMTP id ([0-9A-F]+)")


def _start(state: Path) -> "tuple[subprocess.Popen, tuple]":
    proc = subprocess.Popen([sys.executable, "-m", "labmail", "serve", "--state", str(state),
                             "--ports", "auto", "--user", "alice:secret"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    smtp = None
    deadline = time.monotonic() + 20
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("smtp "):
            ip, _, port = line.split()[1].rpartition(":")
            smtp = (ip, int(port))
        if line.strip() == "ready":
            break
    if smtp is None:
        proc.kill()
        pytest.fail(f"labmail serve did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc, smtp


def _load(endpoint, acked: dict, killed: threading.Event, enough: threading.Event) -> None:
    lock = threading.Lock()
    counter = iter(range(TOTAL))

    def worker() -> None:
        while not killed.is_set():
            with lock:
                n = next(counter, None)
            if n is None:
                return
            msg = (b"From: load@example.net\r\nTo: alice@example.com\r\n"
                   b"Subject: load %d\r\nMessage-Id: <load-%d@example.net>\r\n\r\n" % (n, n)
                   + BODY)
            try:
                with smtplib.SMTP(*endpoint, local_hostname="loadgen", timeout=10) as s:
                    s.ehlo()
                    s.mail("load@example.net")
                    s.rcpt("alice@example.com")
                    code, reply = s.data(msg)
                assert code == 250, (code, reply)
                if code == 250:
                    qid = reply.decode().rsplit(" ", 1)[-1]
                    with lock:
                        acked[n] = qid
                        if len(acked) >= KILL_AFTER:
                            enough.set()
            except (OSError, smtplib.SMTPException):
                if killed.is_set():
                    return
                raise
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(SESSIONS)]
    for t in threads:
        t.start()
    return threads


def _delivered(maildir: Path) -> "dict[str, list]":
    seen: dict = {}
    for sub in ("new", "cur"):
        d = maildir / sub
        if not d.is_dir():
            continue
        for f in d.iterdir():
            head = f.read_bytes()[:1500]
            m = RECEIVED_ID.search(head)
            mid = re.search(rb"Message-Id: <(load-\d+)@", head)
            key = m.group(1).decode() if m else f"?{f.name}"
            seen.setdefault(key, []).append(mid.group(1).decode() if mid else None)
    return seen


def _queue_empty(state: Path) -> bool:
    spool = state / "var" / "spool" / "postfix"
    return not any(n for q in ("incoming", "active", "deferred") if (spool / q).is_dir()
                   for n in os.listdir(spool / q) if not n.startswith("."))


def test_sigkill_mid_load_loses_nothing_and_duplicates_nothing(tmp_path):
    root = tmp_path / "lab"
    state = root / "mail.example.com"
    proc, endpoint = _start(root)
    acked: dict = {}
    killed, enough = threading.Event(), threading.Event()
    try:
        threads = _load(endpoint, acked, killed, enough)
        assert enough.wait(60), f"only {len(acked)} messages acknowledged"
        os.kill(proc.pid, signal.SIGKILL)
        killed.set()
        proc.wait(10)
        for t in threads:
            t.join(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    at_kill = dict(acked)
    assert len(at_kill) >= KILL_AFTER
    spool = state / "var" / "spool" / "postfix"
    left = {q: len([n for n in os.listdir(spool / q) if not n.startswith(".")])
            for q in ("incoming", "active", "deferred")}
    print(f"acknowledged {len(at_kill)}, delivered before the kill "
          f"{len(_delivered(state / 'home' / 'alice' / 'Maildir'))}, left in the queue {left}")

    proc2, _ = _start(root)
    try:
        maildir = state / "home" / "alice" / "Maildir"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _queue_empty(state) and len(_delivered(maildir)) >= len(at_kill):
                break
            time.sleep(0.1)
        time.sleep(0.3)              # a last delivery in flight would show up now
        seen = _delivered(maildir)
    finally:
        proc2.send_signal(signal.SIGTERM)
        try:
            proc2.wait(10)
        except subprocess.TimeoutExpired:
            proc2.kill()
            proc2.wait(10)

    missing = [q for q in at_kill.values() if q not in seen]
    twice = {q: v for q, v in seen.items() if len(v) > 1}
    assert not missing, f"{len(missing)} acknowledged messages lost: {missing[:5]}"
    assert not twice, f"delivered more than once: {list(twice.items())[:5]}"
    # every copy is the message its 250 was for (queue id <-> Message-Id)
    for n, qid in at_kill.items():
        assert seen[qid] == [f"load-{n}"]
    assert not [k for k in seen if k.startswith("?")], "a Maildir file without our Received:"
    assert _queue_empty(state)
