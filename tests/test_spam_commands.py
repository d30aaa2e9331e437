"""labmail spamassassin / sa-learn / spamc on the command line, and DNSBL rules against the lab's DNS."""
from __future__ import annotations

import email
import os
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from labmail.spam.protocol import Method
from labmail.spam.render import MessageView
from labmail.spam.spamc import request
from labmail.spam.spamd import start_spamd_server

from conftest import close_server

GTUBE = (b"From: a@example.org\nTo: b@example.com\nSubject: gtube\nDate: Fri, 27 Nov 2026 09:00:00 +0000\n"
         b"Message-ID: <g@example.org>\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n")
HAM = (b"From: a@example.org\nTo: b@example.com\nSubject: lunch\nDate: Fri, 27 Nov 2026 09:00:00 +0000\n"
       b"Message-ID: <h@example.org>\n\nShall we have lunch at noon on Friday, near the station?\n")


# Runs one command module directly (as `labmail CMD` would) so that a half-written
# command of another team cannot break these tests; one test goes through the CLI.
_ONE = ("import argparse, importlib, sys; m = importlib.import_module('labmail.commands.' + sys.argv[1]); "
        "p = argparse.ArgumentParser(); m.add_arguments(p); sys.exit(m.run(p.parse_args(sys.argv[2:])))")


def labmail(tmp_path, command, *args, stdin=b"", via_cli=False):
    env = dict(os.environ, HOME=str(tmp_path))        # never touch the real ~/.spamassassin
    argv = ([sys.executable, "-m", "labmail", command] if via_cli
            else [sys.executable, "-c", _ONE, command.replace("-", "_")])
    return subprocess.run(argv + list(args), input=stdin, capture_output=True, timeout=60, env=env)


def test_spamassassin_filters_stdin_to_stdout(tmp_path):
    r = labmail(tmp_path, "spamassassin", "--hostname", "mail.example.com", stdin=GTUBE, via_cli=True)
    assert r.returncode == 0
    msg = email.message_from_bytes(r.stdout)
    assert msg["X-Spam-Flag"] == "YES" and msg.get_content_type() == "multipart/mixed"
    assert "on mail.example.com" in msg["X-Spam-Checker-Version"]


def test_spamassassin_cf_test_mode_and_exit_code(tmp_path):
    r = labmail(tmp_path, "spamassassin", "-t", "-e", "--cf", "report_safe 0", "--cf",
                "rewrite_header Subject [SPAM]", stdin=GTUBE)
    assert r.returncode == 5, r.stderr.decode()          # spamassassin -e: 5 for spam
    text = r.stdout.decode()
    assert text, r.stderr.decode()
    assert "Subject: [SPAM] gtube" in text and "X-Spam-Report: \n\t* " in text and "\n\t* 1000 GTUBE BODY: " in text
    report = text.split("Content analysis details:", 1)[1]          # -t appends the report
    assert "1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email" in report
    r = labmail(tmp_path, "spamassassin", "-e", stdin=HAM)
    assert r.returncode == 0 and b"X-Spam-Status: No, score=" in r.stdout
    assert labmail(tmp_path, "spamassassin", "--exit-code=3", stdin=GTUBE).returncode == 3


def test_spamassassin_warns_about_a_line_it_cannot_parse_and_goes_on(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "local.cf").write_text("no_such_setting 1\nrequired_score 2\n")
    r = labmail(tmp_path, "spamassassin", "--siteconfigpath", str(site), stdin=HAM)
    assert r.returncode == 0 and b"required=2.0" in r.stdout           # as spamassassin: a warning only
    assert "no_such_setting" in r.stderr.decode()


def test_spamassassin_remove_markup(tmp_path):
    filtered = labmail(tmp_path, "spamassassin", "--no-bayes", stdin=GTUBE).stdout
    assert labmail(tmp_path, "spamassassin", "-d", stdin=filtered).stdout == GTUBE


def test_spamassassin_reads_user_prefs_and_site_config(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "local.cf").write_text("body LAB_NOON /\\bnoon\\b/\nscore LAB_NOON 2\n")
    prefs = tmp_path / "prefs"
    prefs.write_text("required_score 1.5\n")
    r = labmail(tmp_path, "spamassassin", "--siteconfigpath", str(site), "-p", str(prefs), "-e", stdin=HAM)
    assert r.returncode == 5 and b"tests=LAB_NOON" in r.stdout


