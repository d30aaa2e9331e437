"""smtpd and TLS over real sockets: STARTTLS levels, injection, Received and log lines."""
from __future__ import annotations

import smtplib
import socket
import ssl

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from labmail import clients

MSG = b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: tls\r\n\r\nHello\r\n"


def _edit(host, *lines):
    cf = host.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + "\n".join(lines) + "\n")
    host.reload()


class Raw:
    """A line-level SMTP client that can pipeline bytes and switch to TLS."""

    def __init__(self, addr, *, name="mail.example.com", context=None, implicit=False):
        self.sock = socket.create_connection(addr, timeout=5)
        self.name = name
        self.context = context
        if implicit:
            self.sock = context.wrap_socket(self.sock, server_hostname=name)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        lines = []
        while True:
            line = self.file.readline().decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def last(self, text):
        return self.cmd(text)[-1]

    def starttls(self):
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.name)
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()        # the makefile holds the descriptor open otherwise
        self.sock.close()


def test_may_offers_starttls_and_verifies_with_the_lab_ca(host, lab):
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.ehlo()
        assert s.has_extn("starttls") and not s.has_extn("auth")
        s.starttls(context=lab.client_tls_context())
        s.ehlo()
        assert not s.has_extn("starttls")
        s.sendmail("alice@example.com", ["bob@example.com"], MSG)
    host.settle()
    msg = next(iter(host.mailbox("bob")))
    received = msg.get_all("Received")[0]
    assert "with ESMTPS id" in received
    assert "using TLSv1.3" not in received            # smtpd_tls_received_header = no
    log = host.maillog.read()
    assert ("Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with "
            "cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
            "server-signature ECDSA (prime256v1) server-digest SHA256") in log
    assert "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7" in log


def test_received_header_names_the_cipher_when_asked(host, lab):
    _edit(host, "smtpd_tls_received_header = yes")
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.starttls(context=lab.client_tls_context())
        s.sendmail("alice@example.com", ["bob@example.com"], MSG)
    host.settle()
    raw = host.mailbox("bob").get_bytes(next(iter(host.mailbox("bob").keys())))
    if b"(using " not in raw:
        pytest.skip("host.accept_message does not take tls= yet (lead's host.py)")
    head = raw.split(b"\nSubject:")[0].decode()
    assert ("\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n"
            "\t key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256)\r\n"
            "\t(No client certificate requested)\r\n"
            "\tby mail.example.com (labmail) with ESMTPS id") in head


def test_tls_already_active_and_none_level(host, lab):
    r = Raw(host.endpoints["smtp"], context=lab.client_tls_context())
    r.cmd("EHLO laptop")
    assert r.last("STARTTLS") == "220 2.0.0 Ready to start TLS"
    r.starttls()
    r.cmd("EHLO laptop")
    assert r.last("STARTTLS") == "554 5.5.1 Error: TLS already active"
    r.close()
    _edit(host, "smtpd_tls_security_level = none")
    r = Raw(host.endpoints["smtp"])
    assert "250-STARTTLS" not in r.cmd("EHLO laptop")
    assert r.last("STARTTLS") == "502 5.5.1 Error: command not implemented"
    r.close()


def test_encrypt_level_refuses_mail_before_starttls(host, lab):
    _edit(host, "smtpd_tls_security_level = encrypt")
    r = Raw(host.endpoints["smtp"], context=lab.client_tls_context())
    assert "250-STARTTLS" in r.cmd("EHLO laptop")
    assert r.last("HELO laptop") == "250 mail.example.com"
    for command in ("MAIL FROM:<alice@example.com>", "VRFY bob", "RSET"):
        assert r.last(command) == "530 5.7.0 Must issue a STARTTLS command first"
    assert r.last("NOOP") == "250 2.0.0 Ok"
    assert r.last("HELP").endswith("Error: command not recognized")    # not 530, as Postfix
    r.cmd("STARTTLS")
    r.starttls()
    r.cmd("EHLO laptop")
    assert r.last("MAIL FROM:<alice@example.com>") == "250 2.1.0 Ok"
    r.last("QUIT")
    r.close()


