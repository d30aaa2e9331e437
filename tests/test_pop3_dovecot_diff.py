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
