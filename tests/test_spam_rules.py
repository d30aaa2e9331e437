"""SpamAssassin's configuration language: every construct, and errors with file:line."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings, strategies as st

from labmail.errors import ConfigError
from labmail.spam.meta import MetaExpr, MetaSyntaxError
from labmail.spam.regex import PerlRegexError, perl_regex, split_perl_regex
from labmail.spam.rules import ConfigBuilder, load_config, parse_config


def test_header_rule_forms():
    cf = parse_config(
        "header A Subject =~ /money/i\n"
        "header B From:addr =~ /@spam\\.test$/\n"
        "header C From:name !~ /^Alice/\n"
        "header D exists:X-Mailer\n"
        "header E ToCc =~ /bob/\n"
        "header F ALL =~ /^X-Bad:/m\n"
        "header G Subject:raw =~ /=\\?utf-8\\?/i [if-unset: none]\n"
        "header H MESSAGEID =~ /@localhost>/\n")
    r = cf.rules
    assert (r["A"].kind, r["A"].field, r["A"].negate) == ("header", "Subject", False)
    assert r["A"].pattern.search("MONEY")
    assert (r["B"].field, r["B"].modifier) == ("From", "addr")
    assert (r["C"].modifier, r["C"].negate) == ("name", True)
    assert (r["D"].exists, r["D"].field) == (True, "X-Mailer")
    assert r["E"].field == "ToCc" and r["F"].field == "ALL"
    assert (r["G"].modifier, r["G"].if_unset) == ("raw", "none")
    assert r["H"].field == "MESSAGEID"


def test_body_rawbody_uri_full_and_delimiters():
    cf = parse_config("body A /cheap\\s+pills/i\nrawbody B m{<font}i\nuri C m!^https?://\\d!\n"
                      "full D /^Received:/m\n")
    assert [cf.rules[n].kind for n in "ABCD"] == ["body", "rawbody", "uri", "full"]
    assert cf.rules["B"].pattern.search("<FONT color=red>")
    assert cf.rules["C"].pattern.search("http://1.2.3.4/")


def test_eval_rules_keep_their_arguments():
    cf = parse_config("header RBL eval:check_rbl('lab', 'bl.lab.test.')\nbody B eval:check_bayes('0.99', '1.00')\n")
    assert cf.rules["RBL"].eval_name == "check_rbl"
    assert cf.rules["RBL"].eval_args == ("lab", "bl.lab.test.")
    assert cf.rules["B"].eval_args == ("0.99", "1.00")


def test_score_describe_tflags_and_defaults():
    cf = parse_config("body A /a/\nbody B /b/\nbody T_C /c/\nbody __D /d/\n"
                      "score A 2.5\nscore B 0 1.0 2.0 3.0\ndescribe A Says a\ntflags A nice learn\n")
    assert cf.score_of("A") == 2.5 and cf.score_of("A", 3) == 2.5
    assert [cf.score_of("B", i) for i in range(4)] == [0, 1.0, 2.0, 3.0]
    assert cf.score_of("Z_UNSCORED") == 1.0 and cf.score_of("T_C") == 0.01 and cf.score_of("__D") == 0
    assert cf.describe("A") == "Says a" and cf.describe("B") == "B"
    assert cf.tflags["A"] == frozenset({"nice", "learn"})


def test_required_hits_is_the_old_name_of_required_score():
    assert parse_config("required_hits 3\n").required_score == 3.0
    assert parse_config("required_score 7.5\n").required_score == 7.5


def test_report_safe_rewrite_header_add_header_clear_headers():
    cf = parse_config("report_safe 2\nrewrite_header Subject *****SPAM*****\nrewrite_header from [spam]\n"
                      "add_header all Checker-Version x\nadd_header spam Flag _YESNOCAPS_\n"
                      "clear_headers\nadd_header ham Tests \"_TESTS_\"\nadd_header all Score _SCORE_\n")
    assert cf.report_safe == 2
    assert cf.rewrite_header == {"Subject": "*****SPAM*****", "From": "[spam]"}
    # clear_headers keeps Checker-Version (SpamAssassin never lets it go), quotes are stripped
    assert cf.headers == (("all", "Checker-Version", "x"), ("ham", "Tests", "_TESTS_"), ("all", "Score", "_SCORE_"))


def test_remove_header():
    cf = parse_config("add_header all Level _STARS_\nadd_header spam Flag YES\nremove_header all Level\n")
    assert cf.headers == (("spam", "Flag", "YES"),)


def test_welcomelist_blocklist_and_old_names():
    cf = parse_config("welcomelist_from *@example.org\nwhitelist_from Boss@Work.example\n"
                      "blocklist_from *@spam.test\nblacklist_from x@y.test\nunwhitelist_from *@example.org\n")
    assert cf.welcomelist_from == ("boss@work.example",)
    assert cf.blocklist_from == ("*@spam.test", "x@y.test")


def test_trusted_networks():
    cf = parse_config("trusted_networks 192.0.2.0/24 127.0.0.1\n")
    assert cf.trusted_networks == (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("127.0.0.1/32"))


def test_report_templates():
    cf = parse_config("report first\nclear_report_template\nreport \" indented\"\nreport _SUMMARY_\n"
                      "report_contact admin@example.com\nclear_unsafe_report_template\nunsafe_report careful\n")
    assert cf.report_template == (" indented", "_SUMMARY_")
    assert cf.report_contact == "admin@example.com" and cf.unsafe_report_template == ("careful",)


def test_include_is_relative_to_the_including_file(tmp_path):
    (tmp_path / "more.cf").write_text("body INCLUDED /x/\n")
    (tmp_path / "local.cf").write_text("include more.cf\nrequired_score 4\n")
    b = ConfigBuilder()
    b.feed_file(tmp_path / "local.cf")
    cf = b.freeze()
    assert "INCLUDED" in cf.rules and cf.required_score == 4.0
    assert str(tmp_path / "more.cf") in cf.files


def test_ifplugin_known_unknown_and_if_version():
    cf = parse_config(
        "ifplugin Mail::SpamAssassin::Plugin::Bayes\nbody KNOWN /k/\nendif\n"
        "ifplugin Mail::SpamAssassin::Plugin::Razor2\nbody UNKNOWN /u/\nendif\n"
        "if (version >= 3.004000)\nbody NEW /n/\nelse\nbody OLD /o/\nendif\n"
        "if !plugin(Mail::SpamAssassin::Plugin::Pyzor)\nbody NO_PYZOR /p/\nendif\n", "local.cf")
    assert {"KNOWN", "NEW", "NO_PYZOR"} <= set(cf.rules)
    assert "UNKNOWN" not in cf.rules and "OLD" not in cf.rules
    assert any("Razor2" in n and "local.cf, line 4" in n for n in cf.notes)


def test_loadplugin_unknown_is_a_note_not_an_error():
    cf = parse_config("loadplugin Mail::SpamAssassin::Plugin::Pyzor\n", "init.pre")
    assert cf.notes and "Pyzor" in cf.notes[0]


@pytest.mark.parametrize("line, message", [
    ("report_safe 3", "report_safe must be 0, 1 or 2"),
    ("frobnicate 1", "failed to parse line"),
    ("header BAD Subject =~ /(unclosed/", "invalid regexp for BAD"),
    ("body NOCLOSE /abc", "no closing /"),
    ("header X Subject matches stuff", "header rules look like"),
    ("score A one", "could not convert"),
    ("meta M (A && B", "invalid meta expression"),
    ("rewrite_header Body x", "rewrite_header takes Subject, From or To"),
    ("add_header sometimes X y", "add_header takes spam, ham or all"),
    ("endif", "'endif' without 'if'"),
    ("if lean", "cannot evaluate 'if lean'"),
    ("if (version >=", "cannot evaluate"),
])
def test_errors_name_file_and_line(line, message):
    with pytest.raises(ConfigError) as exc:
        parse_config("required_score 5\n\n" + line + "\n", "/etc/mail/spamassassin/local.cf")
    assert exc.value.path == "/etc/mail/spamassassin/local.cf" and exc.value.line == 3
    assert message in str(exc.value)
    assert str(exc.value).startswith("/etc/mail/spamassassin/local.cf, line 3: ")


def test_lint_collects_every_error_and_undefined_meta_dependencies():
    cf, errors = load_config(extra_lines=["bogus 1", "body OK /fine/", "meta M OK && MISSING", "body B /(/"],
                             strict=False)
    texts = [str(e) for e in errors]
    assert len(errors) == 3
    assert any("--cf, line 1" in t and "failed to parse" in t for t in texts)
    assert any("undefined dependency 'MISSING'" in t for t in texts)
    assert "OK" in cf.rules


def test_the_course_rule_set_lints_clean_and_is_big_enough():
    cf, errors = load_config(strict=False)
    assert errors == []
    kinds = {}
    for r in cf.rules.values():
        kind = "eval" if r.eval_name else r.kind
        kinds[kind] = kinds.get(kind, 0) + 1
    scored = [n for n in cf.rules if not n.startswith("__") and n in cf.scores]
    assert len(scored) >= 60
    assert all(kinds.get(k, 0) >= 1 for k in ("header", "body", "rawbody", "uri", "full", "meta", "eval"))
    assert all(n in cf.describes for n in scored), "every scored rule has a describe line"
    assert any(r.eval_name == "check_rbl" for r in cf.rules.values())


def test_comments_and_escaped_hash():
    cf = parse_config("# a comment\nbody A /\\#1 pick/  # trailing comment\n")
    assert cf.rules["A"].pattern.search("#1 pick")


def test_perl_regex_translation():
    assert perl_regex("/a\\/b/").search("a/b")
    assert perl_regex("/end\\z/").search("the end")
    assert perl_regex("/(?<word>x)\\k<word>/").search("xx")
    assert split_perl_regex("m{a{2}}i rest") == ("a{2}", "i", " rest")
    with pytest.raises(PerlRegexError):
        perl_regex("no delimiters")


def test_meta_precedence_matches_perl():
    assert MetaExpr.parse("!A && B").evaluate({"B": 1}) == 1
    assert MetaExpr.parse("A || B && C").evaluate({"A": 1}) == 1
    assert MetaExpr.parse("A + B * 2 > 2").evaluate({"A": 1, "B": 1}) == 1
    assert MetaExpr.parse("(A + B) * 2 == 4").evaluate({"A": 1, "B": 1}) == 1
    assert MetaExpr.parse("-A + 2").evaluate({"A": 1}) == 1
    for bad in ("A &&", "(A", "A $ B", "A B"):
        with pytest.raises(MetaSyntaxError):
            MetaExpr.parse(bad)


_names = st.sampled_from(["A", "B", "C", "__D"])


@st.composite
def _meta_exprs(draw, depth=0):
    """(Perl meta expression, the same in Python) pairs."""
    if depth > 3 or draw(st.booleans()):
        n = draw(_names)
        return n, n
    op = draw(st.sampled_from(["&&", "||", "+", ">", "=="]))
    (lp, lq), (rp, rq) = draw(_meta_exprs(depth + 1)), draw(_meta_exprs(depth + 1))
    pyop = {"&&": "and", "||": "or"}.get(op, op)
    perl, py = f"({lp} {op} {rp})", f"({lq} {pyop} {rq})"
    if draw(st.booleans()):
        return f"!{perl}", f"(not {py})"
    return perl, py


@settings(max_examples=150, deadline=None)
@given(_meta_exprs(), st.dictionaries(_names, st.integers(0, 1)))
def test_meta_agrees_with_python_semantics(pair, hits):
    perl, py = pair
    value = eval(py, {}, {n: hits.get(n, 0) for n in ["A", "B", "C", "__D"]})  # noqa: S307 - test oracle
    assert bool(MetaExpr.parse(perl).evaluate(hits)) == bool(value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_any_line_gives_a_config_or_a_config_error(line):
    b = ConfigBuilder(strict=False)
    b.feed_text(line + "\n", "fuzz.cf")
    b.freeze()
    assert all(isinstance(e, ConfigError) and e.path == "fuzz.cf" for e in b.errors)


def test_dns_server():
    cf = parse_config("dns_server 127.0.0.1:10053\ndns_server [::1]:53\ndns_server 192.0.2.1\n")
    assert cf.dns_servers == (("127.0.0.1", 10053), ("::1", 53), ("192.0.2.1", 53))
