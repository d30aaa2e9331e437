"""procmailrc: parsing (with file/line errors) and running, without the real procmail.

Every flag and condition kind, nested blocks, filters, forwards, DEFAULT,
exit codes and the lab's path mapping; differential tests against Debian's
procmail are in test_procmail_differential.py.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import List, Tuple

import pytest

from labmail.errors import ConfigError
from labmail.mda.procmail import (EX_CANTCREAT, EX_TEMPFAIL, Procmail, Recipe, egrep_to_python,
                                  parse_condition, parse_procmailrc)

MSG = (b"From bob@example.org  Fri Nov 27 09:00:00 2026\n"
       b"Return-Path: <bob@example.org>\nFrom: Bob <bob@example.org>\nTo: alice@example.com\n"
       b"Subject: Lunch on Friday\n\nShall we have lunch?\nFrom the canteen, Bob\n")


# -- parsing ----------------------------------------------------------------------
def test_recipe_parts() -> None:
    rc = parse_procmailrc(":0 hbfw: spamc.lock  # comment\n* ^Subject: x\n* ! B ?? y\n| /usr/bin/spamc\n")
    r = rc.statements[0]
    assert isinstance(r, Recipe)
    assert (r.flags, r.lockfile, r.action.kind, r.action.text.strip()) == \
        ("hbfw", "spamc.lock", "pipe", "/usr/bin/spamc")
    assert [(c.kind, c.negate) for c in r.conditions] == [("regex", False), ("var", True)]


@pytest.mark.parametrize("head,lock", [(":0", None), (":0:", ""), (":0 c:", ""), (":0 B: x.lock", "x.lock"),
                                        (":0Bc:", "")])
def test_lockfile_forms(head: str, lock: object) -> None:
    assert parse_procmailrc(f"{head}\nbox\n").statements[0].lockfile == lock  # type: ignore[union-attr]


def test_condition_kinds() -> None:
    assert parse_condition(" ? test -f x").kind == "program"
    assert parse_condition(" < 1000").kind == "less"
    assert parse_condition(" $ ^To:.*$LOGNAME").kind == "expand"
    assert parse_condition(" MATCH ?? ^a").var == "MATCH"
    c = parse_condition(" -100^3 > 2000")
    assert (c.kind, c.weight) == ("greater", (-100.0, 3.0))
    assert parse_condition(" \\!important").regex.search("!important")  # type: ignore[union-attr]


def test_assignments_and_unset() -> None:
    rc = parse_procmailrc('A = "one two"\nB=$HOME/x   # comment\nC\nLOG="multi\nline"\n')
    assert [(s.name, s.value) for s in rc.statements] == [  # type: ignore[union-attr]
        ("A", '"one two"'), ("B", "$HOME/x"), ("C", None), ("LOG", '"multi\nline"')]


def test_nested_blocks() -> None:
    rc = parse_procmailrc(":0\n* ^From:.*bob\n{\n  :0 c\n  copy\n  :0\n  {\n    :0\n    deep/\n  }\n}\n")
    outer = rc.statements[0]
    assert outer.action.kind == "block"  # type: ignore[union-attr]
    inner = outer.action.block[1]  # type: ignore[union-attr]
    assert inner.action.block[0].action.text == "deep/"


@pytest.mark.parametrize("text,line,words", [
    (":0\n* ^Subject: x\n", 1, "Missing action"),
    ("X=1\n:0\n{\n:0\nbox\n", 3, "Missing closing brace"),
    ("}\n", 1, "Closing brace unexpected"),
    ("\n:0 q\nbox\n", 2, 'Unknown flag "q"'),
    (":0\n* (unbalanced\nbox\n", 2, "Invalid regexp"),
    (":0\n* > lots\nbox\n", 2, "needs a number"),
    ('X="never closed\n', 1, "Unexpected EOL"),
    (":0\n:0\nbox\n", 2, "Missing action"),
])
def test_errors_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_procmailrc(text, "/home/alice/.procmailrc")
    assert err.value.path == "/home/alice/.procmailrc" and err.value.line == line
    assert words in err.value.message


# -- the regex dialect --------------------------------------------------------------
@pytest.mark.parametrize("egrep,text,hit", [
    ("^Subject: lunch$", "From: x\nSubject: lunch\n", True),
    ("one$^two", "one\ntwo", False),            # procmail: each of $ and ^ is a newline
    ("one$two", "one\ntwo", True),
    ("[^x]y", "\ny", False),                    # a negated class never matches a newline
    ("a{2}", "a{2}", True),                     # no intervals in procmail's egrep
    ("\\<cat\\>", "a cat here", True),
    ("\\<cat\\>", "concatenate", False),
    ("^^abc", "abc\nx", True),
    ("^^x", "abc\nx", False),
    ("x^^", "abc\nx", True),
    ("a**", "aaa", True),
    ("*star", "*star", True),
])
def test_egrep_dialect(egrep: str, text: str, hit: bool) -> None:
    assert bool(re.search(egrep_to_python(egrep), text)) is hit


def test_to_macro() -> None:
    pat = re.compile(egrep_to_python("^TO_alice@example\\.com"), re.I)
    assert pat.search("Cc: Bob <bob@x>, alice@example.com\n")
    assert not pat.search("Cc: malice@example.com\n")


# -- running ------------------------------------------------------------------------
@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "home" / "alice").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "var" / "mail").mkdir(parents=True)
    return tmp_path


def run(root: Path, rc: str, msg: bytes = MSG, argv: Tuple[str, ...] = (), etc: str = "",
        **kw: object) -> Tuple[int, List[str], str]:
    (root / "home/alice/.procmailrc").write_text(
        "MAILDIR=$HOME/Maildir/\nDEFAULT=$MAILDIR\nLOGFILE=$HOME/procmail.log\n" + rc)
    (root / "home/alice/Maildir").mkdir(exist_ok=True)
    if etc:
        (root / "etc/procmailrc").write_text(etc)
    pm = Procmail(user="alice", home="/home/alice", root=root, hostname="mail.example.com", **kw)  # type: ignore[arg-type]
    res = pm.run(msg, list(argv))
    log = root / "home/alice/procmail.log"
    return res.status, res.folders, log.read_text() if log.exists() else res.stderr


def files(d: Path) -> List[bytes]:
    return [p.read_bytes() for p in sorted(d.glob("*"))] if d.exists() else []


def test_default_maildir_and_abstract(root: Path) -> None:
    status, folders, log = run(root, ":0\n* ^Subject:.*dinner\ndinner/\n")
    assert status == 0 and folders[0].startswith("/home/alice/Maildir/new/")
    [stored] = files(root / "home/alice/Maildir/new")
    assert stored.startswith(b"Return-Path:")          # maildir copies drop the From_ line
    assert log.splitlines()[:2] == ["From bob@example.org  Fri Nov 27 09:00:00 2026",
                                    " Subject: Lunch on Friday"]
    assert re.match(r"  Folder: /home/alice/Maildir/new/\d+\.\d+_\d+\.mail\.example\.com\t+ +\d+$",
                    log.splitlines()[2])


def test_first_delivering_recipe_wins(root: Path) -> None:
    status, folders, _ = run(root, ":0\n* ^Subject:.*lunch\n.Food/\n:0\n.Other/\n")
    assert len(folders) == 1 and folders[0].startswith(".Food/new/")
    assert not (root / "home/alice/Maildir/.Other").exists()


def test_carbon_copy_then_default(root: Path) -> None:
    _, folders, _ = run(root, ":0 c\n.Archive/\n")
    assert [f.split("/")[0] for f in folders] == [".Archive", ""]


def test_mbox_with_lock_and_quoting(root: Path) -> None:
    status, folders, _ = run(root, ":0:\nlunch.mbox\n")
    data = (root / "home/alice/Maildir/lunch.mbox").read_bytes()
    assert data.startswith(b"From bob@example.org  Fri Nov 27") and b"\n>From the canteen" in data
    assert data.endswith(b"Bob\n\n") and not (root / "home/alice/Maildir/lunch.mbox.lock").exists()


def test_mbox_waits_for_an_existing_lock(root: Path) -> None:
    (root / "home/alice/Maildir").mkdir()
    lock = root / "home/alice/Maildir/box.lock"
    lock.write_text("")
    timer = threading.Timer(0.3, lock.unlink)
    timer.start()
    status, folders, _ = run(root, ":0:\nbox\n")
    timer.join()
    assert folders == ["box"] and (root / "home/alice/Maildir/box").exists()


def test_concurrent_mbox_deliveries_do_not_interleave(root: Path) -> None:
    (root / "home/alice/.procmailrc").write_text("MAILDIR=$HOME\n:0:\nbox\n")
    pm = Procmail(user="alice", home="/home/alice", root=root, etc_rc=None)
    msgs = [MSG.replace(b"Lunch", f"Lunch {i}".encode()) + b"x" * 20000 + b"\n" for i in range(8)]
    threads = [threading.Thread(target=pm.run, args=(m,)) for m in msgs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    data = (root / "home/alice/box").read_bytes()
    assert data.count(b"\nSubject: Lunch ") == 8
    assert all(b"x" * 20000 + b"\n\n" in part for part in data.split(b"From bob@")[1:])


def test_header_and_body_flags(root: Path) -> None:
    run(root, ":0 hc\nhead\n:0 b\nbody\n")
    d = root / "home/alice/Maildir"
    assert (d / "head").read_bytes().endswith(b"Subject: Lunch on Friday\n\n")
    assert (d / "body").read_bytes().startswith(b"Shall we")


def test_B_H_and_D(root: Path) -> None:
    _, f1, _ = run(root, ":0 B\n* ^Shall we\nb/\n")
    _, f2, _ = run(root, ":0\n* ^Shall we\nh/\n")
    _, f3, _ = run(root, ":0 D\n* ^Subject:.*LUNCH\nd/\n:0\n* ^Subject:.*LUNCH\ni/\n")
    _, f4, _ = run(root, ":0 HB\n* canteen\nhb/\n")
    assert f1[0].startswith("b/") and not f2[0].startswith("h/")
    assert f3[0].startswith("i/") and f4[0].startswith("hb/")


def test_filter_replaces_the_mail(root: Path) -> None:
    _, folders, _ = run(root, ":0 fw\n| sed -e 's/^Subject: /Subject: [ext] /'\n:0\n* ^Subject: \\[ext\\]\ntagged/\n")
    assert folders[0].startswith("tagged/")


def test_failed_filter_keeps_the_mail_and_e_runs(root: Path) -> None:
    _, folders, log = run(root, ":0 fw\n| sh -c 'cat >/dev/null; exit 3'\n:0 e\nfailed/\n")
    assert folders[0].startswith("failed/")
    assert 'procmail: Program failure (3) of "sh"' in log
    assert "Rescue of unfiltered data succeeded" in log


def test_W_is_quiet(root: Path) -> None:
    _, _, log = run(root, ":0 fW\n| sh -c 'cat >/dev/null; exit 3'\n")
    assert "Program failure" not in log


def test_i_ignores_a_program_that_stops_reading(root: Path) -> None:
    big = MSG + b"y" * 2_000_000 + b"\n"
    _, f1, _ = run(root, ":0 w\n| true\n", big)
    _, f2, _ = run(root, ":0 wi\n| true\n", big)
    assert f1[0].startswith("/home/alice/Maildir/new/")      # write error: not delivered
    assert f2 == ["true"]


def test_capture_into_a_variable(root: Path) -> None:
    _, folders, _ = run(root, "SUBJ=\n:0\nSUBJ=| sed -n 's/^Subject: //p'\n:0\n* SUBJ ?? ^Lunch\n\"$SUBJ/\"\n")
    assert folders[0].startswith("Lunch on Friday/new/")


def test_A_a_E_e_chains(root: Path) -> None:
    rc = (":0 c\n* ^Subject:.*lunch\none\n:0 Ac\ntwo\n:0\n* ^Subject:.*nothing\nno\n:0 A\nnever\n"
          ":0 E\nelse\n")
    _, folders, _ = run(root, rc)
    assert folders == ["one", "two", "else"]
    _, folders, _ = run(root, ":0 c\n* ^Subject: zzz\nx\n:0 a\nnot\n:0\nlast\n")
    assert folders == ["last"]


def test_weighted_scoring(root: Path) -> None:
    rc = ":0\n* 2000^0 ^From:.*bob\n* -100^1 ^Subject:.*lunch\n* -1500^0\nprio/\n"
    _, folders, _ = run(root, rc)
    assert folders[0].startswith("prio/")                     # 2000 - 100 - 1500 > 0
    _, folders, _ = run(root, ":0\n* 1^1 ^From:\n* -1^0\nzero/\n")
    assert not folders[0].startswith("zero/")                 # a score of 0 is no match


def test_exit_code_size_and_expansion_conditions(root: Path) -> None:
    rc = ("WORD=lunch\n:0\n* ? grep -qi lunch\n* < 100000\n* ! > 100000\n* $ ^Subject:.*$WORD\n"
          "hit/\n")
    _, folders, _ = run(root, rc)
    assert folders[0].startswith("hit/")


def test_match_variable(root: Path) -> None:
    _, folders, _ = run(root, ":0\n* ^Subject: \\/[a-z]+\n$MATCH/\n")
    assert folders[0].startswith("Lunch/")


def test_nested_block_and_clone(root: Path) -> None:
    rc = ":0\n* ^From:.*bob\n{\n :0 c\n bob-copy\n :0\n * ^Subject:.*lunch\n food/\n}\nrest/\n"
    _, folders, _ = run(root, rc)
    assert folders[0] == "bob-copy" and folders[1].startswith("food/")
    _, folders, _ = run(root, ":0 c\n{\n :0\n clone\n}\n:0\nparent\n")
    assert folders == ["clone", "parent"]


def test_forward_uses_the_lab_sendmail(root: Path) -> None:
    sent: List[Tuple[List[str], bytes]] = []
    _, folders, _ = run(root, ":0 c\n! carol@example.org -oi\n", forward=lambda a, d: sent.append((a, d)) or True)
    assert sent[0][0] == ["carol@example.org"] and sent[0][1].startswith(b"Return-Path:")
    assert folders[0] == "/usr/sbin/sendmail -oi carol@example.org -oi"


def test_course_spamc_recipe_files_spam_into_junk(root: Path) -> None:
    seen: List[List[str]] = []

    def fake_spamc(argv: List[str], message: bytes) -> Tuple[bytes, str, int]:
        seen.append(argv)
        spam = b"viagra" in message
        return b"X-Spam-Flag: YES\n" + message if spam else message, "", 0

    rc = ":0 hbfw\n| /usr/bin/spamc\n\n:0:\n* ^X-Spam-Flag: YES\n.Junk/\n"
    _, folders, _ = run(root, rc, MSG.replace(b"lunch?", b"viagra?"), spamc=fake_spamc)
    assert folders[0].startswith(".Junk/new/") and seen == [[]]
    [stored] = files(root / "home/alice/Maildir/.Junk/new")
    assert stored.startswith(b"X-Spam-Flag: YES\n")
    _, folders, _ = run(root, rc, spamc=fake_spamc)
    assert folders[0].startswith("/home/alice/Maildir/new/")


def test_etc_procmailrc_runs_first_and_can_deliver(root: Path) -> None:
    _, folders, _ = run(root, ":0\nuser/\n", etc="LOG=\"etc $PATH\n\"\n")
    assert folders[0].startswith("user/")
    _, folders, _ = run(root, ":0\nuser/\n", etc=":0\n/home/alice/Maildir/.Global/\n")
    assert folders[0].startswith("/home/alice/Maildir/.Global/new/")


def test_rcfile_argument_skips_etc_and_args_are_numbered(root: Path) -> None:
    (root / "home/alice/filter.rc").write_text("MAILDIR=$HOME\nLOGFILE=$HOME/f.log\n:0\n* $ ! 1 ?? ^$\n$1/\n")
    pm = Procmail(user="alice", home="/home/alice", root=root, hostname="h")
    (root / "etc/procmailrc").write_text(":0\n/dev/null\n")
    res = pm.run(MSG, ["-a", "lists", "filter.rc"])
    assert res.folders[0].startswith("lists/new/")


def test_undeliverable_exit_codes_and_EXITCODE(root: Path) -> None:
    (root / "home/alice/Maildir").mkdir()
    (root / "home/alice/Maildir/blocker").write_text("a file, not a directory")
    rc = "DEFAULT=$HOME/Maildir/blocker/inbox/\nORGMAIL=$DEFAULT\n"
    assert run(root, rc)[0] == EX_CANTCREAT
    assert run(root, rc, argv=("-t",))[0] == EX_TEMPFAIL
    assert run(root, "EXITCODE=67\n")[0] == 67


def test_paths_stay_inside_the_state_dir(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (root / "home/alice/Maildir").mkdir()
    (root / "home/alice/Maildir/escape").symlink_to(outside)
    status, folders, log = run(root, ":0\nescape/\n")
    assert "leads outside the lab host's files" in log and not list(outside.iterdir())
    _, folders, _ = run(root, "MAILDIR=/../../../home/alice\n:0\ntop/\n")
    assert (root / "home/alice/top/new").is_dir()


def test_verbose_and_log(root: Path) -> None:
    _, _, log = run(root, "VERBOSE=on\nLOG=\"hello $LOGNAME\n\"\n:0\n* ^Subject: nope\nx\n")
    assert 'procmail: No match on "^Subject: nope"' in log and "hello alice\n" in log


def test_includerc_and_switchrc(root: Path) -> None:
    (root / "home/alice/inc.rc").write_text(":0\n* ^Subject:.*lunch\nincluded/\n")
    _, folders, _ = run(root, "INCLUDERC=$HOME/inc.rc\n:0\nafter/\n")
    assert folders[0].startswith("included/")
    (root / "home/alice/sw.rc").write_text(":0\nswitched/\n")
    _, folders, _ = run(root, "SWITCHRC=$HOME/sw.rc\n:0\nnever/\n")
    assert folders[0].startswith("switched/")


def test_broken_rcfile_is_reported_and_mail_kept(root: Path) -> None:
    status, folders, log = run(root, ":0\n* ^Subject\n")
    # procmail skips the rcfile it cannot read; the mail goes to the built-in DEFAULT
    assert status == 0 and folders == ["/var/mail/alice"]
    assert "/home/alice/.procmailrc, line 4: Missing action" in log


def test_dev_null_and_raw(root: Path) -> None:
    assert run(root, ":0\n/dev/null\n")[1] == ["/dev/null"]
    run(root, ":0 r\nraw\n", MSG.rstrip(b"\n"))
    assert (root / "home/alice/Maildir/raw").read_bytes().endswith(b"Bob")


def test_concurrent_maildir_deliveries_with_a_fixed_lab_clock(root: Path) -> None:
    from labmail.clock import Clock, IdGenerator
    (root / "home/alice/.procmailrc").write_text("MAILDIR=$HOME/Maildir/\n:0\n.Lists/\n")
    (root / "home/alice/Maildir").mkdir()
    results = []

    def one() -> None:
        pm = Procmail(user="alice", home="/home/alice", root=root, etc_rc=None, hostname="mail",
                      clock=Clock.fixed("2026-11-27T09:00:00+00:00"), ids=IdGenerator(seed=1))
        results.append(pm.run(MSG).status)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == [0] * 12
    assert len(list((root / "home/alice/Maildir/.Lists/new").iterdir())) == 12
