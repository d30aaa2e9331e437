"""A guarded listener over real sockets: accepted, reset (REJECT) or silent (DROP)."""
from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from labmail.firewall import Firewall
from labmail.firewall.gate import guarded

from conftest import close_server, wait_for


class Greeter(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"220 hello\r\n")

    def data_received(self, data):
        self.transport.write(b"250 " + data)


@pytest.fixture
def server():
    """A greeter behind a firewall on a free port; yields (address, firewall, verdicts)."""
    fw = Firewall()
    seen = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    factory = guarded(Greeter, lambda ip: fw.decide(25, "tcp", ip), drop_hold=2.0,
                      on_verdict=lambda ip, v: seen.append(v))
    srv = asyncio.run_coroutine_threadsafe(
        loop.create_server(factory, "127.0.0.1", 0), loop).result(5)
    yield srv.sockets[0].getsockname()[:2], fw, seen
    close_server(loop, srv)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_accept_passes_the_connection_on(server):
    addr, fw, seen = server
    with socket.create_connection(addr, timeout=2) as s:
        assert s.recv(100) == b"220 hello\r\n"
        s.sendall(b"NOOP\r\n")
        assert s.recv(100) == b"250 NOOP\r\n"
    assert seen == ["ACCEPT"]


def test_reject_resets_the_connection(server):
    addr, fw, seen = server
    fw.run("iptables -A INPUT -p tcp --dport 25 -j REJECT --reject-with tcp-reset")
    # on loopback the RST may even beat connect()'s return: then connect itself fails
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        with socket.create_connection(addr, timeout=2) as s:
            s.recv(100) or s.sendall(b"x" * 100000)
    assert wait_for(lambda: seen == ["REJECT"])


def test_drop_stays_silent_until_the_client_gives_up(server):
    addr, fw, seen = server
    fw.run("iptables -P INPUT DROP")
    with socket.create_connection(addr, timeout=0.3) as s:
        with pytest.raises(socket.timeout):
            s.recv(100)
    assert seen == ["DROP"]


def test_the_lab_smtpd_behind_the_guard(host):
    """The host's own SMTP factory (aiosmtpd, STARTTLS) works through the guard."""
    import smtplib
    from labmail.mta.smtpd import make_protocol_factory

    fw = Firewall()
    factory = guarded(make_protocol_factory(host), lambda ip: fw.decide(25, "tcp", ip))
    assert factory.service_state is not None                # the factory's attributes stay

    async def start():
        return await host.lab.loop.create_server(factory, "127.0.0.1", 0)
    server = host.lab.run(start())
    try:
        addr = server.sockets[0].getsockname()[:2]
        with smtplib.SMTP(*addr, timeout=5) as s:
            s.starttls(context=host.lab.client_tls_context(verify=False))
            s.sendmail("bob@example.org", ["alice@example.com"], "Subject: guarded\r\n\r\nhi\r\n")
        fw.run("iptables -P INPUT DROP")
        with pytest.raises((socket.timeout, smtplib.SMTPServerDisconnected)):
            smtplib.SMTP(*addr, timeout=0.5)
    finally:
        close_server(host.lab, server)
    host.settle()
    assert any(m["Subject"] == "guarded" for m in host.mailbox("alice"))
