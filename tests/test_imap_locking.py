"""A held mailbox lock: the waiting session stalls alone, then goes on as Dovecot does.

Dovecot 2.3 (seen with ``mail_max_lock_timeout = 1s`` and a live holder of
``dovecot-uidlist.lock``): SELECT waits for the lock, then answers ``OK``
with the messages that already had uids; a file that arrived meanwhile gets
its uid at a later sync.  No ``NO [INUSE]``.  (With the default timeout it
also sends ``* NO Mailbox is locked, will abort in N seconds`` every 30 s;
the lab's wait is shorter than that.)
"""
from __future__ import annotations

import imaplib
import os
import threading
import time

import pytest

import labmail.store.maildir as maildir_mod
from labmail.access.imap.realdovecot import RealDovecotImap, dovecot_available

from test_imap_server import connect, imap  # noqa: F401  (fixture)

NEW_FILE = b"Subject: two\r\n\r\nsecond\r\n"


def _held_lock_scenario(port: int, maildir, user: str, password: str, prepare=None):
    """SELECT while a live process holds the uidlist lock and a new file waits."""
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    (maildir / "new" / "2000000000.M2P2.lab").write_bytes(NEW_FILE)
    lock = maildir / "dovecot-uidlist.lock"
    lock.write_text(f"{os.getpid()}\n")
    os.chmod(lock, 0o666)
    if prepare is not None:
        prepare()          # Dovecot's mail processes run as another user
    try:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        m.login(user, password)
        typ, data = m.select("INBOX")
        data = list(data)        # imaplib keeps adding later EXISTS to that list
    finally:
        lock.unlink(missing_ok=True)
    typ2, data2 = m.noop()
    exists_after = m.untagged_responses.get("EXISTS", [data[0]])[-1]
    m.logout()
    return typ, data, exists_after


def test_select_under_a_held_lock_answers_ok_with_the_known_messages(imap, monkeypatch):
    host, port = imap
    monkeypatch.setattr(maildir_mod, "LOCK_TIMEOUT", 2.0)
    host.store("alice").folder("INBOX").append(b"Subject: one\r\n\r\nfirst\r\n")
    host.store("bob").folder("INBOX").append(b"Subject: hi bob\r\n\r\nx\r\n")
    result = {}

    def alice() -> None:
        result["alice"] = _held_lock_scenario(port, host.path("/home/alice/Maildir"),
                                              "alice", "secret")
        result["alice_done"] = time.monotonic()
    t = threading.Thread(target=alice, daemon=True)
    t.start()
    time.sleep(0.2)
    # bob's session runs while alice's SELECT waits for her lock
    m = connect(port, "bob", "hunter2")
    assert m.select("INBOX") == ("OK", [b"1"])
    m.logout()
    bob_done = time.monotonic()
    t.join(10)
    assert result["alice"] == ("OK", [b"1"], b"2")   # old view, then the new mail at NOOP
    assert bob_done < result["alice_done"]            # bob did not wait behind alice


def test_pipelined_commands_keep_their_order(imap):
    """Commands run in the worker pool still answer in the order they came."""
    host, port = imap
    host.store("alice").folder("INBOX").append(b"Subject: one\r\n\r\nfirst\r\n")
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.recv(1000)
        cmds = [b"a LOGIN alice secret", b"b SELECT INBOX", b"c STORE 1 +FLAGS (\\Flagged)",
                b"d FETCH 1 (FLAGS)", b"e NOOP", b"f LOGOUT"]
        s.sendall(b"".join(c + b"\r\n" for c in cmds))
        buf = b""
        deadline = time.monotonic() + 5
        while b"f OK" not in buf and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    tags = [line.split(b" ")[0] for line in buf.split(b"\r\n") if line[:1] in b"abcdef" and line]
    assert tags == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert b"* 1 FETCH (FLAGS (\\Flagged \\Recent))" in buf


@pytest.mark.realtool
def test_dovecot_answers_select_ok_under_a_held_lock(tmp_path):
    if not dovecot_available():
        pytest.skip("dovecot not installed; apt-get install dovecot-imapd")
    d = RealDovecotImap({"alice": "secret"}, extra_conf="mail_max_lock_timeout = 1s\n")
    try:
        d.start()
    except RuntimeError as exc:
        d.cleanup()
        pytest.skip(f"dovecot did not start: {exc}")
    try:
        d.place("alice", "1000000000.M1P1.lab", b"Subject: one\r\n\r\nfirst\r\n")
        d._chown()
        m = imaplib.IMAP4("127.0.0.1", d.port, timeout=10)
        m.login("alice", "secret")
        assert m.select("INBOX") == ("OK", [b"1"])     # uid 1 assigned
        m.logout()
        result = _held_lock_scenario(d.port, d.maildir("alice"), "alice", "secret",
                                     prepare=d._chown)
        assert result == ("OK", [b"1"], b"2")
    finally:
        d.cleanup()


def test_a_holder_killed_right_after_locking_is_taken_over_at_once(tmp_path):
    """The dot-lock appears with its pid already in it (link() of a written file):
    a holder SIGKILLed the moment the lock exists leaves a lock naming a dead
    process, taken over at once -- never an empty one that waits out its timeout."""
    import signal
    from labmail.store.locking import dotlock
    target = tmp_path / "dovecot-uidlist"
    pid = os.fork()
    if pid == 0:                       # the child: take the lock and die on the spot
        real_link = os.link

        def link_then_die(src, dst):
            real_link(src, dst)
            os.kill(os.getpid(), signal.SIGKILL)
        os.link = link_then_die
        try:
            with dotlock(target):
                pass
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    lock = tmp_path / "dovecot-uidlist.lock"
    assert lock.read_text().split()[0] == str(pid)
    with dotlock(target, timeout=2):      # a live-looking lock would raise MailboxLocked
        pass


