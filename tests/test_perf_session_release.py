"""An ended SMTP session lets go of itself: its connection object is freed by
reference counting, without waiting for Python's cycle collector, whichever
way the session ended (QUIT, a dropped connection, STARTTLS first)."""
from __future__ import annotations

import gc
import smtplib
import socket
import weakref

import pytest

from conftest import wait_for

MSG = b"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nHello\r\n"


@pytest.fixture
def no_cycle_collector():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _watch(host):
    """A weak reference to the newest open smtpd connection of *host*."""
    assert wait_for(lambda: len(host._connections) == 1)
    return weakref.ref(next(iter(host._connections)))


def _freed(ref) -> bool:
    return wait_for(lambda: ref() is None, timeout=5.0)


def test_a_session_ended_by_quit_is_freed_at_once(host, no_cycle_collector):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        ref = _watch(host)
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    assert _freed(ref)
    t = host.trace.list("smtp")[-1]
    assert t.closed and t.server_lines()[-1] == "221 2.0.0 Bye"


def test_a_connection_dropped_in_the_middle_of_data_is_freed(host, no_cycle_collector):
    sock = socket.create_connection(host.endpoints["smtp"], timeout=5)
    f = sock.makefile("rb")
    f.readline()
    ref = _watch(host)
    for line in (b"EHLO laptop", b"MAIL FROM:<bob@example.org>", b"RCPT TO:<alice@example.com>",
                 b"DATA"):
        sock.sendall(line + b"\r\n")
        while f.readline()[3:4] == b"-":
            pass
    sock.sendall(b"Subject: cut\r\n\r\nhalf a mess")
    f.close()
    sock.close()
    assert _freed(ref)
    assert wait_for(lambda: host.trace.list("smtp")[-1].closed)


def test_a_session_after_starttls_is_freed(host, no_cycle_collector):
    from labmail import clients
    with clients.SMTP(host, local_hostname="laptop") as s:
        ref = _watch(host)
        s.starttls(context=host.lab.client_tls_context())
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    assert _freed(ref)
