"""Differential test: the same scripted POP3 session against the real Dovecot
and against labmail gives the same replies and the same message bytes."""
from __future__ import annotations

import re
import socket

import pytest

from labmail.access.pop3.realdovecot import RealDovecot, dovecot_available
from labmail.access.pop3.testing import StandaloneHost, serve_in_thread

pytestmark = pytest.mark.realtool

MESSAGES = {
    "1700000001.M1P1.host": b"From: bob@example.org\nTo: alice@example.com\nSubject: one\n\nHello\n.dotline\n..two dots\nend\n",
    "1700000002.M2P1.host": b"Subject: two\n\nline1\nline2\nline3\n",
    "1700000003.M3P1.host": b"Subject: no final newline\n\nbody without newline",
    "1700000004.M4P1.host": b"Subject: crlf\r\nX-Mixed: yes\n\r\nalready crlf\r\nand lf\n",
}

SCRIPT = [
    "CAPA", "STAT", "FOO", "PASS x", "APOP alice 00000000000000000000000000000000",
    "AUTH", "AUTH LOGIN", "*", "AUTH PLAIN", "*", "AUTH CRAM-MD5", "USER alice", "PASS secret",
    "STAT", "LIST", "LIST 2", "LIST 9", "LIST 0", "LIST x", "LIST 1 2", "LIST 4294967296",
    "LIST " + "1" * 25, "list  3", "UIDL", "UIDL 2", "UIDL 9",
    "RETR 1", "RETR 2", "RETR 3", "RETR 4", "RETR", "RETR 1 2",
    "TOP 1 0", "TOP 1 2", "TOP 3 1", "TOP 4 1", "TOP 2 99999999999", "TOP 1", "TOP 1 x", "TOP 1 5 6",
    "DELE 2", "DELE 2", "RETR 2", "LIST 2", "TOP 2 1", "UIDL 2", "STAT", "LIST", "UIDL",
    "RSET", "STAT", "DELE 1", "DELE 3", "NOOP", "NOOP x", "FOO", "USER alice", "STLS", "",
    "CAPA", "QUIT",
]
LAB_HOSTS: list = []      # the lab side of the `both` fixture (for its log)
MULTI_ALWAYS = {"CAPA"}
MULTI_NO_ARG = {"LIST", "UIDL", "AUTH"}
MULTI_WITH_ARG = {"RETR", "TOP"}


def talk(ip: str, port: int, script, source: str = "127.0.0.1"):
    """Run *script*; returns the replies (bytes, multi-line ones whole)."""
    s = socket.create_connection((ip, port), timeout=10, source_address=(source, 0))
    f = s.makefile("rb")
    replies = [f.readline()]
    for cmd in script:
        try:
            s.sendall(cmd.encode() + b"\r\n")
            first = f.readline()
        except OSError:
            first = b""
        if not first:
            replies.append(b"<closed>")
            break
        word, _, arg = cmd.partition(" ")
        word = word.upper()
        multi = first.startswith(b"+OK") and (word in MULTI_ALWAYS
                                                or (word in MULTI_NO_ARG and not arg)
                                                or word in MULTI_WITH_ARG)
        data = first
        while multi:
            ln = f.readline()
            data += ln
            if ln in (b".\r\n", b""):
                break
        replies.append(data)
    s.close()
    return replies


def normalise(reply: bytes) -> bytes:
    """Blank out what legitimately differs: unique ids' UIDVALIDITY half, greeting."""
    reply = re.sub(rb"(\d+ [0-9a-f]{8})[0-9a-f]{8}", rb"\1<v>", reply)
    return reply.replace(b"IMPLEMENTATION labmail\r\n", b"")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    if not dovecot_available():
        pytest.skip("dovecot not installed; apt-get install dovecot-pop3d")
    # its own temporary directory: Dovecot's users must be able to enter it
    dv = RealDovecot({"alice": "secret"})
    for name, data in MESSAGES.items():
        dv.deliver("alice", name, data)
    dv.start()
    host = StandaloneHost(tmp_path_factory.mktemp("lab"))
    host.write_dovecot_conf(greeting="Dovecot ready.", disable_plaintext_auth=True, ssl="no")
    host.add_user("alice", "secret")
    md = host.path("/home/alice/Maildir")
    for name, data in MESSAGES.items():
        (md / "new" / name).write_bytes(data)
    LAB_HOSTS[:] = [host]
    try:
        with serve_in_thread(host) as (ip, port):
            yield dv, (ip, port)
    finally:
        dv.cleanup()


