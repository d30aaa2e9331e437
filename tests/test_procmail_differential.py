"""The same procmailrc and message through Debian's real procmail and the lab's.

Each case runs both in a fresh directory and compares what ends up on disk
(folders chosen, bytes written, the LOGFILE with its abstract) and the exit
status.  Maildir file names (time, pid, host) and the verbose time stamp are
the only things normalised.
"""
from __future__ import annotations

import concurrent.futures
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from labmail.mda.procmail import Procmail

pytestmark = pytest.mark.realtool

HEAD = "MAILDIR={D}/mail\nDEFAULT=$MAILDIR/inbox\nLOGFILE={D}/log\n"
FROM_ = b"From bob@example.org  Sat Nov 28 00:53:23 2026\n"
M1 = (FROM_ + b"Return-Path: <bob@example.org>\nSubject: test maildir\n"
      b"From: Bob <bob@example.org>\nTo: alice@example.com\n\nhello\nFrom me\n>From x\n")
M_NONL = FROM_ + b"Subject: one\nX-Two: yes\n\nbody"
M_CONT = FROM_ + b"Subject: cont\n inued\nX-Spam-Flag: YES\n\nbody\n\n\n"
M_LONG = FROM_ + b"Subject: " + b"word " * 30 + b"\nFrom: MAILER-DAEMON@example.org\n\n" + b"line\n" * 40

