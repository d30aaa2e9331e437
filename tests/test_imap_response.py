"""Response grammar: strings, literals, NIL, lists and modified UTF-7 names."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from labmail.access.imap.response import (Atom, Literal, Run, encode, mutf7_decode,
                                          mutf7_encode, tagged, untagged)


def test_values():
    assert encode(None) == b"NIL"
    assert encode(42) == b"42"
    assert encode("plain text") == b'"plain text"'
    assert encode('say "hi"') == b'{8}\r\nsay "hi"'          # Dovecot: literal, not escapes
    assert encode("Grüße") == b"{7}\r\nGr\xc3\xbc\xc3\x9fe"
    assert encode(Literal(b"x")) == b"{1}\r\nx"
    assert encode([Atom("\\Seen"), [1, None]]) == b"(\\Seen (1 NIL))"
    assert encode([Run(([1], [2])), "x"]) == b'((1)(2) "x")'


def test_lines():
    assert untagged(5, "EXISTS").to_bytes() == b"* 5 EXISTS\r\n"
    assert tagged("a", "NO", "Mailbox doesn't exist: x", "TRYCREATE").to_bytes() == \
        b"a NO [TRYCREATE] Mailbox doesn't exist: x\r\n"


@pytest.mark.parametrize("text,wire", [
    ("INBOX", "INBOX"), ("Entwürfe", "Entw&APw-rfe"), ("A&B", "A&-B"),
    ("日本語", "&ZeVnLIqe-"), ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
])
def test_mutf7_known_values(text, wire):
    assert mutf7_encode(text) == wire
    assert mutf7_decode(wire) == text


@pytest.mark.parametrize("bad", ["&Jjo", "&AGE-", "&-&", "\u00e9", "&U,BTFw"])
def test_mutf7_rejects_malformed(bad):
    if bad == "&-&":
        with pytest.raises(ValueError):
            mutf7_decode(bad)
        return
    with pytest.raises(ValueError):
        mutf7_decode(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_mutf7_round_trip(text):
    assert mutf7_decode(mutf7_encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_mutf7_decode_never_crashes(text):
    try:
        mutf7_decode(text)
    except ValueError:
        pass
