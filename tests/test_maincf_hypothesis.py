"""Property tests of the main.cf reader (and, when installed, agreement with real postconf)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labmail.errors import ConfigError
from labmail.mta.maincf import MainCf, parse_main_cf
from labmail.mta.postconf import postconf

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
WORD = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8)
VALUE_WORDS = st.lists(WORD, max_size=5)


@st.composite
def main_cf(draw):
    """(text, expected {name: folded value}) with continuations, comments, blanks and overrides."""
    lines, expected = [], {}
    for _ in range(draw(st.integers(0, 8))):
        name = draw(NAMES)
        words = draw(VALUE_WORDS)
        # a physical line whose first non-blank character is '#' is a comment, not a value
        words = ["x" + w if w.startswith("#") else w for w in words]
        sep = draw(st.sampled_from(["=", " = ", "\t=\t", " =", "= "]))
        if not words:
            lines.append(f"{name}{sep}")
        else:
            # break the value into physical lines; continuation lines start with whitespace
            cut = draw(st.integers(1, len(words)))
            lines.append(f"{name}{sep}{' '.join(words[:cut])}")
            for w in words[cut:]:
                if draw(st.booleans()):
                    lines.append(draw(st.sampled_from(["", "# comment", "   # indented comment"])))
                lines.append(draw(st.sampled_from([" ", "\t", "    "])) + w)
        expected.pop(name, None)
        expected[name] = " ".join(words)
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "#", "# note = not a setting"])))
    return "\n".join(lines) + "\n", expected


@given(main_cf())
@settings(max_examples=200, deadline=None)
def test_parse_recovers_every_setting(case):
    text, expected = case
    cf = MainCf.from_text(text)
    got = {name: " ".join(value.split()) for name, value in cf.explicit().items()}
    assert got == expected


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_only_raises_config_error(text):
    try:
        cf = MainCf.from_text(text)
    except ConfigError as exc:
        assert exc.line is not None and exc.line >= 1
        return
    for name in cf.explicit():
        try:
            cf.get(name)
        except ConfigError:
            pass


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60))
@settings(max_examples=300, deadline=None)
def test_dollar_dollar_is_a_literal_dollar(value):
    cf = MainCf.from_text("myorigin = x\n")
    assert cf.expand(value.replace("$", "$$")) == value


@given(st.lists(st.tuples(NAMES, WORD), min_size=1, max_size=6))
def test_last_entry_wins_and_each_override_warns(pairs):
    text = "".join(f"{n} = {v}\n" for n, v in pairs)
    entries, warnings, errors = parse_main_cf(text)
    last = {}
    for n, v in pairs:
        last[n] = v
    assert {n: e.value for n, e in entries.items()} == last
    assert len([w for w in warnings if "overriding earlier entry" in w]) == len(pairs) - len(last)


POSTCONF = shutil.which("postconf") or ("/usr/sbin/postconf" if Path("/usr/sbin/postconf").exists() else None)


@pytest.mark.realtool
@pytest.mark.skipif(POSTCONF is None, reason="postconf not installed; apt-get install postfix")
@given(main_cf())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_postconf_n_agrees_with_real_postconf(case):
    text, _ = case
    # parameters Postfix knows must keep their meaning; use user-defined names only,
    # referenced from one known parameter so that postconf -n shows them
    d = Path(tempfile.mkdtemp(prefix="labmail-hyp-"))
    try:
        names = list(MainCf.from_text(text).explicit())
        refs = " ".join(f"${{{n}?x}}" for n in names)
        full = text + (f"bounce_notice_recipient = {refs}\n" if refs else "")
        (d / "main.cf").write_text(full)
        os.utime(d / "main.cf", (1_600_000_000, 1_600_000_000))
        real = subprocess.run([POSTCONF, "-c", str(d), "-n"], capture_output=True, text=True, timeout=30)
        ours = postconf(MainCf.from_text(full, f"{d}/main.cf"), nondefault=True, config_directory=str(d))
        assert real.returncode == 0, real.stderr
        assert ours.stdout == real.stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- $-expansion against real postconf -x ------------------------------------------

_POOL = ["p1", "p2", "p3", "p4", "nope", "mail_name", "relayhost", "myhostname"]


@st.composite
def _expr(draw, depth: int, allowed: list):
    kind = draw(st.sampled_from(["word", "word", "ref", "brace", "paren", "if", "unless", "ifelse", "dollar",
                                 "plainif", "spaced", "expr"]
                                if depth < 2 else ["word", "ref"]))
    name = draw(st.sampled_from(allowed))
    inner = lambda: draw(_text(depth + 1, allowed))   # noqa: E731
    if kind == "word":
        return draw(st.text(alphabet="abcxyz.-_@:/[]", min_size=1, max_size=6))
    if kind == "ref":
        return f"${name}" + draw(st.sampled_from(["", " ", ".", "-"]))
    if kind == "brace":
        return "${" + name + "}"
    if kind == "paren":
        return "$(" + name + ")"
    if kind == "if":
        return "${" + name + "?{" + inner() + "}}"
    if kind == "plainif":
        return "${" + name + draw(st.sampled_from(["?", ":"])) + draw(st.text(alphabet="abc.-", max_size=4)) + "}"
    if kind == "spaced":
        return "${ " + name + " }"
    if kind == "expr":
        op = draw(st.sampled_from(["==", "!="]))
        return ("${{$" + name + "} " + op + " {" + draw(st.sampled_from(["", "Postfix", "abc"])) + "} ? {"
                + inner() + "} : {" + inner() + "}}")
    if kind == "unless":
        return "${" + name + ":{" + inner() + "}}"
    if kind == "ifelse":
        return "${" + name + "?{" + inner() + "}:{" + inner() + "}}"
    return "$$"


@st.composite
def _text(draw, depth: int, allowed: list):
    parts = draw(st.lists(_expr(depth, allowed), min_size=1, max_size=3))
    return draw(st.sampled_from(["", " "])).join(parts)


@st.composite
def _macro_cf(draw):
    lines = []
    for i, name in enumerate(["p1", "p2", "p3", "p4"]):
        if draw(st.booleans()) or i == 0:
            # only later names and known parameters: no loops
            allowed = _POOL[i + 1:] if i < 3 else ["nope", "mail_name", "relayhost", "myhostname"]
            lines.append(f"{name} = {draw(_text(0, allowed))}")
    if draw(st.booleans()):
        lines.append("relayhost = [smtp.example.net]")
    lines.append("myhostname = mail.example.com")
    lines.append("2bounce_notice_recipient = $p1")
    return "\n".join(lines) + "\n"


@pytest.mark.realtool
@pytest.mark.skipif(POSTCONF is None, reason="postconf not installed; apt-get install postfix")
@given(_macro_cf())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_expansion_agrees_with_real_postconf_x(text):
    from labmail.mta.postconf import postconf_dir
    d = Path(tempfile.mkdtemp(prefix="labmail-hypx-"))
    try:
        (d / "main.cf").write_text(text)
        os.utime(d / "main.cf", (1_600_000_000, 1_600_000_000))
        names = ["2bounce_notice_recipient"] + [n for n in ("p1", "p2", "p3", "p4")
                                                if f"\n{n} =" in "\n" + text]
        real = subprocess.run([POSTCONF, "-c", str(d), "-x", "-h", *names], capture_output=True,
                              text=True, timeout=30)
        ours = postconf_dir(str(d), names=names, expand=True, hide_names=True)
        assert (ours.status == 0) == (real.returncode == 0), (real.stderr, ours.stderr)
        if real.returncode == 0:
            assert ours.stdout == real.stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)


_VALUE = st.text(alphabet="ab=# \t$x{}", max_size=12)
_LINE = st.one_of(
    st.builds(lambda n, a, b, v: f"{n}{a}={b}{v}", st.sampled_from(["a", "b", "ab", "xa"]),
              st.sampled_from(["", " ", "\t"]), st.sampled_from(["", " ", "\t"]), _VALUE),
    st.builds(lambda w, v: w + v, st.sampled_from([" ", "\t", "  "]), _VALUE),     # continuation
    st.sampled_from(["", "#", "# a = b", "   ", " # x"]),
    st.text(alphabet="ab=# \t$x{}", max_size=6))                                   # anything


# Postfix sleeps a second before exiting on a fatal error, so examples are kept
# mostly valid (assignments, continuations, comments) and few.
@pytest.mark.realtool
@pytest.mark.skipif(POSTCONF is None, reason="postconf not installed; apt-get install postfix")
@pytest.mark.slow
@given(st.lists(_LINE, max_size=8))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_raw_lines_parse_like_real_postconf(lines):
    from labmail.mta.postconf import postconf_dir
    text = "\n".join(lines) + "\n"
    # reference every name so that postconf -n shows user-defined ones too
    names = {w.split("=")[0].strip() for w in lines if "=" in w}
    refs = " ".join(f"${{{n}?x}}" for n in names if n and not any(c in n for c in " \t#${}"))
    d = Path(tempfile.mkdtemp(prefix="labmail-hypraw-"))
    try:
        (d / "main.cf").write_text(text + (f"2bounce_notice_recipient = {refs}\n" if refs else ""))
        os.utime(d / "main.cf", (1_600_000_000, 1_600_000_000))
        real = subprocess.run([POSTCONF, "-c", str(d), "-n"], capture_output=True, text=True, timeout=30)
        ours = postconf_dir(str(d), nondefault=True)
        assert (ours.status == 0) == (real.returncode == 0), (real.stderr, ours.stderr)
        if real.returncode == 0:
            assert ours.stdout == real.stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)