def test_legacy_smtpd_use_tls(host, lab):
    cf = host.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text().replace("smtpd_tls_security_level = may\n", "")
                  + "smtpd_use_tls = yes\n")
    host.reload()
    assert host.smtpd_settings["smtpd_tls_security_level"] == "may"
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.ehlo()
        assert s.has_extn("starttls")


def test_starttls_injection_is_not_executed(host, lab):
    """Commands pipelined behind STARTTLS in the same packet are dropped (RFC 3207 §4.2)."""
    r = Raw(host.endpoints["smtp"], context=lab.client_tls_context())
    r.cmd("EHLO laptop")
    r.sock.sendall(b"STARTTLS\r\nMAIL FROM:<mallory@evil.example>\r\n")
    assert r.reply() == ["220 2.0.0 Ready to start TLS"]
    r.starttls()
    # the injected MAIL was forgotten: a new MAIL is not "nested", and RCPT needs MAIL
    assert r.last("RCPT TO:<bob@example.com>") == "503 5.5.1 Error: need MAIL command"
    assert r.last("EHLO laptop").startswith("250 ")
    assert r.last("MAIL FROM:<alice@example.com>") == "250 2.1.0 Ok"
    r.last("QUIT")
    r.close()
    t = host.last_transcript()
    assert not any("mallory" in ln.text for ln in t.lines if ln.who == "C")
    assert any("discarded" in ln.text and "RFC 3207" in ln.text for ln in t.lines)
    assert "mallory" not in host.maillog.read()


def test_session_restarts_after_starttls(host, lab):
    """EHLO knowledge is forgotten: MAIL right after the handshake works as a fresh session."""
    r = Raw(host.endpoints["smtp"], context=lab.client_tls_context())
    r.cmd("EHLO laptop")
    r.last("MAIL FROM:<alice@example.com>")
    r.cmd("STARTTLS")
    r.starttls()
    assert r.last("MAIL FROM:<alice@example.com>") == "250 2.1.0 Ok"   # not "nested MAIL"
    r.close()


def test_tls_loglevel_zero_is_silent(host, lab):
    _edit(host, "smtpd_tls_loglevel = 0")
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.starttls(context=lab.client_tls_context())
        s.noop()
    host.settle()
    assert "TLS connection established" not in host.maillog.read()


def test_protocols_limit_the_handshake(lab):
    h = lab.add_host("mail.example.com", users={"alice": "secret"})
    cf = h.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + "smtpd_tls_protocols = <=TLSv1.2\n")
    h.reload()
    lab.start()
    with clients.SMTP(h, local_hostname="laptop") as s:
        s.starttls(context=lab.client_tls_context())
        assert s.sock.version() == "TLSv1.2"
    ctx = lab.client_tls_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with clients.SMTP(h, local_hostname="laptop") as s:
        with pytest.raises((ssl.SSLError, smtplib.SMTPServerDisconnected, OSError)):
            s.starttls(context=ctx)


def test_a_new_certificate_is_served_after_reload_on_both_ports(host, lab):
    """Postfix's smtpd reads its certificate per process: reload is enough."""
    from labmail.net.certs import write_self_signed
    from labmail.net.tlsctx import inspect_tls
    write_self_signed(host.path("/etc/ssl/certs/mail.pem"), host.path("/etc/ssl/private/mail.key"),
                      "mail.example.com", sans=["mail.example.com"])
    _edit(host, "smtpd_tls_cert_file = /etc/ssl/certs/mail.pem",
          "smtpd_tls_key_file = /etc/ssl/private/mail.key")
    for service, starttls in (("smtp", "smtp"), ("smtps", None), ("submission", "smtp")):
        report = inspect_tls(*host.endpoints[service], starttls=starttls,
                             cafile=lab.ca.root_path, server_name="mail.example.com")
        assert report.level == "Untrusted" and report.chain[0].self_signed, service
        assert "self-signed certificate" in (report.reason or ""), report.reason



