"""Message content in a transcript: the first lines shown, the rest counted."""
from __future__ import annotations

import smtplib

from hypothesis import given, settings, strategies as st

from labmail.clock import Clock
from labmail.trace import CONTENT_LINES_KEPT, Transcript

_lines = st.lists(st.one_of(
    st.sampled_from([b".\r\n", b"..\r\n", b".", b"\r\n", b"x\n", b"\xff\xfe\r\n", "é".encode() + b"\r\n"]),
    st.binary(max_size=20).map(lambda b: b + b"\r\n")), max_size=40)


def _pair():
    clock = Clock.fixed("2026-11-27T09:00:00+00:00")
    return (Transcript("smtp", ("127.0.0.1", 1), ("127.0.0.1", 25), clock),
            Transcript("smtp", ("127.0.0.1", 1), ("127.0.0.1", 25), clock))


@settings(max_examples=200, deadline=None)
@given(_lines, _lines)
def test_content_line_records_as_client_does(first, second):
    fast, slow = _pair()
    for t in (fast, slow):
        t.server("354 End data with <CR><LF>.<CR><LF>")
        t.begin_content()
    for raw in first + [b".\r\n"] + second:
        fast.content_line(raw)
        slow.client(raw.rstrip(b"\r\n").decode("utf-8", "replace"))
    fast.end_content()
    slow.end_content()
    assert fast.text() == slow.text()
    assert (fast._content, fast._content_bytes) == (slow._content, slow._content_bytes)


def test_a_long_message_is_summarised_in_the_session_transcript(lab):
    host = lab.add_host("mail.example.com", users={"alice": "x"})
    lab.start()
    body = "".join(f"line {i}\r\n" for i in range(40))
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"],
                   f"Subject: long\r\n\r\n{body}".encode())
    assert host.settle(sessions=True)
    text = host.transcripts("smtp")[-1].text()
    shown = [ln for ln in text.splitlines() if ln.startswith("C: line ")]
    assert len(shown) == CONTENT_LINES_KEPT - 2          # Subject and the empty line first
    assert f"... {42 - CONTENT_LINES_KEPT} more content lines (" in text
    assert text.splitlines()[-5:] == ["C: .", text.splitlines()[-4], "C: QUIT", "S: 221 2.0.0 Bye",
                                      "* connection closed"]
    assert text.splitlines()[-4].startswith("S: 250 2.0.0 Ok: queued as ")
