"""Lesson 09's helpers and checks (labmail.course_tls): they fail with a hint, then pass."""
from __future__ import annotations

import pytest

from labmail import clients
from labmail.course import CheckFailed
from labmail.course_tls import (check_auth_only, check_served_certificate, check_submitted,
                                overheard_passwords, set_dovecot_conf, set_main_cf, smtp_dialogue,
                                tap, tapped_smtp)
from labmail.net.certbot import Certbot

LIVE = "/etc/letsencrypt/live/mail.example.com"


def test_tap_overhears_cleartext_login_only(host, lab):
    set_main_cf(host, smtpd_sasl_auth_enable="yes")
    host.reload()
    wire = tap(lab, host)
    try:
        with tapped_smtp(wire, host, local_hostname="laptop") as s:
            s.login("alice", "secret")
        assert overheard_passwords(wire) == [("alice", "secret")]
        wire.clear()
        with tapped_smtp(wire, host, local_hostname="laptop") as s:
            s.starttls(context=lab.client_tls_context())      # verifies mail.example.com
            s.login("alice", "secret")
        assert overheard_passwords(wire) == [] and not wire.seen(b"secret")
    finally:
        lab.run(wire.stop())


def test_check_auth_only(host, lab):
    with pytest.raises(CheckFailed, match="smtpd_sasl_auth_enable"):
        check_auth_only(lab, host)
    set_main_cf(host, smtpd_sasl_auth_enable="yes")
    host.reload()
    with pytest.raises(CheckFailed, match="smtpd_tls_auth_only"):
        check_auth_only(lab, host)
    text = set_main_cf(host, smtpd_tls_auth_only="yes")
    assert text == "smtpd_tls_auth_only = yes"
    assert host.path("/etc/postfix/main.cf").read_text().count("smtpd_sasl_auth_enable") == 1
    host.reload()
    assert "Correct" in str(check_auth_only(lab, host))


def test_check_submitted_names_what_is_missing(host, lab):
    with pytest.raises(CheckFailed, match="no message"):
        check_submitted(host, "bob", "Exercise 2")
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.starttls(context=lab.client_tls_context())
        s.sendmail("alice@example.com", ["bob@example.com"], b"Subject: Exercise 2\r\n\r\nx\r\n")
    with pytest.raises(CheckFailed, match="ESMTPS': no login"):
        check_submitted(host, "bob", "Exercise 2")
    with clients.SMTP(host, "submission", local_hostname="laptop") as s:
        s.starttls(context=lab.client_tls_context())
        s.login("alice", "secret")
        s.sendmail("alice@example.com", ["bob@example.com"], b"Subject: Exercise 2\r\n\r\ny\r\n")
    assert "ESMTPSA" in str(check_submitted(host, "bob", "Exercise 2"))


def test_check_served_certificate_after_dovecot_restart(host, lab):
    bot = Certbot(host.path("/etc/letsencrypt"), lab.ca, lab.dns, lab.resolver,
                  clock=lab.clock, ids=lab.ids)
    bot.certonly(["mail.example.com"])
    with pytest.raises(CheckFailed, match="another certificate"):
        check_served_certificate(lab, host, "pop3s", LIVE)
    set_dovecot_conf(host, ssl_cert=f"<{LIVE}/fullchain.pem", ssl_key=f"<{LIVE}/privkey.pem")
    host.stop()
    host.start()
    assert "verifies" in str(check_served_certificate(lab, host, "pop3s", LIVE))
    assert "verifies" in str(check_served_certificate(lab, host, "imap", LIVE))


def test_smtp_dialogue_records_both_sides(host, lab):
    lines = smtp_dialogue(host.endpoints["submission"], ["EHLO laptop", "MAIL FROM:<a@b.c>",
                                                         "QUIT"])
    assert lines[0].startswith("S: 220 ")
    assert "S: 530 5.7.0 Must issue a STARTTLS command first" in lines


def test_lesson_09_is_in_sync_with_its_builder():
    import importlib.util
    from pathlib import Path
    nbformat = pytest.importorskip("nbformat")
    path = Path(__file__).resolve().parent.parent / "tools" / "make_notebook_09.py"
    spec = importlib.util.spec_from_file_location("make_notebook_09", path)
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    stored = nbformat.read(builder.NOTEBOOKS / builder.NAME, as_version=4)
    fresh = builder.build(builder.NAME, builder.L09)
    assert [(c.cell_type, c.source) for c in stored.cells] == \
        [(c.cell_type, c.source) for c in fresh.cells], "run tools/make_notebook_09.py"
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert all(c.outputs for c in code), "a code cell has no stored output"
    assert "**After this lab you can**" in stored.cells[0].source
    assert "## Key points" in stored.cells[-1].source and "lab.stop()" in code[-1].source
    solutions = [c.source for c in code if "### BEGIN SOLUTION" in c.source]
    assert len(solutions) == 3
    assert all("raise NotImplementedError()" in builder.student_source(s) for s in solutions)
