"""The recorded Postfix restriction table, replayed over real sockets against a lab host.

Same cases as test_restrictions.py (each recorded from a real Postfix 3.7):
the lab host's main.cf gets the case's lines, reloads, and a client bound to
127.0.0.9 (a stranger) or 127.0.0.1 (inside) says EHLO, MAIL FROM, RCPT TO.
"""
from __future__ import annotations

import socket

import pytest

from test_restrictions import BASE, CASES


def _rcpt_reply(address, src: str, helo: str, sender: str, rcpt: str) -> str:
    with socket.create_connection(address, timeout=10, source_address=(src, 0)) as s:
        f = s.makefile("rb")

        def reply() -> str:
            for _ in range(50):
                line = f.readline().decode().rstrip("\r\n")
                if len(line) < 4 or line[3] != "-":
                    return line
            raise AssertionError("endless reply")
        reply()
        last = ""
        for cmd in (f"EHLO {helo}", f"MAIL FROM:<{sender}>", f"RCPT TO:<{rcpt}>"):
            s.sendall(cmd.encode() + b"\r\n")
            last = reply()
        s.sendall(b"QUIT\r\n")
        return last


@pytest.fixture(scope="module")
def lab_host(tmp_path_factory):
    import labmail
    lab = labmail.Lab(ports="auto", state_dir=tmp_path_factory.mktemp("lab"), seed=7,
                      clock="2026-11-27T09:00:00+00:00")
    host = lab.add_host("mail.example.com", users={"alice": "secret", "bob": "builder"})
    lab.start()
    yield host
    lab.stop()


def _params():
    return [pytest.param(case, id=f"{i:02d}") for i, case in enumerate(CASES)]


_current = {}


@pytest.mark.parametrize("case", _params())
def test_lab_smtpd_answers_as_recorded(lab_host, case):
    extra, tables, ip, helo, sender, rcpt, expected = case
    key = (extra, tuple(sorted(tables.items())))
    if _current.get(lab_host) != key:          # reload only when the configuration changes
        for name, text in tables.items():
            lab_host.path(f"/etc/postfix/{name}").write_text(text + "\n")
        lab_host.path("/etc/postfix/main.cf").write_text(BASE + f"myhostname = mail.example.com\n{extra}\n")
        lab_host.reload()
        _current[lab_host] = key
    reply = _rcpt_reply(lab_host.endpoints["smtp"], ip, helo, sender, rcpt)
    if expected is None:
        assert reply.startswith("250 "), reply
    else:
        assert reply == expected
