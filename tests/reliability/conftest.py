"""Fixtures and sizes for the reliability and security suite (issue 10).

Two sizes: the short form (default) keeps every count small so the whole
directory runs in well under 90 s on two cores and belongs in ``make test``;
``--reliability-full`` (or ``LABMAIL_RELIABILITY_FULL=1``, which works from any
directory) runs the counts the issue names (200 SMTP + 50 IMAP sessions for
60 s, at least 10 kill points, ...).  ``make reliability`` runs the full form.
"""
from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

OUTSIDE_IP = "127.0.0.9"          # a stranger: not in any lab host's mynetworks
INSIDE_IP = "127.0.0.1"           # the student's own machine: in mynetworks


def pytest_addoption(parser: pytest.Parser) -> None:
    # Only seen when pytest is started on this directory (initial conftest);
    # from elsewhere the environment variable does the same.
    parser.addoption("--reliability-full", action="store_true", default=False,
                     help="run the reliability suite with the issue's full counts")


@dataclass(frozen=True)
class Scale:
    """How hard the suite pushes: the short form for CI, the full form on demand."""
    full: bool
    smtp_sessions: int
    imap_sessions: int
    load_seconds: float
    kill_points: int
    big_data_mb: int
    examples: int            # hypothesis max_examples for socket-level streams


SHORT = Scale(False, smtp_sessions=20, imap_sessions=5, load_seconds=3.0, kill_points=4,
              big_data_mb=20, examples=40)
FULL = Scale(True, smtp_sessions=200, imap_sessions=50, load_seconds=60.0, kill_points=12,
             big_data_mb=100, examples=150)


def is_full(config: pytest.Config) -> bool:
    """True for ``--reliability-full`` or ``LABMAIL_RELIABILITY_FULL=1``."""
    if os.environ.get("LABMAIL_RELIABILITY_FULL") == "1":
        return True
    try:
        return bool(config.getoption("--reliability-full"))
    except ValueError:       # option not registered (pytest started elsewhere)
        return False


@pytest.fixture(scope="session")
def scale(pytestconfig: pytest.Config) -> Scale:
    """The counts of this run (short or full form)."""
    return FULL if is_full(pytestconfig) else SHORT


def smtp_from(endpoint: Tuple[str, int], source_ip: str = OUTSIDE_IP,
              timeout: float = 10) -> smtplib.SMTP:
    """An SMTP client connected from *source_ip* (any 127/8 address works on Linux)."""
    s = smtplib.SMTP(timeout=timeout, local_hostname="client.example.net",
                     source_address=(source_ip, 0))
    s.connect(*endpoint)
    return s


def read_reply(f) -> Tuple[int, str]:
    """One (possibly multi-line) SMTP reply from a socket file: (code, last line's text)."""
    for _ in range(100):
        line = f.readline().decode("utf-8", "replace").rstrip("\r\n")
        if len(line) < 4 or line[3] != "-":
            return (int(line[:3]) if line[:3].isdigit() else -1), line[4:]
    raise AssertionError("endless reply")


def dialog(endpoint: Tuple[str, int], commands: Sequence[str],
           source_ip: str = OUTSIDE_IP) -> List[Tuple[int, str]]:
    """EHLO, then each command line (sent as UTF-8 bytes); every (code, text) reply."""
    with socket.create_connection(endpoint, timeout=10, source_address=(source_ip, 0)) as s:
        f = s.makefile("rb")
        read_reply(f)
        replies = []
        for line in ["EHLO client.example.net", *commands]:
            s.sendall(line.encode("utf-8") + b"\r\n")
            replies.append(read_reply(f))
        s.sendall(b"QUIT\r\n")
        return replies


def snapshot(root: Path) -> Dict[str, int]:
    """Every file under *root* with its size (to spot writes outside a state dir)."""
    out: Dict[str, int] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            try:
                out[str(p)] = p.stat().st_size
            except OSError:
                pass
    return out


def rss_kb(pid: int) -> int:
    """Resident set size of *pid* in KiB, from /proc (psutil is not a dependency)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def serve(state: Path, *extra: str, timeout: float = 30
          ) -> Tuple[subprocess.Popen, Dict[str, Tuple[str, int]]]:
    """Start ``labmail serve`` on *state*; return the process and its endpoints."""
    proc = subprocess.Popen([sys.executable, "-m", "labmail", "serve", "--state", str(state),
                             "--ports", "auto", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    endpoints: Dict[str, Tuple[str, int]] = {}
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or line.strip() == "ready":
            break
        name, _, where = line.strip().partition(" ")
        if ":" in where and name != "state":
            ip, _, port = where.rpartition(":")
            endpoints[name] = (ip, int(port))
    if "smtp" not in endpoints:
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        pytest.fail(f"labmail serve did not start: {err}")
    return proc, endpoints


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process does not leave within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