CASES: List[Tuple[str, str, bytes]] = [
    ("maildir", ":0\n* ^Subject:.*maildir\nMaildir/\n", M1),
    ("mbox-locked", ":0:\n* ^Subject:.*maildir\nmbox\n", M1),
    ("default", ":0\n* ^Subject:.*nomatch\nmbox\n", M1),
    ("carbon-copy", ":0 c\nc1\n:0\nc2/\n", M1),
    ("header-only", ":0 h\nhdr\n", M1),
    ("body-only", ":0 b\nbdy\n", M1),
    ("filter", ":0 fw\n| sed s/hello/HELLO/\n:0\nout\n", M1),
    ("header-filter", ":0 hfw\n| sed s/Subject/X-Subj/\n:0\nout\n", M1),
    ("body-filter", ":0 bfw\n| tr a-z A-Z\n:0\nout\n", M1),
    ("failed-filter", ":0 fw\n| grep -q zzzz\n:0\nout\n", M1),
    ("failed-filter-W", ":0 fW\n| grep -q zzzz\n:0\nout\n", M1),
    ("e-after-failure", ":0 wc\n| grep -q zzzz\n:0 e\nerr\n", M1),
    ("TO_", ":0\n* ^TO_alice@example\\.com\nto/\n", M1),
    ("FROM_DAEMON", ":0\n* ^FROM_DAEMON\ndaemon\n:0\n* ! ^FROM_DAEMON\nnotdaemon\n", M_LONG),
    ("FROM_MAILER", ":0\n* ^FROM_MAILER\nmailer\n", M_LONG),
    ("score-lines-neg", ":0\n* 1^1 ^.*$\n* -9^0\nlines\n", M1),
    ("score-lines-pos", ":0\n* 1^1 ^.*$\n* -5^0\nlines\n", M1),
    ("score-body-lines", ":0 B\n* -30^0\n* 1^1 ^.*$\nlong\n", M_LONG),
    ("score-decay", ":0 B\n* 10^0.5 line\n* -19^0\ndecay\n", M_LONG),
    ("score-size", ":0\n* 10^1 > 100\n* -15^0\nbig\n", M_LONG),
    ("body", ":0 B\n* hello\nbody\n", M1),
    ("size", ":0\n* < 100\nsmall\n:0\n* > 100\nbig\n", M1),
    ("negated-size", ":0\n* ! > 1000\nsmall\n", M1),
    ("program", ":0\n* ? test -n \"$HOME\"\nprog\n", M1),
    ("program-neg", ":0\n* ! ? grep -q zzz\nnozzz\n", M1),
    ("match", ":0\n* ^Subject: \\/.*\n{ LOG=\"m=$MATCH\n\" }\n", M1),
    ("expand", "X=maildir\n:0\n* $ ^Subject:.*${X}\nexp\n", M1),
    ("expand-quoted", "X=a.b\n:0\n* $ ^Subject:.*$\\X\nexp\n:0\n* ^Subject\nrest\n", M1),
    ("case", ":0\n* ^Subject:.*MAILDIR\nci\n:0 D\n* ^Subject:.*MAILDIR\ncs\n", M1),
    ("else", ":0\n* ^Subject:.*zzz\na1\n:0 E\n* ^Subject:.*yyy\na2\n:0 E\na3\n", M1),
    ("else-taken", ":0\n* ^Subject:.*test\n{ }\n:0 E\nno\n:0\nyes\n", M1),
    ("nested", ":0\n* ^Subject:.*test\n{\n :0 c\n inner1\n :0\n inner2\n}\nouter\n", M1),
    ("A-chain", ":0\n* ^Subject:.*test\n{\n :0\n * ^Subject: no\n inner\n}\n:0 A\nA1\n", M1),
    ("a-chain", ":0 c\n* ^Subject:.*test\nfirst\n:0 a\nsecond\n", M1),
    ("A-false", ":0\n* ^Subject:.*zzz\nz\n:0 A\nA1\n", M1),
    ("forward", ":0 c\n! nobody\n:0\n/dev/null\n", M1),
    ("mh", ":0\nmh/.\n", M1),
    ("logabstract-all", "LOGABSTRACT=all\n:0 c\ncc\n", M1),
    ("logabstract-no", "LOGABSTRACT=no\n:0\nquiet\n", M1),
    ("verbose", "VERBOSE=on\n:0\n* ^Subject: test\nv\n", M1),
    ("verbose-locks", "VERBOSE=on\n:0:\n* ^Subject: test\nv\n", M1),
    ("verbose-maildir-lock", "VERBOSE=on\n:0\n* ? mkdir -p {D}/mail/md/new {D}/mail/md/cur {D}/mail/md/tmp\n"
                             "{ }\n:0:\nmd/\n", M1),
    ("no-newline", ":0\nfile\n", M_NONL),
    ("no-newline-maildir", ":0\nmd/\n", M_NONL),
    ("raw", ":0 r\nfile\n", M_NONL),
    ("continued-header", ":0\n* ^Subject:.*cont  inued\ncont\n", M_CONT),
    ("middle-dollar", ":0\n* ^Subject: one$^X-Two: yes\ntwo\n", M_NONL),
    ("junk", ":0\n* ^X-Spam-Flag: YES\n.Junk/\n", M_CONT),
    ("capture", ":0\nSUBJ=| sed -n 's/^Subject: //p'\n:0\n* SUBJ ?? maildir\ncap\n", M1),
    ("body-var", ":0\n* B ?? ^^hello\nstart\n", M1),
    ("log-var", "LOG=\"hello $LOGNAME\n\"\n:0\n/dev/null\n", M1),
    ("unset-default", ":0 c\ncopy\n", M1),
    ("skipped", "X=a   b   \"c  d\"\n:0\n* $ $X\nx\n", M1),
    ("clone-block", ":0 c\n{\n LOG=\"in clone\n\"\n}\n:0\n* ^Subject: test\nafter\n", M1),
    ("brackets", ":0\n* ^Subject: [^x]est [a-m]+\nbr\n", M1),
    ("alternation", ":0\n* ^(Subject|To):.*(maildir|zzz)\nalt\n", M1),
    ("pipe-deliver", ":0\n| cat > /dev/null\n", M1),
    ("includerc", "INCLUDERC={D}/inc\n:0\nafter\n", M1),
    ("includerc-relative", "MAILDIR={D}\nINCLUDERC=inc\n:0\nmail/after\n", M1),
    ("course-recipe", ":0\n* ? mkdir -p {D}/mail/.Junk/new {D}/mail/.Junk/cur {D}/mail/.Junk/tmp\n{ }\n"
                      ":0 hbfw\n| awk 'NR==1{print;print \"X-Spam-Flag: YES\";next}1'\n\n"
                      ":0:\n* ^X-Spam-Flag: YES\n.Junk/\n", M1),
    ("pipe-copy-nowait", ":0 c\n| grep -q zzzz\n:0 e\nnot-run\n:0\nlast\n", M1),
    ("filter-nowait-fails", ":0 f\n| sh -c 'cat >/dev/null; exit 1'\n:0\nlast\n", M1),
    ("header-filter-no-blank", ":0 hfw\n| sed '/^$/d'\n:0\nlast\n", M1),
    ("backquote", "SUBJ=`formail -xSubject:`\n:0\n* SUBJ ?? maildir\nbq\n", M1),
    ("score-var", ":0\n* 3^0 ^Subject\n* 4^0 ^To\n{ }\nLOG=\"score $=\n\"\n", M1),
    ("args", "LOG=\"n=$# one=$1 all=$@\n\"\n:0\n/dev/null\n", M1),
    ("default-expansion", ":0\n* $ ^Subject:.*${NOPE:-maildir}\ndefexp\n", M1),
    ("plus-expansion", "A=x\nLOG=\"[${A:+set}][${B:+set}][${B-unset}]\n\"\n", M1),
    ("two-maildirs", ":0\nd1/ d2/\n", M1),
    ("plain-directory", "DIRX={D}/mail/plain\n:0\n* ? mkdir $DIRX\n$DIRX\n", M1),
    ("implicit-pipe-lock", ":0 c:\n| cat >> {D}/mail/appended\n", M1),
    ("named-lock", ":0 c: my.lock\nnamed\n", M1),
    ("missing-maildir", "MAILDIR={D}/nonexistent\n:0\nwhere\n", M1),
    ("split-folder", "F=\"a b\"\n:0\n$F\n", M1),
    ("quoted-folder", "F=\"a b\"\n:0\n\"$F\"\n", M1),
    ("logabstract-pipe", "LOGABSTRACT=all\n:0 c\n| cat >/dev/null\n", M1),
    ("verbose-block", "VERBOSE=yes\n:0\n* ^Subject\n{\n:0 B\n* hello\nvb\n}\n", M1),
    ("regex-escape-var", "V=test maildir\n:0\n* $ ^Subject: $\\V$\nesc\n", M1),
    ("E-after-block", ":0\n* ^Subject: zzz\n{ }\n:0 E\n{\n:0\neblock\n}\n", M1),
    ("comment-lines", "# a comment\n:0 # trailing\n# between\n* ^Subject\n# again\ncomm # here\n", M1),
    ("continued-condition", ":0\n* ^Subject: test \\\n   maildir\ncc\n", M1),
    ("delivered-var", "DELIVERED=yes\n", M1),
    ("exitcode-var", "EXITCODE=5\n:0\nx\n", M1),
    ("host-mismatch", "HOST=elsewhere\n:0\nnever\n", M1),
    ("switchrc", "SWITCHRC={D}/inc\n:0\nnever\n", M1),
    ("block-inherits-E", ":0\n* zzz\n{ }\n:0\n{\n:0 E\ninner_else/\n}\n", M1),
    ("block-inherits-a", ":0\n{\n:0 a\ninner_a/\n}\n", M1),
    ("block-then-E", ":0\n{\n:0\n* zzz\nx/\n}\n:0 E\nelse/\n", M1),
    ("block-then-e", ":0\n{\n:0 c\nx/\n}\n:0 e\nerr/\n", M1),
    ("conflicting-flags", ":0 aEe\n/dev/null\n:0 f\n{ }\n:0 fc\n| cat\n", M1),
    ("score-printed", ":0\n* 1.5^0\n* 0.25^0\n{ }\nLOG=\"[$=]\n\"\n:0\n* 2^0.5 s\n* 1^1 ^.*$\n{ }\n"
                      "LOG=\"[$=]\n\"\n:0\n* -2.7^0\n{ }\nLOG=\"[$=]\n\"\n", M1),
    ("score-empty-regex", ":0\n* -1^1\n* 5^0 ^Subject\nnever\nLOG=\"[$=]\n\"\n"
                          ":0\n* 1^0.5\n{ }\nLOG=\"[$=]\n\"\n", M1),
    ("body-only-maildir", ":0 b\nmd/\n", FROM_ + b"Subject: s\n\nFrom here on\n"),
    ("trap", "TRAP=\"echo trapped\"\n:0\nt\n", M1),
    ("trap-exitcode", "TRAP=\"exit 9\"\nEXITCODE=\n:0\nt\n", M1),
]


