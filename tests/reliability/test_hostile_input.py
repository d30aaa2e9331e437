"""Hostile input: every protocol and configuration language survives garbage.

For each case: the server answers with a protocol error (or the parser raises
``ConfigError``), keeps serving (a normal session right after works), and
nothing is written outside the lab's state directory.  Socket-level
hypothesis runs are small in the short form and larger with
``--reliability-full``.
"""
from __future__ import annotations

import email
import imaplib
import poplib
import re
import smtplib
import socket
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labmail.errors import ConfigError

from .conftest import INSIDE_IP, OUTSIDE_IP, dialog, snapshot

SOCKET_SETTINGS = dict(deadline=None, derandomize=True,
                       suppress_health_check=[HealthCheck.too_slow,
                                              HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One lab host for the whole module; failed logins are not delayed here."""
    import labmail
    root = tmp_path_factory.mktemp("hostile")
    lab = labmail.Lab(ports="auto", state_dir=root / "lab", seed=7,
                      clock="2026-11-27T09:00:00+00:00")
    host = lab.add_host("mail.example.com", users={"alice": "secret", "bob": "hunter2"})
    conf = host.path("/etc/dovecot/dovecot.conf")
    conf.write_text(conf.read_text() + "\nauth_failure_delay = 0\n")
    lab.start()
    host.imap_overrides = {"idle_timeout": 5}
    (root / "outside-marker").write_text("untouched")
    before = {k: v for k, v in snapshot(root).items() if not k.startswith(str(host.state_dir))}
    yield host
    lab.stop()
    after = {k: v for k, v in snapshot(root).items() if not k.startswith(str(host.state_dir))}
    assert after == before, "something was written outside the state dir"


def _exchange(endpoint, data: bytes, timeout: float = 5.0) -> bytes:
    """Send *data*, half-close, collect everything until the server closes (bounded)."""
    with socket.create_connection(endpoint, timeout=timeout, source_address=(OUTSIDE_IP, 0)) as s:
        out = bytearray()
        while b"\n" not in out:          # the greeting first, as a real client waits
            chunk = s.recv(4096)
            if not chunk:
                return bytes(out)
            out += chunk
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:          # the server may close first (e.g. too many errors)
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(out) < 1_000_000:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)


def _smtp_still_serves(host, subject: str = "follow-up") -> None:
    with smtplib.SMTP(*host.endpoints["smtp"], timeout=10, local_hostname="c.example.net") as s:
        s.ehlo()
        s.sendmail("a@example.net", ["alice@mail.example.com"],
                   f"Subject: {subject}\r\n\r\nstill serving\r\n".encode())


def _pop3_still_serves(host) -> None:
    p = poplib.POP3(*host.endpoints["pop3"], timeout=10)
    try:
        p.user("bob")
        p.pass_("hunter2")
        p.stat()
    finally:
        p.quit()


def _imap_still_serves(host) -> None:
    with imaplib.IMAP4(*host.endpoints["imap"], timeout=10) as m:
        m.login("bob", "hunter2")
        assert m.select("INBOX")[0] == "OK"
        m.logout()


# -- SMTP ------------------------------------------------------------------
SMTP_WORDS = [b"EHLO x", b"HELO x", b"MAIL FROM:<a@example.net>", b"MAIL FROM:<>",
              b"RCPT TO:<alice@mail.example.com>", b"RCPT TO:<x@example.org>", b"DATA",
              b"RSET", b"NOOP", b"VRFY alice", b"EXPN all", b"HELP", b"STARTTLS",
              b"AUTH PLAIN", b"AUTH LOGIN", b"BDAT 10", b"*", b".", b"", b"MAIL FROM:<" + b"a" * 600
              + b">", b"RCPT TO:<\x00@x>", b"\xff\xfe\xc3("]
AIOSMTPD_CRASH = re.compile(rb"Error: \(\w+\)")          # aiosmtpd's reply to an exception


@st.composite
def smtp_streams(draw) -> bytes:
    lines = draw(st.lists(st.one_of(st.sampled_from(SMTP_WORDS), st.binary(max_size=60)),
                          max_size=14))
    sep = draw(st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n"]))
    return sep.join(lines) + sep


def test_smtp_command_streams(hostile, scale):
    @settings(max_examples=scale.examples, **SOCKET_SETTINGS)
    @given(smtp_streams())
    def run(stream: bytes) -> None:
        out = _exchange(hostile.endpoints["smtp"], stream)
        assert out.startswith(b"220 "), out[:200]
        assert not AIOSMTPD_CRASH.search(out), out
        for line in out.split(b"\r\n"):
            if line:
                assert re.match(rb"^[2-5]\d\d[ -]", line), line
    run()
    _smtp_still_serves(hostile)


@pytest.mark.parametrize("line,codes", [
    # Postfix 3.7 (measured) answers 250 to both of these: it truncates the long
    # line and passes the NUL; what matters is that the next session works
    (b"EHLO " + b"x" * 5000, (250, 500, 501)),
    (b"MAIL FROM:<" + b"a" * 3000 + b"@example.net>", (500, 501, 552, 553)),
    (b"HELO a\x00b", (250, 500, 501)),                  # NUL
    # Postfix 3.7 (measured): 500 5.5.2 Error: bad UTF-8 syntax (smtputf8_enable = yes)
    (b"MAIL FROM:<a\xff\xfe@example.net>", (500,)),
    (b"NOSUCHCOMMAND", (500, 502)),
])
def test_smtp_bad_lines_get_errors(hostile, line, codes):
    out = _exchange(hostile.endpoints["smtp"], b"EHLO c.example.net\r\n" + line + b"\r\nQUIT\r\n")
    replies = [ln for ln in out.split(b"\r\n") if ln[:1].isdigit() and ln[3:4] != b"-"]
    assert len(replies) >= 3, out
    assert int(replies[2][:3]) in codes, replies
    _smtp_still_serves(hostile)


def test_smtp_long_data_lines_survive(hostile):
    body = b"Subject: long lines\r\n\r\n" + b"y" * 50_000 + b"\r\n" + b"z\x00\xff\rq\r\n"
    with smtplib.SMTP(*hostile.endpoints["smtp"], timeout=10) as s:
        s.ehlo("c.example.net")
        code, _ = s.mail("a@example.net")[0], None
        s.rcpt("bob@mail.example.com")
        code, _msg = s.data(body)
    assert code in (250, 550, 552, 554)
    _smtp_still_serves(hostile)


# SMTP smuggling (2023): an end-of-data other than <CRLF>.<CRLF> must never end
# the message, so a second message hidden behind it is never delivered as one.
SMUGGLE_ENDINGS = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r",
                   b"\r\n\x00.\r\n", b"\r\n.\x00\r\n"]


@pytest.mark.parametrize("ending", SMUGGLE_ENDINGS, ids=[repr(e) for e in SMUGGLE_ENDINGS])
def test_smtp_smuggling_never_splits_a_message(hostile, ending):
    tag = f"smuggled-{SMUGGLE_ENDINGS.index(ending)}"
    smuggled = (b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<alice@mail.example.com>\r\nDATA\r\n"
                b"Subject: " + tag.encode() + b"\r\n\r\nsend money\r\n")
    outer = b"Subject: outer-" + tag.encode() + b"\r\n\r\nhello" + ending + smuggled + b"\r\n.\r\n"
    with socket.create_connection(hostile.endpoints["smtp"], timeout=10,
                                  source_address=(INSIDE_IP, 0)) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO c.example.net\r\nMAIL FROM:<a@example.net>\r\n"
                  b"RCPT TO:<alice@mail.example.com>\r\nDATA\r\n")
        s.sendall(outer + b"QUIT\r\n")
        s.settimeout(5)
        try:
            rest = f.read()
        except OSError:
            rest = b""
    assert rest.count(b"354 ") <= 1, rest        # the smuggled DATA never got its own 354
    hostile.settle()
    box = hostile.mailbox("alice")
    subjects = [m["Subject"] for m in box]
    assert tag not in subjects, f"a smuggled message was delivered: {rest!r}"
    _smtp_still_serves(hostile)


# -- POP3 ------------------------------------------------------------------
POP3_WORDS = [b"USER alice", b"PASS secret", b"USER ../../etc/passwd", b"PASS x", b"STAT",
              b"LIST", b"LIST 1", b"RETR 1", b"RETR 99999999999999999999", b"DELE 1", b"RSET",
              b"UIDL", b"TOP 1 0", b"TOP 1 -1", b"NOOP", b"CAPA", b"STLS", b"AUTH PLAIN",
              b"AUTH PLAIN AGFsaWNlAHNlY3JldA==", b"APOP alice 0", b"USER " + b"u" * 600,
              b"\x00", b"\xff\xfe"]


@st.composite
def pop3_streams(draw) -> bytes:
    lines = draw(st.lists(st.one_of(st.sampled_from(POP3_WORDS), st.binary(max_size=60)),
                          max_size=12))
    sep = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    return sep.join(lines) + sep


def test_pop3_command_streams(hostile, scale):
    _smtp_still_serves(hostile, "for pop3")
    hostile.settle()

    @settings(max_examples=scale.examples, **SOCKET_SETTINGS)
    @given(pop3_streams())
    def run(stream: bytes) -> None:
        out = _exchange(hostile.endpoints["pop3"], stream.replace(b"DELE", b"NOOP"))
        assert out.startswith(b"+OK"), out[:200]
        assert b"Traceback" not in out
    run()
    _pop3_still_serves(hostile)


@pytest.mark.parametrize("user", ["../alice", "../../etc/passwd", "/etc/passwd", "%2e%2e/alice",
                                  "alice/../bob", "..", "alice\x00"])
def test_pop3_traversal_user_names_refused(hostile, user):
    out = _exchange(hostile.endpoints["pop3"],
                    f"USER {user}\r\nPASS secret\r\nSTAT\r\nQUIT\r\n".encode())
    lines = out.split(b"\r\n")
    assert lines[0].startswith(b"+OK")
    assert not any(ln.startswith(b"+OK") and b"message" in ln.lower() for ln in lines[2:4]), out
    assert b"-ERR" in out
    _pop3_still_serves(hostile)


# -- IMAP ------------------------------------------------------------------
IMAP_WORDS = [b"a LOGIN alice secret", b"a LOGIN bob hunter2", b"b SELECT INBOX",
              b"c FETCH 1:* (FLAGS BODYSTRUCTURE)", b"d STORE 1 +FLAGS (\\Seen)",
              b"e SEARCH ALL", b"f LIST \"\" *", b"g CREATE ../../escape",
              b"h SELECT ../../../etc", b"i CREATE /tmp/abs", b"j CREATE %2e%2e/x",
              b"k RENAME INBOX ../x", b"l APPEND INBOX {5}", b"m LOGIN {4294967295}",
              b"n LOGIN {99999999999999999999+}", b"o IDLE", b"DONE", b"p NOOP",
              b"q UID FETCH 1:* BODY.PEEK[]", b"r CAPABILITY", b"s EXAMINE \"\xff\"",
              b"t FETCH 1 BODY[1.2.3.4.5.6.7.8.9.10]", b"u LOGOUT", b"\x00", b"(((((((((("]


@st.composite
def imap_streams(draw) -> bytes:
    lines = draw(st.lists(st.one_of(st.sampled_from(IMAP_WORDS), st.binary(max_size=60)),
                          max_size=12))
    sep = draw(st.sampled_from([b"\r\n", b"\n"]))
    return sep.join(lines) + sep


def test_imap_command_streams(hostile, scale):
    @settings(max_examples=scale.examples, **SOCKET_SETTINGS)
    @given(imap_streams())
    def run(stream: bytes) -> None:
        out = _exchange(hostile.endpoints["imap"], stream)
        assert out.startswith(b"* OK"), out[:200]
        assert b"Traceback" not in out
    run()
    _imap_still_serves(hostile)


@pytest.mark.parametrize("user", ["../alice", "../../etc/passwd", "/etc/passwd", "%2e%2e/alice",
                                  "alice/../bob", ".."])
def test_imap_traversal_user_names_refused(hostile, user):
    with imaplib.IMAP4(*hostile.endpoints["imap"], timeout=10) as m:
        with pytest.raises(imaplib.IMAP4.error):
            m.login(user, "secret")
    _imap_still_serves(hostile)


@pytest.mark.parametrize("local", ["../../etc/passwd", "..%2f..%2fetc", "/etc/passwd", "alice/../bob"])
def test_smtp_traversal_recipients_refused(hostile, local):
    replies = dialog(hostile.endpoints["smtp"], ["MAIL FROM:<a@example.net>",
                                                 f"RCPT TO:<{local}@mail.example.com>"])
    # 454: '%' is the percent hack, so ..%2f..%2fetc@ours is mail for the
    # foreign "..%2f..@2fetc" and a stranger may not relay (Postfix 3.7 says so too)
    assert replies[-1][0] in (454, 501, 550), replies


def test_pop3_line_over_limit(hostile):
    # Dovecot disconnects ("Input buffer full" in its log) without a reply
    out = _exchange(hostile.endpoints["pop3"], b"USER " + b"u" * 20_000 + b"\r\nQUIT\r\n")
    assert out.startswith(b"+OK") and b"+OK Logging out" not in out, out[:300]
    _pop3_still_serves(hostile)


def test_imap_line_over_limit(hostile):
    # the server closes after LOGOUT; the long timeout only matters on a starved CI core
    out = _exchange(hostile.endpoints["imap"], b"a LOGIN " + b"u" * 200_000 + b" x\r\n"
                    b"b LOGOUT\r\n", timeout=20.0)
    assert b"BAD" in out or b"BYE" in out, out[:300]
    _imap_still_serves(hostile)


def test_imap_huge_literal_refused_before_reading(hostile):
    with socket.create_connection(hostile.endpoints["imap"], timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"a LOGIN {4294967295}\r\n")
        reply = f.readline()
    assert reply.startswith(b"a NO") or reply.startswith(b"a BAD") or reply.startswith(b"* BYE"), reply
    _imap_still_serves(hostile)


@pytest.mark.parametrize("name", ["../../escape", "../escape", "/tmp/abs-escape", "%2e%2e/escape",
                                  "~root/escape", "INBOX/../../escape", "a/./../../../escape"])
def test_imap_traversal_mailbox_names(hostile, name):
    with imaplib.IMAP4(*hostile.endpoints["imap"], timeout=10) as m:
        m.login("alice", "secret")
        quoted = '"' + name + '"'
        for cmd in (("create", quoted), ("select", quoted), ("rename", "INBOX", quoted),
                    ("delete", quoted)):
            typ, _data = getattr(m, cmd[0])(*cmd[1:])
            assert typ in ("OK", "NO", "BAD")
        m.logout()
    _imap_still_serves(hostile)
    # a name that was accepted must live under alice's Maildir (checked by the fixture too)
    home = hostile.state_dir / "home"
    assert not (hostile.state_dir.parent / "escape").exists()
    assert not Path("/tmp/abs-escape").exists()
    assert home.is_dir()


# -- deep MIME, giant headers: spam engine and IMAP BODYSTRUCTURE -------------
def _nested(depth: int) -> bytes:
    parts = b"Subject: deep\r\nMIME-Version: 1.0\r\n"
    head, tail = [], []
    for i in range(depth):
        head.append(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n" % (i, i))
        tail.append(b"\r\n--b%d--\r\n" % i)
    return parts + b"".join(head) + b"Content-Type: text/plain\r\n\r\nleaf\r\n" + b"".join(reversed(tail))


def _giant_headers() -> bytes:
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 50) for i in range(5000))
    folded = b"Subject: " + b"\r\n ".join([b"word"] * 20000) + b"\r\n"
    return folded + many + b"To: " + b", ".join(b"u%d@example.org" % i for i in range(5000)) + \
        b"\r\n\r\nbody\r\n"



@pytest.mark.parametrize("make", [lambda: _nested(300), lambda: _nested(2000), _giant_headers],
                         ids=["mime-300", "mime-2000", "giant-headers"])
def test_spam_engine_survives(make):
    from labmail import spam
    raw = make()
    started = time.monotonic()
    result = spam.check(raw)
    assert time.monotonic() - started < 30
    assert isinstance(result.score, float)


@pytest.mark.parametrize("make", [lambda: _nested(300), lambda: _nested(2000), _giant_headers],
                         ids=["mime-300", "mime-2000", "giant"])
def test_imap_bodystructure_survives(hostile, make):
    hostile.mailbox("bob").add(make())
    with imaplib.IMAP4(*hostile.endpoints["imap"], timeout=30) as m:
        m.login("bob", "hunter2")
        typ, data = m.select("INBOX")
        n = int(data[0])
        typ, data = m.fetch(str(n), "(BODYSTRUCTURE ENVELOPE)")
        assert typ in ("OK", "NO"), data
        m.logout()
    _imap_still_serves(hostile)


# -- procmail folders --------------------------------------------------------
@pytest.mark.parametrize("folder", ["../../../../../../escape-pm", "/tmp/../../escape-abs",
                                    "%2e%2e/%2e%2e/escape-enc", "$HOME/../../../escape-home/"])
def test_procmail_folder_stays_in_root(tmp_path, folder):
    from labmail.mda.procmail import Procmail
    root = tmp_path / "root"
    home = root / "home" / "alice"
    home.mkdir(parents=True)
    (home / ".procmailrc").write_text(f"MAILDIR=$HOME/Mail\n:0\n{folder}\n")
    pm = Procmail(user="alice", home="/home/alice", root=root, hostname="mail.example.com",
                  etc_rc=None)
    pm.run(b"From a  Sat Nov 28 09:00:00 2026\nSubject: x\n\nbody\n")
    outside = [p for p in tmp_path.rglob("*") if not str(p).startswith(str(root))]
    assert outside == []


# -- configuration languages -------------------------------------------------
MAINCF_WORDS = ["myhostname", "mynetworks", "mydestination", "message_size_limit",
                "smtpd_recipient_restrictions", "compatibility_level", "home_mailbox"]
cf_line = st.one_of(
    st.builds(lambda n, v: f"{n} = {v}", st.sampled_from(MAINCF_WORDS), st.text(max_size=40)),
    st.text(max_size=60), st.sampled_from(["", "  continued", "# c", "=", "a=$b", "x = ${y?z}",
                                           "x = $(", "x = ${", "\x00", "\ufffd = 1"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(cf_line, max_size=15))
def test_main_cf_text_raises_only_config_error(lines):
    from labmail.mta.maincf import MainCf
    try:
        cf = MainCf.from_text("\n".join(lines) + "\n")
        for name in MAINCF_WORDS:
            try:
                cf.get(name)
            except ConfigError:
                pass
    except ConfigError as exc:
        assert str(exc)


DOVECOT_WORDS = ["protocols", "mail_location", "ssl", "auth_mechanisms", "passdb", "userdb",
                 "service", "protocol", "mailbox", "!include", "!include_try", "auth_failure_delay",
                 "disable_plaintext_auth", "ssl_cert", "listen"]
dc_line = st.one_of(
    st.builds(lambda n, v: f"{n} = {v}", st.sampled_from(DOVECOT_WORDS), st.text(max_size=30)),
    st.builds(lambda n, v: f"{n} {v} {{", st.sampled_from(DOVECOT_WORDS), st.text(max_size=10)),
    st.sampled_from(["}", "{", "", "# c", "ssl_cert = </etc/../../x", "!include ../../../etc/passwd",
                     "auth_failure_delay = -1", "auth_failure_delay = 9999999999 days",
                     "a = \"unterminated", "\x00"]),
    # raw text never starts with '!': a random '!include /*' would read the machine's files
    st.text(max_size=40).filter(lambda t: not t.lstrip().startswith("!")))


@settings(max_examples=300, deadline=None)
@given(st.lists(dc_line, max_size=15))
def test_dovecot_conf_text_raises_only_config_error(tmp_path_factory, lines):
    from labmail.access.dovecotconf import parse_dovecot_conf
    path = str(tmp_path_factory.getbasetemp() / "dc" / "dovecot.conf")
    try:
        parse_dovecot_conf("\n".join(lines) + "\n", path=path)
    except ConfigError as exc:
        assert str(exc)


INCLUDE_READ = ("dovecot.conf '!include' reads any file whole: labmail/access/dovecotconf.py "
                "_read_lines calls Path(inc).read_text() with no size limit and no error "
                "handling, so '!include /dev/zero' exhausts memory, a non-UTF-8 file raises "
                "UnicodeDecodeError and a directory IsADirectoryError (not ConfigError).  Fix: "
                "skip non-regular files (os.path.isfile), read at most a few MB "
                "(ConfigError 'file too large'), catch OSError/UnicodeDecodeError and raise "
                "ConfigError(inc, None, ...)")


def test_dovecot_include_of_a_device_is_a_config_error():
    """Run in a child process capped at 300 MB of address space (never our memory)."""
    import subprocess
    import sys
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (300 << 20, 300 << 20))\n"
            "from labmail.access.dovecotconf import parse_dovecot_conf\n"
            "from labmail.errors import ConfigError\n"
            "try:\n    parse_dovecot_conf('!include /dev/zero\\n', path='/tmp/x/dovecot.conf')\n"
            "except ConfigError:\n    raise SystemExit(0)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-300:]


@pytest.mark.parametrize("make", ["binary", "directory"])
def test_dovecot_include_of_unreadable_file_is_a_config_error(tmp_path, make):
    from labmail.access.dovecotconf import parse_dovecot_conf
    target = tmp_path / "inc.conf"
    if make == "binary":
        target.write_bytes(b"ssl = \xff\xfe\n")
    else:
        target.mkdir()
    with pytest.raises(ConfigError):
        parse_dovecot_conf("!include inc.conf\n", path=str(tmp_path / "dovecot.conf"))
