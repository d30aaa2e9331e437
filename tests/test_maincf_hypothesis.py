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
