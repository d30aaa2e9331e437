"""labmail sendmail: a message on stdin goes into the host's queue (postdrop/pickup)."""
from __future__ import annotations

import email
import subprocess
import sys

import pytest

from labmail.commands import sendmail
from conftest import wait_for

MSG = b"From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: by sendmail\n\nhello\n"


def _run(state, *args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "labmail", "sendmail", "--state", str(state),
                           *args], input=stdin, capture_output=True, timeout=60)


def _new(host, user):
    return sorted((host.maildir_path(user) / "new").iterdir())


def test_running_lab_picks_up_and_delivers(host):
    r = _run(host.state_dir, "bob@example.com", stdin=MSG)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: len(_new(host, "bob")) == 1, timeout=5)
    [path] = _new(host, "bob")
    msg = email.message_from_bytes(path.read_bytes())
    assert msg["Subject"] == "by sendmail"
    assert msg["Return-Path"] == f"<{sendmail.qualify(_user(), 'mail.example.com')}>"
    received = " ".join(msg["Received"].split())
    assert received.startswith("by mail.example.com (labmail, from userid ")
    qid = received.split(" id ")[1].split(";")[0]
    assert msg["Message-Id"].endswith(f".{qid}@mail.example.com>")
    assert msg["Date"]
    log = host.maillog.read()
    assert f"postfix/pickup[" in log and f"{qid}: uid=" in log
    assert f"{qid}: message-id=<" in log
    assert wait_for(lambda: f"{qid}: removed" in host.maillog.read())


def _user():
    import getpass
    return getpass.getuser()


def test_dash_t_extracts_recipients_and_removes_bcc(host):
    msg = (b"Subject: t\nTo: alice\nCc: Bob <bob@example.com>\nBcc: alice@example.com,\n"
           b" bob@example.com\n\nbody\n")
    qid = sendmail.submit(host.state_dir, msg, [], sender="carol@example.net", extract=True)
    host.flush()
    assert wait_for(lambda: len(_new(host, "alice")) >= 1 and len(_new(host, "bob")) >= 1)
    host.settle()
    data = _new(host, "bob")[0].read_bytes()
    assert b"Bcc" not in data
    assert b"Return-Path: <carol@example.net>" in data
    log = host.maillog.read()
    assert f"{qid}: to=<alice@mail.example.com>" in log     # unqualified: @myorigin
    assert f"{qid}: to=<bob@example.com>" in log
    assert f"{qid}: to=<alice@example.com>" in log


def test_lone_dot_ends_the_message_unless_oi(tmp_path):
    import io
    data = b"Subject: x\n\none\n.\ntwo\n"
    assert sendmail.read_message(io.BytesIO(data), False) == b"Subject: x\n\none\n"
    assert sendmail.read_message(io.BytesIO(data), True) == data


def test_oi_keeps_dot_lines_and_f_sets_sender(lab, tmp_path):
    host = lab.add_host("mail.example.com", users={"alice": "x"})
    lab.start()
    host.stop()                      # queued while the host is down, delivered on start
    r = _run(host.state_dir, "-oi", "-f", "root@example.com", "-F", "Sys Admin", "alice",
             stdin=b"Subject: dots\n\n.\nafter\n")
    assert r.returncode == 0, r.stderr
    assert len(host.queue) == 1
    qf = host.queue.entries()[0]
    assert qf.sender == "root@example.com"
    assert qf.content.endswith(b"\r\n.\r\nafter\r\n")
    assert b"From: Sys Admin <root@example.com>\r\n" in qf.content
    host.start()
    assert wait_for(lambda: len(_new(host, "alice")) == 1, timeout=5)


def test_no_recipients_is_fatal_like_postfix(host):
    r = _run(host.state_dir, stdin=MSG)
    assert r.returncode == sendmail.EX_TEMPFAIL
    assert r.stderr.decode().endswith(
        "): Recipient addresses must be specified on the command line or via the -t option\n")
    r = _run(host.state_dir, "-t", stdin=b"Subject: none\n\nx\n")
    assert r.returncode == sendmail.EX_TEMPFAIL
    assert b"No recipient addresses found in message header" in r.stderr
    assert len(host.queue) == 0


def test_bad_state_dir_and_bad_option(tmp_path):
    r = _run(tmp_path / "nowhere", "alice", stdin=MSG)
    assert r.returncode == sendmail.EX_USAGE
    assert b"no queue directory" in r.stderr
    (tmp_path / "var" / "spool" / "postfix").mkdir(parents=True)
    r = _run(tmp_path, "-X", "alice", stdin=MSG)   # -X takes no value here: unknown option
    assert r.returncode != 0


def test_unreadable_stdin_is_noinput(tmp_path):
    (tmp_path / "var" / "spool" / "postfix").mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "labmail", "sendmail", "--state", str(tmp_path),
                        "alice"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                       )
    assert r.returncode in (0, 75)    # /dev/null is an empty message: queued or no queue dirs
    r = subprocess.run([sys.executable, "-c",
                        "import os, sys; os.close(0); from labmail.cli import main; "
                        f"sys.exit(main(['sendmail', '--state', {str(tmp_path)!r}, 'alice']))"],
                       capture_output=True, timeout=60)
    assert r.returncode == sendmail.EX_NOINPUT, r.stderr


def test_header_helpers():
    assert sendmail.header_recipients(b"To: a@x, B <b@y>\r\nCc: c@z\r\n\r\nTo: no@body\r\n") == \
        ["a@x", "b@y", "c@z"]
    assert sendmail.drop_bcc(b"A: 1\nBcc: x@y,\n z@w\nB: 2\n\nBcc: body\n") == \
        b"A: 1\nB: 2\n\nBcc: body\n"
    assert sendmail.qualify("alice", "example.com") == "alice@example.com"
    assert sendmail.qualify("", "example.com") == ""


# -- property tests of the header helpers ------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

_local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1,
                 max_size=12).filter(lambda s: s[0] not in ".-" and s[-1] != "." and ".." not in s)
_addr = st.builds(lambda l, d: f"{l}@{d}.example", _local,
                  st.sampled_from(["a", "b", "mail", "x-y"]))
_field = st.tuples(st.sampled_from(["To", "Cc", "Bcc", "Subject", "X-Note"]),
                   st.lists(_addr, min_size=1, max_size=3), st.booleans())


def _header(fields):
    lines = []
    for name, addrs, folded in fields:
        value = (",\r\n ".join(addrs) if folded else ", ".join(addrs)) if name != "Subject" \
            else "hello"
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode()


@settings(max_examples=150, deadline=None)
@given(st.lists(_field, max_size=6), st.binary(max_size=200))
def test_drop_bcc_removes_every_bcc_line_and_keeps_the_rest(fields, body):
    data = _header(fields) + b"\r\n" + body
    out = sendmail.drop_bcc(data)
    head, rest = sendmail.split_message(out)
    assert rest == body
    assert not any(ln.lower().startswith(b"bcc:") for ln in head.splitlines())
    kept = [f for f in fields if f[0] != "Bcc"]
    assert head == _header(kept) + b"\r\n"


@settings(max_examples=150, deadline=None)
@given(st.lists(_field, max_size=6))
def test_header_recipients_are_the_to_cc_bcc_addresses_in_order(fields):
    data = _header(fields) + b"\r\nTo: not-a-header@body.example\r\n"
    want = []
    for name in ("To", "Cc", "Bcc"):
        for n, addrs, _ in fields:
            if n == name:
                want += addrs
    assert sendmail.header_recipients(data) == want
