"""inet_interfaces / inet_protocols / Dovecot's listen decide who reaches a daemon."""
from __future__ import annotations

import poplib
import smtplib
import socket

import pytest

from labmail.errors import LabError
from labmail.net.interfaces import dovecot_binding, postfix_binding


@pytest.mark.parametrize("interfaces, protocols, expected", [
    ("all", "all", "all"),
    ("all", "ipv4", "all"),
    ("loopback-only", "all", "local"),
    ("localhost", "ipv4", "local"),
    ("127.0.0.1, [::1]", "all", "local"),
    ("127.0.0.1, 127.0.0.2", "all", "all"),          # the host's own address too
    ("mail.example.com", "all", "all"),
    ("all", "ipv6", "none"),                         # the lab's network is IPv4
])
def test_postfix_binding(interfaces, protocols, expected):
    assert postfix_binding(interfaces, protocols, "127.0.0.2", "mail.example.com") == expected


def test_an_address_the_host_does_not_have_is_fatal():
    with pytest.raises(LabError, match="no local interface found for 192.0.2.7"):
        postfix_binding("192.0.2.7", "all", "127.0.0.2", "mail.example.com")


@pytest.mark.parametrize("listen, expected", [
    (("*", "::"), "all"), (("127.0.0.1",), "local"), (("::",), "none"), (("127.0.0.2",), "all")])
def test_dovecot_binding(listen, expected):
    assert dovecot_binding(listen, "127.0.0.2", "mail.example.com") == expected


def _from(ip: str, addr) -> socket.socket:
    return socket.create_connection(addr, timeout=2, source_address=(ip, 0))


def test_loopback_only_smtp_refuses_other_machines_after_a_restart(host):
    addr = host.endpoints["smtp"]
    host.postconf(e=["inet_interfaces = loopback-only"])
    host.reload()                                      # not enough: read at start only
    with _from("127.0.0.9", addr) as s:
        assert s.recv(100).startswith(b"220 ")
    host.stop()
    host.start()
    addr = host.endpoints["smtp"]
    with pytest.raises((ConnectionResetError, ConnectionRefusedError, BrokenPipeError)):
        with _from("127.0.0.9", addr) as s:          # another machine: connection refused
            s.recv(100) or s.sendall(b"x" * 100000)
    with smtplib.SMTP(*addr, timeout=5) as smtp:      # the machine itself (127.0.0.1)
        assert smtp.noop()[0] == 250
    pop = host.endpoints["pop3"]                       # Dovecot's listen is its own setting
    with _from("127.0.0.9", pop) as s:
        assert s.recv(100).startswith(b"+OK")


def test_dovecot_listen_on_loopback_only(host):
    conf = host.path("/etc/dovecot/dovecot.conf")
    conf.write_text(conf.read_text().replace("listen = *", "listen = 127.0.0.1", 1))
    host.stop()
    host.start()
    with pytest.raises((ConnectionResetError, ConnectionRefusedError, BrokenPipeError)):
        with _from("127.0.0.9", host.endpoints["pop3"]) as s:
            s.recv(100) or s.sendall(b"x" * 100000)
    client = poplib.POP3(*host.endpoints["pop3"], timeout=5)
    assert client.getwelcome().startswith(b"+OK")
    client.quit()
    with _from("127.0.0.9", host.endpoints["smtp"]) as s:
        assert s.recv(100).startswith(b"220 ")


def test_unknown_interface_stops_the_start(lab):
    h = lab.add_host("mail.example.com")
    h.postconf(e=["inet_interfaces = 192.0.2.7"])
    with pytest.raises(LabError, match="fatal: parameter inet_interfaces"):
        lab.start()
