"""The POP3 server over real sockets with Python's poplib (and curl, fetchmail)."""
from __future__ import annotations

import os
import poplib
import shutil
import socket
import subprocess
import time

import pytest

from labmail.access.pop3.testing import StandaloneHost, self_signed, serve_in_thread

MSG = (b"From: bob@example.org\nTo: alice@example.com\nSubject: lunch\n\n"
       b"Shall we?\n.leading dot\n")


class BoundPOP3(poplib.POP3):
    """poplib from a chosen source address (a client that is not the server)."""

    def __init__(self, host, port, source, **kw):
        self._source = source
        super().__init__(host, port, **kw)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))


@pytest.fixture
def host(tmp_path):
    h = StandaloneHost(tmp_path)
    h.write_dovecot_conf(disable_plaintext_auth=True)
    h.add_user("alice", "secret")
    h.add_user("carol", "plainpw", scheme="PLAIN")
    for i in range(3):
        h.deliver("alice", MSG.replace(b"lunch", b"lunch %d" % i))
    return h


@pytest.fixture(scope="module")
def tls():
    return self_signed("localhost")


def conf_set(host, **changes):
    p = host.path("/etc/dovecot/dovecot.conf")
    text = p.read_text()
    lines = []
    for ln in text.splitlines():
        key = ln.split("=", 1)[0].strip()
        if key in changes:
            ln = f"{key} = {changes.pop(key)}"
        lines.append(ln)
    lines += [f"{k} = {v}" for k, v in changes.items()]
    p.write_text("\n".join(lines) + "\n")


def test_poplib_session_read_and_delete(host):
    with serve_in_thread(host) as (ip, port):
        p = poplib.POP3(ip, port, timeout=10)
        assert p.getwelcome() == b"+OK labmail ready."
        caps = p.capa()
        assert {"TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES"} <= set(caps)
        assert caps["IMPLEMENTATION"] == ["labmail"]
        p.user("alice")
        assert p.pass_("secret") == b"+OK Logged in."
        size = len(MSG) + MSG.count(b"\n") + 2
        assert p.stat() == (3, 3 * size)
        resp, listing, _ = p.list()
        assert listing == [b"%d %d" % (i, size) for i in (1, 2, 3)]
        resp, uidls, _ = p.uidl()
        assert [u.split()[0] for u in uidls] == [b"1", b"2", b"3"]
        resp, lines, octets = p.retr(2)
        assert b"Subject: lunch 1" in lines and b".leading dot" in lines   # un-stuffed
        resp, lines, _ = p.top(1, 1)
        assert lines[-1] == b"Shall we?" and lines[-2] == b""
        assert p.dele(1) == b"+OK Marked to be deleted."
        with pytest.raises(poplib.error_proto, match="deleted"):
            p.retr(1)
        assert p.quit() == b"+OK Logging out, messages deleted."
        p = poplib.POP3(ip, port, timeout=10)
        p.user("alice"); p.pass_("secret")
        resp, uidls2, _ = p.uidl()
        # the survivors are renumbered 1, 2 but keep their unique ids
        assert [u.split()[1] for u in uidls2] == [u.split()[1] for u in uidls[1:]]
        p.quit()
    log = host.maillog.read()
    assert "dovecot[" in log and "pop3-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1" in log
    assert "Disconnected: Logged out top=1/" in log and "del=1/3" in log
    t = host.trace.list("pop3")[0]
    assert t.server_lines()[0] == "+OK labmail ready." and "PASS ********" in t.client_lines()


def test_uidl_stable_across_sessions(host):
    with serve_in_thread(host) as (ip, port):
        first = []
        for _ in range(2):
            p = poplib.POP3(ip, port, timeout=10)
            p.user("alice"); p.pass_("secret")
            first.append(p.uidl()[1])
            p.quit()
    assert first[0] == first[1]


def test_dropped_connection_deletes_nothing(host):
    with serve_in_thread(host) as (ip, port):
        p = poplib.POP3(ip, port, timeout=10)
        p.user("alice"); p.pass_("secret")
        p.dele(1); p.dele(2)
        p.sock.close()
        time.sleep(0.2)
        p = poplib.POP3(ip, port, timeout=10)
        p.user("alice"); p.pass_("secret")
        assert p.stat()[0] == 3
        p.quit()
    assert "Disconnected: Connection closed" in host.maillog.read()


def test_apop(host):
    conf_set(host, auth_mechanisms="plain login apop")
    with serve_in_thread(host) as (ip, port):
        p = poplib.POP3(ip, port, timeout=10)
        assert p.getwelcome().startswith(b"+OK labmail ready. <")
        assert p.apop("carol", "plainpw") == b"+OK Logged in."
        p.quit()
        p = poplib.POP3(ip, port, timeout=10)
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Authentication failed"):
            p.apop("alice", "secret")          # hashed password: APOP cannot work
        p.quit()


def test_plaintext_needs_tls_from_another_address(host, tls):
    server_ctx, client_ctx = tls
    with serve_in_thread(host, ssl_context=server_ctx) as (ip, port):
        p = BoundPOP3(ip, port, "127.0.0.9", timeout=10)
        assert "STLS" in p.capa() and "USER" not in p.capa()
        with pytest.raises(poplib.error_proto, match="Plaintext authentication disallowed"):
            p.user("alice")
        p.stls(context=client_ctx)
        assert "USER" in p.capa() and "STLS" not in p.capa()
        p.user("alice")
        assert p.pass_("secret") == b"+OK Logged in."
        assert p.stat()[0] == 3
        p.quit()
    assert "rip=127.0.0.9, lip=127.0.0.1, mpid=" in host.maillog.read()
    assert ", TLS, session=" in host.maillog.read()
    assert any("TLS handshake done" in ln.text for ln in host.trace.list("pop3")[0].lines)


