"""The IMAP server over real sockets, driven by imaplib and imapclient."""
from __future__ import annotations

import asyncio
import imaplib
import threading
import time
from pathlib import Path

import pytest

from labmail.access.imap.samples import SAMPLES
from labmail.access.imap.server import start_imap_server
from labmail.clock import Clock, IdGenerator
from labmail.log import MailLog
from labmail.store import MaildirStore
from labmail.trace import TranscriptStore
from labmail.users import Accounts


class FakeHost:
    """The host attributes the IMAP server uses (COMMON.md), nothing more."""

    def __init__(self, root: Path) -> None:
        self.state_dir = root
        self.hostname = "mail.example.com"
        self.clock = Clock()
        self.ids = IdGenerator(7)
        self.maillog = MailLog(root / "var/log/maillog", self.hostname, self.clock, self.ids)
        self.trace = TranscriptStore(self.clock)
        self.users = Accounts(root)
        self._passwords = {}
        self._connections = set()

    def path(self, p: str) -> Path:
        return self.state_dir / p.lstrip("/")

    def add_user(self, name: str, password: str) -> None:
        self.users.add(name)
        self._passwords[name] = password

    def store(self, user: str) -> MaildirStore:
        return MaildirStore(self.path(self.users.home(user)) / "Maildir")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close_server(self, server) -> None:
        """Close *server* on its own loop (asyncio servers are not thread-safe)."""
        async def close():
            server.close()
            await asyncio.wait_for(server.wait_closed(), 5)
        self.run(close())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def imap(tmp_path):
    host = FakeHost(tmp_path)
    host.add_user("alice", "secret")
    host.add_user("bob", "hunter2")
    lt = LoopThread()
    server = lt.run(start_imap_server(host, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    yield host, port
    for conn in list(host._connections):
        lt.loop.call_soon_threadsafe(conn.transport.close)
    lt.close_server(server)
    lt.stop()


def connect(port: int, user: str = "alice", password: str = "secret") -> imaplib.IMAP4:
    m = imaplib.IMAP4("127.0.0.1", port, timeout=5)
    m.login(user, password)
    return m


def fill(host: FakeHost, user: str = "alice") -> None:
    inbox = host.store(user).folder("INBOX")
    for raw in SAMPLES.values():
        inbox.append(raw)


def test_login_select_fetch_logout(imap):
    host, port = imap
    fill(host)
    m = connect(port)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"6"]
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"Subject: Lunch on Friday?" in data[0][1]
    assert m.logout()[0] == "BYE"
    log = host.maillog.read()
    assert "imap-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1" in log
    assert "imap(alice)<" in log and "Disconnected: Logged out in=" in log


def test_imaplib_covers_the_commands(imap):
    host, port = imap
    fill(host)
    m = connect(port)
    assert m.create("Work")[0] == "OK"
    assert m.create("Work.Projects")[0] == "OK"
    typ, data = m.list()
    assert b'(\\HasChildren) "." Work' in data and b'(\\HasNoChildren \\Junk) "." Junk' in data
    assert m.rename("Work.Projects", "Work.Done")[0] == "OK"
    assert m.subscribe("Work")[0] == "OK"
    assert any(b"Work" in line for line in m.lsub()[1])
    assert m.unsubscribe("Work")[0] == "OK"
    typ, data = m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)")
    assert typ == "OK" and b"MESSAGES 6" in data[0]
    when = imaplib.Time2Internaldate(time.mktime((2026, 11, 2, 10, 0, 0, 0, 0, -1)))
    typ, data = m.append("Work", "(\\Seen $Label1)", when, SAMPLES["plain"].replace(b"\n", b"\r\n"))
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
    m.select("Work")
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE)")
    assert b"\\Seen" in data[0] and b"$Label1" in data[0] and b'02-Nov-2026' in data[0]
    assert m.check()[0] == "OK"
    assert m.close()[0] == "OK"
    m.select("INBOX")
    typ, data = m.search(None, '(OR FROM "alice" SUBJECT "report")')
    assert data == [b"1 3"]
    typ, data = m.uid("SEARCH", "SINCE", "1-Jan-2020", "LARGER", "300")
    assert typ == "OK" and data[0]
    typ, data = m.store("1", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"\\Flagged" in data[0]
    assert m.copy("1:2", "Work")[0] == "OK"
    typ, data = m.uid("COPY", "3", "Work")
    assert typ == "OK"
    typ, data = m._simple_command("MOVE", "4", "Trash")
    assert typ == "OK"
    m.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"4", b"1"]     # MOVE's EXPUNGE, then ours
    typ, data = m.namespace()
    assert data == [b'(("" ".")) NIL NIL']
    typ, data = m.fetch("1:*", "(UID ENVELOPE BODYSTRUCTURE)")
    assert typ == "OK" and len([d for d in data if isinstance(d, tuple) or d]) >= 4
    typ, data = m.fetch("1", "(RFC822)")
    assert data[0][1].startswith(b"Date: Fri, 27 Nov 2026 09:05:00 +0100\r\n")
    assert m._simple_command("UNSELECT")[0] == "OK"
    assert m.delete("Work.Done")[0] == "OK"
    m.logout()


