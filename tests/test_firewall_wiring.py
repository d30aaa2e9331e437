"""Every listener of a lab host obeys host.firewall, over real sockets.

Rules name the standard ports (25, 110, 993 ...); the lab listens on others
(10025 ... or free ports), so these tests also show the mapping is right.
"""
from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl

import pytest

import labmail
from labmail.spam import spamc
from labmail.spam.protocol import Method

from conftest import wait_for

#: how long a client waits for a greeting from a dropped port (bounded, short)
SHORT = 0.5


def tls(host) -> ssl.SSLContext:
    return host.lab.client_tls_context(verify=False)


def greeting(addr, timeout: float = SHORT, source: str = "127.0.0.1") -> bytes:
    """The first bytes a plain-text server sends (raises on timeout or reset)."""
    with socket.create_connection(tuple(addr), timeout=timeout,
                                  source_address=(source, 0)) as s:
        return s.recv(200)


def test_default_host_is_unfiltered(host):
    assert host.firewall.accepts_all()
    assert host.firewall.decide(110) == "ACCEPT"
    for name in ("smtp", "submission", "pop3", "imap"):
        assert greeting(host.endpoints[name], timeout=5)[:1] in (b"2", b"+", b"*"), name
    with smtplib.SMTP_SSL(*host.endpoints["smtps"], context=tls(host), timeout=5) as s:
        assert s.noop()[0] == 250
    with imaplib.IMAP4_SSL(*host.endpoints["imaps"], ssl_context=tls(host), timeout=5) as m:
        m.login("alice", "secret")
    p = poplib.POP3_SSL(*host.endpoints["pop3s"], context=tls(host), timeout=5)
    assert p.user("alice").startswith(b"+OK")
    p.quit()
    assert spamc.request(*host.endpoints["spamd"], Method.PING, timeout=5).message == "PONG"


def test_default_deny_with_25_and_993_open(host):
    fw = host.firewall
    fw.run("iptables -P INPUT DROP")
    fw.run("iptables -A INPUT -p tcp --dport 25 -j ACCEPT")
    fw.run("iptables -A INPUT -p tcp --dport 993 -j ACCEPT")
    with smtplib.SMTP(*host.endpoints["smtp"], timeout=5) as s:
        s.sendmail("bob@example.org", ["alice@example.com"], "Subject: through\r\n\r\nhi\r\n")
    with imaplib.IMAP4_SSL(*host.endpoints["imaps"], ssl_context=tls(host), timeout=5) as m:
        m.login("alice", "secret")
    # 110 is closed: the connection stays silent, the client gives up after its timeout
    with pytest.raises((socket.timeout, TimeoutError)):
        poplib.POP3(*host.endpoints["pop3"], timeout=SHORT)
    for name in ("submission", "imap"):
        with pytest.raises((socket.timeout, TimeoutError)):
            greeting(host.endpoints[name])
    # an implicit-TLS port that is closed does not even start the TLS handshake
    with pytest.raises((socket.timeout, TimeoutError)):
        poplib.POP3_SSL(*host.endpoints["pop3s"], context=tls(host), timeout=SHORT)
    host.settle()
    assert any(m["Subject"] == "through" for m in host.mailbox("alice"))


def test_reject_resets_at_once(host):
    host.firewall.run("iptables -A INPUT -p tcp --dport 110 -j REJECT")
    with pytest.raises((ConnectionResetError, ConnectionRefusedError)):
        poplib.POP3(*host.endpoints["pop3"], timeout=5)
    with pytest.raises((ConnectionResetError, ConnectionRefusedError, ssl.SSLError)):
        host.firewall.run("iptables -A INPUT -p tcp --dport 465 -j REJECT --reject-with tcp-reset")
        smtplib.SMTP_SSL(*host.endpoints["smtps"], context=tls(host), timeout=5)
    assert greeting(host.endpoints["imap"], timeout=5).startswith(b"* OK")