def test_plaintext_allowed_from_trusted_network(host):
    conf_set(host, login_trusted_networks="127.0.0.8/30")
    with serve_in_thread(host) as (ip, port):
        p = BoundPOP3(ip, port, "127.0.0.9", timeout=10)
        p.user("alice")
        assert p.pass_("secret") == b"+OK Logged in."
        p.quit()


def test_implicit_tls(host, tls):
    server_ctx, client_ctx = tls
    with serve_in_thread(host, ssl_context=server_ctx, implicit_tls=True) as (ip, port):
        p = poplib.POP3_SSL(ip, port, context=client_ctx, timeout=10)
        assert "STLS" not in p.capa()
        p.user("alice"); p.pass_("secret")
        assert p.stat()[0] == 3
        p.quit()


def test_in_use(host):
    with serve_in_thread(host) as (ip, port):
        a = poplib.POP3(ip, port, timeout=10)
        a.user("alice"); a.pass_("secret")
        b = poplib.POP3(ip, port, timeout=10)
        b.user("alice")
        with pytest.raises(poplib.error_proto, match=r"\[IN-USE\] Mailbox is locked"):
            b.pass_("secret")
        a.quit()
    assert "Couldn't lock POP3 session" in host.maillog.read()


def test_failed_login_delayed_and_logged(host):
    conf_set(host, auth_failure_delay="300 ms")
    with serve_in_thread(host) as (ip, port):
        p = poplib.POP3(ip, port, timeout=10)
        p.user("alice")
        t0 = time.monotonic()
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Authentication failed"):
            p.pass_("wrong")
        assert time.monotonic() - t0 >= 0.25
        p.quit()
    log = host.maillog.read()
    assert "auth: passwd-file(alice,127.0.0.1,<" in log and "Password mismatch" in log
    assert "Aborted login by logging out (auth failed, 1 attempts in" in log


def test_idle_autologout_deletes_nothing(host):
    with serve_in_thread(host, idle_timeout=0.3) as (ip, port):
        p = poplib.POP3(ip, port, timeout=10)
        p.user("alice"); p.pass_("secret"); p.dele(1)
        time.sleep(0.8)
        with pytest.raises((poplib.error_proto, OSError, EOFError)):
            p.noop()
    assert "Disconnected: Disconnected for inactivity" in host.maillog.read()
    assert len(host.mailbox_store("alice").folder("INBOX").messages()) == 3


def test_config_edit_applies_to_next_connection(host):
    conf_set(host, login_greeting="Welcome to the lab.")
    with serve_in_thread(host) as (ip, port):
        assert poplib.POP3(ip, port, timeout=10).getwelcome() == b"+OK Welcome to the lab."


# -- real clients ---------------------------------------------------------------------
@pytest.mark.realtool
def test_curl(host):
    if not shutil.which("curl"):
        pytest.skip("curl not installed; apt-get install curl")
    conf_set(host, disable_plaintext_auth="no")
    with serve_in_thread(host) as (ip, port):
        base = f"pop3://{ip}:{port}"
        run = lambda *a: subprocess.run(["curl", "-sS", "--max-time", "10", "-u", "alice:secret", *a],
                                        capture_output=True, timeout=20)
        listing = run(base + "/")
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.splitlines()[0].startswith(b"1 ")
        msg = run(base + "/2")
        assert b"Subject: lunch 1" in msg.stdout and b"\r\n.leading dot\r\n" in msg.stdout
        dele = run(base + "/1", "-X", "DELE", "-I")
        assert dele.returncode == 0, dele.stderr
    assert len(host.mailbox_store("alice").folder("INBOX").messages()) == 2


@pytest.mark.realtool
def test_fetchmail(host, tmp_path):
    if not shutil.which("fetchmail"):
        pytest.skip("fetchmail not installed; apt-get install fetchmail")
    conf_set(host, disable_plaintext_auth="no")
    out = tmp_path / "fetched.mbox"
    with serve_in_thread(host) as (ip, port):
        rc = tmp_path / "fetchmailrc"
        rc.write_text(f'poll {ip} service {port} protocol pop3 uidl timeout 10\n'
                      f'  user "alice" password "secret" is "{os.environ.get("USER", "root")}" here\n'
                      f'  sslproto "" no keep fetchall\n'
                      f'  mda "/bin/sh -c \'cat >> {out}\'"\n')
        rc.chmod(0o600)
        env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
        r = subprocess.run(["fetchmail", "-f", str(rc), "-N", "--nosyslog", "-v"],
                           capture_output=True, timeout=60, env=env)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    text = out.read_bytes()
    assert text.count(b"Subject: lunch") == 3
    assert host.mailbox_store("alice").folder("INBOX").messages() == []


def test_broken_config_edit_is_logged_and_old_config_kept(host):
    conf_set(host, login_greeting="First.")
    with serve_in_thread(host) as (ip, port):
        assert poplib.POP3(ip, port, timeout=10).getwelcome() == b"+OK First."
        conf_set(host, login_greeting="Second.", bogus_setting="1")
        assert poplib.POP3(ip, port, timeout=10).getwelcome() == b"+OK First."
    assert ("master: Error: doveconf: Fatal: Error in configuration file "
            "/etc/dovecot/dovecot.conf line") in host.maillog.read()
    assert "Unknown setting: bogus_setting" in host.maillog.read()
