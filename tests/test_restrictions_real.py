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
        # Atomically: a Postfix process starting while main.cf is half-written would
        # read a broken file, die, and get its service throttled for a minute.
        tmp = d / "main.cf.new"
        tmp.write_text(BASE + runtime + extra + "\n")
        os.utime(tmp, (time.time() - 10, time.time() - 10))
        os.replace(tmp, d / "main.cf")

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


def _reload(d: Path, port: int) -> None:
    """postfix reload, then wait (bounded) until a new smtpd greets."""
    _run("-c", str(d), "reload")
    time.sleep(0.3)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                if s.makefile("rb").readline().startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            time.sleep(0.2)
    tail = (d / "maillog").read_text(errors="replace").splitlines()[-12:]
    ps = subprocess.run(["ps", "-eo", "pid,ppid,stat,wchan:24,args"], capture_output=True, text=True).stdout
    mine = [line for line in ps.splitlines() if "postfix" in line or "master" in line]
    raise AssertionError("the private postfix did not greet after reload; its log:\n" + "\n".join(tail)
                         + "\nprocesses:\n" + "\n".join(mine))


def _dialogue(port: int, src: str, helo: str, sender: str, rcpt: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0)) as s:
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
        _reload(d, port)
        lab_tables = tmp_path / "etc" / "postfix"
        lab_tables.mkdir(parents=True, exist_ok=True)
        for name, text in tables:
            (lab_tables / name).write_text(text + "\n")
        cf = MainCf.from_text(BASE + extra + "\n", path_map=lambda p: tmp_path / p.lstrip("/"))
        ours = Restrictions.from_config(cf)
        for _, _, ip, helo, sender, rcpt, _expected in cases:
            before = _rejects(d)
            try:
                real = _dialogue(port, ip, helo, sender, rcpt)
            except OSError as exc:
                tail = (d / "maillog").read_text(errors="replace").splitlines()[-15:]
                raise AssertionError(f"{exc} with {extra!r}; postfix log:\n" + "\n".join(tail)) from None
            name = "localhost" if ip == "127.0.0.1" else "unknown"
            decision = ours.check(Stage.RCPT, Context(ip, client_name=name, helo=helo, sender=sender, recipient=rcpt))
            lab = decision.reply if decision else "250 2.1.5 Ok"
            if lab != real:
                mismatches.append((extra, ip, helo, sender, rcpt, real, lab))
            elif decision is not None:
                logged = _new_reject(d, before)
                if logged != decision.log:
                    mismatches.append((extra, ip, helo, sender, rcpt, logged, decision.log))
    assert mismatches == []


def _rejects(d: Path) -> list:
    log = d / "maillog"
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line.split("]: ", 1)[1] for line in text.splitlines() if "postfix/smtpd[" in line and ": reject: " in line]


def _new_reject(d: Path, before: list) -> str:
    # postlogd writes asynchronously: wait (bounded) for the session's line
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = _rejects(d)
        if len(now) > len(before):
            return now[-1]
        time.sleep(0.05)
    return "(no reject line logged)"


# smtpd_delay_reject = no: restrictions answer at HELO and MAIL FROM time.
EARLY = [
    ("smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n"
     "smtpd_sender_restrictions = reject_non_fqdn_sender", "client", "a@example.net", "bob@mail.example.com"),
    ("smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n"
     "smtpd_sender_restrictions = reject_non_fqdn_sender", "c.example.net", "a", "bob@mail.example.com"),
    ("smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_invalid_helo_hostname", "bad_host!",
     "a@example.net", "bob@example.org"),
]


def _early_dialogue(port: int, helo: str, sender: str, rcpt: str) -> list:
    with socket.create_connection(("127.0.0.1", port), timeout=15, source_address=("127.0.0.9", 0)) as s:
        f = s.makefile("rb")
        f.readline()
        replies = []
        for cmd in (f"HELO {helo}", f"MAIL FROM:<{sender}>", f"RCPT TO:<{rcpt}>"):
            s.sendall(cmd.encode() + b"\r\n")
            replies.append(f.readline().decode().rstrip("\r\n"))
        s.sendall(b"QUIT\r\n")
        return replies


def test_early_rejection_stages_like_postfix(instance):
    d, port, configure = instance
    for extra, helo, sender, rcpt in EARLY:
        configure(extra, {})
        _reload(d, port)
        real = _early_dialogue(port, helo, sender, rcpt)
        ours = Restrictions.from_config(MainCf.from_text(BASE + extra + "\n"))
        lab = []
        for stage, ok, ctx in (
                (Stage.HELO, "250 mail.example.com", Context("127.0.0.9", helo=helo, esmtp=False)),
                (Stage.MAIL, "250 2.1.0 Ok", Context("127.0.0.9", helo=helo, sender=sender, esmtp=False)),
                (Stage.RCPT, "250 2.1.5 Ok", Context("127.0.0.9", helo=helo, sender=sender, recipient=rcpt,
                                                    esmtp=False))):
            decision = ours.check(stage, ctx)
            lab.append(decision.reply if decision else ok)
            if decision and stage is not Stage.HELO:
                break           # after a refused MAIL FROM, smtpd answers RCPT with 503 (not a restriction)
        assert lab == real[:len(lab)], extra