def _snapshot(d: Path) -> Dict[str, List[bytes]]:
    out: Dict[str, List[bytes]] = {}
    for p in sorted(d.rglob("*")):
        if not p.is_file() or p.name in ("rc", "inc"):
            continue
        rel = re.sub(r"(new|tmp|cur)/[^/]+$", r"\1/MSG", str(p.relative_to(d)))
        rel = re.sub(r"/msg\.[-_A-Za-z0-9]{4}$", "/msg.XXXX", rel)
        data = p.read_bytes().replace(str(d).encode(), b"{D}")
        # a maildir name (time.pid_n.host) has no fixed length: neither have its tab stops
        data = re.sub(rb"(new|tmp|cur)/\d+\.[^\s\"]+(\t+ *)?", rb"\1/MSG ", data)
        data = re.sub(rb"/msg\.[-_A-Za-z0-9]{4}", b"/msg.XXXX", data)
        data = re.sub(rb"procmail: \[\d+\] [^\n]*\n", b"", data)
        out.setdefault(rel, []).append(data)
    return {k: sorted(v) for k, v in out.items()}


# One $SENDMAIL for every case, written before any thread forks: a script written
# while another thread forks can fail to execute ("Text file busy").
SENDMAIL = Path(tempfile.mkdtemp(prefix="pm-sendmail-")) / "sendmail"
SENDMAIL.write_text("#!/bin/sh\ncat >/dev/null\n")     # reads the whole message, like sendmail
SENDMAIL.chmod(0o755)


