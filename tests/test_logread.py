"""The maillog reader: real Postfix 3.7 lines, our formatters parsed back,
the pflogsumm-style summary and its chart."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from labmail.clock import Clock, IdGenerator
from labmail.log import MailLog
from labmail.logread import follow, parse_line, read_log, summarize
from labmail.mta import logfmt

# Captured from Postfix 3.7.11 on loopback (maillog_file), relayhost on a dead
# port, then a scripted peer answering 250 / 450 / 550.
REAL = """\
Nov 28 00:01:31 mail postfix/smtpd[9942]: connect from localhost[127.0.0.1]
Nov 28 00:01:32 mail postfix/smtpd[9942]: 02C68220412: client=localhost[127.0.0.1]
Nov 28 00:01:32 mail postfix/cleanup[9945]: 02C68220412: message-id=<20261128000132.02C68220412@mail.example.com>
Nov 28 00:01:32 mail postfix/qmgr[9895]: 02C68220412: from=<alice@example.com>, size=327, nrcpt=2 (queue active)
Nov 28 00:01:32 mail postfix/smtpd[9942]: 0347B220432: client=localhost[127.0.0.1]
Nov 28 00:01:32 mail postfix/cleanup[9945]: 0347B220432: message-id=<20261128000132.0347B220432@mail.example.com>
Nov 28 00:01:32 mail postfix/smtpd[9942]: 0384F220433: client=localhost[127.0.0.1]
Nov 28 00:01:32 mail postfix/cleanup[9945]: 0384F220433: message-id=<20261128000132.0384F220433@mail.example.com>
Nov 28 00:01:32 mail postfix/smtpd[9942]: disconnect from localhost[127.0.0.1] ehlo=1 mail=3 rcpt=4 data=3 quit=1 commands=12
Nov 28 00:01:32 mail postfix/qmgr[9895]: 0384F220433: from=<>, size=330, nrcpt=1 (queue active)
Nov 28 00:01:32 mail postfix/qmgr[9895]: 0347B220432: from=<dave@example.com>, size=3327, nrcpt=1 (queue active)
Nov 28 00:01:32 mail postfix/smtp[9947]: connect to 127.0.0.1[127.0.0.1]:2599: Connection refused
Nov 28 00:01:32 mail postfix/smtp[9949]: connect to 127.0.0.1[127.0.0.1]:2599: Connection refused
Nov 28 00:01:32 mail postfix/smtp[9949]: 0384F220433: to=<frank@example.org>, relay=none, delay=0.02, delays=0/0.02/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
Nov 28 00:01:32 mail postfix/smtp[9947]: 02C68220412: to=<carol@example.net>, relay=none, delay=0.02, delays=0.01/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
Nov 28 00:01:32 mail postfix/smtp[9947]: 02C68220412: to=<bob@example.org>, relay=none, delay=0.02, delays=0.01/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
Nov 28 00:01:32 mail postfix/smtp[9949]: connect to 127.0.0.1[127.0.0.1]:2599: Connection refused
Nov 28 00:01:32 mail postfix/smtp[9949]: 0347B220432: to=<erin@example.org>, relay=none, delay=0.03, delays=0/0.02/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
Nov 28 00:01:49 mail postfix/postsuper[10080]: 0347B220432: placed on hold
Nov 28 00:01:49 mail postfix/postsuper[10080]: Placed on hold: 1 message
Nov 28 00:02:12 mail postfix/qmgr[9895]: 0384F220433: from=<>, size=330, nrcpt=1 (queue active)
Nov 28 00:02:12 mail postfix/qmgr[9895]: 02C68220412: from=<alice@example.com>, size=327, nrcpt=2 (queue active)
Nov 28 00:02:30 mail postfix/smtp[9947]: 02C68220412: to=<carol@example.net>, relay=127.0.0.1[127.0.0.1]:2599, delay=59, delays=41/0/18/0, dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while receiving the initial server greeting)
Nov 28 00:02:30 mail postfix/smtp[9951]: 0384F220433: to=<frank@example.org>, relay=127.0.0.1[127.0.0.1]:2599, delay=59, delays=41/0/18/0, dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while receiving the initial server greeting)
Nov 28 00:02:30 mail postfix/smtp[9947]: 02C68220412: to=<bob@example.org>, relay=127.0.0.1[127.0.0.1]:2599, delay=59, delays=41/0/18/0, dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while receiving the initial server greeting)
Nov 28 00:02:37 mail postfix/postsuper[10728]: Released from hold: 1 message
Nov 28 00:02:37 mail postfix/qmgr[9895]: 0384F220433: from=<>, size=330, nrcpt=1 (queue active)
Nov 28 00:02:37 mail postfix/qmgr[9895]: 0347B220432: from=<dave@example.com>, size=3327, nrcpt=1 (queue active)
Nov 28 00:02:37 mail postfix/qmgr[9895]: 02C68220412: from=<alice@example.com>, size=327, nrcpt=2 (queue active)
Nov 28 00:02:37 mail postfix/smtp[9949]: 0384F220433: to=<frank@example.org>, relay=127.0.0.1[127.0.0.1]:2599, delay=65, delays=65/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4AB12C0D3E)
Nov 28 00:02:37 mail postfix/qmgr[9895]: 0384F220433: removed
Nov 28 00:02:37 mail postfix/smtp[9947]: 02C68220412: to=<carol@example.net>, relay=127.0.0.1[127.0.0.1]:2599, delay=65, delays=65/0/0/0, dsn=4.2.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 450 4.2.0 <carol@example.net>: Mailbox busy, try later (in reply to RCPT TO command))
Nov 28 00:02:37 mail postfix/smtp[9947]: 02C68220412: to=<bob@example.org>, relay=127.0.0.1[127.0.0.1]:2599, delay=65, delays=65/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4AB12C0D3E)
Nov 28 00:02:37 mail postfix/smtp[9951]: 0347B220432: to=<erin@example.org>, relay=127.0.0.1[127.0.0.1]:2599, delay=65, delays=65/0/0/0.01, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <erin@example.org>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Nov 28 00:02:37 mail postfix/cleanup[9945]: 20CF82204B1: message-id=<20261128000237.20CF82204B1@mail.example.com>
Nov 28 00:02:37 mail postfix/qmgr[9895]: 20CF82204B1: from=<>, size=5376, nrcpt=1 (queue active)
Nov 28 00:02:37 mail postfix/bounce[10731]: 0347B220432: sender non-delivery notification: 20CF82204B1
Nov 28 00:02:37 mail postfix/qmgr[9895]: 0347B220432: removed
Nov 28 00:02:37 mail postfix/smtp[9949]: 20CF82204B1: breaking line > 998 bytes with <CR><LF>SPACE
Nov 28 00:02:37 mail postfix/smtp[9949]: 20CF82204B1: to=<dave@example.com>, relay=127.0.0.1[127.0.0.1]:2599, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4AB12C0D3E)
"""


def test_every_real_line_parses():
    recs = read_log(REAL, year=2026)
    assert len(recs) == len(REAL.splitlines())
    first = recs[0]
    assert (first.when, first.host, first.program, first.pid, first.event) == (
        dt.datetime(2026, 11, 28, 0, 1, 31, tzinfo=dt.timezone.utc), "mail", "postfix/smtpd",
        9942, "connect")
    kinds = {r.event for r in recs}
    assert {"connect", "client", "message-id", "queued", "delivery", "removed", "bounce",
            "connect-failed", "disconnect", "postsuper"} <= kinds


def test_delivery_fields_and_following_a_message():
    recs = read_log(REAL, year=2026)
    story = follow(recs, "0347B220432")
    assert [r.event for r in story][:3] == ["client", "message-id", "queued"]
    bounce = [r for r in story if r.event == "bounce"][0]
    assert bounce.fields["bounce_id"] == "20CF82204B1"
    assert [r.event for r in story if r.queue_id == "20CF82204B1"][:2] == ["message-id", "queued"]
    assert any(r.queue_id == "20CF82204B1" and r.fields.get("status") == "sent" for r in story)
    d = [r for r in story if r.event == "delivery" and r.fields["status"] == "bounced"][0]
    assert d.fields["relay"] == "127.0.0.1[127.0.0.1]:2599"
    assert (d.fields["delay"], d.fields["delays"], d.fields["dsn"]) == ("65", "65/0/0/0.01", "5.1.1")
    assert d.reason.startswith("host 127.0.0.1[127.0.0.1] said: 550 5.1.1")
    assert d.service == "smtp"


def test_summary_counts():
    s = summarize(read_log(REAL, year=2026))
    assert s.as_dict()["received"] == len({r.queue_id for r in read_log(REAL, year=2026)
                                           if r.event == "queued"})
    assert s.delivered == sum("status=sent" in ln for ln in REAL.splitlines())
    assert s.bounced == sum("status=bounced" in ln for ln in REAL.splitlines())
    assert s.deferrals == sum("status=deferred" in ln for ln in REAL.splitlines())
    text = s.report()
    assert text.startswith("Grand Totals\n------------\nmessages\n")
    assert "example.org" in text and "Per-Hour Traffic Summary" in text


def test_our_formatters_parse_back(tmp_path):
    log = MailLog(tmp_path / "maillog", "mail.example.com", Clock.fixed("2026-11-27T09:00:01+00:00"),
                  IdGenerator(1))
    q = "3F1A22C0E4B"
    log.write(logfmt.SMTPD, logfmt.smtpd_connect("localhost", "127.0.0.1"))
    log.write(logfmt.SMTPD, logfmt.smtpd_client(q, "localhost", "127.0.0.1"))
    log.write(logfmt.CLEANUP, logfmt.cleanup_message_id(q, "<1@example.com>"))
    log.write(logfmt.QMGR, logfmt.queue_active(q, "alice@example.com", 420, 2))
    log.write(logfmt.LOCAL, logfmt.delivery(q, "bob@mail.example.com", orig_to="bob@example.com",
                                            relay="local", delay=0.03, delays=(0.01, 0, 0, 0.02),
                                            dsn="2.0.0", status="sent", text="delivered to maildir"))
    log.write(logfmt.SMTP, logfmt.connect_failed("mx.example.org", "127.0.0.3", 25, "Connection refused"))
    log.write(logfmt.SMTP, logfmt.delivery(q, "carol@example.org", relay="none", delay=1.5,
                                           delays=(0, 0, 1.5, 0), dsn="4.4.1", status="deferred",
                                           text="connect to mx.example.org[127.0.0.3]:25: Connection refused"))
    log.write(logfmt.QMGR, logfmt.expired(q, "alice@example.com"))
    log.write(logfmt.BOUNCE, logfmt.bounce_notification(q, "4B4D52205E7"))
    log.write(logfmt.QMGR, logfmt.removed(q))
    log.write(logfmt.SMTPD, logfmt.noqueue_reject(
        "RCPT", "localhost", "127.0.0.1", "554 5.7.1 <x@example.net>: Relay access denied",
        sender="a@example.com", recipient="x@example.net", helo="client"))
    log.write(logfmt.SMTPD, logfmt.smtpd_disconnect("localhost", "127.0.0.1",
                                                    [("ehlo", 1, 1), ("mail", 1, 1), ("rcpt", 1, 2),
                                                     ("quit", 1, 1)]))
    recs = read_log(log.path, year=2026)
    assert [r.event for r in recs] == ["connect", "client", "message-id", "queued", "delivery",
                                       "connect-failed", "delivery", "expired", "bounce",
                                       "removed", "reject", "disconnect"]
    local = recs[4]
    assert local.fields["orig_to"] == "bob@example.com" and local.fields["delays"] == "0.01/0/0/0.02"
    assert recs[6].fields["delay"] == "1.5"
    rej = recs[10]
    assert (rej.queue_id, rej.fields["stage"], rej.fields["to"], rej.fields["helo"]) == (
        "NOQUEUE", "RCPT", "x@example.net", "client")
    assert rej.reason == "554 5.7.1 <x@example.net>: Relay access denied"
    assert recs[11].text.endswith("rcpt=1/2 quit=1 commands=4/5")
    s = summarize(recs)
    assert (s.received, s.delivered, s.deferred, s.rejected, s.expired) == (1, 1, 1, 1, 1)
    assert s.per_domain["example.org"]["deferred"] == 1 and s.per_hour[9]["rejected"] == 1


def test_iso_timestamps_and_garbage():
    r = parse_line("2026-11-28T00:01:32.123456+00:00 mail postfix/qmgr[9895]: 02C68220412: removed")
    assert r.event == "removed" and r.when.year == 2026
    assert parse_line("not a log line") is None


@given(st.text(max_size=200))
def test_parser_never_crashes(text):
    parse_line(text, year=2026)
    parse_line("Nov 28 00:01:32 mail postfix/smtp[1]: " + text, year=2026)


def test_chart(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from labmail.logread import chart
    fig = chart(summarize(read_log(REAL, year=2026)))
    fig.savefig(tmp_path / "traffic.png")
    assert (tmp_path / "traffic.png").stat().st_size > 1000


def test_queue_timeline(tmp_path):
    from labmail.logread import chart_queue, queue_timeline
    recs = read_log(REAL, year=2026)
    points = queue_timeline(recs)
    assert points[0][1:] == (1, 0)                     # first message enters
    assert max(p[1] for p in points) >= 3
    assert all(0 <= d <= q for _, q, d in points)
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    chart_queue(recs).savefig(tmp_path / "q.png")
    assert (tmp_path / "q.png").stat().st_size > 1000