def test_ciphers_and_exclusions_apply_below_tls13(lab):
    h = lab.add_host("mail.example.com", users={"alice": "secret"})
    cf = h.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + "smtpd_tls_protocols = <=TLSv1.2\nsmtpd_tls_ciphers = high\n"
                  "smtpd_tls_exclude_ciphers = AES256, CHACHA20\n")
    h.reload()
    lab.start()
    with clients.SMTP(h, local_hostname="laptop") as s:
        s.starttls(context=lab.client_tls_context())
        name, version, bits = s.sock.cipher()
    assert version == "TLSv1.2" and "AES128" in name, name
    log = h.maillog.read()
    assert f"TLSv1.2 with cipher {name} (128/128 bits)" in log


def test_chain_files_serve_key_and_chain(host, lab):
    from labmail.net.certbot import Certbot
    bot = Certbot(host.path("/etc/letsencrypt"), lab.ca, lab.dns, lab.resolver,
                  clock=lab.clock, ids=lab.ids)
    bot.certonly(["mail.example.com"])
    live = "/etc/letsencrypt/live/mail.example.com"
    _edit(host, f"smtpd_tls_chain_files = {live}/privkey.pem, {live}/fullchain.pem")
    from labmail.net.tlsctx import inspect_tls
    report = inspect_tls(*host.endpoints["smtp"], starttls="smtp", cafile=lab.ca.root_path,
                         server_name="mail.example.com")
    assert report.level == "Verified" and report.chain[0].sans == ("mail.example.com",)


def test_received_tls_text_folds_as_postfix_does():
    """Byte for byte what Postfix 3.7 wrote (smtpd_tls_received_header = yes, postcat)."""
    import datetime as dt
    from labmail.mta.cleanup import received_header
    from labmail.mta.smtpd_tls import received_tls_text
    tls = received_tls_text("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) "
                            "key-exchange X25519 server-signature RSA-PSS (2048 bits) "
                            "server-digest SHA256")
    header = received_header(
        helo="x", client_name="localhost", client_ip="127.0.0.1", myhostname="mail.example.com",
        mail_name="Postfix", protocol="ESMTPSA", queue_id="B2B42280568",
        recipients=["x@example.org"], tls=tls,
        when=dt.datetime(2026, 11, 28, 0, 54, 29, tzinfo=dt.timezone.utc))
    assert header == (
        b"Received: from x (localhost [127.0.0.1])\r\n"
        b"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n"
        b"\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\r\n"
        b"\t(No client certificate requested)\r\n"
        b"\tby mail.example.com (Postfix) with ESMTPSA id B2B42280568\r\n"
        b"\tfor <x@example.org>; Sat, 28 Nov 2026 00:54:29 +0000 (UTC)\r\n")


def test_smtpd_passes_the_tls_text_when_the_host_takes_it(host, lab, monkeypatch):
    seen = {}
    original = host.accept_message

    async def accept_message(*, tls=None, **kwargs):
        seen["tls"], seen["protocol"] = tls, kwargs["protocol"]
        return await original(**kwargs)
    monkeypatch.setattr(host, "accept_message", accept_message)
    _edit(host, "smtpd_tls_received_header = yes")
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.starttls(context=lab.client_tls_context())
        s.sendmail("alice@example.com", ["bob@example.com"], MSG)
    assert seen["protocol"] == "ESMTPS"
    assert seen["tls"].startswith("using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
                                  "\r\n\t key-exchange X25519 server-signature ECDSA (prime256v1)")


_INJECTED = st.lists(st.sampled_from(["MAIL FROM:<mallory@evil.example>", "RCPT TO:<bob@example.com>",
                                      "DATA", "RSET", "QUIT", "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
                                      "EHLO evil.example", "NOOP", "VRFY bob"]),
                     min_size=1, max_size=6)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(injected=_INJECTED)
def test_nothing_pipelined_behind_starttls_is_executed(host, lab, injected):
    r = Raw(host.endpoints["smtp"], context=lab.client_tls_context())
    try:
        r.cmd("EHLO laptop")
        r.sock.sendall(b"STARTTLS\r\n" + "".join(c + "\r\n" for c in injected).encode())
        assert r.reply() == ["220 2.0.0 Ready to start TLS"]
        r.starttls()
        # the first reply inside TLS answers our NOOP, not an injected command
        assert r.cmd("NOOP") == ["250 2.0.0 Ok"]
        assert r.last("RCPT TO:<bob@example.com>") == "503 5.5.1 Error: need MAIL command"
    finally:
        r.close()