def _run(who: str, rc: str, msg: bytes) -> Tuple[int, Dict[str, List[bytes]]]:
    # both sides get directory names of one length: the abstract's tab stops depend on it
    d = Path(tempfile.mkdtemp(prefix=f"pm{who[0]}-"))
    try:
        return _run_in(d, who, rc, msg)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _run_in(d: Path, who: str, rc: str, msg: bytes) -> Tuple[int, Dict[str, List[bytes]]]:
    (d / "mail").mkdir(parents=True)
    (d / "rc").write_text(rc.replace("{D}", str(d)))
    (d / "inc").write_text(":0\n* ^Subject:.*test\nincluded\n")
    argv = [f"SENDMAIL={SENDMAIL}", "COMSAT=no", str(d / "rc")]
    if who == "real":
        status = subprocess.run(["procmail", *argv], input=msg, capture_output=True,
                                timeout=30).returncode
    else:
        status = Procmail(user="root", home="/root", etc_rc=None, hostname="lab").run(msg, argv).status
    return status, _snapshot(d)


@pytest.fixture(scope="module")
def real_results() -> Dict[str, Tuple[int, Dict[str, List[bytes]]]]:
    """Every case through the real procmail at once: it sleeps about a second
    whenever it creates a new mailbox file, so running them side by side keeps
    the module fast."""
    if not shutil.which("procmail"):
        pytest.skip("procmail not installed; apt-get install procmail")
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        futures = {name: pool.submit(_run, "real", HEAD + rc, msg)
                   for name, rc, msg in CASES}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name,rc,msg", CASES, ids=[c[0] for c in CASES])
def test_same_as_real_procmail(name: str, rc: str, msg: bytes,
                               real_results: Dict[str, Tuple[int, Dict[str, List[bytes]]]]) -> None:
    lab = _run("lab", HEAD + rc, msg)
    assert lab == real_results[name]
