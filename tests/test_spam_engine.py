"""The scoring engine: what each kind of rule sees, meta, score sets, lists, DNSBLs."""
from __future__ import annotations

import base64

import pytest

from labmail.spam import Engine, check, parse_config
from labmail.spam.render import MessageView, html_to_text

PLAIN = (b"Received: from mx.example.org (mx.example.org [192.0.2.7])\n\tby mail.example.com; Fri, 27 Nov 2026\n"
         b"From: Alice Example <alice@example.org>\nTo: bob@example.com\nCc: carol@example.net\n"
         b"Subject: =?utf-8?q?Caf=C3=A9?= meeting\nMessage-ID: <1@localhost>\nDate: Fri, 27 Nov 2026 09:00:00 +0000\n\n"
         b"First paragraph line one\nline two of it.\n\nSecond paragraph http://shop.example/buy here.\n")


def run(rules: str, message: bytes = PLAIN, **kw):
    return Engine(parse_config(rules), **kw).check(message)


def test_header_rules_see_decoded_values_and_raw_on_request():
    r = run("header DEC Subject =~ /^Café meeting$/\nheader RAW Subject:raw =~ /=\\?utf-8\\?q\\?/\n"
            "header NOTRAW Subject =~ /=\\?utf-8/\n")
    assert r.tests == ["DEC", "RAW"]


def test_header_modifiers_tocc_all_messageid_exists():
    r = run("header ADDR From:addr =~ /^alice@example\\.org$/\nheader NAME From:name =~ /^Alice Example$/\n"
            "header TOCC ToCc =~ /^bob@example\\.com\\ncarol@example\\.net$/\nheader ALLH ALL =~ /^Cc: carol/m\n"
            "header MID MESSAGEID =~ /@localhost>/\nheader HASDATE exists:Date\nheader NOXM exists:X-Mailer\n")
    assert r.tests == ["ADDR", "ALLH", "HASDATE", "MID", "NAME", "TOCC"]


def test_negated_header_rules_and_if_unset():
    r = run("header NOT_RE Subject !~ /^Re:/\nheader ABSENT X-Mailer !~ /thunderbird/i\n"
            "header UNSET X-Mailer =~ /^none$/ [if-unset: none]\nheader MISSING X-Mailer =~ /./\n")
    assert r.tests == ["ABSENT", "NOT_RE", "UNSET"]


def test_body_rules_see_joined_paragraphs_and_the_subject_first():
    r = run("body JOINED /line one line two/\nbody SUBJ /^Café meeting$/\nbody ACROSS /of it\\. Second/\n")
    assert r.tests == ["JOINED", "SUBJ"]


def test_body_sees_decoded_base64_and_rendered_html_rawbody_sees_tags():
    html = "<html><body><p>Buy <b>cheap</b> pills</p><a href='http://1.2.3.4/x'>go</a></body></html>"
    msg = (b"Subject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n"
           b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(html.encode()))
    r = run("body RENDERED /Buy cheap pills/\nbody TAGS_IN_BODY /<b>/\nrawbody RAW_TAGS /<b>cheap/\n"
            "uri URI_IP /^http:\\/\\/\\d+\\.\\d+/\nfull FULL_B64 /Content-Transfer-Encoding: base64/\n", msg)
    assert r.tests == ["FULL_B64", "RAW_TAGS", "RENDERED", "URI_IP"]


def test_uri_rules_see_links_from_plain_text():
    assert run("uri SHOP /^http:\\/\\/shop\\.example\\//\n").tests == ["SHOP"]


def test_meta_rules_boolean_arithmetic_and_hidden_subrules():
    r = run("body __A /First/\nbody __B /Second/\nbody __C /Third/\n"
            "meta BOTH __A && __B\nmeta TWO_OF_THREE (__A + __B + __C) >= 2\nmeta NONE !__C && !(__A && __C)\n"
            "meta NESTED BOTH && TWO_OF_THREE\nscore BOTH 1\nscore TWO_OF_THREE 1\nscore NONE 1\nscore NESTED 1\n")
    assert r.tests == ["BOTH", "NESTED", "NONE", "TWO_OF_THREE"]
    assert set(r.subrules) == {"__A", "__B"}


def test_scores_add_up_and_score_zero_disables():
    r = run("body A /First/\nscore A 2.5\nbody B /Second/\nscore B 3\nbody C /line/\nscore C 0\n")
    assert r.tests == ["A", "B"] and r.score == 5.5 and r.is_spam


def test_is_spam_at_exactly_the_threshold():
    assert run("body A /First/\nscore A 5\n").is_spam
    assert not run("body A /First/\nscore A 4.9\n").is_spam


def test_tflags_multiple_counts_every_match():
    r = run("body __W /\\bline\\b/\ntflags __W multiple\nmeta TWO_LINES __W >= 2\n")
    assert r.tests == ["TWO_LINES"]


def test_welcomelist_and_blocklist_with_old_names():
    base = ("header USER_IN_WELCOMELIST eval:check_from_in_welcomelist()\nscore USER_IN_WELCOMELIST -100\n"
            "header USER_IN_BLOCKLIST eval:check_from_in_blocklist()\nscore USER_IN_BLOCKLIST 100\n")
    assert run(base + "whitelist_from *@example.org\n").tests == ["USER_IN_WELCOMELIST"]
    assert run(base + "blacklist_from alice@*\n").tests == ["USER_IN_BLOCKLIST"]
    assert run(base + "welcomelist_from *@other.example\n").tests == []


