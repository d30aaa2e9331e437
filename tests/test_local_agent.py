"""The local delivery agent in a running lab: Maildir made on demand, again
if a student removes it, and every delivery durable in its own file."""
from __future__ import annotations

import shutil
import smtplib

from conftest import wait_for

MSG = b"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nHello\r\n"


def _send(host, n=1):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        for _ in range(n):
            s.sendmail("bob@example.org", ["alice@example.com"], MSG)


def test_maildir_removed_between_deliveries_is_made_again(lab):
    host = lab.add_host("mail.example.com", users={"alice": "x"})
    lab.start()
    _send(host)
    assert host.settle()
    root = host.maildir_path("alice")
    assert len(list((root / "new").iterdir())) == 1
    shutil.rmtree(root)                       # rm -rf ~/Maildir, as a student might
    _send(host, 3)
    assert wait_for(lambda: (root / "new").is_dir() and len(list((root / "new").iterdir())) == 3)
    assert host.settle()
    assert list((root / "tmp").iterdir()) == []
    assert host.mailq() == "Mail queue is empty"
    assert len(host.maillog.lines("status=sent (delivered to maildir)")) == 4
