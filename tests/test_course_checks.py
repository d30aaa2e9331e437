"""course.check_port, check_path and check_received: pass on the right answer, explain a wrong one."""
from __future__ import annotations

import smtplib

import pytest

from labmail.course import CheckFailed, check_path, check_port, check_received


def test_check_port(host):
    port = host.endpoints["imap"][1]
    assert "listens on" in str(check_port(host, "imap", port))
    for wrong, hint in [(143, "standard port"), (None, "No answer yet"), ("143", "a number"),
                        (1, "port_table")]:
        with pytest.raises(CheckFailed, match=hint):
            check_port(host, "imap", wrong)


def test_check_path(host):
    assert "exists" in str(check_path(host, "/etc/aliases", host.path("/etc/aliases")))
    with pytest.raises(CheckFailed, match=r"host.path\('/etc/aliases'\)"):
        check_path(host, "/etc/aliases", "/etc/aliases")
    with pytest.raises(CheckFailed, match="No answer"):
        check_path(host, "/etc/aliases", None)


def test_check_received(host):
    with pytest.raises(CheckFailed, match="no message with 'Subject: Agenda'"):
        check_received(host, "bob", "Agenda")
    with smtplib.SMTP(*host.endpoints["smtp"]) as s:
        s.sendmail("carol@example.net", ["bob@example.com"],
                   "From: carol@example.net\r\nSubject: Agenda\r\n\r\n1. lunch\r\n")
    assert str(check_received(host, "bob", "Agenda")) == "Correct: bob received 'Agenda'."
    with pytest.raises(CheckFailed, match="not alice@example.com"):
        check_received(host, "bob", "Agenda", sender="alice@example.com")
