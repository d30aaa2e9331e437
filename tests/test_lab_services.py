"""Every service a lab host starts, used by Python's own clients over real sockets."""
from __future__ import annotations

import imaplib
import poplib
import smtplib
import ssl

import pytest

from labmail import clients

MSG = b"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: services\r\n\r\nHello\r\n"


def _deliver(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    host.settle()


def test_endpoints_cover_smtp_pop3_imap_and_their_tls_ports(host):
    assert {"smtp", "pop3", "pop3s", "imap", "imaps"} <= set(host.endpoints)
    assert all(ip == host.ip for ip, _ in host.endpoints.values())


def test_smtp_starttls_verifies_against_the_lab_ca(host, lab):
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.ehlo()
        assert s.has_extn("starttls")
        s.starttls(context=lab.client_tls_context())
        s.ehlo()
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    t = host.last_transcript()
    assert t.tls
    assert any(ln.who == "*" and "TLS handshake" in ln.text for ln in t.lines)
    assert "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3" \
        in host.maillog.read()


def test_a_client_without_the_lab_ca_refuses_the_certificate(host):
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):
            s.starttls(context=ssl.create_default_context())


def test_pop3_reads_what_smtp_delivered(host):
    _deliver(host)
    p = poplib.POP3(*host.endpoints["pop3"], timeout=5)
    assert p.getwelcome().startswith(b"+OK")
    p.user("alice")
    p.pass_("secret")
    count, size = p.stat()
    assert count == 1
    lines = p.retr(1)[1]
    assert b"Subject: services" in lines
    p.quit()


def test_pop3s_with_the_lab_ca(host, lab):
    _deliver(host)
    p = clients.POP3_SSL(host, context=lab.client_tls_context(), timeout=5)
    p.user("alice")
    p.pass_("secret")
    assert p.stat()[0] == 1
    p.quit()


def test_imap_login_select_fetch(host):
    _deliver(host)
    m = imaplib.IMAP4(*host.endpoints["imap"], timeout=5)
    m.login("alice", "secret")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Subject: services" in data[0][1]
    m.logout()


def test_imaps_with_the_lab_ca(host, lab):
    m = clients.IMAP4_SSL(host, ssl_context=lab.client_tls_context(), timeout=5)
    m.login("alice", "secret")
    m.logout()


def test_stls_and_imap_starttls_verify_by_name(host, lab):
    p = clients.POP3(host, timeout=5)
    p.stls(context=lab.client_tls_context())
    p.user("alice")
    p.pass_("secret")
    p.quit()
    m = clients.IMAP4(host, timeout=5)
    m.starttls(ssl_context=lab.client_tls_context())
    m.login("alice", "secret")
    m.logout()


def test_wrong_password_is_refused(host):
    p = poplib.POP3(*host.endpoints["pop3"], timeout=5)
    p.user("alice")
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong")


def test_mbox_spool_delivery_read_over_pop3(lab):
    h = lab.add_host("mail.example.com", users={"alice": "secret"}, main_cf=(
        "compatibility_level = 3.6\nmyhostname = mail.example.com\n"
        "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain\n"
        "mail_spool_directory = /var/mail\n"))
    lab.start()
    for i in range(3):
        with smtplib.SMTP(*h.endpoints["smtp"], local_hostname="laptop") as s:
            s.sendmail("bob@example.org", ["alice@example.com"],
                       MSG.replace(b"services", f"mbox {i}".encode()))
    h.settle()
    spool = h.path("/var/mail/alice").read_bytes()
    assert spool.count(b"\nFrom bob@example.org ") + spool.startswith(b"From bob@") == 3
    assert "status=sent (delivered to mailbox)" in h.maillog.read()
    p = poplib.POP3(*h.endpoints["pop3"], timeout=5)
    p.user("alice")
    p.pass_("secret")
    assert p.stat()[0] == 3
    assert b"Subject: mbox 1" in p.retr(2)[1]
    p.quit()


def test_spamd_answers_spamc_protocol(host):
    import socket
    assert "spamd" in host.endpoints
    msg = b"Subject: hello\r\n\r\nJust a note.\r\n"
    with socket.create_connection(host.endpoints["spamd"], timeout=10) as s:
        s.sendall(b"CHECK SPAMC/1.5\r\nContent-length: %d\r\nUser: alice\r\n\r\n" % len(msg) + msg)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"SPAMD/1.")
    assert b"Spam: False ; " in answer
