"""Reply wording looked up by code gives what a scan of the whole table gave."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from labmail.mta import replies
from labmail.mta.replies import AIOSMTPD, REPLIES, reply, translate


def _scan(line: str) -> str:
    for pattern, replacement in AIOSMTPD:
        if pattern.match(line):
            return replacement
    return line


SAMPLES = ['500 Error: command "FOO" not recognized', "500 Error: command 'AUTH' not recognized",
           "500 Command line too long", "503 Error: send HELO first", "503 Error: send EHLO first",
           "501 Syntax: MAIL FROM: <address>", "501 Syntax: RCPT TO:<address> x",
           "553 5.1.3 Error: malformed address", "552 Error: Too much mail data", "250 OK",
           "250 OK ", "221 Bye", "220 Ready to start TLS", "454 TLS not available",
           "250 2.0.0 Ok: queued as 3F1A22C0E4B", "250 2.1.5 Ok", "220 mail.example.com ESMTP",
           "", "5", "500", "500 ", "250-PIPELINING", "502 EXPN not implemented"]


def test_every_aiosmtpd_reply_is_worded_as_before():
    assert replies._BY_CODE is not None
    for line in SAMPLES:
        assert translate(line) == _scan(line), line


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["500 ", "501 ", "503 ", "250 ", "221 ", "552 ", "555 ", "220 ", "2", ""]),
       st.text(max_size=40))
def test_any_line_is_worded_as_the_full_scan_words_it(head, rest):
    assert translate(head + rest) == _scan(head + rest)


def test_a_reply_without_placeholders_is_the_formatted_entry():
    for key, entry in REPLIES.items():
        if "{" not in entry.text:
            assert reply(key) == entry.format()
    assert reply("queued", queue_id="3F1A22C0E4B") == "250 2.0.0 Ok: queued as 3F1A22C0E4B"