def test_same_replies_and_bytes(both):
    dv, (ip, port) = both
    theirs = talk(dv.ip, dv.port, SCRIPT)
    ours = talk(ip, port, SCRIPT)
    assert len(ours) == len(theirs)
    for cmd, a, b in zip(["<greeting>"] + SCRIPT, theirs, ours):
        assert normalise(b) == normalise(a), f"after {cmd!r}"


def test_auth_login_with_initial_response(both):
    dv, (ip, port) = both
    script = ["AUTH LOGIN YWxpY2U=", "c2VjcmV0", "STAT", "QUIT"]
    assert talk(ip, port, script)[1:] == talk(dv.ip, dv.port, script)[1:]


def test_deletes_happen_at_quit_in_both(both):
    dv, (ip, port) = both
    theirs = talk(dv.ip, dv.port, ["USER alice", "PASS secret", "STAT", "QUIT"])
    ours = talk(ip, port, ["USER alice", "PASS secret", "STAT", "QUIT"])
    assert theirs == ours     # the previous session dropped nothing... and deleted 1 and 3


def test_plaintext_refused_from_other_address(both):
    dv, (ip, port) = both
    script = ["CAPA", "USER alice", "PASS secret", "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "AUTH", "QUIT"]
    theirs = talk(dv.ip, dv.port, script, source="127.0.0.9")
    ours = talk(ip, port, script, source="127.0.0.9")
    assert [normalise(x) for x in ours[1:]] == [normalise(x) for x in theirs[1:]]


def talk_tls(ip, port, before, after, context, source="127.0.0.9", implicit=False):
    """Plain commands, STLS (unless implicit), then commands inside TLS."""
    raw = socket.create_connection((ip, port), timeout=10, source_address=(source, 0))
    s = context.wrap_socket(raw, server_hostname="localhost") if implicit else raw
    f = s.makefile("rb")
    out = [f.readline()]

    def run(cmds):
        for cmd in cmds:
            s.sendall(cmd.encode() + b"\r\n")
            data = f.readline()
            word = cmd.split(" ")[0].upper()
            multi = word in MULTI_ALWAYS | MULTI_WITH_ARG or (word in MULTI_NO_ARG and " " not in cmd)
            while data.startswith(b"+OK") and multi and not data.endswith(b"\r\n.\r\n"):
                data += f.readline()
            out.append(data)
    run(before)
    if not implicit:
        s.sendall(b"STLS\r\n")
        out.append(f.readline())
        s = context.wrap_socket(raw, server_hostname="localhost")
        f = s.makefile("rb")
    run(after)
    s.close()
    return [normalise(x) for x in out[1:]]


@pytest.fixture(scope="module")
def both_tls():
    import tempfile
    from pathlib import Path
    from labmail.access.pop3.testing import self_signed
    if not dovecot_available():
        pytest.skip("dovecot not installed; apt-get install dovecot-pop3d")
    d = Path(tempfile.mkdtemp(prefix="labmail-diff-tls-"))
    d.chmod(0o755)
    server_ctx, client_ctx = self_signed("localhost", d)
    dv = RealDovecot({"alice": "secret"}, tls_files=(d / "cert.pem", d / "key.pem"))
    dv.deliver("alice", "1700000001.M1P1.host", MESSAGES["1700000001.M1P1.host"])
    dv.start()
    host = StandaloneHost(tempfile.mkdtemp(prefix="labmail-diff-lab-"))
    host.write_dovecot_conf(greeting="Dovecot ready.", disable_plaintext_auth=True, ssl="yes")
    host.add_user("alice", "secret")
    md = host.path("/home/alice/Maildir")
    (md / "new" / "1700000001.M1P1.host").write_bytes(MESSAGES["1700000001.M1P1.host"])
    try:
        with serve_in_thread(host, ssl_context=server_ctx) as plain, \
                serve_in_thread(host, ssl_context=server_ctx, implicit_tls=True) as tls:
            yield dv, plain, tls, client_ctx
    finally:
        dv.cleanup()


def test_stls_from_another_address(both_tls):
    dv, (ip, port), _, ctx = both_tls
    before = ["CAPA", "USER alice", "AUTH"]
    after = ["CAPA", "STLS", "AUTH", "USER alice", "PASS secret", "STAT", "RETR 1", "QUIT"]
    theirs = talk_tls(dv.ip, dv.port, before, after, ctx)
    ours = talk_tls(ip, port, before, after, ctx)
    assert ours == theirs


def test_implicit_tls(both_tls):
    dv, _, (ip, port), ctx = both_tls
    cmds = ["CAPA", "STLS", "USER alice", "PASS secret", "STAT", "QUIT"]
    theirs = talk_tls(dv.ip, dv.tls_port, [], cmds, ctx, implicit=True)
    ours = talk_tls(ip, port, [], cmds, ctx, implicit=True)
    assert ours == theirs


def _log_messages(lines):
    """Log lines without what differs by nature: time, pids, session ids, durations."""
    out = []
    for ln in lines:
        if "pop3" not in ln or " auth: " in ln:     # the lab's extra auth_verbose-style lines
            continue
        msg = re.sub(r"^.*?(pop3-login|pop3\()", r"\1", ln)
        msg = re.sub(r"session=<[^>]+>|mpid=\d+|<\d+><[^>]+>|in \d+ secs", "", msg)
        out.append(msg.replace("Info: ", ""))
    return out


def test_log_lines_match(both):
    import time
    dv, (ip, port) = both
    host_log = both_host_log(both)
    scenarios = [(["USER alice", "PASS secret", "TOP 1 0", "QUIT"], "127.0.0.1"),
                 (["USER alice", "PASS nope", "QUIT"], "127.0.0.1"),
                 (["FOO", "BAR", "BAZ"], "127.0.0.1"),
                 (["USER alice", "QUIT"], "127.0.0.9"),
                 (["USER alice"], "127.0.0.1")]
    theirs_before, ours_before = len(dv.log().splitlines()), len(host_log())
    for script, source in scenarios:
        talk(dv.ip, dv.port, script, source=source)
        talk(ip, port, script, source=source)
        time.sleep(0.3)      # both write the end of a session after the client left
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        theirs = _log_messages(dv.log().splitlines()[theirs_before:])
        ours = _log_messages(host_log()[ours_before:])
        if len(theirs) >= 6 and ours == theirs:     # a loaded machine may write a line late
            break
        time.sleep(0.1)
    assert ours == theirs


def both_host_log(both):
    return lambda: LAB_HOSTS[0].maillog.lines()


SPOOL = (b"From a@example.com Fri Nov 27 09:00:00 2026\nSubject: one\nStatus: RO\nX-Status: F\n"
         b"Content-Length: 3\n\n1\n\n"
         b"From b@example.com Fri Nov 27 09:01:00 2026\nSubject: two\nX-UID: 5\n\n>From x\n2\n\n"
         b"From c@example.com Fri Nov 27 09:02:00 2026\nSubject: three\n\n.dot\nend\n\n")


def test_mbox_inbox_same_as_dovecot(tmp_path):
    """An mbox INBOX: the bookkeeping headers are hidden, >From stays, QUIT rewrites."""
    if not dovecot_available():
        pytest.skip("dovecot not installed; apt-get install dovecot-pop3d")
    location = "mbox:~/mail:INBOX=~/spool"
    dv = RealDovecot({"alice": "secret"}, mail_location=location)
    home = dv.home("alice")
    (home / "mail").mkdir(parents=True)
    (home / "spool").write_bytes(SPOOL)
    host = StandaloneHost(tmp_path)
    host.write_dovecot_conf(greeting="Dovecot ready.", mail_location=location, ssl="no")
    host.add_user("alice", "secret")
    host.path("/home/alice/spool").write_bytes(SPOOL)
    script = ["USER alice", "PASS secret", "STAT", "LIST", "RETR 1", "RETR 2", "RETR 3",
              "TOP 3 1", "DELE 2", "QUIT"]
    try:
        dv.deliver("alice", "x", b"")          # owns the files for Dovecot's user
        (home / "Maildir" / "new" / "x").unlink()
        dv.start()
        theirs = talk(dv.ip, dv.port, script)
        with serve_in_thread(host) as (ip, port):
            ours = talk(ip, port, script)
        assert [normalise(x) for x in ours] == [normalise(x) for x in theirs]
        again = ["USER alice", "PASS secret", "LIST", "RETR 2", "QUIT"]
        theirs = talk(dv.ip, dv.port, again)
        with serve_in_thread(host) as (ip, port):
            ours = talk(ip, port, again)
        assert ours == theirs
    finally:
        dv.cleanup()