def test_imapclient_folders_fetch_search_move(imap):
    imapclient = pytest.importorskip("imapclient")
    host, port = imap
    fill(host)
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5)
    c.login("alice", "secret")
    assert c.find_special_folder(imapclient.imapclient.SENT) == "Sent"
    assert c.find_special_folder(imapclient.imapclient.JUNK) == "Junk"
    info = c.select_folder("INBOX")
    assert info[b"EXISTS"] == 6 and info[b"UIDNEXT"] == 7
    res = c.fetch([1, 2], ["ENVELOPE", "BODYSTRUCTURE", "FLAGS", "RFC822.SIZE"])
    env = res[1][b"ENVELOPE"]
    assert env.subject == b"Lunch on Friday?" and env.from_[0].mailbox == b"alice"
    assert res[2][b"BODYSTRUCTURE"].is_multipart
    assert c.search(["FROM", "juergen"]) == [2]
    assert c.search(["TEXT", "Berlin"]) == [2]
    c.add_flags([1], [imapclient.SEEN])
    assert c.get_flags([1])[1] == (b"\\Seen", b"\\Recent") or b"\\Seen" in c.get_flags([1])[1]
    c.move([3], "Junk")
    assert c.folder_status("Junk", ["MESSAGES"])[b"MESSAGES"] == 1
    assert c.namespace().personal == (("", "."),)
    assert c.id_({"name": "pytest"}) == ((b"name", b"Dovecot"),)
    c.logout()


def test_sessions_see_each_others_changes(imap):
    imapclient = pytest.importorskip("imapclient")
    host, port = imap
    fill(host)
    a = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5)
    b = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5)
    for c in (a, b):
        c.login("alice", "secret")
        c.select_folder("INBOX")
    b.add_flags([2], [b"\\Flagged"])
    b.delete_messages([1])
    b.expunge()
    out = a._imap._simple_command("NOOP")
    assert out[0] == "OK"
    untagged = a._imap.untagged_responses
    assert untagged.get("EXPUNGE") == [b"1"]
    assert any(b"\\Flagged" in x for x in untagged.get("FETCH", []))
    a.logout()
    b.logout()


def test_idle_wakes_on_delivery_within_100ms(imap):
    imapclient = pytest.importorskip("imapclient")
    host, port = imap
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5)
    c.login("alice", "secret")
    c.select_folder("INBOX")
    c.idle()
    time.sleep(0.1)
    root = host.path("/home/alice/Maildir")
    start = time.monotonic()
    # deliver as an MDA does: write in tmp/, rename into new/ (no notification)
    (root / "tmp" / "1800000000.P1Q1.mail").write_bytes(SAMPLES["plain"])
    (root / "tmp" / "1800000000.P1Q1.mail").rename(root / "new" / "1800000000.P1Q1.mail")
    responses = c.idle_check(timeout=2)
    elapsed = time.monotonic() - start
    c.idle_done()
    assert (1, b"EXISTS") in responses
    assert elapsed < 0.1 + 0.05     # the budget plus scheduling slack on a busy CI
    c.logout()


