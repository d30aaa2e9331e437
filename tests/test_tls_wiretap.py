"""What a passive listener sees: cleartext AUTH before STARTTLS, only TLS records after."""
from __future__ import annotations

import base64
import smtplib

from labmail.net.tlsctx import client_context
from labmail.net.wiretap import WireTap, describe_bytes, tls_records

SECRET = base64.b64encode(b"\0alice\0secret").decode()


def _tap(lab, host):
    tap = WireTap(tuple(host.endpoints["smtp"]))
    ip, port = lab.run(tap.start())
    return tap, ip, port


def test_eavesdropper_reads_cleartext_auth(lab):
    host = lab.add_host("mail.example.com", users={"alice": "secret"})
    lab.start()
    tap, ip, port = _tap(lab, host)
    try:
        with smtplib.SMTP(ip, port, timeout=10) as s:
            s.ehlo("client.example")
            s.docmd("AUTH", "PLAIN " + SECRET)        # whatever the server answers
    finally:
        lab.run(tap.stop())
    assert tap.seen(SECRET.encode())
    text = tap.transcript()
    assert f"C: AUTH PLAIN {SECRET}" in text and text.startswith("S: 220 ")


def test_after_starttls_only_tls_records_cross_the_wire(lab):
    host = lab.add_host("mail.example.com", users={"alice": "secret"})
    lab.start()
    tap, ip, port = _tap(lab, host)
    try:
        with smtplib.SMTP(ip, port, timeout=10) as s:
            s.ehlo("client.example")
            s.starttls(context=client_context(lab.ca.root_path, check_hostname=False))
            s.ehlo("client.example")
            s.docmd("AUTH", "PLAIN " + SECRET)
    finally:
        lab.run(tap.stop())
    assert not tap.seen(SECRET.encode()) and not tap.seen(b"alice")
    lines = tap.transcript().splitlines()
    switch = lines.index("C: STARTTLS")
    assert lines[switch + 1].startswith("S: 220 ")
    assert lines[switch + 2].startswith("C: [TLS handshake: ClientHello")
    assert all("[TLS " in line for line in lines[switch + 2:])
    assert any("application_data" in line for line in lines[switch + 2:])


def test_describe_bytes_and_records():
    assert tls_records(bytes([22, 3, 3, 0, 2, 2, 0]) + bytes([20, 3, 3, 0, 1, 1])) == [
        ("handshake: ServerHello", 7), ("change_cipher_spec", 6)]
    assert tls_records(bytes([22, 3])) is None          # too short for a header
    assert describe_bytes("S", b"250-mail\r\n250 8BITMIME\r\n") == ["S: 250-mail",
                                                                    "S: 250 8BITMIME"]
    assert describe_bytes("C", bytes(range(200, 232)))[0].startswith("C: [32 bytes of binary")
    assert describe_bytes("S", bytes([23, 3, 3, 0, 3]) + b"xyz", hex_bytes=6) == [
        "S: [TLS application_data, 8 bytes]", "S:   17 03 03 00 03 78 ..."]
