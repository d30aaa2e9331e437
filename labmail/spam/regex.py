"""Perl regular expressions, as SpamAssassin rules write them, for Python's ``re``.

A rule says ``/free\\s+money/i`` or ``m{^https?://}``; this module splits the
delimiters and flags off and translates the few Perl spellings Python lacks.

>>> perl_regex("/free\\\\s+money/i").pattern
'free\\\\s+money'
>>> bool(perl_regex("m{^Re:}").search("Re: lunch"))
True
"""
from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Tuple

__all__ = ["perl_regex", "split_perl_regex", "PerlRegexError"]

_FLAGS = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "x": re.VERBOSE}
_PAIRS = {"{": "}", "(": ")", "[": "]", "<": ">"}
# Perl-only escapes and their Python equivalents (why: rules are written for Perl).
_TRANSLATE = [
    (re.compile(r"(?<!\\)((?:\\\\)*)\\z"), r"\1\\Z"),
    (re.compile(r"(?<!\\)((?:\\\\)*)\\h"), r"\1[ \\t]"),
    (re.compile(r"\(\?<([A-Za-z_]\w*)>"), r"(?P<\1>"),
    (re.compile(r"\\k<([A-Za-z_]\w*)>"), r"(?P=\1)"),
    (re.compile(r"(?<!\\)((?:\\\\)*)\\e"), r"\1\\x1b"),            # Perl's \e is ESC
    (re.compile(r"(?<!\\)((?:\\\\)*)\\x\{([0-9A-Fa-f]{1,8})\}"),       # \x{0456}: a code point
     lambda m: m.group(1) + "\\U%08x" % int(m.group(2), 16)),
]
# "(?i)" in the middle of a Perl pattern applies from there on; Python wants it in
# front. Moving it there makes the whole pattern case-blind (a little wider).
_MID_FLAGS = re.compile(r"(?<!\\)\(\?([aiLmsux]+)\)")


class PerlRegexError(ValueError):
    """The text is not a usable ``/regex/flags``."""


def split_perl_regex(text: str) -> Tuple[str, str, str]:
    """Split ``/re/flags`` or ``m{re}flags`` into (pattern, flags, rest).

    >>> split_perl_regex("/a\\\\/b/i [if-unset: x]")
    ('a\\\\/b', 'i', ' [if-unset: x]')
    """
    s = text.lstrip()
    if s.startswith("m") and len(s) > 1 and not s[1].isalnum() and not s[1].isspace():
        s = s[1:]
    elif not s.startswith("/"):
        raise PerlRegexError("a regular expression must start with / or m")
    opener = s[0]
    closer = _PAIRS.get(opener, opener)
    i, depth = 1, 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            i += 2
            continue
        if ch == closer and depth == 0:
            break
        if closer != opener:
            if ch == opener:
                depth += 1
            elif ch == closer:
                depth -= 1
        i += 1
    else:
        raise PerlRegexError(f"no closing {closer} in regular expression")
    pattern = s[1:i]
    j = i + 1
    while j < len(s) and s[j].isalpha():
        j += 1
    return pattern, s[i + 1:j], s[j:]


@lru_cache(maxsize=4096)
def _compile(pattern: str, flags: str) -> "re.Pattern[str]":
    bits = 0
    for f in flags:
        if f in _FLAGS:
            bits |= _FLAGS[f]
        elif f not in "goe":
            raise PerlRegexError(f"unknown regular expression flag {f!r}")
    pattern = pattern.replace("\\/", "/")   # Perl escapes its delimiter
    for rx, repl in _TRANSLATE:
        pattern = rx.sub(repl, pattern)
    try:
        with warnings.catch_warnings():
            # "[[" is a plain bracket in Perl; Python only warns about future set syntax
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(pattern, bits)
    except re.error as exc:
        if "global flags not at the start" in str(exc):
            found = "".join(_MID_FLAGS.findall(pattern))
            moved = f"(?{''.join(sorted(set(found)))})" + _MID_FLAGS.sub("", pattern)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    return re.compile(moved, bits)
            except re.error:
                pass
        raise PerlRegexError(str(exc)) from None


def perl_regex(text: str) -> "re.Pattern[str]":
    """Compile a Perl-style ``/re/flags`` (text after it must be blank)."""
    pattern, flags, rest = split_perl_regex(text)
    if rest.strip():
        raise PerlRegexError(f"unexpected text after regular expression: {rest.strip()!r}")
    return _compile(pattern, flags)


def compile_parts(pattern: str, flags: str) -> "re.Pattern[str]":
    """Compile an already split pattern and flags (cached)."""
    return _compile(pattern, flags)
