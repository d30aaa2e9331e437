"""X-Spam-* headers, templates, and the three report_safe structures (parsed as MIME trees)."""
from __future__ import annotations

import email
import email.policy
import re

import pytest

from labmail.clock import Clock, IdGenerator
from labmail.spam import check, parse_config
from labmail.spam.report import fold_header, wrap
from labmail.spam.rules import RULES_DIR

RULES = ("body LAB_A /cheap pills/i\nscore LAB_A 3.1\ndescribe LAB_A Mentions cheap pills\n"
         "header LAB_B Subject =~ /offer/i\nscore LAB_B 2.2\ndescribe LAB_B Subject has an offer\n"
         "body LAB_C /nothing matches this/\nscore LAB_C 9\n")
SPAM = (b"Return-Path: <x@spam.test>\nReceived: from a (a [192.0.2.1])\n\tby b; Fri, 27 Nov 2026 09:00:00 +0000\n"
        b"From: Seller <seller@spam.test>\nTo: bob@example.com\nCc: carol@example.com\nReply-To: r@spam.test\n"
        b"Subject: Special offer\nDate: Fri, 27 Nov 2026 09:00:00 +0000\nMessage-ID: <m1@spam.test>\n"
        b"X-Spam-Flag: YES\nX-Spam-Status: Yes, from an earlier filter\n\tcontinued\n\nBuy cheap pills today.\n")
HAM = b"From: alice@example.org\nTo: bob@example.com\nSubject: lunch\n\nSee you at noon.\n"


PREFS = (RULES_DIR / "10_default_prefs.cf").read_text()


def cf(extra: str = ""):
    """The course's default headers and report, with only this file's rules."""
    return parse_config(PREFS + RULES + extra)


def run(msg: bytes, extra: str = ""):
    return check(msg, cf(extra), hostname="mail.example.com", clock=Clock.fixed("2026-11-27T09:00:00+00:00"),
                 ids=IdGenerator(seed=1))


def headers_of(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.compat32)


def test_spam_headers_have_spamassassins_shape():
    r = run(SPAM, "report_safe 0\n")
    text = r.rewritten.decode()
    assert r.tests == ["LAB_A", "LAB_B"] and r.score == pytest.approx(5.3)
    lines = text.split("\n")
    assert lines[0] == "Return-Path: <x@spam.test>", "Return-Path stays first"
    assert re.fullmatch(r"X-Spam-Checker-Version: labmail \d+\.\d+\.\d+ \(\d{4}-\d\d-\d\d\) on mail\.example\.com", lines[1])
    assert lines[2] == "X-Spam-Flag: YES"
    assert lines[3] == "X-Spam-Level: *****"
    assert lines[4] == ("X-Spam-Status: Yes, score=5.3 required=5.0 tests=LAB_A,LAB_B autolearn=no")
    assert re.fullmatch(r"\tautolearn_force=no version=\d+\.\d+\.\d+", lines[5])
    assert lines[6] == "X-Spam-Report: "
    assert lines[7] == "\t*  2.2 LAB_B Subject has an offer"        # header rules run first
    assert lines[8] == "\t*  3.1 LAB_A BODY: Mentions cheap pills"
    assert "X-Spam-Status: Yes, from an earlier filter" not in text and "\tcontinued" not in text


def test_ham_gets_status_without_flag():
    r = run(HAM)
    h = headers_of(r.rewritten)
    assert not r.is_spam and h["X-Spam-Flag"] is None
    assert h["X-Spam-Level"] == "" and h["X-Spam-Status"].startswith("No, score=")
    assert "tests=none" in h["X-Spam-Status"]
    assert r.rewritten.endswith(b"\n\nSee you at noon.\n"), "a ham body is never touched"


def test_status_folds_at_79_columns_after_commas_and_spaces():
    names = ",".join(f"RULE_NUMBER_{i:02d}" for i in range(8))
    folded = fold_header("Status", f"Yes, score=9.9 required=5.0 tests={names} autolearn=no autolearn_force=no version=0.1.0")
    lines = ("X-Spam-Status: " + folded).split("\n")
    assert len(lines) > 2 and all(l.startswith("\t") for l in lines[1:])
    assert all(len(l.expandtabs(8)) <= 79 for l in lines)
    assert lines[0].endswith(",") and not any(l.endswith(" ") for l in lines)


def test_wrap_counts_a_tab_as_eight_columns():
    out = wrap("a" * 70 + " " + "b" * 5 + " " + "c" * 69 + " d", "\t", "", 79)
    assert out.split("\n")[1].startswith("\tc") and len(out.split("\n")[1].expandtabs()) <= 79