def _pop3_stat_under_lock(endpoint, maildir, deliver, prepare=None):
    """STAT of a POP3 session opened while the uidlist lock is held and a new message waits."""
    import poplib
    deliver()
    lock = maildir / "dovecot-uidlist.lock"
    lock.write_text(f"{os.getpid()}\n")
    if prepare is not None:
        prepare()
    try:
        p = poplib.POP3(*endpoint, timeout=10)
        p.user("alice")
        p.pass_("secret")
        during = p.stat()[0]
        p.quit()
    finally:
        lock.unlink(missing_ok=True)
    p = poplib.POP3(*endpoint, timeout=10)
    p.user("alice")
    p.pass_("secret")
    after = p.stat()[0]
    p.quit()
    return during, after


def test_pop3_under_a_held_lock_shows_the_known_messages(tmp_path, monkeypatch):
    import smtplib
    import labmail
    monkeypatch.setattr(maildir_mod, "LOCK_TIMEOUT", 1.0)
    lab = labmail.Lab(ports="auto", state_dir=tmp_path / "lab", seed=7)
    host = lab.add_host("mail.example.com", users={"alice": "secret"})
    lab.start()
    try:
        def deliver():
            with smtplib.SMTP(*host.endpoints["smtp"], timeout=10) as s:
                s.sendmail("a@example.net", ["alice@mail.example.com"], b"Subject: x\r\n\r\nx\r\n")
            host.settle()
        deliver()
        import poplib
        p = poplib.POP3(*host.endpoints["pop3"], timeout=10)
        p.user("alice")
        p.pass_("secret")
        assert p.stat()[0] == 1            # uid 1 assigned
        p.quit()
        assert _pop3_stat_under_lock(host.endpoints["pop3"], host.maildir_path("alice"),
                                     deliver) == (1, 2)
    finally:
        lab.stop()


@pytest.mark.realtool
def test_dovecot_pop3_under_a_held_lock_shows_the_known_messages():
    from labmail.access.pop3.realdovecot import RealDovecot
    if not dovecot_available():
        pytest.skip("dovecot not installed; apt-get install dovecot-pop3d")
    d = RealDovecot({"alice": "secret"}, extra="mail_max_lock_timeout = 1s\n")
    try:
        d.start()
    except RuntimeError as exc:
        d.cleanup()
        pytest.skip(f"dovecot did not start: {exc}")
    try:
        import poplib
        d.deliver("alice", "1000000000.M1P1.lab", b"Subject: one\r\n\r\nx\r\n")
        p = poplib.POP3("127.0.0.1", d.port, timeout=10)
        p.user("alice")
        p.pass_("secret")
        assert p.stat()[0] == 1
        p.quit()
        got = _pop3_stat_under_lock(
            ("127.0.0.1", d.port), d.home("alice") / "Maildir",
            lambda: d.deliver("alice", "2000000000.M2P2.lab", b"Subject: two\r\n\r\nx\r\n"),
            prepare=d._chown)
        assert got == (1, 2)
    finally:
        d.cleanup()


def _append_under_lock(port: int, maildir, prepare=None):
    """APPEND while the uidlist lock is held; then what the folder holds once it is free."""
    from test_imap_dovecot import Raw
    c = Raw(port)
    c.cmd(b"LOGIN alice secret")
    c.cmd(b"SELECT INBOX")
    lock = maildir / "dovecot-uidlist.lock"
    lock.write_text(f"{os.getpid()}\n")
    if prepare is not None:
        prepare()
    try:
        m = b"Subject: two\r\n\r\nx\r\n"
        appended = c.cmd(b"APPEND INBOX {%d+}\r\n" % len(m) + m)
        stored = c.cmd(b"STORE 1 +FLAGS (\\Seen)")
    finally:
        lock.unlink(missing_ok=True)
    c.cmd(b"NOOP")
    uids = c.cmd(b"UID SEARCH ALL")
    c.close()
    text = appended.split(b"\r\n")[-2]
    return (text.split(b" (")[0].decode(), b"OK Store completed" in stored, uids.split(b"\r\n")[0])


def test_append_under_a_held_lock_fails_and_keeps_nothing(imap, monkeypatch):
    host, port = imap
    monkeypatch.setattr(maildir_mod, "LOCK_TIMEOUT", 0.5)
    host.store("alice").folder("INBOX").append(b"Subject: one\r\n\r\nfirst\r\n")
    got = _append_under_lock(port, host.path("/home/alice/Maildir"))
    assert got == ("T3 NO [SERVERBUG] Timeout while waiting for lock", True, b"* SEARCH 1")


@pytest.mark.realtool
def test_dovecot_append_under_a_held_lock_fails_and_keeps_nothing():
    if not dovecot_available():
        pytest.skip("dovecot not installed; apt-get install dovecot-imapd")
    d = RealDovecotImap({"alice": "secret"}, extra_conf="mail_max_lock_timeout = 1s\n")
    try:
        d.start()
    except RuntimeError as exc:
        d.cleanup()
        pytest.skip(f"dovecot did not start: {exc}")
    try:
        d.place("alice", "1000000000.M1P1.lab", b"Subject: one\r\n\r\nfirst\r\n")
        d._chown()
        got = _append_under_lock(d.port, d.maildir("alice"), prepare=d._chown)
        assert got == ("T3 NO [SERVERBUG] Timeout while waiting for lock", True, b"* SEARCH 1")
    finally:
        d.cleanup()
