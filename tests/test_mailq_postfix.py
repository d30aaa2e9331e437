"""Differential: our mailq text next to a real Postfix 3.7's, same queue.

A throw-away Postfix instance on loopback (its own config and queue
directory, smtpd on a free port, relayhost on a dead port) defers three
messages; one is put on hold.  ``postqueue -j`` gives the queue's facts; we
build the same entries and compare our ``mailq`` with ``postqueue -p`` line
by line.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from labmail.mta.mailq import format_mailq
from labmail.mta.queue import QueueFile, Recipient

pytestmark = pytest.mark.realtool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@pytest.fixture
def postfix():
    for tool in ("postfix", "postqueue", "postsuper"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.skip(f"{tool} is not installed (apt-get install postfix)")
    if os.geteuid() != 0:
        pytest.skip("running a private Postfix instance needs root")
    try:
        import pwd
        pwd.getpwnam("postfix")
    except KeyError:
        pytest.skip("no postfix user (apt-get install postfix)")
    base = Path(tempfile.mkdtemp(prefix="labmail-pf-", dir="/tmp"))
    os.chmod(base, 0o755)
    conf, spool, data = base / "conf", base / "spool", base / "data"
    for d in (conf, spool, data):
        d.mkdir()
    shutil.chown(data, "postfix")
    port, dead = _free_port(), _free_port()
    (conf / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
myhostname = mail.example.com
mydomain = example.com
mydestination = $myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{dead}
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
alias_maps =
alias_database =
biff = no
""")
    lines = []
    for ln in Path("/etc/postfix/master.cf").read_text().splitlines():
        f = ln.split()
        if f[:2] == ["smtp", "inet"]:
            ln = f"127.0.0.1:{port} inet n - n - - smtpd"
        elif ln[:1].isalpha() and len(f) >= 8:
            f[4] = "n"                              # no chroot: nothing copied in
            ln = " ".join(f)
        lines.append(ln)
    (conf / "master.cf").write_text("\n".join(lines) + "\n")
    started = _run("postfix", "-c", str(conf), "start")
    if started.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start a private Postfix: {started.stderr.strip()}")
    try:
        yield conf, port
    finally:
        _run("postfix", "-c", str(conf), "stop")
        time.sleep(0.5)
        shutil.rmtree(base, ignore_errors=True)


def _queue(conf: Path):
    out = _run("postqueue", "-c", str(conf), "-j").stdout
    return [json.loads(ln) for ln in out.splitlines() if ln.strip()]


def test_mailq_text_matches_postqueue_p(postfix):
    conf, port = postfix
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("alice@example.com", ["bob@example.org", "carol@example.net"],
                   b"Subject: one\r\n\r\nhello\r\n")
        s.sendmail("dave@example.com", ["erin@example.org"], b"Subject: two\r\n\r\n" + b"x" * 3000 + b"\r\n")
        s.sendmail("", ["frank@example.org"], b"Subject: three\r\n\r\nbounce-like\r\n")
    deadline = time.monotonic() + 20
    entries = _queue(conf)
    while time.monotonic() < deadline and not (
            len(entries) == 3 and all(e["queue_name"] == "deferred" and
                                      all("delay_reason" in r for r in e["recipients"])
                                      for e in entries)):
        time.sleep(0.2)
        entries = _queue(conf)
    assert len(entries) == 3, entries
    held = entries[1]["queue_id"]
    _run("postsuper", "-c", str(conf), "-h", held)
    entries = _queue(conf)
    real = _run("postqueue", "-c", str(conf), "-p").stdout

    ours = []
    for e in entries:
        rcpts = [Recipient(r["address"], r["address"], reason=r.get("delay_reason", ""))
                 for r in e["recipients"]]
        sender = "" if e["sender"] == "MAILER-DAEMON" else e["sender"]
        ours.append(QueueFile(e["queue_id"], sender, rcpts, b"x" * e["message_size"],
                              arrival=e["arrival_time"], queue=e["queue_name"]))
    tz = dt.datetime.now().astimezone().tzinfo          # postqueue prints local time
    assert format_mailq(ours, tz).splitlines() == real.splitlines()
    assert any("!" in ln for ln in real.splitlines())
