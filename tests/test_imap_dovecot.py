"""Differential tests: the same IMAP sessions against real Dovecot 2.3 and labmail.

Dovecot runs on loopback with a throw-away configuration (passwd-file,
Maildir under the test's temporary directory).  Both servers get the same
sample messages (APPENDed with the same date) and the same commands; the
tagged results and the FETCH data must agree.  Skipped when dovecot is absent.
"""
from __future__ import annotations

import re
import socket
import time

import pytest

from labmail.access.imap.realdovecot import RealDovecotImap, dovecot_available
from labmail.access.imap.samples import EDGE_SAMPLES, SAMPLES

from test_imap_server import FakeHost, LoopThread, start_imap_server  # noqa: E402

pytestmark = pytest.mark.realtool


@pytest.fixture(scope="module")
def dovecot():
    if not dovecot_available():
        pytest.skip("dovecot not installed; apt-get install dovecot-imapd")
    d = RealDovecotImap({"alice": "secret"})
    try:
        d.start()
    except RuntimeError as exc:
        d.cleanup()
        pytest.skip(f"dovecot did not start: {exc}")
    yield d.port
    d.cleanup()


@pytest.fixture(scope="module")
def labmail_port(tmp_path_factory):
    root = tmp_path_factory.mktemp("labmail")
    host = FakeHost(root)
    host.add_user("alice", "secret")
    lt = LoopThread()
    server = lt.run(start_imap_server(host, "127.0.0.1", 0))
    yield server.sockets[0].getsockname()[1]
    lt.close_server(server)
    lt.stop()


