"""Mail crossing between lab hosts: MX lookups, relaying, deferral, flush, bounces."""
from __future__ import annotations

import email
import smtplib

from conftest import wait_for

MSG = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: across\r\n\r\nHello Bob\r\n"


def _two(lab):
    a = lab.add_host("mail.example.com", users={"alice": "x"})
    b = lab.add_host("mail.example.org", users={"bob": "y"})
    lab.start()
    return a, b


def _send(host, rcpt="bob@example.org", sender="alice@example.com", msg=MSG):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail(sender, [rcpt], msg)


def test_mail_relays_to_the_mx_of_the_other_domain(lab):
    a, b = _two(lab)
    _send(a)
    lab.settle()
    [msg] = [email.message_from_bytes(m.as_bytes()) for m in b.mailbox("bob")]
    received = msg.get_all("Received")
    assert len(received) == 2
    assert " ".join(received[0].split()).startswith(
        f"from mail.example.com (mail.example.com [{a.ip}]) by mail.example.org (labmail)")
    log = a.maillog.read()
    assert f"to=<bob@example.org>, relay=mail.example.org[{a.lab.host('mail.example.org').ip}]:" in log
    assert "status=sent (250 2.0.0 Ok: queued as " in log


def test_destination_down_defers_then_flush_delivers_once(lab):
    a, b = _two(lab)
    b.stop()
    _send(a)
    a.settle()
    assert "status=deferred (connect to mail.example.org[" in a.maillog.read()
    assert "Connection refused" in a.mailq()
    assert a.mailq().splitlines()[0].startswith("-Queue ID-")
    b.start()
    a.flush()
    assert wait_for(lambda: len(list((b.maildir_path("bob") / "new").iterdir())) == 1)
    a.settle()
    assert a.mailq() == "Mail queue is empty"
    a.flush()
    a.settle()
    assert len(b.mailbox("bob")) == 1


def test_unknown_remote_user_bounces_back_to_the_sender(lab):
    a, b = _two(lab)
    _send(a, rcpt="nobody@example.org")
    lab.settle()
    log = a.maillog.read()
    assert "dsn=5.1.1, status=bounced (host mail.example.org[" in log
    assert wait_for(lambda: len(a.mailbox("alice")) == 1)
    [dsn] = list(a.mailbox("alice"))
    assert dsn["From"] == "Mail Delivery System <MAILER-DAEMON@mail.example.com>"
    assert dsn.get_content_type() == "multipart/report"


def test_stranger_cannot_relay_but_inside_client_can(lab):
    a, b = _two(lab)
    s = smtplib.SMTP(*a.endpoints["smtp"], source_address=("127.0.0.9", 0))
    s.ehlo("stranger")
    s.mail("spam@example.net")
    assert s.rcpt("bob@example.org") == (454, b"4.7.1 <bob@example.org>: Relay access denied")
    s.quit()
    _send(a)
    lab.settle()
    assert len(b.mailbox("bob")) == 1


def test_queue_survives_a_restart(tmp_path):
    import labmail
    state = tmp_path / "state"
    lab = labmail.Lab(ports="auto", state_dir=state, seed=3)
    a = lab.add_host("mail.example.com", users={"alice": "x"})
    b = lab.add_host("mail.example.org", users={"bob": "y"})
    lab.start()
    b.stop()
    _send(a)
    a.settle()
    assert a.mailq().endswith("in 1 Request.")
    lab.stop()
    lab2 = labmail.Lab(ports="auto", state_dir=state, seed=4)
    a2 = lab2.add_host("mail.example.com", users={"alice": "x"})
    b2 = lab2.add_host("mail.example.org", users={"bob": "y"})
    lab2.start()
    try:
        a2.flush()
        assert wait_for(lambda: len(list((b2.maildir_path("bob") / "new").iterdir())) == 1)
        a2.settle()
        assert a2.mailq() == "Mail queue is empty"
    finally:
        lab2.stop()


def test_postsuper_hold_release_delete(lab):
    a, b = _two(lab)
    b.stop()
    _send(a)
    a.settle()
    assert a.postsuper("-h", "ALL") == "postsuper: Placed on hold: 1 message"
    assert "!" in a.mailq().splitlines()[1]
    assert a.postsuper("-H", "ALL") == "postsuper: Released from hold: 1 message"
    assert a.postsuper("-d", "ALL").endswith(": removed\npostsuper: Deleted: 1 message")
    assert a.mailq() == "Mail queue is empty"


def test_debian_internet_site_profile(lab):
    h = lab.add_host("mail.example.net", users={"carol": "x"}, profile="Internet Site")
    lab.start()
    assert h.path("/etc/mailname").read_text().strip() == "mail.example.net"
    assert "myorigin = /etc/mailname" in h.path("/etc/postfix/main.cf").read_text()
    _send(h, rcpt="carol@mail.example.net", sender="bob@example.org")
    assert len(h.mailbox("carol")) == 1                   # mbox in /var/mail/carol
    assert h.path("/var/mail/carol").exists()
    s = smtplib.SMTP(*h.endpoints["smtp"], source_address=("127.0.0.9", 0))
    s.mail("spam@example.org")
    assert s.rcpt("victim@example.org")[0] == 454        # no open relay in the lab
    s.close()


def test_relaying_client_says_quit_and_waits_for_the_answer(lab):
    a, b = _two(lab)
    _send(a)
    lab.settle()
    assert wait_for(lambda: "quit=1" in [ln for ln in b.maillog.lines("disconnect from mail.example.com")][-1:][0]
                    if b.maillog.lines("disconnect from mail.example.com") else False)


def test_relay_tls_is_verified_against_the_lab_ca(lab):
    a, b = _two(lab)
    _send(a)
    lab.settle()
    log = a.maillog.read()
    assert "Verified TLS connection established to mail.example.org[" in log
    received = b.mailbox("bob")
    [msg] = list(received)
    assert "with ESMTPS id" in " ".join(msg["Received"].split())


def test_smtp_tls_security_level_verify_defers_an_unverified_server(lab):
    from labmail.net.certs import write_self_signed
    a, b = _two(lab)
    # a CA file that trusts some other authority, not the lab's
    write_self_signed(a.path("/etc/ssl/certs/other-ca.pem"), a.path("/etc/ssl/private/other.key"),
                      "Some Other CA")
    cf = a.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text().replace("smtp_tls_security_level = may",
                                         "smtp_tls_security_level = verify")
                  .replace("smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt",
                           "smtp_tls_CAfile = /etc/ssl/certs/other-ca.pem"))
    a.reload()
    _send(a)
    a.settle()
    log = a.maillog.read()
    assert "Untrusted TLS connection established" in log or "Trusted TLS connection established" in log
    assert "dsn=4.7.5, status=deferred (Server certificate not verified)" in log


def test_smtp_tls_security_level_encrypt_needs_starttls(lab):
    a, b = _two(lab)
    cfb = b.path("/etc/postfix/main.cf")
    cfb.write_text(cfb.read_text().replace("smtpd_tls_security_level = may",
                                           "smtpd_tls_security_level = none"))
    b.reload()
    cf = a.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text().replace("smtp_tls_security_level = may",
                                         "smtp_tls_security_level = encrypt"))
    a.reload()
    _send(a)
    a.settle()
    assert "dsn=4.7.4, status=deferred (TLS is required, but was not offered by host " \
        "mail.example.org[" in a.maillog.read()
