"""spamc and spamd next to Debian's: same bytes out, same exit codes.

* Debian's ``spamc`` and ``labmail spamc`` against a REAL spamd (started
  here on 127.0.0.1 with a free port and the course rules, stopped after);
* both clients when no spamd listens (the safe fallback);
* the raw SPAMC/1.5 answers of the real spamd and of the lab's spamd, for
  good requests and broken ones.

Skipped when spamc / spamd are not installed (apt-get install spamc spamd).
Debian's spamd refuses TELL unless started with --allow-tell; the lab's
spamd behaves as if it were (lessons train Bayes with spamc -L).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from labmail.spam.rules import RULES_DIR
from labmail.spam.spamc import run as lab_spamc
from labmail.spam.spamd import start_spamd_server

from conftest import close_server, need_tool
from spam_hostile_messages import CASES, spammy

pytestmark = pytest.mark.realtool

HAM, SPAM = CASES["plain"], spammy(CASES["plain"])
TLDS = Path("/usr/share/spamassassin/20_aux_tlds.cf")
DATE_OR_BOUNDARY = re.compile(rb"\w{3}, \d\d? \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}|=_[0-9A-F]{8}\.[0-9A-F]{8}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def real_spamd():
    exe = shutil.which("spamd") or ("/usr/sbin/spamd" if os.path.exists("/usr/sbin/spamd") else None)
    if exe is None:
        pytest.skip("spamd is not installed (apt-get install spamd)")
    pres = sorted(Path("/etc/spamassassin").glob("*.pre"))
    if not pres:
        pytest.skip("spamassassin's plugin .pre files are not installed (apt-get install spamassassin)")
    # spamd's children run as nobody: the rules must sit where nobody can read them
    # (pytest's own temporary directories are private to root)
    root = Path(tempfile.mkdtemp(prefix="labmail-spamd-"))
    rules, site = root / "rules", root / "site"
    rules.mkdir()
    site.mkdir()
    for f in RULES_DIR.glob("*.cf"):
        shutil.copy(f, rules / f.name)
    if TLDS.is_file():
        shutil.copy(TLDS, rules / TLDS.name)
    for f in pres:
        shutil.copy(f, site / f.name)
    for d in (root, rules, site):
        d.chmod(0o755)
    port = _free_port()
    args = [exe, f"--listen=127.0.0.1:{port}", "-C", str(rules), "--siteconfigpath", str(site),
            "-m", "2", "-s", "stderr", "--syslog-socket=none", "-L"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING SPAMC/1.5\r\n\r\n")
                    if s.recv(100).startswith(b"SPAMD/1.5 0 PONG"):
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.skip("the real spamd did not start within 60 s")
        yield "127.0.0.1", port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)         # spamd and its children, by our own pid
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def debian_spamc(argv, message):
    r = subprocess.run([need_tool("spamc")] + argv, input=message, capture_output=True, timeout=60)
    return r.stdout, r.stderr.decode(), r.returncode


OPTIONS = [[], ["-c"], ["-y"], ["-R"], ["-r"], ["-E"], ["-x"], ["--headers"], ["-K"],
           ["-s", "100"], ["-s", "100", "-c"], ["-s", "100", "-R"], ["-s", "100", "-y"], ["-s", "100", "-L", "spam"]]


@pytest.mark.parametrize("message", [HAM, SPAM], ids=["ham", "spam"])
def test_lab_spamc_against_real_spamd_prints_what_debian_spamc_prints(real_spamd, message):
    ip, port = real_spamd
    for opts in OPTIONS:
        argv = ["-d", ip, "-p", str(port)] + opts
        real, lab = debian_spamc(argv, message), lab_spamc(argv, message)
        assert (DATE_OR_BOUNDARY.sub(b"X", lab[0]), lab[2]) == (DATE_OR_BOUNDARY.sub(b"X", real[0]), real[2]), opts


DOWN = [[], ["-c"], ["-y"], ["-R"], ["-r"], ["-E"], ["--headers"], ["-x"], ["-c", "-x"], ["-y", "-x"],
        ["-x", "-X"], ["-X", "-x"], ["-x", "-X", "-c"], ["-K"], ["-L", "spam"], ["-l"], ["-l", "-x"]]


def test_both_spamc_fall_back_the_same_way_when_no_spamd_listens():
    port = _free_port()                          # nobody listens there
    for opts in DOWN:
        argv = ["-d", "127.0.0.1", "-p", str(port), "--retry-sleep", "0"] + opts
        assert lab_spamc(argv, HAM) == debian_spamc(argv, HAM), opts


def _ask(ip: str, port: int, request: bytes) -> bytes:
    with socket.create_connection((ip, port), timeout=30) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def _req(method: str, message: bytes, extra: bytes = b"") -> bytes:
    return (f"{method} SPAMC/1.5\r\nUser: bob\r\n".encode() + extra
            + f"Content-length: {len(message)}\r\n\r\n".encode() + message)


REQUESTS = [_req(m, msg) for m in ("CHECK", "SYMBOLS") for msg in (HAM, SPAM)] + [_req("REPORT_IFSPAM", HAM),
    b"PING SPAMC/1.5\r\n\r\n", b"SKIP SPAMC/1.5\r\n\r\n", b"HELLO SPAMC/1.5\r\n\r\n", b"CHECK HTTP/1.1\r\n\r\n",
    b"CHECK SPAMC/1.5\r\nno colon here\r\n\r\n", b"CHECK SPAMC/1.5\r\nContent-length: 12x\r\n\r\n",
    b"CHECK SPAMC/1.5\r\nContent-length: 50\r\n\r\nshort", b"CHECK SPAMC/1.5\r\nUser: b\x01ob\r\n\r\n",
    b"CHECK SPAMC/1.5\r\nCompress: gzip\r\nContent-length: 2\r\n\r\nxx",
    b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: 2\r\n\r\nxx",
    b"CHECK SPAMC/1.5\r\nUser: bob\r\n\r\n" + HAM,            # no Content-length: read to EOF
]


def test_lab_spamd_answers_byte_for_byte_as_real_spamd(real_spamd, host):
    server = host.lab.run(start_spamd_server(host, host.ip, 0))
    try:
        ours = (host.ip, server.sockets[0].getsockname()[1])
        for request in REQUESTS:
            assert _ask(*ours, request) == _ask(*real_spamd, request), request[:40]
        for method in ("REPORT", "REPORT_IFSPAM", "HEADERS", "PROCESS"):           # bodies name the host: compare the heads
            for message in (HAM, SPAM):
                real = _ask(*real_spamd, _req(method, message)).split(b"\r\n")
                lab = _ask(*ours, _req(method, message)).split(b"\r\n")
                assert [l.split(b":")[0] for l in lab[:3]] == [l.split(b":")[0] for l in real[:3]]
                assert lab[0] == real[0] and lab[2] == real[2]
    finally:
        close_server(host.lab, server)
