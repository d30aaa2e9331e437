"""mailq / postsuper / postcat: fixed queue contents, Postfix's exact text.

The expected outputs were captured from Postfix 3.7.11 (``postqueue -p``)
with the same queue ids, sizes, arrival times and reasons.
"""
from __future__ import annotations

import datetime as dt

import pytest

from labmail.cli import main
from labmail.clock import Clock, IdGenerator
from labmail.mta.mailq import EMPTY, format_mailq, mailq, postcat, postsuper
from labmail.mta.queue import Queue, QueueFile, Recipient

UTC = dt.timezone.utc
T0 = 1795824092          # Sat Nov 28 00:01:32 2026 UTC
REFUSED = "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused"

REAL_DEFERRED_AND_HOLD = """\
-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
0384F220433     330 Sat Nov 28 00:01:32  MAILER-DAEMON
                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
                                         frank@example.org

02C68220412     327 Sat Nov 28 00:01:32  alice@example.com
                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
                                         carol@example.net
                                         bob@example.org

0347B220432!    3327 Sat Nov 28 00:01:32  dave@example.com
                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
                                         erin@example.org

-- 3 Kbytes in 3 Requests."""

REAL_ACTIVE = """\
-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
0384F220433*     330 Sat Nov 28 00:01:32  MAILER-DAEMON
                                         frank@example.org

02C68220412*     327 Sat Nov 28 00:01:32  alice@example.com
                                         bob@example.org
                                         carol@example.net

-- 0 Kbytes in 2 Requests."""

REAL_TWO_REASONS = """\
-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
B67ED2206F8     303 Sat Nov 28 00:03:21  alice@example.com
(host 127.0.0.1[127.0.0.1] said: 450 4.2.0 Busy (in reply to RCPT TO command))
                                         carol@example.net
      (host 127.0.0.1[127.0.0.1] said: 450 Busy (in reply to RCPT TO command))
                                         gina@example.net

-- 0 Kbytes in 1 Request."""


def qf(qid, sender, rcpts, size, queue="deferred", arrival=T0):
    return QueueFile(qid, sender, [Recipient(a, a, reason=r) for a, r in rcpts],
                     b"x" * size, arrival=arrival, queue=queue)


def test_deferred_and_held_messages_match_postfix():
    entries = [
        qf("0384F220433", "", [("frank@example.org", REFUSED)], 330),
        qf("02C68220412", "alice@example.com",
           [("carol@example.net", REFUSED), ("bob@example.org", REFUSED)], 327),
        qf("0347B220432", "dave@example.com", [("erin@example.org", REFUSED)], 3327, "hold"),
    ]
    assert format_mailq(entries, UTC).splitlines() == REAL_DEFERRED_AND_HOLD.splitlines()


def test_active_messages_show_star_and_no_reason():
    entries = [
        qf("0384F220433", "", [("frank@example.org", REFUSED)], 330, "active"),
        qf("02C68220412", "alice@example.com",
           [("bob@example.org", REFUSED), ("carol@example.net", REFUSED)], 327, "active"),
    ]
    assert format_mailq(entries, UTC).splitlines() == REAL_ACTIVE.splitlines()


def test_reason_is_right_aligned_and_grouped_per_recipient():
    entries = [qf("B67ED2206F8", "alice@example.com", [
        ("carol@example.net", "host 127.0.0.1[127.0.0.1] said: 450 4.2.0 Busy (in reply to RCPT TO command)"),
        ("gina@example.net", "host 127.0.0.1[127.0.0.1] said: 450 Busy (in reply to RCPT TO command)"),
    ], 303, arrival=1795824201)]
    assert format_mailq(entries, UTC).splitlines() == REAL_TWO_REASONS.splitlines()


@pytest.mark.parametrize("length,indent", [(8, 68), (57, 19), (76, 0), (95, 0)])
def test_reason_padding_rule(length, indent):
    # measured on Postfix 3.7 by editing a defer log: pad = max(0, 76 - len)
    reason = ("0123456789" * 10)[:length]
    lines = format_mailq([qf("0123456789A", "a@b.example", [("c@d.example", reason)], 1)], UTC)
    line = lines.splitlines()[2]
    assert line == " " * indent + f"({reason})"


