"""Differential tests: Debian's spamc against the lab's spamd; real spamassassin next to the lab.

Skipped when SpamAssassin is absent (apt-get install spamc spamassassin).
The rule sets differ on purpose (the course writes its own), so what must
agree is the *shape*: header names and order, the X-Spam-Status syntax and
folding, and the MIME structure of each report_safe mode.
"""
from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys

import pytest

from labmail.spam import check, parse_config
from labmail.spam.rules import RULES_DIR
from labmail.spam.spamd import start_spamd_server

from conftest import close_server, need_tool

pytestmark = pytest.mark.realtool

GTUBE = (b"Received: from mx.example.org (mx.example.org [192.0.2.7])\n\tby mail.example.com (Postfix) with ESMTP id 3F1A22C0E4B\n"
         b"\tfor <bob@example.com>; Fri, 27 Nov 2026 09:00:00 +0000 (UTC)\n"
         b"From: Sender <sender@example.org>\nTo: bob@example.com\nCc: carol@example.com\n"
         b"Subject: Test spam mail (GTUBE)\nDate: Fri, 27 Nov 2026 09:00:00 +0000\n"
         b"Message-ID: <gtube1@example.org>\nReply-To: other@example.org\n\n"
         b"This is the GTUBE test string:\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n")
HAM = (b"From: Alice <alice@example.org>\nTo: bob@example.com\nSubject: lunch on friday?\n"
       b"Date: Fri, 27 Nov 2026 09:00:00 +0000\nMessage-ID: <20261127.1@example.org>\n\n"
       b"Hi Bob, are we still on for lunch on Friday?\nAlice\n")
STATUS = re.compile(r"(Yes|No), score=-?\d+\.\d required=\d+\.\d tests=(\S+) autolearn=(\w+)"
                    r"( autolearn_force=(no|yes))? version=\S+")


def real_spamassassin(tmp_path, message: bytes, *cf: str) -> bytes:
    exe = need_tool("spamassassin")
    args = [exe, "-L"] + [a for line in cf for a in ("--cf", line)]
    env = dict(os.environ, HOME=str(tmp_path))          # keep the real ~/.spamassassin untouched
    return subprocess.run(args, input=message, capture_output=True, timeout=60, env=env, check=True).stdout


def lab_spamassassin(message: bytes, *cf: str) -> bytes:
    text = (RULES_DIR / "10_default_prefs.cf").read_text() + (RULES_DIR / "15_gtube_lists.cf").read_text()
    from labmail.spam.bayes import BayesStore
    return check(message, parse_config(text + "\n".join(cf) + "\n"), hostname="vm",
                 bayes=BayesStore(None)).rewritten       # an empty database, as in a fresh $HOME


def xspam(data: bytes):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    return msg, [k for k in msg.keys() if k.startswith("X-Spam-")]


def header_block(data: bytes) -> str:
    return data.decode("utf-8", "replace").split("\n\n", 1)[0]


def check_folding(block: str):
    lines = block.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("X-Spam-Status:"):
            j = i + 1
            while j < len(lines) and lines[j].startswith("\t"):
                j += 1
            folded = lines[i:j]
            assert all(len(l.expandtabs(8)) <= 79 for l in folded)
            unfolded = " ".join(l.strip() for l in folded)[len("X-Spam-Status: "):]
            assert STATUS.fullmatch(unfolded), unfolded
            return STATUS.fullmatch(unfolded)
    raise AssertionError("no X-Spam-Status header")


