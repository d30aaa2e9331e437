"""A sending host meets the receiver's firewall as on a real network."""
from __future__ import annotations

import smtplib

import pytest

from conftest import wait_for


@pytest.fixture
def two(lab):
    com = lab.add_host("mail.example.com", users={"alice": "secret"})
    org = lab.add_host("mail.example.org", users={"bob": "builder"})
    lab.start()
    return com, org


def _send(org):
    with smtplib.SMTP(*org.endpoints["smtp"], timeout=5) as s:
        s.sendmail("bob@example.org", ["alice@example.com"], "Subject: over the wall\r\n\r\nhi\r\n")


def _smtp_lines(host):
    return [l for l in host.maillog.path.read_text().splitlines() if "postfix/smtp[" in l]


def test_rejected_port_25_is_connection_refused_and_deferred(two):
    com, org = two
    com.firewall.run("iptables -A INPUT -p tcp --dport 25 -j REJECT --reject-with tcp-reset")
    _send(org)
    assert wait_for(lambda: any("status=deferred" in l for l in _smtp_lines(org)), 5)
    line = next(l for l in _smtp_lines(org) if "status=deferred" in l)
    port = com.endpoints["smtp"][1]              # the lab port, as every relay= line shows
    assert f"connect to mail.example.com[{com.ip}]:{port}: Connection refused" in line
    assert wait_for(lambda: "Connection refused" in org.mailq(), 5)   # the reason mailq shows
    com.firewall.run("iptables -F")
    org.flush()
    assert wait_for(lambda: any(m["Subject"] == "over the wall" for m in com.mailbox("alice")), 15), \
        org.maillog.path.read_text()


def test_dropped_port_25_times_out(two):
    com, org = two
    org.postconf(e=["smtp_connect_timeout = 1s"])
    org.reload()
    com.firewall.run("iptables -A INPUT -p tcp --dport 25 -j DROP")
    _send(org)
    assert wait_for(lambda: any("status=deferred" in l for l in _smtp_lines(org)), 6)
    line = next(l for l in _smtp_lines(org) if "status=deferred" in l)
    assert "Connection timed out" in line


def test_loopback_only_receiver_refuses_the_sender(two):
    com, org = two
    com.postconf(e=["inet_interfaces = loopback-only"])
    com.stop()
    com.start()
    _send(org)
    assert wait_for(lambda: any("status=deferred" in l for l in _smtp_lines(org)), 5)
    assert "Connection refused" in next(l for l in _smtp_lines(org) if "status=deferred" in l)