def test_dnsbl_rules_query_reversed_octets_and_skip_trusted_networks():
    asked = []

    def resolver(name):
        asked.append(name)
        return ["127.0.0.2"] if name == "7.2.0.192.bl.lab.test" else []

    rules = ("header __RBL eval:check_rbl('lab', 'bl.lab.test.')\n"
             "header RCVD_IN_LAB eval:check_rbl_sub('lab', '127\\.0\\.0\\.2')\nscore RCVD_IN_LAB 0 2.5 0 2.5\n")
    r = run(rules, resolver=resolver)
    assert asked == ["7.2.0.192.bl.lab.test"] and r.tests == ["RCVD_IN_LAB"] and r.score == 2.5
    asked.clear()
    assert run(rules + "trusted_networks 192.0.2.0/24\n", resolver=resolver).tests == []
    assert asked == []
    assert run(rules).tests == [], "without a resolver network tests are off"
    assert run(rules + "skip_rbl_checks 1\n", resolver=resolver).tests == []


def test_mime_evals_attachments_and_html_only():
    msg = (b"Subject: invoice\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
           b"Content-Type: text/html\n\n<p>see attached</p>\n--b\nContent-Type: application/octet-stream\n"
           b"Content-Disposition: attachment; filename=\"invoice.exe\"\n\nMZ\n--b--\n")
    r = run("body EXE eval:check_for_attachment_ext('exe','scr')\nbody HTML_ONLY eval:check_for_mime_html_only()\n"
            "body HTML eval:check_for_mime_html()\n", msg)
    assert r.tests == ["EXE", "HTML", "HTML_ONLY"]
    assert run("body HTML_ONLY eval:check_for_mime_html_only()\n").tests == []


def test_gtube_and_the_default_rules():
    gtube = b"Subject: test\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n"
    r = check(gtube)
    assert r.is_spam and "GTUBE" in r.tests and r.score >= 1000
    assert not check(PLAIN).is_spam


def test_unknown_eval_is_ignored_not_fatal():
    assert run("body X eval:check_something_else()\n").tests == []


def test_html_to_text_skips_scripts_and_keeps_links():
    text, uris, tags = html_to_text("<style>p{}</style><p>Hi<br>there</p><script>evil()</script>"
                                    "<a href='http://a.example/'>x</a><img src='http://img.example/i.png' alt='Sale'>")
    assert "evil" not in text and "p{}" not in text and "Sale" in text
    assert uris == ["http://a.example/", "http://img.example/i.png"] and tags["img"] == 1


def test_message_view_charsets_and_multipart_alternative():
    msg = ("Subject: =?iso-8859-1?q?Gr=FC=DFe?=\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=x\n\n"
           "--x\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
           "Sch=F6ne Gr=FC=DFe\n--x\nContent-Type: text/html; charset=utf-8\n\n<p>Sch\xc3\xb6ne</p>\n--x--\n")
    v = MessageView.parse(msg.encode("latin-1"))
    assert v.body_paragraphs[0] == "Grüße" and "Schöne Grüße" in v.body_paragraphs
    assert v.content_types == ["multipart/alternative", "text/plain", "text/html"]


@pytest.mark.parametrize("crlf", [False, True])
def test_crlf_and_lf_messages_score_the_same(crlf):
    msg = PLAIN.replace(b"\n", b"\r\n") if crlf else PLAIN
    assert run("body A /line one line two/\nheader B Subject =~ /meeting$/\n", msg).tests == ["A", "B"]


def test_literal_prefilter_never_changes_a_result():
    from pathlib import Path
    from labmail.spam import default_config
    corpus = Path(__file__).resolve().parents[1] / "labmail" / "data" / "corpus"
    fast = Engine(default_config())
    slow = Engine(default_config())
    slow.literals, slow.joinable = {}, set()
    for f in sorted(corpus.glob("*/*.eml"))[::3]:
        data = f.read_bytes()
        assert fast.check(data).tests == slow.check(data).tests, f.name


from hypothesis import given, settings, strategies as st  # noqa: E402

from labmail.spam import default_config  # noqa: E402
from labmail.spam.prefilter import required_literals  # noqa: E402

_PATTERNS = [r.pattern for r in default_config().rules.values() if r.pattern is not None]
_WORDS = ["free", "FREE", "viagra", "click here", "Act Now", "lottery", "$1,000,000", "bitcoin profit",
          "gagné", "verify your account", "http://1.2.3.4/", "x", " ", "\n", "!!!", "Dear Friend"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PATTERNS), st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=8)), max_size=8))
def test_required_literals_are_really_required(pattern, pieces):
    text = "".join(pieces)
    lits = required_literals(pattern.pattern, pattern.flags)
    if lits is not None and pattern.search(text):
        assert any(l in text.lower() for l in lits)


def test_all_pseudo_header_lists_every_header_line():
    r = run("header TWO_RCVD ALL =~ /^Received: .*\\nReceived: /m\nheader ENDS ALL =~ /^Date: [^\\n]+\\n\\z/m\n",
            b"Received: from a\nReceived: from b\nSubject: x\nDate: today\n\nbody\n")
    assert r.tests == ["ENDS", "TWO_RCVD"]


def test_result_summary_and_notebook_view():
    r = run("body LAB_A /First/\nscore LAB_A 5.5\ndescribe LAB_A Says <first>\n")
    lines = r.summary().split("\n")
    assert lines[0] == "score=5.5 required=5.0 -> spam"
    assert lines[3] == " 5.5 LAB_A                  BODY: Says <first>"
    html = r._repr_html_()
    assert "<code>LAB_A</code>" in html and "BODY: Says &lt;first&gt;" in html and ">spam<" in html