@pytest.mark.parametrize("message, cf", [(HAM, ()), (GTUBE, ("report_safe 0",)), (HAM, ("bayes_auto_learn 0",))])
def test_header_shapes_match_real_spamassassin(tmp_path, message, cf):
    real, lab = real_spamassassin(tmp_path, message, *cf), lab_spamassassin(message, *cf)
    (rmsg, rnames), (lmsg, lnames) = xspam(real), xspam(lab)
    assert lnames == rnames
    r_status, l_status = (check_folding(header_block(data)) for data in (real, lab))
    assert (l_status.group(3), l_status.group(4)) == (r_status.group(3), r_status.group(4))
    assert lmsg["X-Spam-Flag"] == rmsg["X-Spam-Flag"]
    assert bool(lmsg["X-Spam-Level"]) == bool(rmsg["X-Spam-Level"])
    assert set(lmsg["X-Spam-Level"] or "") <= {"*"}
    r_check, l_check = rmsg["X-Spam-Checker-Version"], lmsg["X-Spam-Checker-Version"]
    shape = r"\S+ \d+\.\d+\.\d+ \(\d{4}-\d\d-\d\d\) on \S+"
    assert re.fullmatch(shape, r_check) and re.fullmatch(shape, l_check)
    if "report_safe 0" in cf:
        assert rmsg["X-Spam-Report"] is not None and lmsg["X-Spam-Report"] is not None
        for data in (real, lab):
            block = header_block(data)
            assert re.search(r"(?m)^X-Spam-Report: \n\t\* +-?\d+(\.\d)? \S+ ", block)
        assert lab.endswith(message.split(b"\n\n", 1)[1])


