"""Two sessions on one mailbox: the same scripts against real Dovecot 2.3 and labmail.

Covers what RFC 3501 §5.2/§7.4.1 leave to the server and Dovecot settles on
the wire: the order of untagged updates (flag changes with the old numbers,
none for expunged messages, then EXPUNGE, EXISTS, RECENT when it changed),
ghosts (messages expunged elsewhere) answering FETCH and STORE with their last
flags, STORE applying to the folder's current flags, and keywords (listed in
the order they were first used, announced in ``* FLAGS``, also when SEARCH
names an unknown one).  Each script runs on a fresh mailbox per server.
Skipped when dovecot is absent.
"""
from __future__ import annotations

import pytest

from labmail.access.imap.realdovecot import RealDovecotImap, dovecot_available

from test_imap_dovecot import Raw, _normalise  # noqa: E402
from test_imap_server import FakeHost, LoopThread, start_imap_server  # noqa: E402

pytestmark = pytest.mark.realtool

MESSAGES = [b"Subject: m%d\r\nFrom: a@example.com\r\n\r\nbody %d\r\n" % (i, i) for i in range(1, 6)]

# (session, command) -- both sessions log in and select INBOX first
SCRIPTS = {
    "flags_then_expunges_then_exists": [
        ("B", b"STORE 1,4 +FLAGS (\\Deleted)"), ("B", b"STORE 2 +FLAGS (\\Answered)"),
        ("B", b"STORE 5 +FLAGS (\\Flagged)"), ("B", b"EXPUNGE"),
        ("B", b"APPEND INBOX {9+}\r\nSubject: "), ("A", b"NOOP"), ("A", b"FETCH 1:* (UID FLAGS)")],
    "ghost_keeps_its_last_flags": [
        ("B", b"STORE 2 +FLAGS (\\Flagged)"), ("A", b"FETCH 2 (FLAGS)"),
        ("B", b"STORE 2 +FLAGS (\\Deleted)"), ("B", b"EXPUNGE"), ("A", b"FETCH 2 (FLAGS)"),
        ("A", b"STORE 2 +FLAGS (\\Seen)"), ("A", b"SEARCH ALL"), ("A", b"NOOP")],
    "store_keeps_other_sessions_flags": [
        ("B", b"STORE 2 +FLAGS (\\Flagged)"), ("A", b"STORE 2 +FLAGS (\\Seen)"),
        ("B", b"STORE 3 +FLAGS (\\Flagged)"), ("A", b"SEARCH FLAGGED"),
        ("B", b"STORE 1 +FLAGS (\\Deleted)"), ("B", b"EXPUNGE"), ("A", b"UID FETCH 1:* (FLAGS)"),
        ("A", b"STORE 1 FLAGS (\\Seen)"), ("A", b"UID STORE 1 +FLAGS (\\Answered)"),
        ("A", b"COPY 1 INBOX"), ("A", b"NOOP")],
    "own_expunge_and_move_update_recent": [
        ("A", b"STORE 1 +FLAGS (\\Deleted)"), ("A", b"EXPUNGE"), ("A", b"MOVE 1 Trash"),
        ("B", b"NOOP")],
    "keywords_in_first_use_order": [
        ("B", b"STORE 1 +FLAGS (foo)"), ("A", b"NOOP"), ("B", b"STORE 2 +FLAGS (bar $Junk)"),
        ("A", b"SEARCH KEYWORD foo"), ("A", b"SEARCH UNKEYWORD foo"),
        ("A", b"STORE 3 +FLAGS (\\Seen)"), ("A", b"SEARCH KEYWORD \\Seen"),
        ("A", b"SEARCH UNKEYWORD \\Seen"), ("B", b"STORE 1 -FLAGS (foo)"), ("A", b"NOOP"),
        ("B", b"SELECT INBOX"), ("A", b"EXAMINE INBOX")],
    "silent_and_uid_store": [
        ("B", b"STORE 1 +FLAGS (\\Flagged)"), ("A", b"STORE 1:2 +FLAGS.SILENT (\\Seen)"),
        ("A", b"UID STORE 3 +FLAGS (\\Answered)"), ("B", b"STORE 3 +FLAGS (\\Deleted)"),
        ("B", b"EXPUNGE"), ("A", b"STORE 3 +FLAGS (\\Draft)"), ("A", b"UID STORE 3 +FLAGS (\\Draft)"),
        ("A", b"UID FETCH 1:* (FLAGS)"), ("A", b"FETCH 1:* (FLAGS)")],
    "expunge_uses_the_folders_flags": [
        ("B", b"STORE 2 +FLAGS (\\Deleted)"), ("A", b"STORE 3 +FLAGS.SILENT (\\Deleted)"),
        ("B", b"STORE 3 -FLAGS (\\Deleted)"), ("A", b"EXPUNGE"), ("B", b"NOOP"),
        ("A", b"STORE 1 +FLAGS (\\Deleted)"), ("A", b"CLOSE"), ("B", b"NOOP")],
    "search_names_an_unknown_keyword": [
        ("A", b"SEARCH KEYWORD nosuch"), ("A", b"SEARCH OR KEYWORD other NOT KEYWORD nosuch"),
        ("B", b"NOOP"), ("A", b"EXAMINE INBOX"), ("B", b"SELECT INBOX")],
}


def _run(port: int, steps) -> bytes:
    sessions = {"A": Raw(port), "B": Raw(port)}
    for s in sessions.values():
        s.cmd(b"LOGIN alice secret")
    for s in sessions.values():
        s.cmd(b"SELECT INBOX")
    out = []
    for who, command in steps:
        out.append(b"%s> %s\r\n" % (who.encode(), command.split(b"\r\n")[0]))
        out.append(_normalise(sessions[who].cmd(command)))
    for s in sessions.values():
        s.close()
    return b"".join(out)


def _fill(port: int) -> None:
    c = Raw(port)
    c.cmd(b"LOGIN alice secret")
    for m in MESSAGES:
        c.cmd(b"APPEND INBOX {%d+}\r\n" % len(m) + m)
    c.close()


@pytest.fixture(scope="module")
def dovecot_available_or_skip():
    if not dovecot_available():
        pytest.skip("dovecot not installed; apt-get install dovecot-imapd")


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_two_sessions_like_dovecot(dovecot_available_or_skip, tmp_path, name):
    d = RealDovecotImap({"alice": "secret"})
    try:
        d.start()
    except RuntimeError as exc:
        d.cleanup()
        pytest.skip(f"dovecot did not start: {exc}")
    try:
        _fill(d.port)
        expected = _run(d.port, SCRIPTS[name])
    finally:
        d.cleanup()
    host = FakeHost(tmp_path)
    host.add_user("alice", "secret")
    lt = LoopThread()
    server = lt.run(start_imap_server(host, "127.0.0.1", 0))
    try:
        port = server.sockets[0].getsockname()[1]
        _fill(port)
        got = _run(port, SCRIPTS[name])
    finally:
        lt.close_server(server)
        lt.stop()
    assert got.decode() == expected.decode()
