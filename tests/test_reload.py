"""postfix check / reload / postconf on a running lab host."""
from __future__ import annotations

import smtplib

import pytest

import labmail


def test_postconf_and_check_on_a_host(host):
    assert host.postconf("mydomain", x=True).strip() == "mydomain = example.com"
    assert "home_mailbox = Maildir/" in host.postconf(n=True)
    assert host.check().ok


def test_reload_applies_a_new_banner_to_new_sessions_only(host):
    old = smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop")
    cf = host.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + "smtpd_banner = $myhostname ESMTP\n")
    host.reload()
    with smtplib.SMTP(*host.endpoints["smtp"]) as new:
        code, banner = new.noop()
    import socket
    with socket.create_connection(host.endpoints["smtp"], timeout=5) as s:
        assert s.recv(100) == b"220 mail.example.com ESMTP\r\n"
    assert old.noop()[0] == 250            # the old session goes on
    old.quit()


def test_a_broken_main_cf_is_refused_and_old_settings_stay(host):
    cf = host.path("/etc/postfix/main.cf")
    good = cf.read_text()
    cf.write_text(good + "mynetworks = 127.0.0.1/99\ninet_protocols = ipv5\n")
    with pytest.raises(labmail.ConfigError) as exc:
        host.reload()
    text = str(exc.value)
    assert "/etc/postfix/main.cf, line" in text
    assert "127.0.0.1/99" in text and "ipv5" in text
    assert not host.check().ok
    # the server still runs with the old settings
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"], b"Subject: t\r\n\r\nx\r\n")
    assert len(host.mailbox("alice")) == 1


def test_closing_an_open_relay_with_mynetworks(lab):
    h = lab.add_host("mail.example.com", users={"alice": "x"})
    lab.add_host("mail.example.org", users={"bob": "y"})
    lab.start()
    cf = h.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + "mynetworks = 127.0.0.0/8\n")      # an open relay
    h.reload()
    s = smtplib.SMTP(*h.endpoints["smtp"], source_address=("127.0.0.9", 0))
    s.mail("spam@example.net")
    assert s.rcpt("bob@example.org")[0] == 250
    s.rset()
    cf.write_text(cf.read_text().replace("mynetworks = 127.0.0.0/8\n", "mynetworks = 127.0.0.1/32\n"))
    h.reload()
    s2 = smtplib.SMTP(*h.endpoints["smtp"], source_address=("127.0.0.9", 0))
    s2.mail("spam@example.net")
    assert s2.rcpt("bob@example.org") == (454, b"4.7.1 <bob@example.org>: Relay access denied")
    s.close()
    s2.close()


def test_reject_unknown_sender_domain_asks_the_lab_dns(lab):
    h = lab.add_host("mail.example.com", users={"alice": "x"})
    lab.add_host("mail.example.org")
    lab.start()
    cf = h.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + "smtpd_sender_restrictions = reject_unknown_sender_domain\n")
    h.reload()
    s = smtplib.SMTP(*h.endpoints["smtp"], source_address=("127.0.0.9", 0))
    s.mail("someone@no-such-domain.example")
    code, text = s.rcpt("alice@example.com")
    assert code == 450 or code == 550, (code, text)
    assert b"Sender address rejected: Domain not found" in text
    s.rset()
    s.mail("bob@example.org")
    assert s.rcpt("alice@example.com")[0] == 250
    s.close()