def test_empty_queue_and_single_digit_day():
    assert format_mailq([], UTC) == EMPTY == "Mail queue is empty"
    one = qf("0123456789A", "a@example.com", [("b@example.org", "")], 2048,
             queue="incoming", arrival=dt.datetime(2026, 11, 1, 9, 5, 7, tzinfo=UTC).timestamp())
    text = format_mailq([one], UTC).splitlines()
    assert text[1] == "0123456789A    2048 Sun Nov  1 09:05:07  a@example.com"
    assert text[-1] == "-- 2 Kbytes in 1 Request."


@pytest.fixture
def queue(tmp_path):
    return Queue(tmp_path, Clock.fixed("2026-11-28T00:01:32+00:00"), IdGenerator(4))


def test_mailq_of_a_real_queue_and_postsuper(queue):
    a = queue.enqueue("alice@example.com", ["bob@example.org"], b"Subject: a\r\n\r\nA\r\n")
    b = queue.enqueue("carol@example.com", ["dan@example.org"], b"Subject: b\r\n\r\nB\r\n")
    text = mailq(queue)
    assert text.splitlines()[0].startswith("-Queue ID-")
    assert a.queue_id in text and b.queue_id in text
    assert postsuper(queue, "-h", [a.queue_id]) == [f"{a.queue_id}: placed on hold",
                                                    "Placed on hold: 1 message"]
    assert f"{a.queue_id}!" in mailq(queue)
    assert postsuper(queue, "-H", ["ALL"]) == ["Released from hold: 1 message"]
    assert queue.locate(a.queue_id) == "deferred"
    assert queue.load(a.queue_id).next_try == 0
    out = postsuper(queue, "-d", ["ALL"])
    assert sorted(out[:-1]) == sorted(f"{q}: removed" for q in (a.queue_id, b.queue_id))
    assert out[-1] == "Deleted: 2 messages"
    assert mailq(queue) == "Mail queue is empty"
    assert postsuper(queue, "-d", ["NOSUCH0000"]) == ["Deleted: 0 messages"]


def test_postcat_shape(queue):
    m = queue.enqueue("alice@example.com", ["bob@example.org", "carol@example.net"],
                      b"Subject: hello\r\n\r\nHi Bob\r\n", attrs={"client_name": "localhost"})
    lines = postcat(queue.load(m.queue_id), UTC).splitlines()
    where = f"incoming/{m.queue_id}"
    assert lines[0] == f"*** ENVELOPE RECORDS {where} ***"
    assert lines[1].startswith("message_size:") and lines[1].split()[1:4:2] == ["26", "2"]
    assert lines[1][len("message_size:"):].startswith(" " * 14 + "26")
    assert lines[2] == "message_arrival_time: Sat Nov 28 00:01:32 2026"
    assert "named_attribute: client_name=localhost" in lines
    assert lines[lines.index("sender: alice@example.com") + 1:][:3] == [
        "named_attribute: dsn_orig_rcpt=rfc822;bob@example.org",
        "original_recipient: bob@example.org", "recipient: bob@example.org"]
    i = lines.index(f"*** MESSAGE CONTENTS {where} ***")
    assert lines[i + 1:i + 4] == ["Subject: hello", "", "Hi Bob"]
    assert lines[-2:] == [f"*** HEADER EXTRACTED {where} ***", f"*** MESSAGE FILE END {where} ***"]


def test_commands(queue, capsys):
    m = queue.enqueue("alice@example.com", ["bob@example.org"], b"Subject: x\r\n\r\nx\r\n")
    state = str(queue.root)
    assert main(["mailq", "--state", state]) == 0
    assert m.queue_id in capsys.readouterr().out
    assert main(["postcat", "-c", state, "-q", m.queue_id]) == 0
    assert "*** MESSAGE CONTENTS" in capsys.readouterr().out
    assert main(["postcat", "-c", state, "-q", "NOSUCH0000"]) == 1
    assert main(["postsuper", "-c", state, "-h", m.queue_id]) == 0
    assert "placed on hold" in capsys.readouterr().err
    assert main(["postsuper", "-c", state, "-H", "ALL"]) == 0
    assert queue.locate(m.queue_id) == "deferred"
    assert main(["flush", "-c", state]) == 0
    assert queue.locate(m.queue_id) == "incoming"
    assert main(["mailq", "-c", state, "--json"]) == 0
    assert '"queue_name": "incoming"' in capsys.readouterr().out
    assert main(["postsuper", "-c", state, "-d", "ALL"]) == 0
    assert "Deleted: 1 message" in capsys.readouterr().err
    assert "postfix/postsuper" in (queue.root / "var/log/maillog").read_text()
    assert main(["mailq", "-c", str(queue.root / "nope")]) == 1
