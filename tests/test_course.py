"""labmail.course: exercise checks pass on a right answer and explain a wrong one."""
from __future__ import annotations

import smtplib

import pytest

from labmail import course
from labmail.notebook import Telnet

BUDGET = ("From: Dave <dave@example.net>\r\nTo: Alice <alice@example.com>\r\n"
          "Subject: Budget 2027\r\n\r\nFigures.\r\n")


def send(host, sender, rcpts, text):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        return s.sendmail(sender, rcpts, text)


def by_hand(host, lines, rcpt="alice@example.com"):
    c = Telnet(host.endpoints["smtp"])
    c.talk("HELO laptop", "MAIL FROM:<bob@example.org>", f"RCPT TO:<{rcpt}>", "DATA")
    reply = c.send_lines(list(lines))
    c.send("QUIT")
    c.close()
    return reply


# -- transactions --------------------------------------------------------------------

def test_transactions_read_from_transcripts(host):
    send(host, "dave@example.net", ["alice@example.com", "bob@example.com"], BUDGET)
    c = Telnet(host.endpoints["smtp"])
    c.talk("HELO x", "MAIL FROM:<e@example.net>", "RCPT TO:<zed@example.com>", "RSET", "QUIT")
    c.close()
    course.wait_idle(host)
    first, second = course.transactions(host)
    assert first.sender == "dave@example.net" and first.delivered
    assert first.accepted == ["alice@example.com", "bob@example.com"]
    assert second.refused == ["zed@example.com"] and not second.delivered


# -- check_envelope -----------------------------------------------------------------------

def test_check_envelope_passes(host):
    send(host, "dave@example.net", ["alice@example.com", "bob@example.com"], BUDGET)
    result = course.check_envelope(host, "dave@example.net", ["bob@example.com", "alice@example.com"])
    assert isinstance(result, course.Passed)
    assert repr(result).startswith("Correct: the server received MAIL FROM:<dave@example.net>")


def test_check_envelope_nothing_sent(host):
    with pytest.raises(course.CheckFailed, match="has not accepted any message yet"):
        course.check_envelope(host, "dave@example.net", ["alice@example.com"])


def test_check_envelope_wrong_sender_explains_from_header(host):
    send(host, "alice@example.com", ["alice@example.com"], BUDGET)
    with pytest.raises(course.CheckFailed) as err:
        course.check_envelope(host, "dave@example.net", ["alice@example.com"])
    assert "MAIL FROM:<alice@example.com>" in str(err.value)
    assert "From: header" in str(err.value)


def test_check_envelope_missing_recipient_points_at_envelope(host):
    send(host, "dave@example.net", ["alice@example.com"], BUDGET)
    with pytest.raises(course.CheckFailed, match="not for <bob@example.com>.*envelope recipients"):
        course.check_envelope(host, "dave@example.net", ["alice@example.com", "bob@example.com"])


def test_check_envelope_refused_recipient_says_so(host):
    send(host, "dave@example.net", ["alice@example.com", "carol@example.com"], BUDGET)
    with pytest.raises(course.CheckFailed, match="server refused <carol@example.com>"):
        course.check_envelope(host, "dave@example.net", ["alice@example.com", "carol@example.com"])


def test_check_envelope_extra_recipient(host):
    send(host, "dave@example.net", ["alice@example.com", "bob@example.com"], BUDGET)
    with pytest.raises(course.CheckFailed, match="also went to <bob@example.com>"):
        course.check_envelope(host, "dave@example.net", ["alice@example.com"])


# -- check_blind_copy -----------------------------------------------------------------------

def test_check_blind_copy_passes_with_the_solution(host):
    send(host, "dave@example.net", ["alice@example.com", "bob@example.com"], BUDGET)
    assert "stays hidden" in repr(course.check_blind_copy(host))


def test_check_blind_copy_bob_in_cc_header(host):
    text = BUDGET.replace("Subject:", "Cc: bob@example.com\r\nSubject:")
    send(host, "dave@example.net", ["alice@example.com", "bob@example.com"], text)
    with pytest.raises(course.CheckFailed, match="Cc: bob@example.com.*only in the envelope"):
        course.check_blind_copy(host)


def test_check_blind_copy_bob_not_in_envelope(host):
    send(host, "dave@example.net", ["alice@example.com"], BUDGET)
    with pytest.raises(course.CheckFailed, match="Missing: <bob@example.com>"):
        course.check_blind_copy(host)


def test_check_blind_copy_two_transactions(host):
    send(host, "dave@example.net", ["bob@example.com"], BUDGET)
    send(host, "dave@example.net", ["alice@example.com"], BUDGET)
    with pytest.raises(course.CheckFailed, match="ONE transaction"):
        course.check_blind_copy(host)


def test_check_blind_copy_visible_reader_missing_from_to(host):
    text = BUDGET.replace("To: Alice <alice@example.com>", "To: undisclosed-recipients:;")
    send(host, "dave@example.net", ["alice@example.com", "bob@example.com"], text)
    with pytest.raises(course.CheckFailed, match="readers should see <alice@example.com>"):
        course.check_blind_copy(host)


# -- check_dot_stuffing -----------------------------------------------------------------------

def test_check_dot_stuffing_passes(host):
    assert by_hand(host, ["Subject: Dots", "", "before", "..", "after", "."]).code == 250
    assert "survived" in repr(course.check_dot_stuffing(host))


def test_check_dot_stuffing_unstuffed_dot_ends_message_early(host):
    c = Telnet(host.endpoints["smtp"])
    c.talk("HELO laptop", "MAIL FROM:<bob@example.org>", "RCPT TO:<alice@example.com>", "DATA")
    assert c.send_lines(["Subject: Dots", "", "before", "."]).code == 250
    assert c.send("after").code == 500          # read as a command
    c.send_lines(["."])
    c.send("QUIT")
    c.close()
    with pytest.raises(course.CheckFailed, match="END of the message.*send '..'"):
        course.check_dot_stuffing(host)


def test_check_dot_stuffing_stuffed_twice(host):
    # smtplib stuffs by itself: adding a dot by hand as well gives '..'
    send(host, "bob@example.org", ["alice@example.com"],
         "Subject: Dots\r\n\r\nbefore\r\n..\r\nafter\r\n")
    with pytest.raises(course.CheckFailed, match="one dot too many"):
        course.check_dot_stuffing(host)


def test_check_dot_stuffing_no_such_message(host):
    by_hand(host, ["Subject: Other", "", "x", "."])
    with pytest.raises(course.CheckFailed, match="no message with 'Subject: Dots'"):
        course.check_dot_stuffing(host)


def test_check_dot_stuffing_other_body(host):
    by_hand(host, ["Subject: Dots", "", "something else", "."])
    with pytest.raises(course.CheckFailed, match="exercise wants"):
        course.check_dot_stuffing(host)
