"""The queue manager inside a running lab: retries on lab time, expiry with
a DSN back to the sender, and a maillog the log reader understands."""
from __future__ import annotations

import smtplib

from conftest import wait_for

from labmail.logread import follow, read_log, summarize

MSG = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: later\r\n\r\nHi\r\n"


def _send(host, rcpt="bob@example.org"):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("alice@example.com", [rcpt], MSG)


def test_retries_follow_lab_time_then_expiry_returns_a_dsn(lab):
    a = lab.add_host("mail.example.com", users={"alice": "x"})
    b = lab.add_host("mail.example.org", users={"bob": "y"})
    lab.start()
    b.stop()
    _send(a)
    a.settle()
    [entry] = a.queue.entries()
    assert entry.queue == "deferred" and entry.attempts == 1
    q = a.mailq().splitlines()
    assert q[1].startswith(f"{entry.queue_id}  ") and q[1].endswith("  alice@example.com")
    assert q[2].strip().startswith("(connect to mail.example.org[") and q[2].endswith("Connection refused)")
    assert q[3] == " " * 41 + "bob@example.org"

    # an hour of lab time: several queue runs, each retry deferred again
    for _ in range(12):
        lab.clock.advance(minutes=5)
        lab.run(a.qmgr.run_queue())
    attempts = a.queue.load(entry.queue_id).attempts
    assert 3 <= attempts <= 6                       # back-off: 300, 300, 600, 1200 s ...

    lab.clock.advance(days=5)
    lab.run(a.qmgr.run_queue())
    assert wait_for(lambda: len(a.mailbox("alice")) == 1)
    a.settle()
    [dsn] = list(a.mailbox("alice"))
    assert dsn["Subject"] == "Undelivered Mail Returned to Sender"
    assert dsn.get_content_type() == "multipart/report"
    assert a.mailq() == "Mail queue is empty"

    records = read_log(a.maillog.read(), year=lab.clock.now().year)
    assert all(r is not None for r in records)
    story = follow(records, entry.queue_id)
    events = [r.event for r in story]
    assert events.count("queued") == attempts + 1 + 1     # each attempt, and the DSN's
    assert "expired" in events and "bounce" in events
    s = summarize(records)
    assert s.deferred == 1 and s.deferrals == attempts + 1 and s.expired == 1
    assert s.delivered == 1                                  # the DSN, locally