def tree(data: bytes):
    """The MIME skeleton: (top header names, [(part type, x-spam-type, disposition, cte, description)])."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    top = [k for k in msg.keys()]
    parts = [(p.get_content_type(), p.get_param("x-spam-type"), p["Content-Disposition"],
              p["Content-Transfer-Encoding"], p["Content-Description"]) for p in msg.get_payload()]
    return msg, top, parts


@pytest.mark.parametrize("mode", ["1", "2"])
def test_report_safe_structures_match_real_spamassassin(tmp_path, mode):
    cf = (f"report_safe {mode}", "rewrite_header Subject *****SPAM*****")
    real, lab = real_spamassassin(tmp_path, GTUBE, *cf), lab_spamassassin(GTUBE, *cf)
    (rmsg, rtop, rparts), (lmsg, ltop, lparts) = tree(real), tree(lab)
    assert ltop == rtop
    assert lparts == rparts
    assert lmsg["Subject"] == rmsg["Subject"] == "*****SPAM***** Test spam mail (GTUBE)"
    assert lmsg.preamble == rmsg.preamble
    for data in (real, lab):
        text = data.decode()
        assert re.match(r"Received: from localhost by \S+\n\twith \S+ \(version [\d.]+\);\n\t\w{3}, ", text)
        assert re.search(r'boundary="----------=_[0-9A-F]{8}\.[0-9A-F]{8}"', text)
        assert text.endswith("--\n\n")
        report = email.message_from_bytes(data, policy=email.policy.compat32).get_payload()[0].get_payload()
        assert re.search(r"(?m)^Content analysis details:   \(\d+\.\d points, 5\.0 required\)$", report)
        assert re.search(r"(?m)^ pts rule name              description\n---- -{22} -{50}\n", report)
        assert re.search(r"(?m)^1000 GTUBE {18}BODY: ", report)
        assert report.endswith("\n\n")
    start = lab.index(b"Received: from mx.example.org")
    assert lab[start:start + len(GTUBE)] == GTUBE


@pytest.fixture
def spamd_port(host):
    server = host.lab.run(start_spamd_server(host, host.ip, 0))
    yield host.ip, server.sockets[0].getsockname()[1]
    close_server(host.lab, server)


def debian_spamc(ip, port, message, *args):
    exe = need_tool("spamc")
    return subprocess.run([exe, "-d", ip, "-p", str(port), "-x"] + list(args), input=message,
                          capture_output=True, timeout=30)


def test_debian_spamc_against_lab_spamd(spamd_port):
    ip, port = spamd_port
    r = debian_spamc(ip, port, GTUBE, "-c")
    assert r.returncode == 1 and re.fullmatch(rb"\d+\.\d/5\.0\n", r.stdout)
    r = debian_spamc(ip, port, HAM, "-c")
    assert r.returncode == 0 and r.stdout.endswith(b"/5.0\n")
    r = debian_spamc(ip, port, GTUBE, "-y")
    assert r.returncode == 0 and b"GTUBE" in r.stdout.split(b",")
    r = debian_spamc(ip, port, GTUBE, "-R")
    assert b"Content analysis details:" in r.stdout and r.stdout.split(b"\n")[0].endswith(b"/5.0")
    r = debian_spamc(ip, port, HAM, "-r")
    assert r.stdout == b""
    r = debian_spamc(ip, port, GTUBE)
    assert r.returncode == 0 and b"X-Spam-Flag: YES" in r.stdout and b"x-spam-type=original" in r.stdout
    r = debian_spamc(ip, port, GTUBE, "-E")
    assert r.returncode == 1
    r = debian_spamc(ip, port, GTUBE, "--headers")
    assert r.stdout.endswith(GTUBE.split(b"\n\n", 1)[1]) and b"X-Spam-Status: Yes" in r.stdout
    r = debian_spamc(ip, port, b"", "-K")
    assert r.returncode == 0 and r.stdout.startswith(b"SPAMD/1.5 0")
    r = debian_spamc(ip, port, HAM, "-L", "ham", "-u", "alice")
    assert r.returncode == 0 and r.stdout == b"Message successfully un/learned\n"
    # (Debian builds spamc without zlib, so -z exits 64 there; compression is tested sans-IO.)


PREVIEW = (b"From: a@example.org\nTo: b@example.com\nSubject: preview test\nMessage-ID: <p@example.org>\n"
           b"Date: Fri, 27 Nov 2026 09:00:00 +0000\n\n"
           b"Hello Bob, this is the first paragraph of a longer message that goes on\nfor a while so that the "
           b"preview has to wrap at least once or twice, let\nus see what happens.\n\n"
           b"Second paragraph is here with some ---------------- dashes and more text.\n\n"
           b"Third paragraph, not shown.\n")


def test_content_preview_is_wrapped_like_spamassassin(tmp_path):
    from labmail.spam import ReportContext, report_text

    def preview(text: str) -> str:
        return text.split("Content preview:", 1)[1].split("Content analysis details:", 1)[0]

    exe = need_tool("spamassassin")
    real = subprocess.run([exe, "-L", "-t"], input=PREVIEW, capture_output=True, timeout=60,
                          env=dict(os.environ, HOME=str(tmp_path)), check=True).stdout.decode()
    result = check(PREVIEW)
    assert preview(report_text(result, ReportContext())) == preview(real)


LONG_RULE = ("body LAB_LONG_DESCRIPTION_RULE /lunch/",
             "describe LAB_LONG_DESCRIPTION_RULE This rule has a rather long description that will not fit on one line of the report",
             "score LAB_LONG_DESCRIPTION_RULE 12.5",
             "header LAB_NEG Subject =~ /lunch/", "describe LAB_NEG Short one", "score LAB_NEG -0.2")


def _rule_lines(text: str, name: str) -> list:
    lines = text.split("\n")
    i = next(n for n, l in enumerate(lines) if re.match(r"(\t?\* )?.{4} " + name + " ", l))
    block = [lines[i]]
    for l in lines[i + 1:]:
        if not l.strip(" \t*") or not l.startswith(("\t*      ", "*      ", " " * 28)):
            break
        block.append(l)
    return block


def test_report_lines_and_wrapped_descriptions_match_spamassassin(tmp_path):
    cf = LONG_RULE + ("report_safe 0",)
    exe = need_tool("spamassassin")
    real = subprocess.run([exe, "-L", "-t"] + [a for l in cf for a in ("--cf", l)], input=HAM,
                          capture_output=True, timeout=60, env=dict(os.environ, HOME=str(tmp_path)),
                          check=True).stdout.decode()
    from labmail.spam import ReportContext, report_text
    lab_result = check(HAM, parse_config((RULES_DIR / "10_default_prefs.cf").read_text() + "\n".join(cf) + "\n"))
    lab = lab_result.rewritten.decode() + report_text(lab_result, ReportContext())
    for name in ("LAB_LONG_DESCRIPTION_RULE", "LAB_NEG"):
        real_header = _rule_lines(real.split("\n\n", 1)[0], name)
        lab_header = _rule_lines(lab.split("\n\n", 1)[0], name)
        assert lab_header == real_header
        real_summary = _rule_lines(real.split("Content analysis details:", 1)[1], name)
        lab_summary = _rule_lines(lab.split("Content analysis details:", 1)[1], name)
        assert lab_summary == real_summary


UTF8 = (b"From: a@example.org\nTo: b@example.com\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\n"
        b"Message-ID: <x@example.org>\nDate: Fri, 27 Nov 2026 09:00:00 +0000\n\nHallo!\n")


def test_non_ascii_header_values_are_encoded_like_spamassassin(tmp_path):
    cf = ("add_header all Subj _HEADER(Subject)_",
          "add_header all Long Vorsicht: _HEADER(Subject)_ und noch mehr Text damit es lang genug wird",
          "add_header all Cafe Menu: Café _YESNO_")
    real, lab = real_spamassassin(tmp_path, UTF8, *cf), lab_spamassassin(UTF8, *cf)
    pick = re.compile(r"(?m)^X-Spam-(?:Subj|Long|Cafe): .*(?:\n\t.*)*")
    assert pick.findall(lab.decode()) == pick.findall(real.decode())


PROBES = {
    "P_B_SUBJ": "body P_B_SUBJ /^Quarterly plans\\b/",
    "P_B_JOINED": "body P_B_JOINED /first line of the paragraph continues here/",
    "P_B_ACROSS": "body P_B_ACROSS /continues here\\. Second/",
    "P_B_HTML_TEXT": "body P_B_HTML_TEXT /Rendered words in bold/",
    "P_B_TAGS": "body P_B_TAGS /<b>/",
    "P_B_B64": "body P_B_B64 /decoded from base64/",
    "P_R_TAGS": "rawbody P_R_TAGS /<b>Rendered/",
    "P_R_LINE": "rawbody P_R_LINE /paragraph$/m",
    "P_H_SUBJ": "header P_H_SUBJ Subject =~ /^Quarterly plans \\(draft\\)$/",
    "P_H_RAW": "header P_H_RAW Subject:raw =~ /Quarterly/",
    "P_H_ADDR": "header P_H_ADDR From:addr =~ /^alice\\@example\\.org$/",
    "P_H_NAME": "header P_H_NAME From:name =~ /^Alice Example$/",
    "P_H_TOCC": "header P_H_TOCC ToCc =~ /bob\\@example\\.com.*carol\\@example\\.net/",
    "P_H_ALL": "header P_H_ALL ALL =~ /^Cc: carol\\@example\\.net$/m",
    "P_H_EXISTS": "header P_H_EXISTS exists:X-Mailer",
    "P_H_NOT": "header P_H_NOT Subject !~ /spam/",
    "P_H_UNSET": "header P_H_UNSET X-Missing =~ /^$/",
    "P_H_IFUNSET": "header P_H_IFUNSET X-Missing =~ /^none$/ [if-unset: none]",
    "P_H_MISSING": "header P_H_MISSING X-Missing =~ /./",
    "P_U_HREF": "uri P_U_HREF /^http:\\/\\/links\\.example\\/a$/",
    # (a real TLD: SpamAssassin ignores text links under TLDs it does not know, such
    # as .example; the lab accepts the reserved ones its little internet uses)
    "P_U_TEXT": "uri P_U_TEXT /^https:\\/\\/text\\.example\\.com\\/b$/",
    "P_F_FULL": "full P_F_FULL /^Content-Transfer-Encoding: base64$/m",
    "P_M_AND": "meta P_M_AND P_H_SUBJ && P_B_SUBJ",
    "P_M_SUM": "meta P_M_SUM (P_H_SUBJ + P_B_TAGS + P_R_TAGS) == 2",
    "P_M_NOT": "meta P_M_NOT !P_B_TAGS",
}
PROBE_MSG = b"""From: Alice Example <alice@example.org>
To: bob@example.com
Cc: carol@example.net
Subject: Quarterly plans (draft)
Message-ID: <probe@example.org>
Date: Fri, 27 Nov 2026 09:00:00 +0000
X-Mailer: probe 1.0
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