@pytest.mark.parametrize("template, expected", [
    ("_YESNO_ _YESNOCAPS_", "Yes YES"),
    ("_SCORE_/_HITS_/_REQD_", "5.3/5.3/5.0"),
    ("_SCORE(0)_|_SCORE( )_", "05.3| 5.3"),
    ("_TESTS_|_TESTS(;)_", "LAB_A,LAB_B|LAB_A;LAB_B"),
    ("_TESTSSCORES_", "LAB_A=3.1,LAB_B=2.2"),
    ("_TESTSSCORES(/)_", "LAB_A=3.1/LAB_B=2.2"),
    ("_STARS_|_STARS(+)_", "*****|+++++"),
    ("_AUTOLEARN_", "no autolearn_force=no"),
    ("_BAYES_", "0.5"),
    ("_HOSTNAME_", "mail.example.com"),
    ("_YESNO(junk,clean)_", "junk"),
    ("_HEADER(Reply-To)_", "r@spam.test"),
    ("_UNKNOWNTAG_", "_UNKNOWNTAG_"),
])
def test_add_header_templates(template, expected):
    r = run(SPAM, f"report_safe 0\nadd_header all Test {template}\n")
    assert headers_of(r.rewritten)["X-Spam-Test"] == expected


def test_score_never_shows_the_threshold_on_a_ham():
    r = run(SPAM, "score LAB_B 1.85\n")      # 4.95 rounds to 5.0 but is not spam
    assert not r.is_spam and "score=4.9 required=5.0" in headers_of(r.rewritten)["X-Spam-Status"]


def test_report_safe_0_rewrites_subject_and_keeps_the_previous_one():
    r = run(SPAM, "report_safe 0\nrewrite_header Subject *****SPAM*****\nrewrite_header To [spam]\n")
    h = headers_of(r.rewritten)
    assert h["Subject"] == "*****SPAM***** Special offer"
    assert h["X-Spam-Prev-Subject"] == "Special offer"
    assert h["To"] == "([spam]) bob@example.com"
    assert r.rewritten.endswith(b"\n\nBuy cheap pills today.\n")
    again = run(r.rewritten, "report_safe 0\nrewrite_header Subject *****SPAM*****\n")
    assert headers_of(again.rewritten)["Subject"] == "*****SPAM***** Special offer", "the tag is not doubled"


def test_report_safe_0_subject_created_when_missing():
    msg = SPAM.replace(b"Subject: Special offer\n", b"")
    r = run(msg, "report_safe 0\nrewrite_header Subject [SPAM]\nheader LAB_B2 exists:Reply-To\nscore LAB_B2 3\n")
    h = headers_of(r.rewritten)
    assert h["Subject"].strip() == "[SPAM]" and h["X-Spam-Prev-Subject"] == "(nonexistent)"


def _parts(data: bytes):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/mixed"
    return msg, msg.get_payload()


def test_report_safe_1_is_a_report_plus_the_original_as_message_rfc822():
    r = run(SPAM, "report_safe 1\nrewrite_header Subject *****SPAM*****\n")
    top, parts = _parts(r.rewritten)
    text = r.rewritten.decode()
    assert text.startswith("Received: from localhost by mail.example.com\n\twith labmail (version ")
    assert [k for k in top.keys()][1:7] == ["From", "To", "Cc", "Subject", "Date", "Message-Id"]
    assert "Reply-To" not in top and top["Subject"] == "*****SPAM***** Special offer"
    assert top["X-Spam-Flag"] == "YES" and top["MIME-Version"] == "1.0"
    assert re.search(r'boundary="----------=_[0-9A-F]{8}\.[0-9A-F]{8}"', top["Content-Type"])
    assert "This is a multi-part message in MIME format." in text
    report, original = parts
    assert report.get_content_type() == "text/plain" and report["Content-Disposition"] == "inline"
    assert report.get_param("charset") == "UTF-8" and report["Content-Transfer-Encoding"] == "8bit"
    body = report.get_payload()
    assert "Content analysis details:   (5.3 points, 5.0 required)" in body
    assert " 3.1 LAB_A                  BODY: Mentions cheap pills" in body
    assert "Content preview:  Buy cheap pills today." in body
    assert original.get_content_type() == "message/rfc822"
    assert original["Content-Type"] == "message/rfc822; x-spam-type=original"
    assert original["Content-Description"] == "original message before SpamAssassin"
    assert original["Content-Disposition"] == "inline"
    inner = original.get_payload()[0]
    assert inner["Subject"] == "Special offer" and inner["X-Spam-Flag"] == "YES"
    start = r.rewritten.index(b"Return-Path: <x@spam.test>")
    assert r.rewritten[start:start + len(SPAM)] == SPAM, "the original is attached byte for byte"
    assert r.rewritten.endswith(b"--\n\n")