def test_rules_see_the_real_source_address(host):
    host.firewall.run("iptables -A INPUT -s 127.0.0.1 -p tcp --dport 143 -j REJECT")
    with pytest.raises((ConnectionResetError, ConnectionRefusedError)):
        greeting(host.endpoints["imap"], timeout=5)
    assert greeting(host.endpoints["imap"], timeout=5, source="127.0.0.9").startswith(b"* OK")


def test_spamd_is_reached_over_lo_only(host):
    fw = host.firewall
    fw.run("iptables -P INPUT DROP")
    fw.run("iptables -A INPUT -p tcp -m multiport --dports 25,110,143,993,995 -j ACCEPT")
    with pytest.raises(spamc.SpamcError):               # no lo rule: even spamc is dropped
        spamc.request(*host.endpoints["spamd"], Method.PING, timeout=SHORT)
    fw.run("iptables -I INPUT 1 -i lo -j ACCEPT")
    assert spamc.request(*host.endpoints["spamd"], Method.PING, timeout=5).message == "PONG"


def test_firewalld_flow(host):
    fw = host.firewall
    assert fw.run("systemctl enable --now firewalld").rc == 0
    with pytest.raises((ConnectionResetError, ConnectionRefusedError)):
        greeting(host.endpoints["pop3"], timeout=5)          # public zone: ssh, dhcpv6-client
    assert str(fw.run("firewall-cmd --add-service=pop3")) == "success"
    assert greeting(host.endpoints["pop3"], timeout=5).startswith(b"+OK")
    assert str(fw.run("firewall-cmd --add-service=imaps --permanent")) == "success"
    fw.run("firewall-cmd --reload")
    host.stop()
    host.start()
    assert host.firewall.firewalld.running                  # enabled: runs at boot
    with pytest.raises((ConnectionResetError, ConnectionRefusedError)):
        greeting(host.endpoints["pop3"], timeout=5)          # runtime only: gone
    with imaplib.IMAP4_SSL(*host.endpoints["imaps"], ssl_context=tls(host), timeout=5) as m:
        m.login("alice", "secret")


def test_saved_rules_survive_restarts(host, tmp_path):
    fw = host.firewall
    for line in ("iptables -A INPUT -i lo -j ACCEPT",
                 "iptables -A INPUT -p tcp --dport 25 -j ACCEPT",
                 "iptables -P INPUT DROP",
                 "iptables-save > /etc/iptables/rules.v4",
                 "iptables -A INPUT -p tcp --dport 110 -j ACCEPT"):   # not saved
        assert fw.run(line).rc == 0, line
    assert greeting(host.endpoints["pop3"], timeout=5).startswith(b"+OK")
    host.stop()
    host.start()
    assert greeting(host.endpoints["smtp"], timeout=5).startswith(b"220")
    with pytest.raises((socket.timeout, TimeoutError)):
        greeting(host.endpoints["pop3"])
    assert "dpt:110" not in str(host.firewall.run("iptables -L -n"))
    # a new lab on the same state directory boots with the same rules
    state = host.lab.state_dir
    host.lab.stop()
    lab2 = labmail.Lab(ports="auto", state_dir=state, seed=7,
                       clock="2026-11-27T09:00:00+00:00")
    try:
        again = lab2.add_host("mail.example.com")
        lab2.start()
        assert again.firewall.decide(110) == "DROP" and again.firewall.decide(25) == "ACCEPT"
        with pytest.raises((socket.timeout, TimeoutError)):
            greeting(again.endpoints["pop3"])
    finally:
        lab2.stop()


def test_stop_lets_dropped_connections_go(host):
    host.firewall.run("iptables -P INPUT DROP")
    s = socket.create_connection(tuple(host.endpoints["pop3"]), timeout=5)
    try:
        listener = host._servers["pop3"].labmail_listener
        assert wait_for(lambda: len(listener.held) == 1)
        host.stop()
        assert not listener.held
        try:
            assert s.recv(10) == b""                          # closed, not a greeting
        except ConnectionResetError:
            pass
    finally:
        s.close()
