"""Hostile mail through the lab's SpamAssassin: it never crashes and keeps SpamAssassin's shape.

The messages come from tests/spam_hostile_messages.py (broken MIME, bad
charsets, NULs, CRLF, mbox From lines, old X-Spam-* headers...). These
tests need no real tool: the byte-for-byte comparison with the real
spamassassin is in test_spam_shape_differential.py; here are the rules it
taught, each as a regression test.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from labmail.spam import ReportContext, check, report_text
from labmail.spam.markup import remove_markup
from labmail.spam.pristine import split_pristine
from labmail.spam.spamc import run as spamc_run

from spam_hostile_messages import CASES, GTUBE, messages, spammy

# messages that spamassassin -d gives back exactly (the others: see test_spam_shape_differential)
ROUNDTRIP = {"plain", "crlf", "mbox_from", "eightbit_header", "encoded_words", "nested_rfc822", "long_line",
             "html_broken", "nul_bytes", "qp_broken", "b64_broken", "return_path", "attachment_names"}
MODES = ["report_safe 0\nrewrite_header Subject [SPAM]", "report_safe 1", "report_safe 2"]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("mode", MODES)
def test_hostile_message_is_filtered_and_can_be_undone(name, mode):
    for message in (CASES[name], spammy(CASES[name])):
        result = check(message, mode)
        out = result.rewritten
        p, q = split_pristine(message), split_pristine(out)
        assert q.mbox == p.mbox                         # the From_ line stays first
        assert q.head_text.count("X-Spam-Status:") == 1  # an earlier filter's headers are replaced
        if result.is_spam and "report_safe 0" not in mode:
            assert p.original in out                    # the original attached byte for byte
        else:
            assert out.endswith(p.separator + p.body)   # the body is never touched
        undone = remove_markup(out)
        if name in ROUNDTRIP:
            assert undone == message
        report_text(result, ReportContext())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_generated_hostile_messages_never_crash(message):
    for mode in MODES:
        out = check(message, mode).rewritten
        assert split_pristine(out).mbox == split_pristine(message).mbox
        remove_markup(out)


def test_crlf_only_our_lines_change_the_body_is_untouched():
    message = b"Subject: x\r\nX-A: 1\r\n\r\nline one\r\nline two\nline three\r\n"
    out = check(message, "report_safe 0").rewritten
    head, body = out.split(b"\r\n\r\n", 1)
    assert body == b"line one\r\nline two\nline three\r\n"
    assert b"\n" not in head.replace(b"\r\n", b"")
    # a report_safe 1 wrapper is CRLF too, with the original inside as it came
    spam = check(spammy(message), "report_safe 1").rewritten
    assert spammy(message) in spam and spam.endswith(b"--\r\n\r\n")


def test_mbox_from_line_stays_first_and_out_of_the_attachment():
    message = b"From carla@example.net Fri Nov 27 09:00:00 2026\nSubject: x\n\n" + GTUBE + b"\n"
    out = check(message, "report_safe 1").rewritten
    assert out.startswith(b"From carla@example.net Fri Nov 27 09:00:00 2026\nReceived: from localhost")
    assert out.count(b"From carla@example.net") == 1
    assert remove_markup(out) == message


def test_report_part_ends_with_a_blank_line_before_the_boundary():
    out = check(spammy(CASES["plain"]), "report_safe 1").rewritten.decode()
    report = out.split("Content-Transfer-Encoding: 8bit\n\n", 1)[1]
    assert "Generic Test for Unsolicited Bulk Email\n\n\n\n------------=_" in report


def test_empty_message_gets_a_blank_line_and_a_headers_only_one_does_not():
    assert check(b"").rewritten.endswith(b"version=0.1.0\n\n".replace(b"0.1.0", check(b"").rewritten
                                                                   .rsplit(b"version=", 1)[1][:-2]))
    assert check(b"X-A: 1\n").rewritten.endswith(b"\nX-A: 1\n")


def test_header_block_ends_as_spamassassins_parser_ends_it():
    p = split_pristine(b"Subject: x\nno colon 1\nno colon 2\nno colon 3\nX-B: 2\n\nbody\n")
    assert p.body == b"body\n" and p.head.endswith(b"X-B: 2\n")          # three bad lines are kept
    p = split_pristine(b"Subject: x\nbad 1\nbad 2\nbad 3\nbad 4\n\nbody\n")
    assert p.body == b"bad 4\n\nbody\n" and p.separator == b""            # the fourth starts the body
    p = split_pristine(b"Subject: x\n--boundary\ntext\n")
    assert p.body == b"--boundary\ntext\n"
    assert check(b"Subject: x\nno colon here\nX-After: y\n\nbody\n").view.header("X-After") == "y"


def test_preview_empty_and_with_nuls():
    text = report_text(check(b"Subject: x\n\n"), ReportContext())
    assert "Content preview:  \n" in text
    text = report_text(check(b"Subject: x\n\nbefore\x00after\n\x00\x00\nlater\n"), ReportContext())
    assert "Content preview:  before after \n" in text       # NULs break lines, three lines shown


def test_body_length_counts_the_raw_body():
    short = b"Subject: x\nFrom: a@example.org\n\n"
    assert "LAB_EMPTY_BODY" in check(short + b"tiny\n").tests
    assert "LAB_EMPTY_BODY" not in check(short + b"Hi Bob,\r\n\r\nsee you.\r\n").tests   # 22 bytes
    assert "LAB_EMPTY_BODY" not in check(short + b"begin 644 x\n#8V%T\n`\nend\n").tests


def test_charsets_that_lie_fall_back_like_spamassassin():
    r = check(b"Subject: x\nContent-Type: text/plain; charset=x-martian\n\ncaf\xe9 ok\n")
    assert "caf\xe9 ok" in r.view.body_paragraphs
    r = check(b"Subject: x\nContent-Type: text/plain; charset=utf-8\n\nGr\xfc\xdfe\n")
    assert "Gr\xfc\xdfe" in r.view.body_paragraphs


def test_multipart_without_boundary_is_read_as_text():
    r = check(b"Subject: x\nContent-Type: multipart/mixed\n\n" + GTUBE + b"\n")
    assert "GTUBE" in r.tests


def test_report_safe_copies_the_last_subject():
    out = check(spammy(b"Subject: first\nSubject: second\n\nhi\n"), "report_safe 1").rewritten
    assert b"\nSubject: second\n" in out.split(b"\n\n", 1)[0]


# -- spamc: what Debian's spamc 4.0 does when spamd is away or the message too big -----
DOWN = ["-d", "127.0.0.1", "-p", "1", "--retry-sleep", "0"]


@pytest.mark.parametrize("opts, out, status", [
    ([], b"MSG", 0), (["-c"], b"0/0\n", 0), (["-y"], b"\n", 0), (["-R"], b"0/0\n", 0),
    (["-r"], b"0/0\n", 0), (["-E"], b"MSG", 0), (["--headers"], b"MSG", 0),
    (["-x"], b"", 69), (["-c", "-x"], b"0/0\n", 69), (["-y", "-x"], b"\n", 69), (["-R", "-x"], b"0/0\n", 69),
    (["-x", "-X"], b"", 75), (["-X", "-x"], b"", 69), (["-x", "-X", "-c"], b"0/0\n", 75),
    (["-K"], b"", 69), (["-L", "spam"], b"", 69), (["-x", "-X", "-L", "spam"], b"", 69),
])
def test_spamc_when_spamd_is_down(opts, out, status):
    msg = CASES["plain"]
    got_out, err, got_status = spamc_run(DOWN + opts, msg)
    assert (got_out, got_status) == (msg if out == b"MSG" else out, status)
    assert err == ""


def test_spamc_log_lines_when_spamd_is_down():
    _, err, _ = spamc_run(DOWN + ["-l"], CASES["plain"])
    assert err == ("spamc: connect to spamd on 127.0.0.1 failed, retrying (#1 of 3): Connection refused\n"
                   "spamc: connect to spamd on 127.0.0.1 failed, retrying (#2 of 3): Connection refused\n"
                   "spamc: connect to spamd on 127.0.0.1 failed, retrying (#3 of 3): Connection refused\n"
                   "spamc: connection attempt to spamd aborted after 3 retries\n")
    _, err, _ = spamc_run(DOWN + ["-l", "--connect-retries", "1"], CASES["plain"])
    assert err.endswith("(#1 of 1): Connection refused\nspamc: connection attempt to spamd aborted after 1 retries\n")


@pytest.mark.parametrize("opts, out, status", [
    ([], b"MSG", 0), (["-c"], b"0/0\n", 0), (["-y"], b"\n", 0), (["-R"], b"0/0\n", 0), (["-r"], b"0/0\n", 0),
    (["-x"], b"MSG", 0), (["-L", "spam"], b"", 98), (["-L", "forget"], b"", 98),
])
def test_spamc_skips_a_message_over_max_size_without_connecting(opts, out, status):
    msg = CASES["plain"]
    assert spamc_run(DOWN + ["-s", "100"] + opts, msg)[::2] == (msg if out == b"MSG" else out, status)


# -- SpamAssassin's stock rules read without crashing or noise ------------------------
def test_perl_regex_pieces_of_the_stock_rules_compile():
    from labmail.spam.regex import _compile
    assert _compile(r"\e\$B", "").search("\x1b$B")
    assert _compile(r"b[i\x{0456}]t", "").search("b\u0456t")
    assert _compile(r"helo=(\S+) x=(?!(?i)\1)\S", "").search("helo=a x=b")


def test_stock_rule_settings_are_accepted_quietly():
    from labmail.spam import parse_config
    from labmail.spam.rules import ConfigBuilder
    b = ConfigBuilder(strict=False)
    b.feed_text("require_version 4.000001\nutil_rb_tld com\nclear_util_rb\nutil_rb_3tld a.b.c\n"
                "def_welcomelist_auth *@example.org\nurl_shortener bit.ly\nenlist_uri_host (X) a.example\n"
                "bayes_stopword_en the\n", "stock.cf")
    assert b.errors == []
    parse_config("report_safe 0\n")


def test_many_encoded_words_decode_in_linear_time():
    from labmail.spam.render import decode_header_value
    subject = "=?utf-8?B?w6k=?= " * 20000         # Python's email.header needs a minute for this
    assert decode_header_value(subject.strip()) == "\xe9" * 20000
    assert decode_header_value("=?x-unknown?Q?caf=E9?= =?koi8-r?Q?=F0=D2=C9?=") == "caf\xe9\u041f\u0440\u0438"
    assert decode_header_value("=?utf-8?B?R3LDv!!!MOfZQ?=") == "Gr\xfc\xdfe"     # junk skipped, padding added


def test_rawbody_is_not_charset_converted_and_html_quotes_are_plain():
    from spam_hostile_messages import CASES as C
    r = check(C["utf16_html"], "rawbody R_P /<p>/\nscore R_P 0.1\nbody B_P /hello in utf-16/\nscore B_P 0.1")
    # SpamAssassin 4.0 trusts no UTF-16 label: neither rawbody nor body sees the words
    assert "R_P" not in r.tests and "B_P" not in r.tests
    r = check(C["html_broken"])
    assert any('tags"quoted"' in p for p in r.view.body_paragraphs)


@pytest.mark.parametrize("data, charset, text", [
    (b"caf\xc3\xa9", "iso-8859-1", "caf\xe9"),            # UTF-8 first, whatever the label
    (b"say \x93hi\x94 \x80", "windows-1252", "say \u201chi\u201d \u20ac"),
    (b"\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r", "\u041f\u0440\u0438\u0432\u0435\u0442"),
    (b"caf\xe9 \xff\xfe", "x-martian", "caf\xe9 \xff\xfe"),  # \xff is no common cp1252 byte: Latin-1
])
def test_part_charsets_are_normalized_as_spamassassin_4_does(data, charset, text):
    from labmail.spam.render import _decode
    assert _decode(data, charset) == text


def test_broken_base64_decodes_as_spamassassin_does():
    from labmail.spam.render import sa_base64_decode
    assert sa_base64_decode(b"R3LDvMOfZQ==\n") == "Grüße".encode()
    assert sa_base64_decode(b"R3LD!!vMOfZQ") == "Grüße".encode()          # junk dropped
    assert sa_base64_decode(b"QUJD\n===\nQQ") == b"ABC\xff\xff\xd0"   # inner '=' counts 63, a lone last char goes