def test_spamassassin_lint(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "local.cf").write_text("required_score 5\nbody BROKEN /(/\nbogus_setting 1\n")
    r = labmail(tmp_path, "spamassassin", "--lint", "--siteconfigpath", str(site))
    err = r.stderr.decode()
    assert r.returncode == 1
    assert f"config: {site / 'local.cf'}, line 2: invalid regexp for BROKEN" in err
    assert f"config: {site / 'local.cf'}, line 3: failed to parse line" in err
    assert err.rstrip().endswith("lint: 2 issues detected, please rerun with debug enabled for more information")
    (site / "local.cf").write_text("required_score 5\n")
    r = labmail(tmp_path, "spamassassin", "--lint", "--siteconfigpath", str(site))
    assert (r.returncode, r.stderr) == (0, b"")


def test_sa_learn_then_spamassassin_uses_the_database(tmp_path):
    spam_dir, ham_dir = tmp_path / "spam", tmp_path / "ham"
    spam_dir.mkdir()
    ham_dir.mkdir()
    for i in range(4):
        (spam_dir / f"{i}").write_bytes(b"Subject: pills %d\n\ncheap pills discount pharmacy %d\n" % (i, i))
        (ham_dir / f"{i}").write_bytes(b"Subject: notes %d\n\nmeeting notes project agenda %d\n" % (i, i))
    db = tmp_path / ".spamassassin"
    assert labmail(tmp_path, "sa-learn", "--spam", "--dbpath", str(db), str(spam_dir)).returncode == 0
    r = labmail(tmp_path, "sa-learn", "--ham", "--showdots", "--dbpath", str(db), str(ham_dir))
    assert r.stdout == b"Learned tokens from 4 message(s) (4 message(s) examined)\n" and r.stderr == b"....\n"
    r = labmail(tmp_path, "spamassassin", "--cf", "bayes_min_spam_num 4", "--cf", "bayes_min_ham_num 4",
                "--cf", "bayes_auto_learn 0", stdin=b"Subject: hi\n\ncheap pills from the pharmacy\n")
    assert b"BAYES_99" in r.stdout


def test_spamc_command_against_spamd(host, tmp_path):
    server = host.lab.run(start_spamd_server(host, host.ip, 0))
    port = str(server.sockets[0].getsockname()[1])
    try:
        r = labmail(tmp_path, "spamc", "-d", host.ip, "-p", port, "-c", stdin=GTUBE)
        assert r.returncode == 1 and r.stdout.endswith(b"/5.0\n")
        r = labmail(tmp_path, "spamc", "-d", host.ip, "-p", port, "-K")
        assert r.stdout == b"SPAMD/1.5 0\n"
    finally:
        close_server(host.lab, server)


def test_dnsbl_rule_against_the_lab_dns_server(host):
    lab = host.lab
    lab.dns.add("9.0.0.127.bl.lab.test", "A", "127.0.0.2")
    lab.dns.add("9.0.0.127.bl.lab.test", "TXT", "listed for the lesson")
    server = lab.run(start_spamd_server(host, host.ip, 0))
    ip, port = server.sockets[0].getsockname()[:2]
    msg = (b"Received: from stranger.example (stranger.example [127.0.0.9])\n\tby mail.example.com (Postfix)\n"
           b"From: x@stranger.example\nTo: bob@example.com\nSubject: hello\nMessage-ID: <s@stranger.example>\n"
           b"Date: Fri, 27 Nov 2026 09:00:00 +0000\n\nHello there, just saying hello to you today.\n")
    try:
        resp = request(ip, port, Method.SYMBOLS, msg)
        assert b"RCVD_IN_LAB_BL" in resp.body.split(b",")
        clean = msg.replace(b"127.0.0.9", b"127.0.0.8")
        assert b"RCVD_IN_LAB_BL" not in request(ip, port, Method.SYMBOLS, clean).body
    finally:
        close_server(host.lab, server)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_message_view_accepts_any_bytes(data):
    view = MessageView.parse(data)
    assert isinstance(view.body_paragraphs, list)


def test_spamassassin_dns_server_setting_queries_the_lab_dns(host, tmp_path):
    lab = host.lab
    lab.dns.add("9.0.0.127.bl.lab.test", "A", "127.0.0.2")
    dns_ip, dns_port = lab.dns.address
    msg = (b"Received: from stranger.example (stranger.example [127.0.0.9])\n\tby mail.example.com\n"
           b"From: x@stranger.example\nTo: bob@example.com\nSubject: hello\n\nHello there.\n")
    r = labmail(tmp_path, "spamassassin", "--no-bayes", "--cf", f"dns_server {dns_ip}:{dns_port}", stdin=msg)
    assert b"RCVD_IN_LAB_BL" in r.stdout, r.stderr
    r = labmail(tmp_path, "spamassassin", "-L", "--no-bayes", "--cf", f"dns_server {dns_ip}:{dns_port}", stdin=msg)
    assert b"RCVD_IN_LAB_BL" not in r.stdout, "-L: local tests only"