class Raw:
    """A minimal client that keeps every byte of each response."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.n = 0
        self._read_until(rb"\r\n")

    def _read_until(self, pattern: bytes) -> bytes:
        deadline = time.monotonic() + 10
        while True:
            m = re.search(pattern, self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out
            if time.monotonic() > deadline:
                raise TimeoutError(self.buf[-200:])
            self.buf += self.sock.recv(65536)

    def cmd(self, text: bytes) -> bytes:
        self.n += 1
        tag = b"T%d" % self.n
        self.sock.sendall(tag + b" " + text + b"\r\n")
        return self._read_until(rb"(?:^|\r\n)" + tag + rb" (?:OK|NO|BAD)[^\r]*\r\n")

    def close(self) -> None:
        self.sock.close()


def _normalise(out: bytes) -> bytes:
    # Dovecot appends " (0.001 + 0.000 secs)." to tagged replies; compare the texts
    out = re.sub(rb" \(\d+\.\d+ \+ \d+\.\d+(?: \+ \d+\.\d+)? secs\)\.", b"", out)
    out = re.sub(rb"(?m)^([A-Z]\d+ (?:OK|NO|BAD)[^\r]*?)\.?\r$", rb"\1\r", out)
    out = re.sub(rb"UIDVALIDITY \d+", b"UIDVALIDITY X", out)
    out = re.sub(rb"(APPENDUID|COPYUID) \d+", rb"\1 X", out)
    out = re.sub(rb"(?m)^T\d+ ", b"T ", out)
    return out


def _prepare(port: int, samples: dict = SAMPLES) -> Raw:
    c = Raw(port)
    c.cmd(b"LOGIN alice secret")
    c.cmd(b"SELECT INBOX")
    c.cmd(b"STORE 1:* +FLAGS.SILENT (\\Deleted)")
    c.cmd(b"EXPUNGE")
    for raw in samples.values():
        data = raw.replace(b"\n", b"\r\n")
        c.cmd(b'APPEND INBOX (\\Seen) "27-Nov-2026 09:00:00 +0000" {%d+}\r\n' % len(data) + data)
    c.cmd(b"SELECT INBOX")
    return c


FETCHES = [
    b"ENVELOPE", b"BODYSTRUCTURE", b"BODY", b"RFC822.SIZE", b"INTERNALDATE",
    b"BODY.PEEK[]", b"BODY.PEEK[HEADER]", b"BODY.PEEK[TEXT]", b"RFC822.HEADER",
    b"BODY.PEEK[1]", b"BODY.PEEK[1.MIME]", b"BODY.PEEK[2]", b"BODY.PEEK[2.MIME]",
    b"BODY.PEEK[2.HEADER]", b"BODY.PEEK[2.TEXT]", b"BODY.PEEK[2.1]", b"BODY.PEEK[2.2]",
    b"BODY.PEEK[2.2.1]", b"BODY.PEEK[3]", b"BODY.PEEK[HEADER.FIELDS (From Subject X-Missing)]",
    b"BODY.PEEK[HEADER.FIELDS.NOT (From Subject)]", b"BODY.PEEK[TEXT]<10.20>",
    b"BODY.PEEK[]<0.1>", b"BODY.PEEK[1]<5000.10>",
    # Dovecot's item order: the cheap items first, then those that read the message
    b"ENVELOPE RFC822.SIZE FLAGS INTERNALDATE", b"BODY.PEEK[HEADER.FIELDS (Subject)] "
    b"BODYSTRUCTURE RFC822.SIZE ENVELOPE BODY INTERNALDATE FLAGS",
]


@pytest.mark.parametrize("item", FETCHES, ids=[f.decode() for f in FETCHES])
def test_fetch_data_equal(dovecot, labmail_port, item):
    outs = []
    for port in (dovecot, labmail_port):
        c = _prepare(port)
        outs.append(_normalise(c.cmd(b"FETCH 1:* (" + item + b")")))
        c.close()
    assert outs[1] == outs[0]


EDGE_FETCHES = [
    b"ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE",
    b"BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[1.1] BODY.PEEK[1.1.1] BODY.PEEK[1.2.1]",
    b"BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1]",
    b"BODY.PEEK[2.1.1] BODY.PEEK[2.1.MIME] BODY.PEEK[2.2] BODY.PEEK[1.TEXT] BODY.PEEK[TEXT]",
]


@pytest.mark.parametrize("items", EDGE_FETCHES, ids=range(len(EDGE_FETCHES)))
def test_fetch_edge_messages_equal(dovecot, labmail_port, items):
    outs = []
    for port in (dovecot, labmail_port):
        c = _prepare(port, EDGE_SAMPLES)
        outs.append(_normalise(c.cmd(b"FETCH 1:* (" + items + b")")))
        c.close()
    assert outs[1] == outs[0]


SESSION = [
    b"CREATE Work", b"CREATE Work", b"CREATE Work.Sub", b'LIST "" *', b'LIST "" %',
    b'LIST "" Work.%', b'LSUB "" *', b'LIST (SPECIAL-USE) "" "*"',
    b'LIST "" ("INBOX" "Wo*") RETURN (SUBSCRIBED)', b'LIST (SUBSCRIBED) "" "*"', b"STATUS Work (MESSAGES UNSEEN UIDNEXT)",
    b"SUBSCRIBE Work", b'LSUB "" W*', b"UNSUBSCRIBE Work", b"RENAME Work.Sub Work.Other",
    b"RENAME Nope X", b"DELETE Nope", b"SELECT Nope", b"SELECT INBOX",
    b"STATUS INBOX (MESSAGES UIDNEXT UNSEEN)", b"SEARCH ALL", b"SEARCH FROM alice", b"SEARCH OR SUBJECT lunch SUBJECT report",
    b"SEARCH NOT SEEN", b"SEARCH SEEN", b"SEARCH LARGER 700", b"SEARCH HEADER Message-ID att-3",
    b"SEARCH SENTSINCE 28-Nov-2026", b"SEARCH SENTBEFORE 28-Nov-2026", b"SEARCH 2:4 NOT 3",
    b"SEARCH TEXT Berlin", b"SEARCH BODY lunch", b"SEARCH CC dave", b"SEARCH TO bob",
    b"SEARCH CHARSET UTF-8 SUBJECT caf", b"SEARCH BADKEY", b"SEARCH ON 27-Nov-2026",
    b'SEARCH HEADER X-Note ""', b"SEARCH NEW", b"SEARCH OLD", b"SEARCH RECENT",
    b"SEARCH SMALLER 500", b"SEARCH BEFORE 28-Nov-2026", b"SEARCH SINCE 28-Nov-2026",
    b"SEARCH UID 2:4", b"SEARCH NOT (OR FROM alice (SUBJECT lunch))", b"SEARCH 1,3:*",
    b"SEARCH BCC x", b"SEARCH DRAFT", b"SEARCH UNDRAFT UNDELETED",
    # (not KEYWORD/UNKEYWORD: Dovecot registers a searched keyword in the folder
    # and announces new FLAGS, which the lab's store has no place for)
    b'SEARCH FROM "M\xc3\xbcller"', b"SEARCH CHARSET UTF-8 FROM J\xc3\xbcrgen",
    b"SEARCH TEXT \"multi-part message\"", b"SEARCH BODY JVBERi0", b"SEARCH 7", b"SEARCH UID 7:*",
    b"UID SEARCH 2:3", b"SEARCH SENTON 27-Nov-2026", b"SEARCH HEADER Content-Type mixed",
    b"STORE 1 +FLAGS (LabKw1)", b"STORE 1 -FLAGS (LabKw1)", b"STORE 2 +FLAGS.SILENT ($Label2)",
    b"STORE 1 FLAGS (\\Flagged)", b"STORE 2 -FLAGS (\\Seen)", b"STORE 3 +FLAGS.SILENT (\\Answered)",
    b"FETCH 1:3 FLAGS", b"SEARCH UNSEEN", b"SEARCH FLAGGED", b"SEARCH ANSWERED",
    b"COPY 1:2 Work", b"COPY 1 Nope", b"FETCH 99 FLAGS", b"STORE 1 +FLAGS (\\Bogus)",
    b"STORE 4 +FLAGS (\\Deleted)", b"EXPUNGE", b"FETCH 1:* (FLAGS)", b"NAMESPACE",
    b"DELETE Work.Other", b"DELETE INBOX", b"UNSELECT", b"CLOSE",
    b"CREATE Entw&APw-rfe", b'LIST "" Entw*', b"RENAME Entw&APw-rfe &ZeVnLIqe-",
    b'LIST "" &ZeVnLIqe-', b"DELETE &ZeVnLIqe-", b'CREATE "Bad&name"', b'CREATE "a b"',
    b'LIST "" "a b"', b'STATUS "a b" (MESSAGES)', b'DELETE "a b"',
    b"SUBSCRIBE Nope", b"UNSUBSCRIBE Nope",
]


def test_session_results_equal(dovecot, labmail_port):
    results = []
    for port in (dovecot, labmail_port):
        c = _prepare(port)
        for name in (b"Work.Other", b"Work.Sub", b"Work"):
            c.cmd(b"DELETE " + name)
        results.append([_normalise(c.cmd(line)) for line in SESSION])
        c.close()
    diffs = []
    for line, theirs, ours in zip(SESSION, *results):
        if line.startswith((b"LIST", b"LSUB")):
            # same mailboxes and attributes; Dovecot orders by creation, we sort
            theirs, ours = sorted(theirs.split(b"\r\n")), sorted(ours.split(b"\r\n"))
        if ours != theirs:
            diffs.append((line, theirs, ours))
    assert not diffs, "\n".join(f"{l!r}\n  dovecot: {t!r}\n  labmail: {o!r}" for l, t, o in diffs)


def _modseq_free(out: bytes) -> bytes:
    # modseq numbers are each server's own counter; compare where they appear
    return re.sub(rb"(MODSEQ|HIGHESTMODSEQ|MODIFIED) (\(?)\d+", rb"\1 \2N", out)


def test_two_sessions_and_condstore_equal(dovecot, labmail_port):
    results = []
    for port in (dovecot, labmail_port):
        a = _prepare(port)
        b = Raw(port)
        b.cmd(b"LOGIN alice secret")
        out = [a.cmd(b"SELECT INBOX (CONDSTORE)"), b.cmd(b"SELECT INBOX")]
        out.append(b.cmd(b"STORE 2 +FLAGS (\\Flagged)"))
        out.append(b.cmd(b"STORE 3 +FLAGS (\\Deleted)"))
        out.append(a.cmd(b"NOOP"))                    # both flag changes
        out.append(b.cmd(b"EXPUNGE"))
        msg = SAMPLES["plain"].replace(b"\n", b"\r\n")
        out.append(b.cmd(b'APPEND INBOX "27-Nov-2026 09:00:00 +0000" {%d+}\r\n' % len(msg) + msg))
        out.append(a.cmd(b"FETCH 1 (UID)"))           # EXISTS, but no EXPUNGE yet
        out.append(a.cmd(b"NOOP"))                    # now the EXPUNGE
        out.append(a.cmd(b"FETCH 1:* (FLAGS)"))
        out.append(a.cmd(b"STORE 1 +FLAGS.SILENT (\\Answered)"))
        out.append(b.cmd(b"NOOP"))
        out.append(a.cmd(b"UID MOVE 999 Trash"))
        out.append(a.cmd(b"MOVE 1 Trash"))
        out.append(b.cmd(b"NOOP"))
        out.append(a.cmd(b"UID EXPUNGE 1:*"))
        out.append(a.cmd(b"UNSELECT"))
        a.close()
        b.close()
        results.append([_modseq_free(_normalise(x)) for x in out])
    diffs = [(i, t, o) for i, (t, o) in enumerate(zip(*results)) if t != o]
    assert not diffs, "\n".join(f"step {i}\n  dovecot: {t!r}\n  labmail: {o!r}" for i, t, o in diffs)


def _caps_free(out: bytes) -> bytes:
    # Dovecot announces more extensions than labmail implements; compare the rest
    return re.sub(rb"CAPABILITY [^\]\r]*", b"CAPABILITY ...", out)


PRELOGIN = [
    b"NOOP", b"CAPABILITY", b"SELECT INBOX", b"LOGIN alice wrong", b"AUTHENTICATE X-NOPE", b"FOO BAR",
    b'LOGIN "alice" "secret"', b"CAPABILITY", b"LOGIN alice secret",
]


def test_prelogin_and_auth_equal(dovecot, labmail_port):
    results = []
    for port in (dovecot, labmail_port):
        c = Raw(port)
        out = [_caps_free(_normalise(c.cmd(line))) for line in PRELOGIN]
        c.close()
        # AUTHENTICATE PLAIN with a continuation, then an aborted one
        c = Raw(port)
        c.n += 1
        c.sock.sendall(b"A1 AUTHENTICATE PLAIN\r\n")
        out.append(c._read_until(rb"\r\n"))
        c.sock.sendall(b"AGFsaWNlAHNlY3JldA==\r\n")
        out.append(_caps_free(_normalise(c._read_until(rb"A1 [^\r]*\r\n"))))
        c.close()
        c = Raw(port)
        c.sock.sendall(b"A2 AUTHENTICATE PLAIN\r\n")
        c._read_until(rb"\r\n")
        c.sock.sendall(b"*\r\n")
        out.append(_normalise(c._read_until(rb"A2 [^\r]*\r\n")))
        c.close()
        results.append(out)
    diffs = [(i, t, o) for i, (t, o) in enumerate(zip(*results)) if t != o]
    assert not diffs, "\n".join(f"step {i}\n  dovecot: {t!r}\n  labmail: {o!r}" for i, t, o in diffs)


def test_seen_side_effect_and_idle_equal(dovecot, labmail_port):
    results = []
    for port in (dovecot, labmail_port):
        a = _prepare(port)
        out = [a.cmd(b"STORE 1:2 -FLAGS.SILENT (\\Seen)")]
        out.append(a.cmd(b"FETCH 1 (BODY.PEEK[TEXT]<0.6>)"))
        out.append(a.cmd(b"FETCH 1 (BODY[TEXT]<0.6>)"))
        out.append(a.cmd(b"FETCH 2 (RFC822.TEXT)"))
        out.append(a.cmd(b"FETCH 1:2 (FLAGS)"))
        a.sock.sendall(b"I1 IDLE\r\n")
        out.append(a._read_until(rb"\r\n"))
        b = Raw(port)
        b.cmd(b"LOGIN alice secret")
        msg = SAMPLES["plain"].replace(b"\n", b"\r\n")
        b.cmd(b'APPEND INBOX "27-Nov-2026 09:00:00 +0000" {%d+}\r\n' % len(msg) + msg)
        out.append(a._read_until(rb"EXISTS\r\n"))
        a.sock.sendall(b"DONE\r\n")
        out.append(_normalise(a._read_until(rb"I1 [^\r]*\r\n")))
        a.close()
        b.close()
        results.append([_normalise(x) for x in out])
    diffs = [(i, t, o) for i, (t, o) in enumerate(zip(*results)) if t != o]
    assert not diffs, "\n".join(f"step {i}\n  dovecot: {t!r}\n  labmail: {o!r}" for i, t, o in diffs)


def test_garbage_before_login_hangs_up_like_dovecot(dovecot, labmail_port):
    for port in (dovecot, labmail_port):
        c = Raw(port)
        c.sock.sendall(b"a FOO\r\nb BAR\r\nc LOGIN\r\n")
        out = c._read_until(rb"BYE [^\r]*\r\n")
        assert out == (b"a BAD Error in IMAP command received by server.\r\n"
                       b"b BAD Error in IMAP command received by server.\r\n"
                       b"* BYE Too many invalid IMAP commands.\r\n"), port
        c.close()


# What a Thunderbird-class client sends when it opens an account (from the
# IMAP it speaks; capabilities it needs only where both servers announce them)
MUA_SESSION = [
    b"CAPABILITY", b"NAMESPACE", b'ID ("name" "labmail-test" "version" "1.0")',
    b"ENABLE CONDSTORE", b'LSUB "" "*"', b'LIST "" "*"', b'SELECT "INBOX" (CONDSTORE)',
    b"UID FETCH 1:* (FLAGS)",
    b"UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject "
    b"Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type "
    b"Reply-To)])",
    b"UID FETCH 2 (UID RFC822.SIZE BODY.PEEK[])", b"UID STORE 2 +FLAGS (\\Seen)",
    b"UID STORE 2 +FLAGS (\\Flagged)", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
    b'UID COPY 1 "Sent"', b'UID MOVE 3 "Trash"', b'STATUS "Trash" (UIDNEXT MESSAGES UNSEEN RECENT)',
    b"UID STORE 4 +FLAGS (\\Deleted)", b"UID EXPUNGE 4", b"NOOP", b"EXPUNGE", b"UID SEARCH UNDELETED",
    b"CHECK", b"CLOSE", b"LOGOUT",
]


def test_mua_session_equal(dovecot, labmail_port):
    results = []
    for port in (dovecot, labmail_port):
        c = _prepare(port)
        c.cmd(b"UNSELECT")
        for name in (b"Sent", b"Trash"):
            c.cmd(b"SELECT " + name)
            c.cmd(b"STORE 1:* +FLAGS.SILENT (\\Deleted)")
            c.cmd(b"CLOSE")
        out = [_modseq_free(_caps_free(_normalise(c.cmd(line)))) for line in MUA_SESSION]
        c.close()
        results.append(out)
    diffs = []
    for line, theirs, ours in zip(MUA_SESSION, *results):
        if line.startswith((b"LIST", b"LSUB", b"ID")):
            theirs, ours = sorted(theirs.split(b"\r\n")), sorted(ours.split(b"\r\n"))
        if ours != theirs:
            diffs.append((line, theirs, ours))
    assert not diffs, "\n".join(f"{l!r}\n  dovecot: {t!r}\n  labmail: {o!r}" for l, t, o in diffs)


ADDRESS_FORMS = [
    b'"" <a@b.c>', b"Dr.  Who <who@x.y>", b"J. R. R. Tolkien <jrr@x.y>", b"John.Smith <js@x.y>",
    b"A .B <ab@x.y>", b"  Spaced   Name   <s@x.y>", b"a@b.c (Comment Name)",
    b'"Quoted" Mixed <q@x.y>', b"<a@b.c>", b"Name <@r1,@r2:a@b.c>", b"=?utf-8?q?x?= <a@b.c>",
    b"undisclosed-recipients:;", b"x@y, ", b'a@b.c, "B" <b@c.d>', b"Name (c) Other <n@x.y>",
    b'"Back\\\\slash \\"q\\"" <b@x.y>', b"local-only", b"<>", b"G: a@b, c@d;, e@f",
]


def test_address_forms_equal(dovecot, labmail_port):
    msgs = {str(i): b"From: " + v + b"\nTo: " + v + b"\nSubject: t\n\nx\n"
            for i, v in enumerate(ADDRESS_FORMS)}
    outs = []
    for port in (dovecot, labmail_port):
        c = _prepare(port, msgs)
        outs.append(_normalise(c.cmd(b"FETCH 1:* (ENVELOPE)")))
        c.close()
    assert outs[1] == outs[0]