def test_restart_keeps_uidvalidity_uidnext_and_modseq(tmp_path):
    host = FakeHost(tmp_path)
    host.add_user("alice", "secret")
    fill(host)
    seen = []
    for _round in range(2):
        lt = LoopThread()
        server = lt.run(start_imap_server(host, "127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        m = connect(port)
        typ, data = m.status("INBOX", "(UIDVALIDITY UIDNEXT HIGHESTMODSEQ)")
        seen.append(data[0])
        m.select("INBOX")
        m.store("1", "+FLAGS", "(\\Seen)")
        m.logout()
        lt.close_server(server)
        lt.stop()
    v0 = seen[0].split(b"UIDVALIDITY ")[1].split()[0]
    v1 = seen[1].split(b"UIDVALIDITY ")[1].split()[0]
    assert v0 == v1 and b"UIDNEXT 7" in seen[0] and b"UIDNEXT 7" in seen[1]
    h0 = int(seen[0].split(b"HIGHESTMODSEQ ")[1].rstrip(b")"))
    h1 = int(seen[1].split(b"HIGHESTMODSEQ ")[1].rstrip(b")"))
    assert h1 > h0


def _tls_contexts(tmp_path):
    import ssl
    from labmail.net.certs import cert_pem, generate_key, key_pem, self_signed
    cert, key = self_signed("mail.example.com", key=generate_key("ec"))
    (tmp_path / "c.pem").write_bytes(cert_pem(cert))
    (tmp_path / "k.pem").write_bytes(key_pem(key))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    client = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
    client.check_hostname = False
    return server, client


def test_starttls_and_imaps(tmp_path):
    host = FakeHost(tmp_path)
    host.add_user("alice", "secret")
    (tmp_path / "etc/dovecot").mkdir(parents=True)
    (tmp_path / "etc/dovecot/dovecot.conf").write_text(
        "protocols = imap\ndisable_plaintext_auth = yes\nauth_mechanisms = plain login\n"
        "mail_location = maildir:~/Maildir\n")
    sctx, cctx = _tls_contexts(tmp_path)
    lt = LoopThread()
    # the host's own address differs from the client's: not "secured" (Dovecot's rule)
    plain = lt.run(start_imap_server(host, "127.0.0.2", 0, ssl_context=sctx))
    tls = lt.run(start_imap_server(host, "127.0.0.2", 0, ssl_context=sctx, implicit_tls=True))
    try:
        m = imaplib.IMAP4("127.0.0.2", plain.sockets[0].getsockname()[1], timeout=5)
        assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            m.login("alice", "secret")
        m.starttls(ssl_context=cctx)
        assert "AUTH=PLAIN" in m.capabilities and "LOGINDISABLED" not in m.capabilities
        assert m.login("alice", "secret")[0] == "OK"
        m.logout()
        s = imaplib.IMAP4_SSL("127.0.0.2", tls.sockets[0].getsockname()[1], ssl_context=cctx,
                              timeout=5)
        assert s.login("alice", "secret")[0] == "OK"
        s.logout()
        assert "TLS" in host.maillog.read()
        t = [t for t in host.trace._items if t.protocol == "imap"]
        assert any("TLS handshake done" in x.text() for x in t)
    finally:
        lt.close_server(plain)
        lt.close_server(tls)
        lt.stop()


def test_limits_and_autologout_over_socket(imap):
    import socket
    host, port = imap
    host.imap_overrides = {"idle_timeout": 0.3, "max_literal": 1000}
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN alice secret\r\nb APPEND INBOX {5000}\r\n")
    assert f.readline().startswith(b"a OK")
    assert f.readline() == b"b NO [TOOBIG] Literal too large\r\n"
    s.sendall(b"c NOOP\r\n")
    assert f.readline() == b"c OK NOOP completed.\r\n"
    assert f.readline() == b"* BYE Disconnected for inactivity.\r\n"
    assert f.readline() == b""
    s.close()
    assert "Disconnected: Disconnected for inactivity" in host.maillog.read()


def test_passwd_file_users_and_their_homes(tmp_path):
    from labmail.access.auth import add_user
    host = FakeHost(tmp_path)
    (tmp_path / "etc/dovecot").mkdir(parents=True)
    (tmp_path / "etc/dovecot/dovecot.conf").write_text(
        "protocols = imap\ndisable_plaintext_auth = no\nmail_location = maildir:~/Maildir\n"
        "passdb {\n  driver = passwd-file\n  args = /etc/dovecot/users\n}\n")
    add_user(tmp_path / "etc/dovecot/users", "carol", "pw", scheme="PLAIN", home="/srv/mail/carol")
    lt = LoopThread()
    server = lt.run(start_imap_server(host, "127.0.0.1", 0))
    try:
        port = server.sockets[0].getsockname()[1]
        m = imaplib.IMAP4("127.0.0.1", port, timeout=5)
        with pytest.raises(imaplib.IMAP4.error):
            m.login("carol", "wrong")
        m.login("carol", "pw")
        m.append("INBOX", None, None, b"Subject: x\r\n\r\ny\r\n")
        m.logout()
        assert list((tmp_path / "srv/mail/carol/Maildir").glob("*/*"))
        assert "Disconnected: Logged out" in host.maillog.read()
    finally:
        lt.close_server(server)
        lt.stop()


def test_imapclient_extensions_over_the_wire(imap):
    imapclient = pytest.importorskip("imapclient")
    host, port = imap
    fill(host)
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5)
    c.plain_login("alice", "secret")                       # AUTHENTICATE PLAIN
    assert c.enable("CONDSTORE") == [b"CONDSTORE"]         # ENABLE (RFC 5161)
    info = c.select_folder("INBOX", readonly=True)         # EXAMINE
    assert info[b"READ-ONLY"] and b"HIGHESTMODSEQ" in info
    high = info[b"HIGHESTMODSEQ"]
    c.unselect_folder()
    c.select_folder("INBOX")
    c.add_flags([2], [b"$Work"])
    changed = c.fetch(c.search(["ALL"]), ["FLAGS"], modifiers=[f"CHANGEDSINCE {high}"])
    assert list(changed) == [2] and b"$Work" in changed[2][b"FLAGS"]
    assert changed[2][b"MODSEQ"][0] > high
    c.delete_messages([1, 2])
    c.uid_expunge([1])                                     # UIDPLUS UID EXPUNGE
    assert c.search(["ALL"]) == [2, 3, 4, 5, 6]
    c.copy([3], "Sent")
    assert c.folder_status("Sent", ["MESSAGES"])[b"MESSAGES"] == 1
    c.logout()


def test_literal_plus_and_sync_literal_over_the_wire(imap):
    import socket
    host, port = imap
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n")
    assert f.readline().startswith(b"a OK [CAPABILITY")
    s.sendall(b"b APPEND Drafts (\\Draft) {14}\r\n")
    assert f.readline() == b"+ OK\r\n"
    s.sendall(b"Subject: x\r\n\r\n\r\n")
    line = f.readline()
    assert line.startswith(b"b OK [APPENDUID ") and line.endswith(b" 1] Append completed.\r\n")
    s.sendall(b"c LOGOUT\r\n")
    assert f.readline() == b"* BYE Logging out\r\n"
    s.close()


def test_special_use_from_dovecot_conf(tmp_path):
    host = FakeHost(tmp_path)
    host.add_user("alice", "secret")
    (tmp_path / "etc/dovecot").mkdir(parents=True)
    (tmp_path / "etc/dovecot/dovecot.conf").write_text(
        "protocols = imap\ndisable_plaintext_auth = no\nmail_location = maildir:~/Maildir\n"
        "namespace inbox {\n  inbox = yes\n  separator = .\n"
        "  mailbox Sent-Mail {\n    special_use = \\Sent\n    auto = subscribe\n  }\n"
        "  mailbox Spam {\n    special_use = \\Junk\n    auto = create\n  }\n"
        "  mailbox Archive {\n    special_use = \\Archive\n  }\n}\n")
    lt = LoopThread()
    server = lt.run(start_imap_server(host, "127.0.0.1", 0))
    try:
        m = connect(server.sockets[0].getsockname()[1])
        listing = m.list()[1]
        assert b'(\\HasNoChildren \\Sent) "." Sent-Mail' in listing
        assert b'(\\HasNoChildren \\Junk) "." Spam' in listing
        assert not any(b"Archive" in x for x in listing)        # no auto = not created
        assert m.lsub()[1] == [b'(\\Sent) "." Sent-Mail']
        m.logout()
    finally:
        lt.close_server(server)
        lt.stop()


def test_concurrent_sessions_stay_consistent(imap, caplog):
    import random
    import threading
    host, port = imap
    fill(host)
    errors = []

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            m = connect(port)
            m.select("INBOX")
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                op = rnd.choice(["store", "fetch", "append", "expunge", "search", "noop"])
                if op == "store":
                    m.store("1:*", rnd.choice(["+FLAGS", "-FLAGS"]), "(\\Flagged)")
                elif op == "fetch":
                    m.fetch("1:*", "(FLAGS ENVELOPE)")
                elif op == "append":
                    m.append("INBOX", None, None, SAMPLES["plain"].replace(b"\n", b"\r\n"))
                elif op == "expunge":
                    typ, data = m.search(None, "ALL")
                    ids = data[0].split()
                    if len(ids) > 3:
                        m.store(ids[-1], "+FLAGS", "(\\Deleted)")
                        m.expunge()
                elif op == "search":
                    m.search(None, "OR FLAGGED FROM alice")
                else:
                    m.noop()
            # once everyone stopped, a NOOP brings every session to the folder's state
            barrier.wait(20)
            m.noop()
            typ, data = m.search(None, "ALL")
            count = len(data[0].split())
            typ, data = m.status("INBOX", "(MESSAGES)")
            assert f"MESSAGES {count})".encode() in data[0], (count, data)
            m.logout()
        except Exception as exc:  # collected for the main thread
            errors.append(repr(exc))

    barrier = threading.Barrier(6)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_rude_clients_leave_no_errors(tmp_path, caplog):
    import socket
    host = FakeHost(tmp_path)
    host.add_user("alice", "secret")
    sctx, _ = _tls_contexts(tmp_path)
    lt = LoopThread()
    plain = lt.run(start_imap_server(host, "127.0.0.1", 0, ssl_context=sctx))
    tls = lt.run(start_imap_server(host, "127.0.0.1", 0, ssl_context=sctx, implicit_tls=True))
    try:
        # plain text to the TLS port
        s = socket.create_connection(("127.0.0.1", tls.sockets[0].getsockname()[1]), timeout=5)
        s.sendall(b"a LOGIN alice secret\r\n")
        s.recv(100)
        s.close()
        # hang up in the middle of an APPEND literal, and in the middle of STARTTLS
        port = plain.sockets[0].getsockname()[1]
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"a LOGIN alice secret\r\nb APPEND INBOX {1000}\r\n")
        f.readline()
        f.readline()
        s.sendall(b"half a message")
        s.close()
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"a STARTTLS\r\n")
        f.readline()
        s.sendall(b"not a client hello\r\n")
        s.close()
        time.sleep(0.3)
        assert "Disconnected: Connection closed" in host.maillog.read()
        assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    finally:
        lt.close_server(plain)
        lt.close_server(tls)
        lt.stop()


def test_half_closed_client_gets_every_reply(tmp_path):
    """A client that sends its commands and half-closes (printf ... | nc) still gets
    every answer, as from Dovecot, whatever came before in the process."""
    import socket
    import labmail
    with labmail.Lab(ports="auto", state_dir=tmp_path / "lab") as lab:
        host = lab.add_host("mail.example.com", users={"bob": "hunter2"})
        lab.start()
        long_line = b"b " + b"x" * 100_000 + b"\r\n"
        for middle in (b"", long_line, b"", long_line):
            with socket.create_connection(host.endpoints["imap"], timeout=10) as s:
                assert s.recv(1000).startswith(b"* OK")
                s.sendall(b"a NOOP\r\n" + middle + b"c LOGOUT\r\n")
                s.shutdown(socket.SHUT_WR)
                out = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            assert b"a OK" in out and b"c OK Logout completed." in out, out
            assert (b"b BAD" in out) == bool(middle), out
