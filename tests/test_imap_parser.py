"""IMAP command grammar: examples, limits, and hypothesis properties."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from labmail.access.imap.framing import CommandBytes, Framer, NeedContinuation, TooLong
from labmail.access.imap.grammar import ParseError, SequenceSet
from labmail.access.imap.parser import (SEARCH_KEYS, Command, FetchAtt, Section,
                                        parse_command)


def test_login_with_quoted_and_literal():
    cmd = parse_command(b'a1 LOGIN "al\\"ice" {6}\r\nse cr\\')
    assert cmd == Command("a1", "LOGIN", ('al"ice', "se cr\\"))


def test_uid_fetch_sections_and_partial():
    cmd = parse_command(b"t UID FETCH 1:*,7 (UID BODY.PEEK[1.2.HEADER.FIELDS.NOT (X-A Y)]<0.100> "
                        b"BODY[TEXT] RFC822.SIZE)")
    assert cmd.uid and cmd.name == "FETCH"
    seqset, atts, changed = cmd.args
    assert str(seqset) == "1:*,7" and changed is None
    assert atts[1] == FetchAtt("BODY", Section((1, 2), "HEADER.FIELDS.NOT", ("X-A", "Y")),
                               (0, 100), True)
    assert atts[1].response_name() == "BODY[1.2.HEADER.FIELDS.NOT (X-A Y)]<0>"
    assert atts[2] == FetchAtt("BODY", Section((), "TEXT"), None, False)


@pytest.mark.parametrize("macro,n", [("ALL", 4), ("FAST", 3), ("FULL", 5)])
def test_fetch_macros(macro, n):
    assert len(parse_command(f"x FETCH 1 {macro}".encode()).args[1]) == n


def test_fetch_changedsince():
    cmd = parse_command(b"x FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")
    assert cmd.args[2] == 12345


def test_search_every_key_parses():
    samples = {"s": '"x y"', "d": "1-Feb-2026", "n": "10", "n64": "99", "f": "$Junk",
               "set": "1:3", "k": "SEEN"}
    for word, kinds in SEARCH_KEYS.items():
        args = " ".join(samples[k] if k != "s" or word != "HEADER" else "Subject"
                        for k in kinds)
        line = f"t SEARCH {word} {args}".strip().encode()
        cmd = parse_command(line)
        assert cmd.args[1][0] == word, line


def test_search_nesting_charset_and_sets():
    cmd = parse_command(b'x UID SEARCH CHARSET UTF-8 OR (FROM "J\xc3\xbcrgen" 2:4) NOT UID 5:* SINCE "1-Jan-2026"')
    charset, key = cmd.args
    assert charset == "UTF-8"
    assert key[0] == "AND"
    first = key[1][0]
    assert first[0] == "OR" and first[1][1][0] == ("FROM", "Jürgen")
    assert first[2] == ("NOT", ("UID", SequenceSet(((5, None),))))
    assert key[1][1] == ("SINCE", dt.date(2026, 1, 1))


def test_unknown_charset_is_badcharset():
    with pytest.raises(ParseError) as e:
        parse_command(b"x SEARCH CHARSET X-NOPE FROM \"a\"")
    assert e.value.message.startswith("[BADCHARSET")


def test_store_forms():
    assert parse_command(b"x STORE 1 +FLAGS.SILENT (\\Seen $Junk)").args == (
        SequenceSet(((1, 1),)), None, "+", True, ("\\Seen", "$Junk"))
    assert parse_command(b"x STORE 2 (UNCHANGEDSINCE 7) -FLAGS \\Deleted").args[1:3] == (7, "-")


def test_append_with_flags_and_date():
    cmd = parse_command(b'x APPEND Sent (\\Seen) " 7-Feb-2026 10:11:12 +0100" {5+}\r\nhello')
    box, flags, when, msg = cmd.args
    assert (box, flags, msg) == ("Sent", ("\\Seen",), b"hello")
    assert when == dt.datetime(2026, 2, 7, 10, 11, 12, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@pytest.mark.parametrize("line", [
    b"", b"a", b"a NOSUCH", b"a FETCH", b"a FETCH 0 FLAGS", b"a FETCH 1 (BODY[0])",
    b"a FETCH 1 BODY[MIME]", b"a LOGIN x", b"a SELECT \"unterminated", b"a+ NOOP",
    b"a SEARCH FROM", b"a SEARCH ((((", b"a STORE 1 FOO (x)", b"a APPEND x {10}\r\nshort",
    b"a UID NOOP", b"a NOOP extra", b"a SEARCH ON 31-Feb-2026", b"a FETCH 1 BODY[1.]",
])
def test_malformed_raises_parse_error(line):
    with pytest.raises(ParseError):
        parse_command(line)


def test_parse_error_keeps_tag():
    with pytest.raises(ParseError) as e:
        parse_command(b"abc FETCH x FLAGS")
    assert e.value.tag == "abc"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape(data):
    try:
        parse_command(data)
    except ParseError:
        pass


_tokens = st.sampled_from([b"a1 ", b"UID ", b"FETCH ", b"SEARCH ", b"STORE ", b"(", b")",
                           b"BODY[", b"]", b"<0.5>", b"1:*", b",", b" ", b'"', b"{3}\r\n",
                           b"HEADER.FIELDS ", b"NOT ", b"OR ", b"\\Seen", b"APPEND ", b"*"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_tokens, max_size=25))
def test_grammar_shaped_garbage_never_escapes(parts):
    try:
        parse_command(b"".join(parts))
    except ParseError:
        pass


# --- round trip: valid commands survive to_bytes -> parse --------------------------
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1, max_size=12)
_seqset = st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 10**6)),
                             st.one_of(st.none(), st.integers(1, 10**6))),
                   min_size=1, max_size=4).map(lambda r: SequenceSet(tuple(r)))
_flag = st.sampled_from(["\\Seen", "\\Deleted", "\\Answered", "$Junk", "work"])
_date = st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31))
_leaf = st.one_of(
    st.sampled_from(["ALL", "SEEN", "UNSEEN", "NEW", "OLD", "DELETED", "RECENT"]).map(lambda w: (w,)),
    st.tuples(st.sampled_from(["FROM", "SUBJECT", "BODY", "TEXT", "TO"]), _text),
    st.tuples(st.sampled_from(["BEFORE", "SINCE", "ON", "SENTON"]), _date),
    st.tuples(st.sampled_from(["LARGER", "SMALLER"]), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("KEYWORD"), st.sampled_from(["$Junk", "work"])),
    st.tuples(st.just("UID"), _seqset),
    _seqset.map(lambda s: ("SEQ", s)),
    st.tuples(st.just("HEADER"), st.sampled_from(["X-SPAM", "SUBJECT"]), _text),
)
_key = st.recursive(_leaf, lambda inner: st.one_of(
    st.tuples(st.just("NOT"), inner),
    st.tuples(st.just("OR"), inner, inner),
    st.lists(inner, min_size=2, max_size=3).map(lambda ks: ("AND", tuple(ks)))), max_leaves=6)
_section = st.one_of(
    st.just(Section()), st.just(Section((), "HEADER")), st.just(Section((), "TEXT")),
    st.tuples(st.lists(st.integers(1, 20), min_size=1, max_size=3),
              st.sampled_from(["", "MIME", "HEADER", "TEXT"])).map(
        lambda t: Section(tuple(t[0]), t[1])),
    st.lists(st.sampled_from(["FROM", "TO", "X-A"]), min_size=1, max_size=3).map(
        lambda f: Section((), "HEADER.FIELDS", tuple(f))))
_att = st.one_of(
    st.sampled_from(["FLAGS", "UID", "ENVELOPE", "BODYSTRUCTURE", "RFC822.SIZE",
                     "INTERNALDATE", "MODSEQ"]).map(FetchAtt),
    st.builds(FetchAtt, st.just("BODY"), _section,
              st.one_of(st.none(), st.tuples(st.integers(0, 1000), st.integers(1, 1000))),
              st.booleans()))
_tag = st.text("abcxyzABC0123456789.", min_size=1, max_size=8)
_commands = st.one_of(
    st.builds(lambda t, u, p: Command(t, "LOGIN", (u, p)), _tag, _text, _text),
    st.builds(lambda t, b, c: Command(t, "SELECT", (b, c)), _tag, _text, st.booleans()),
    st.builds(lambda t, a, b: Command(t, "RENAME", (a, b)), _tag, _text, _text),
    st.builds(lambda t, u, s, k: Command(t, "SEARCH", (s, k), u), _tag, st.booleans(),
              st.sampled_from([None, "UTF-8"]),
              _key.map(lambda k: k if k[0] != "AND" else k)),
    st.builds(lambda t, u, s, a, c: Command(t, "FETCH", (s, tuple(a), c), u), _tag,
              st.booleans(), _seqset, st.lists(_att, min_size=1, max_size=4),
              st.one_of(st.none(), st.integers(1, 2**40))),
    st.builds(lambda t, s, us, m, sil, f: Command(t, "STORE", (s, us, m, sil, tuple(f))),
              _tag, _seqset, st.one_of(st.none(), st.integers(0, 2**40)),
              st.sampled_from(["", "+", "-"]), st.booleans(), st.lists(_flag, max_size=3)),
    st.builds(lambda t, s, b: Command(t, "COPY", (s, b)), _tag, _seqset, _text),
    st.builds(lambda t, b, f, m: Command(t, "APPEND", (b, f, None, m)), _tag, _text,
              st.one_of(st.none(), st.lists(_flag, max_size=2).map(tuple)),
              st.binary(max_size=50)),
)


@settings(max_examples=300, deadline=None)
@given(_commands)
def test_valid_commands_round_trip(cmd):
    if cmd.name == "SEARCH" and cmd.args[1][0] == "AND":
        # a top-level AND is written without parentheses and parses back the same way
        pass
    assert parse_command(cmd.to_bytes()) == cmd


# --- framing ---------------------------------------------------------------------
def test_framer_sync_literal_and_pipelining():
    f = Framer()
    assert f.feed(b"a APPEND x {3}\r\n") == [NeedContinuation("a")]
    assert f.feed(b"abc\r\nb NOOP\r\nc NO") == [CommandBytes(b"a APPEND x {3}\r\nabc"),
                                                CommandBytes(b"b NOOP")]
    assert f.feed(b"OP\r\n") == [CommandBytes(b"c NOOP")]


def test_framer_literal_plus_needs_no_continuation():
    assert Framer().feed(b"a LOGIN {1+}\r\nx {1+}\r\ny\r\n") == [
        CommandBytes(b"a LOGIN {1+}\r\nx {1+}\r\ny")]


def test_framer_refuses_big_literal_before_reading_it():
    f = Framer(max_literal=10)
    assert f.feed(b"a APPEND x {11}\r\n") == [TooLong("a", "literal")]
    assert f.feed(b"b NOOP\r\n") == [CommandBytes(b"b NOOP")]


def test_framer_skips_big_nonsync_literal():
    f = Framer(max_literal=10)
    assert f.feed(b"a APPEND x {12+}\r\n0123456789ab") == [TooLong("a", "literal")]
    assert f.feed(b"\r\nb NOOP\r\n")[-1] == CommandBytes(b"b NOOP")


def test_framer_long_line():
    f = Framer(max_line=100)
    events = f.feed(b"a " + b"x" * 200)
    assert events == [TooLong("a", "line")]
    assert f.feed(b"yyy\r\nb NOOP\r\n") == [CommandBytes(b"b NOOP")]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 50))
def test_framer_any_chunking_gives_same_commands(data, size):
    whole = Framer(max_line=1000, max_literal=1000).feed(data)
    f = Framer(max_line=1000, max_literal=1000)
    pieces = []
    for i in range(0, len(data), size):
        pieces += f.feed(data[i:i + size])
    assert [e for e in pieces if isinstance(e, CommandBytes)] == \
        [e for e in whole if isinstance(e, CommandBytes)]
