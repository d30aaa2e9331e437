"""course_access: the IMAP client by host name, and lesson 11's checks (pass right, explain wrong)."""
from __future__ import annotations

import smtplib

import pytest

from labmail.course import CheckFailed
from labmail.course_access import (LabIMAPClient, check_flagged, check_junk_folder,
                                   check_tls_only_ports, special_use_folders)


def _send(host, subject):
    with smtplib.SMTP(*host.endpoints["smtp"]) as s:
        s.sendmail("bob@example.com", ["alice@example.com"],
                   f"From: bob@example.com\r\nSubject: {subject}\r\n\r\nhi\r\n")
    host.settle()


def test_client_verifies_the_host_name_over_both_ports(host):
    with LabIMAPClient(host) as c:                       # 993: TLS from the first byte
        c.login("alice", "secret")
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
    c = LabIMAPClient(host, "imap")                      # 143: clear, then STARTTLS
    c.starttls()
    c.login("alice", "secret")
    c.logout()


def test_special_use_and_junk_check(host):
    assert special_use_folders(host, "alice", "secret")["\\Junk"] == "Junk"
    assert "Correct" in str(check_junk_folder(host, "Junk", password="secret"))
    for wrong, hint in [(None, "No answer"), (3, "folder name"), ("Trash", "Trash"),
                        ("INBOX", "Not the spam folder")]:
        with pytest.raises(CheckFailed, match=hint):
            check_junk_folder(host, wrong, password="secret")


def test_check_flagged(host):
    with pytest.raises(CheckFailed, match="no message"):
        check_flagged(host, "Meeting", password="secret")
    _send(host, "Meeting moved")
    _send(host, "Lunch")
    with pytest.raises(CheckFailed, match="do not carry"):
        check_flagged(host, "Meeting", password="secret")
    with LabIMAPClient(host) as c:
        c.login("alice", "secret")
        c.select_folder("INBOX")
        c.add_flags(c.search(["ALL"]), [b"\\Answered"])
        with pytest.raises(CheckFailed, match="also on"):
            check_flagged(host, "Meeting", password="secret")
        c.remove_flags(c.search(["SUBJECT", "Lunch"]), [b"\\Answered"])
    assert "Correct" in str(check_flagged(host, "Meeting", password="secret"))


def test_check_tls_only_ports():
    assert "993" in str(check_tls_only_ports({993, 995}))
    assert "995" in str(check_tls_only_ports([995, 993]))
    for wrong, hint in [(None, "No answer"), ("abc", "numbers"), ({10993, 10995}, "lab's"),
                        ({993, 995, 143}, "clear text"), ({993, 995, 587}, "SMTP"),
                        ({993}, "missing: 1")]:
        with pytest.raises(CheckFailed, match=hint):
            check_tls_only_ports(wrong)