def test_report_safe_2_attaches_the_original_as_text_plain():
    r = run(SPAM, "report_safe 2\n")
    _, (report, original) = _parts(r.rewritten)
    assert report.get_content_type() == "text/plain"
    assert original.get_content_type() == "text/plain"
    assert original["Content-Type"] == "text/plain; x-spam-type=original"
    assert original.get_payload().startswith("Return-Path: <x@spam.test>")


def test_report_safe_on_html_adds_the_unsafe_warning_and_attachment_disposition():
    html = SPAM.replace(b"\n\nBuy", b"\nMIME-Version: 1.0\nContent-Type: text/html\n\n<p>Buy") + b"</p>\n"
    r = run(html, "report_safe 1\n")
    _, (report, original) = _parts(r.rewritten)
    assert original["Content-Disposition"] == "attachment"
    assert "not plain text" in report.get_payload()


def test_report_safe_only_rewrites_spam():
    r = run(HAM, "report_safe 1\n")
    assert headers_of(r.rewritten).get_content_type() == "text/plain"


def test_report_safe_rewrites_from_and_to_by_appending_the_tag():
    r = run(SPAM, "report_safe 1\nrewrite_header From SPAM\n")
    assert "\t(SPAM)\n" in r.rewritten.decode().split("\n\n")[0] + "\n"


def test_crlf_in_crlf_out():
    r = run(SPAM.replace(b"\n", b"\r\n"), "report_safe 0\n")
    assert b"\r\n" in r.rewritten and b"\n" not in r.rewritten.replace(b"\r\n", b"")


def test_clear_headers_and_custom_report():
    r = run(SPAM, "report_safe 0\nclear_headers\nadd_header spam Score _SCORE_\nclear_report_template\nreport Hits: _TESTS_\n")
    h = headers_of(r.rewritten)
    assert h["X-Spam-Score"] == "5.3" and h["X-Spam-Status"] is None and h["X-Spam-Checker-Version"] is not None
    from labmail.spam import ReportContext, report_text
    assert report_text(r, ReportContext()) == "Hits: LAB_A,LAB_B\n\n"


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["0", "1", "2"]),
       st.lists(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=40), max_size=6))
def test_any_spam_is_rewritten_into_a_parsable_message(mode, lines):
    original = ("From: x@spam.test\nSubject: Special offer\n\n" + "\n".join(lines) + "\ncheap pills\n").encode()
    r = run(original, f"report_safe {mode}\nrewrite_header Subject [SPAM]\n")
    assert r.is_spam
    msg = email.message_from_bytes(r.rewritten, policy=email.policy.compat32)
    assert msg["Subject"].startswith("[SPAM] ")
    if mode == "0":
        assert r.rewritten.endswith(original.split(b"\n\n", 1)[1])
    else:
        assert msg.is_multipart() and len(msg.get_payload()) == 2
        assert original in r.rewritten


def test_report_safe_copy_headers():
    r = run(SPAM, "report_safe 1\nreport_safe_copy_headers Reply-To Received\n")
    top = headers_of(r.rewritten)
    assert top["Reply-To"] == "r@spam.test"
    assert top.get_all("Received")[0].startswith("from localhost by mail.example.com")
    assert top.get_all("Received")[1].startswith("from a (a [192.0.2.1])")


@pytest.mark.parametrize("mode", ["0", "1", "2"])
def test_remove_markup_gives_the_original_back(mode):
    from labmail.spam.report import remove_markup
    original = SPAM.replace(b"X-Spam-Flag: YES\nX-Spam-Status: Yes, from an earlier filter\n\tcontinued\n", b"")
    r = run(original, f"report_safe {mode}\nrewrite_header Subject *****SPAM*****\n")
    assert remove_markup(r.rewritten) == original
    crlf = run(original.replace(b"\n", b"\r\n"), f"report_safe {mode}\n")
    assert remove_markup(crlf.rewritten) == original.replace(b"\n", b"\r\n")


def test_bayes_learns_the_original_not_the_report():
    from labmail.spam.bayes import BayesStore
    original = SPAM.replace(b"X-Spam-Flag: YES\nX-Spam-Status: Yes, from an earlier filter\n\tcontinued\n", b"")
    r = run(original, "report_safe 1\n")
    a, b = BayesStore(None), BayesStore(None)
    a.learn(r.rewritten, spam=True)
    b.learn(original, spam=True)
    assert set(a.tokens) == set(b.tokens) and a.seen == b.seen