This is the first line of the paragraph
continues here. See https://text.example.com/b today.

Second paragraph
--b1
Content-Type: text/html; charset=utf-8

<p><b>Rendered</b> words in bold, <a href="http://links.example/a">a link</a></p>
--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

VGhpcyB0ZXh0IHdhcyBkZWNvZGVkIGZyb20gYmFzZTY0Lgo=
--b1--
"""


def test_every_rule_kind_hits_what_spamassassin_hits(tmp_path):
    cf = list(PROBES.values()) + [f"score {name} 0.01" for name in PROBES]
    real = real_spamassassin(tmp_path, PROBE_MSG, *cf)
    lab = lab_spamassassin(PROBE_MSG, *cf)

    def probes(data: bytes) -> set:
        status = email.message_from_bytes(data, policy=email.policy.compat32)["X-Spam-Status"]
        tests = re.search(r"tests=(\S+)", re.sub(r",\s+", ",", status)).group(1)
        return {t for t in tests.split(",") if t.startswith("P_")}

    assert probes(lab) == probes(real)
    assert len(probes(real)) >= 15


def test_sa_learn_output_matches_real_sa_learn(tmp_path):
    exe = need_tool("sa-learn")
    from labmail.spam.corpus import load
    folder = tmp_path / "junk"
    folder.mkdir()
    for s in [s for s in load() if s.label == "spam"][:5]:
        (folder / s.path.name).write_bytes(s.data)
    env = dict(os.environ, HOME=str(tmp_path / "real"))
    real_learn = subprocess.run([exe, "--spam", str(folder)], capture_output=True, timeout=120, env=env, check=True)
    real_dump = subprocess.run([exe, "--dump", "magic"], capture_output=True, timeout=60, env=env, check=True)
    lab = [sys.executable, "-c", "import sys; from labmail.cli import main; sys.exit(main(sys.argv[1:]))"]
    lab_learn = subprocess.run(lab + ["sa-learn", "--spam", "--dbpath", str(tmp_path / "lab"), str(folder)],
                               capture_output=True, timeout=60, check=True)
    lab_dump = subprocess.run(lab + ["sa-learn", "--dump", "magic", "--dbpath", str(tmp_path / "lab")],
                              capture_output=True, timeout=60, check=True)
    assert lab_learn.stdout == real_learn.stdout == b"Learned tokens from 5 message(s) (5 message(s) examined)\n"
    row = re.compile(r"0\.000 +\d+ +(\d+) +\d+  non-token data: (.+)")
    real_rows = [row.fullmatch(l).groups() for l in real_dump.stdout.decode().splitlines()]
    lab_rows = [row.fullmatch(l).groups() for l in lab_dump.stdout.decode().splitlines()]
    assert [r[1] for r in lab_rows] == [r[1] for r in real_rows]
    assert [r[0] for r in lab_rows[:3]] == [r[0] for r in real_rows[:3]]      # version, nspam, nham
    assert [len(l) for l in lab_dump.stdout.decode().splitlines()[:3]] == \
           [len(l) for l in real_dump.stdout.decode().splitlines()[:3]]
