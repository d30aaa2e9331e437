"""The labmail command: help texts, and `labmail serve` as a real process."""
from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time

import pytest

from conftest import wait_for
from labmail.cli import build_parser, main


def test_help_explains_itself(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "serve" in sub.choices
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0, name
        assert capsys.readouterr().out.strip(), name


def _serve(*args, state):
    proc = subprocess.Popen([sys.executable, "-m", "labmail", "serve", "--ports", "auto",
                             "--state", str(state), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.strip() == "ready":
            return proc, lines
    proc.kill()
    raise AssertionError(f"serve did not get ready: {lines} {proc.stderr.read()}")


def test_serve_prints_services_then_ready_and_exits_0_on_sigterm(tmp_path):
    proc, lines = _serve("--user", "alice:secret", state=tmp_path)
    try:
        smtp = next(ln for ln in lines if ln.startswith("smtp "))
        addr, port = smtp.split()[1].rsplit(":", 1)
        with smtplib.SMTP(addr, int(port), local_hostname="laptop") as s:
            s.sendmail("bob@example.org", ["alice@example.com"], b"Subject: x\r\n\r\nhi\r\n")
        new = tmp_path / "mail.example.com" / "home" / "alice" / "Maildir" / "new"
        assert wait_for(lambda: len(list(new.iterdir())) == 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_serve_sigint_exits_0(tmp_path):
    proc, _ = _serve(state=tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0


def test_serve_reads_main_cf_from_config_dir(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "main.cf").write_text("compatibility_level = 3.6\nmyhostname = mx.example.net\nsmtpd_banner = $myhostname ESMTP\n"
                                  "home_mailbox = Maildir/\n")
    proc, lines = _serve("--hostname", "mx.example.net", "--config-dir", str(conf),
                         state=tmp_path / "state")
    try:
        addr, port = next(ln for ln in lines if ln.startswith("smtp ")).split()[1].rsplit(":", 1)
        with smtplib.SMTP(addr, int(port)) as s:
            assert s.docmd("NOOP")[0] == 250
            # the banner came from the student's main.cf
        import socket
        with socket.create_connection((addr, int(port)), timeout=5) as sock:
            assert sock.recv(200).startswith(b"220 mx.example.net ESMTP\r\n")
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_bad_user_option_is_a_usage_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "labmail", "serve", "--user", "alice"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2
    assert "NAME:PASSWORD" in res.stderr
