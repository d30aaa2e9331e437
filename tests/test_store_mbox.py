"""mbox INBOX (/var/mail/user): POP3 over it, and no lost mail when the
delivery agent appends while a reader rewrites the file."""
from __future__ import annotations

import multiprocessing
import poplib

import pytest

from labmail.access.pop3.testing import StandaloneHost, serve_in_thread
from labmail.store import SEEN, open_store

MBOX_LOCATION = "mbox:~/mail:INBOX=/var/mail/%u"


def spool_deliver(path, i):
    """What Postfix's local does: lock the spool file, append a From_ line,
    the message (``From `` lines quoted as ``>From``) and a blank line."""
    import fcntl
    import os
    body = b"From: bob@example.org\nSubject: m%d\n\nbody %d\n>From the start\n" % (i, i)
    blob = b"From bob@example.org Fri Nov 27 09:00:00 2026\n" + body + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        os.write(fd, blob)
    finally:
        os.close(fd)


@pytest.fixture
def host(tmp_path):
    h = StandaloneHost(tmp_path)
    h.write_dovecot_conf(mail_location=MBOX_LOCATION)
    h.add_user("alice", "secret")
    for i in range(3):
        spool_deliver(h.path("/var/mail/alice"), i)
    return h


def test_pop3_reads_and_deletes_from_the_spool(host):
    spool = host.path("/var/mail/alice")
    with serve_in_thread(host) as (ip, port):
        p = poplib.POP3(ip, port, timeout=10)
        p.user("alice"); p.pass_("secret")
        assert p.stat()[0] == 3
        _, lines, _ = p.retr(2)
        assert b"Subject: m1" in lines and b">From the start" in lines   # mboxo quoting stays
        assert not any(ln.startswith(b"From ") for ln in lines)         # no From_ line
        p.dele(1)
        p.quit()
    text = spool.read_bytes()
    assert b"Subject: m0" not in text and text.count(b"\nFrom bob@example.org ") + 1 == 2
    store = open_store(MBOX_LOCATION, user="alice", home="/home/alice", map_path=host.path)
    inbox = store.folder("INBOX")
    msgs = inbox.messages()
    assert [m.uid for m in msgs] == [2, 3]
    assert SEEN in msgs[0].flags            # RETR marked it read: Status: RO
    assert b"Status: RO" in text


def _appender(path, start, count):
    for i in range(start, start + count):
        spool_deliver(path, i)


def test_no_mail_lost_while_appending_from_another_process(tmp_path):
    store = open_store(MBOX_LOCATION, user="alice", home="/home/alice",
                       map_path=lambda p: tmp_path / p.lstrip("/"))
    spool = tmp_path / "var/mail/alice"
    spool.parent.mkdir(parents=True)
    spool.touch()
    inbox = store.folder("INBOX")
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_appender, args=(spool, 0, 60))
    proc.start()
    removed = 0
    for _ in range(40):                      # bounded: rewrite while mail arrives
        msgs = inbox.messages()
        if msgs:
            removed += len(inbox.expunge([msgs[0].uid]))
            inbox.set_flags(msgs[-1].uid, {SEEN}) if len(msgs) > 1 else None
        if not proc.is_alive():
            break
    proc.join(30)
    assert proc.exitcode == 0
    assert len(inbox.messages()) == 60 - removed
