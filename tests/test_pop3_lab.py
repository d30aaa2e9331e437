"""End to end in a running lab: mail sent over the lab's SMTP is read,
downloaded and deleted with poplib (STLS and POP3S too), curl and fetchmail."""
from __future__ import annotations

import os
import shutil
import subprocess
from email.message import EmailMessage

import pytest

from labmail import clients


def send(host, n: int = 2) -> None:
    with clients.SMTP(host) as s:
        for i in range(n):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "bob@example.com", "alice@example.com", f"note {i}"
            msg.set_content(f"Hello Alice, number {i}.\n.a line starting with a dot\n")
            s.send_message(msg)
    assert host.settle()


def test_poplib_reads_and_deletes_delivered_mail(host):
    send(host)
    p = clients.POP3(host, timeout=10)
    assert p.getwelcome() == b"+OK labmail ready."
    p.user("alice")
    assert p.pass_("secret") == b"+OK Logged in."
    count, _ = p.stat()
    assert count == 2
    _, lines, _ = p.retr(1)
    assert b"Subject: note 0" in lines and b".a line starting with a dot" in lines
    assert any(ln.startswith(b"Received: ") for ln in lines)
    _, uidls, _ = p.uidl()
    p.dele(1)
    assert p.quit() == b"+OK Logging out, messages deleted."
    assert len(host.mailbox("alice")) == 1
    log = host.maillog.read()
    assert "dovecot" in log and "pop3-login: Login: user=<alice>, method=PLAIN" in log
    assert "del=1/2" in log


def test_stls_and_pop3s_with_lab_certificates(host, lab):
    send(host, 1)
    ctx = lab.client_tls_context()
    p = clients.POP3(host, timeout=10)
    if "STLS" not in p.capa():
        pytest.skip("this host offers no TLS")
    p.stls(context=ctx)
    p.user("alice"); p.pass_("secret")
    assert p.stat()[0] == 1
    p.quit()
    s = clients.POP3_SSL(host, context=ctx, timeout=10)
    s.user("alice"); s.pass_("secret")
    assert s.stat()[0] == 1
    s.quit()


@pytest.mark.realtool
def test_curl_downloads_and_deletes(host):
    if not shutil.which("curl"):
        pytest.skip("curl not installed; apt-get install curl")
    send(host)
    ip, port = host.endpoints["pop3"]
    run = lambda *a: subprocess.run(["curl", "-sS", "--max-time", "10", "-u", "alice:secret", *a],
                                    capture_output=True, timeout=30)
    got = run(f"pop3://{ip}:{port}/2")
    assert got.returncode == 0, got.stderr
    assert b"Subject: note 1" in got.stdout
    assert run(f"pop3://{ip}:{port}/1", "-X", "DELE", "-I").returncode == 0
    assert len(host.mailbox("alice")) == 1


@pytest.mark.realtool
def test_fetchmail_downloads_and_deletes(host, tmp_path):
    if not shutil.which("fetchmail"):
        pytest.skip("fetchmail not installed; apt-get install fetchmail")
    send(host)
    ip, port = host.endpoints["pop3"]
    out = tmp_path / "fetched.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f'poll {ip} service {port} protocol pop3 uidl timeout 10\n'
                  f'  user "alice" password "secret" is "{os.environ.get("USER", "root")}" here\n'
                  f'  sslproto "" no keep fetchall\n'
                  f'  mda "/bin/sh -c \'cat >> {out}\'"\n')
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "-N", "--nosyslog"], capture_output=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert out.read_bytes().count(b"Subject: note") == 2
    assert len(host.mailbox("alice")) == 0
