"""Hypothesis: no procmailrc text makes the parser (or the interpreter) fail but with ConfigError."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labmail.errors import ConfigError
from labmail.mda.procmail import Procmail, egrep_to_python, parse_procmailrc

PIECES = [":0", ":0:", ":0 hbfw", ":0 c", ":0 AE", ":0 B:", " * ", "*", "! ", "{", "}", "|", "$", "^",
          "^^", "\\/", "\\", '"', "'", "`", "#", "=", "MAILDIR", "LOG", "X", "1^1", "-2^0.5", "??",
          "<", ">", "(", ")", "[", "]", "[^", "a", "-", ".", "/", "Maildir/", "\n", "\n", " ", "\t"]
rc_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(rc_text)
def test_parser_raises_only_config_error(text: str) -> None:
    try:
        parse_procmailrc(text, "/home/alice/.procmailrc")
    except ConfigError as exc:
        assert exc.path == "/home/alice/.procmailrc"
        assert exc.line is None or 1 <= exc.line <= text.count("\n") + 2 or exc.line >= 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("^$\\/<>[]()|*+?.{}-az \n")), max_size=30))
def test_regex_translation_compiles_or_reports(pattern: str) -> None:
    try:
        re.compile(egrep_to_python(pattern))
    except re.error:
        pass                           # parse_condition turns this into 'Invalid regexp'


SAFE = [p for p in PIECES if p not in ("|", "`", "! ", "??")] + ["x/", "box", "DEFAULT", "INCLUDERC"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SAFE), max_size=40).map("".join))
def test_interpreter_never_raises(text: str) -> None:
    # no pipes, backquotes, forwards or program conditions: nothing runs but procmail itself
    if "?" in text or "|" in text or "`" in text or "!" in text:
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "home/alice").mkdir(parents=True)
        (root / "home/alice/.procmailrc").write_text(text)
        res = Procmail(user="alice", home="/home/alice", root=root, etc_rc=None,
                       hostname="h").run(b"From a  Fri Nov 27 09:00:00 2026\nSubject: x\n\nbody\n")
        assert res.status in (0, 73) or res.status > 0
