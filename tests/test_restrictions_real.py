"""Replay the restriction table of test_restrictions.py against a real Postfix.

Starts a private Postfix instance (its own config and queue directory, smtpd on
a free port of 127.0.0.1) and sends each case over a real socket from
127.0.0.9 or 127.0.0.1, then compares the RCPT reply with the lab's
evaluator. Needs Postfix (apt-get install postfix) and root (master(8) runs
as root); skipped otherwise.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from labmail.mta.maincf import MainCf
from labmail.mta.restrictions import Context, Restrictions, Stage
from test_restrictions import BASE, CASES

POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if Path("/usr/sbin/postfix").exists() else None)
MASTER_DIST = Path("/usr/share/postfix/master.cf.dist")

pytestmark = [
    pytest.mark.realtool, pytest.mark.slow,
    pytest.mark.skipif(POSTFIX is None or not MASTER_DIST.exists(),
                       reason="postfix not installed; apt-get install postfix"),
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="starting postfix needs root"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*args: str) -> None:
    subprocess.run([POSTFIX, *args], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def instance():
    # pytest's tmp directories are private (0700): the postfix user could not reach its queue.
    d = Path(tempfile.mkdtemp(prefix="labmail-postfix-"))
    d.chmod(0o755)
    port = _free_port()
    queue = d / "queue"
    for sub in ("pid", "public", "private", "maildrop", "incoming", "active", "deferred", "defer",
                "bounce", "corrupt", "hold", "flush", "saved", "trace"):
        (queue / sub).mkdir(parents=True)
    (d / "data").mkdir()
    shutil.chown(d / "data", "postfix")
    for sub in queue.iterdir():
        shutil.chown(sub, "postfix", "postdrop" if sub.name in ("public", "maildrop") else None)
    lines = []
    for line in MASTER_DIST.read_text().splitlines():
        fields = line.split()
        if line and not line[0].isspace() and not line.startswith("#") and len(fields) >= 8:
            if fields[0] == "smtp" and fields[1] == "inet":
                fields[0] = f"127.0.0.1:{port}"
            fields[4] = "n"         # no chroot: the private queue has no copies of /etc
            line = "  ".join(fields)
        lines.append(line)
    (d / "master.cf").write_text("\n".join(lines) + "\n")
    runtime = (f"queue_directory = {queue}\ndata_directory = {d / 'data'}\n"
               f"maillog_file = {d / 'maillog'}\nmaillog_file_prefixes = {d}\n"
               "alias_maps =\nalias_database =\nlocal_recipient_maps =\nsmtpd_client_connection_count_limit = 0\n")
    (d / "tables").mkdir()

    def configure(extra: str, tables: dict) -> None:
        for name, text in tables.items():
            (d / "tables" / name).write_text(text + "\n")
            subprocess.run(["postmap", str(d / "tables" / name)], check=True, timeout=30)
        extra = extra.replace("/etc/postfix/", f"{d / 'tables'}/")
        (d / "main.cf").write_text(BASE + runtime + extra + "\n")
        os.utime(d / "main.cf", (time.time() - 10, time.time() - 10))

    configure("", {})
    _run("-c", str(d), "start")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        _run("-c", str(d), "stop")
        shutil.rmtree(d, ignore_errors=True)
        pytest.skip("the private postfix instance did not start")
    try:
        yield d, port, configure
    finally:
        _run("-c", str(d), "stop")
        shutil.rmtree(d, ignore_errors=True)


def _dialogue(port: int, src: str, helo: str, sender: str, rcpt: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=15, source_address=(src, 0)) as s:
        f = s.makefile("rb")

        def reply() -> str:
            for _ in range(50):
                line = f.readline().decode().rstrip("\r\n")
                if len(line) < 4 or line[3] != "-":
                    return line
            raise AssertionError("endless reply")
        reply()
        last = ""
        for cmd in (f"EHLO {helo}", f"MAIL FROM:<{sender}>", f"RCPT TO:<{rcpt}>"):
            s.sendall(cmd.encode() + b"\r\n")
            last = reply()
        s.sendall(b"QUIT\r\n")
        return last


def test_lab_answers_like_postfix(instance, tmp_path):
    d, port, configure = instance
    by_config = {}
    for case in CASES:
        by_config.setdefault((case[0], tuple(sorted(case[1].items()))), []).append(case)
    mismatches = []
    for (extra, tables), cases in by_config.items():
        configure(extra, dict(tables))
        _run("-c", str(d), "reload")
        time.sleep(0.5)         # let master replace the smtpd processes
        lab_tables = tmp_path / "etc" / "postfix"
        lab_tables.mkdir(parents=True, exist_ok=True)
        for name, text in tables:
            (lab_tables / name).write_text(text + "\n")
        cf = MainCf.from_text(BASE + extra + "\n", path_map=lambda p: tmp_path / p.lstrip("/"))
        ours = Restrictions.from_config(cf)
        for _, _, ip, helo, sender, rcpt, _expected in cases:
            real = _dialogue(port, ip, helo, sender, rcpt)
            name = "localhost" if ip == "127.0.0.1" else "unknown"
            decision = ours.check(Stage.RCPT, Context(ip, client_name=name, helo=helo, sender=sender, recipient=rcpt))
            lab = decision.reply if decision else "250 2.1.5 Ok"
            if lab != real:
                mismatches.append((extra, ip, helo, sender, rcpt, real, lab))
    assert mismatches == []
