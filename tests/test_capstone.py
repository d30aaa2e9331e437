"""Lesson 12's checks (labmail.course_capstone): a hint on each wrong setup, Passed on the right one.

Every test builds the capstone's lab on free ports — a freshly installed
``mail.capstone.test`` and ``mail.example.org`` — applies the lesson's
solutions up to the step under test, then breaks that step in the ways
students do and reads the hint.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

import labmail
from labmail.course import CheckFailed, Passed
from labmail.course_capstone import (GTUBE, check_capstone_firewall, check_dns, check_end_to_end,
                                     check_mail_access, check_main_cf, check_rbl,
                                     check_spam_filter, check_tls, check_users)
from labmail.course_tls import set_dovecot_conf
from labmail.net.certbot import Certbot
from labmail.net.dns import dnsbl_list, unregister_host

ROOT = Path(__file__).resolve().parent.parent
LIVE = "/etc/letsencrypt/live/mail.capstone.test"
USERS = {"alice": "wonderland", "carol": "singer"}
PROCMAILRC = """MAILDIR=$HOME/Maildir/
DEFAULT=$MAILDIR
LOGFILE=$HOME/procmail.log

:0 fw
| /usr/bin/spamc

:0:
* ^X-Spam-Status: Yes
.Junk/
"""


@pytest.fixture
def cap(tmp_path):
    lab = labmail.Lab(ports="auto", state_dir=tmp_path, seed=12,
                      clock="2026-11-27T09:00:00+00:00")
    host = lab.add_host("mail.capstone.test", profile="internet-site")
    org = lab.add_host("mail.example.org", users={"bob": "builder"})
    lab.start()
    dnsbl_list(lab.dns, "bl.lab.test", "127.0.0.9", reason="127.0.0.9 sends spam")
    unregister_host(lab.dns, host.hostname, host.ip)
    try:
        yield lab, host, org
    finally:
        lab.stop()


# -- the lesson's solutions, step by step ------------------------------------------------
def step1(lab, host):
    lab.dns.load_zone(f"$TTL 300\n@ IN MX 10 mail\nmail IN A {host.ip}\n", "capstone.test")


def step2(lab, host):
    host.postconf(e=["mydomain = capstone.test", "myorigin = $mydomain",
                     "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
                     f"mynetworks = 127.0.0.1/32 {host.ip}/32",
                     "smtpd_banner = $myhostname ESMTP", "home_mailbox = Maildir/"])
    host.reload()


def step3(lab, host):
    for name, password in USERS.items():
        host.add_user(name, password)


def step4(lab, host, dovecot=True):
    Certbot(host.path("/etc/letsencrypt"), lab.ca, lab.dns, lab.resolver,
            clock=lab.clock, ids=lab.ids).certonly([host.hostname])
    host.postconf(e=[f"smtpd_tls_cert_file = {LIVE}/fullchain.pem",
                     f"smtpd_tls_key_file = {LIVE}/privkey.pem"])
    host.reload()
    if dovecot:
        set_dovecot_conf(host, ssl_cert=f"<{LIVE}/fullchain.pem", ssl_key=f"<{LIVE}/privkey.pem")
        host.stop()
        host.start()


def step5(lab, host, procmailrc=PROCMAILRC):
    host.postconf(e=["mailbox_command = /usr/bin/procmail"])
    host.reload()
    host.path("/etc/procmailrc").write_text(procmailrc)


def step6(lab, host):
    set_dovecot_conf(host, mail_location="maildir:~/Maildir", disable_plaintext_auth="yes")
    host.stop()
    host.start()


def step7(lab, host):
    host.postconf(e=["smtpd_recipient_restrictions = permit_mynetworks, "
                     "reject_unauth_destination, reject_rbl_client bl.lab.test"])
    host.reload()


FIREWALL = ["iptables -A INPUT -i lo -j ACCEPT",
            "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            "iptables -A INPUT -p tcp -m multiport --dports 25,587,110,995,143,993 -j ACCEPT",
            "iptables -P INPUT DROP",
            "iptables-save > /etc/iptables/rules.v4"]


def step8(lab, host):
    if getattr(host, "firewall", None) is None:
        return
    for command in FIREWALL:
        host.firewall.run(command)


STEPS = [step1, step2, step3, step4, step5, step6, step7, step8]


def upto(cap, n):
    lab, host, _ = cap
    for step in STEPS[:n]:
        step(lab, host)


def hint(check, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        check(*args, **kwargs)
    return str(info.value)


# -- 1 · DNS -------------------------------------------------------------------------------
def test_dns_hints_and_pass(cap):
    lab, host, _ = cap
    assert "capstone.test has no MX record: a sending MTA would not know where to deliver" in \
        hint(check_dns, lab, host, "capstone.test")
    lab.dns.add("capstone.test", "MX", "10 mx.capstone.test.")
    assert "points to mx.capstone.test, which has no A record" in hint(check_dns, lab, host)
    lab.dns.add("mx.capstone.test", "A", "127.0.0.77")
    assert "wrong machine" in hint(check_dns, lab, host)
    assert "does not exist in DNS (NXDOMAIN)" in hint(check_dns, lab, host, "nowhere.test")
    lab.dns.remove("capstone.test", "MX")
    step1(lab, host)
    assert isinstance(check_dns(lab, host), Passed)


# -- 2 · main.cf ----------------------------------------------------------------------------
def test_main_cf_hints(cap):
    lab, host, _ = cap
    upto(cap, 1)
    # Debian's myorigin = /etc/mailname holds the host name
    assert "myorigin gives 'mail.capstone.test'" in hint(check_main_cf, host)
    host.postconf(e=["myorigin = $mydomain"])
    assert "capstone.test is not in mydestination" in hint(check_main_cf, host)
    host.postconf(e=["mydestination = $myhostname, localhost, $mydomain",
                     "mynetworks = 127.0.0.0/8"])
    text = hint(check_main_cf, host)
    assert "trusts 127.0.0.9" in text and "relay spam" in text
    host.postconf(e=[f"mynetworks = {host.ip}/32"])
    assert "127.0.0.1 is not in mynetworks" in hint(check_main_cf, host)
    host.postconf(e=["mynetworks = 127.0.0.1/32"])
    assert "home_mailbox" in hint(check_main_cf, host)
    host.postconf(e=["home_mailbox = Maildir/"])
    assert "still runs the old settings" in hint(check_main_cf, host)
    host.reload()
    text = hint(check_main_cf, host)                  # Debian's banner names the software
    assert "tells attackers which software" in text and "(Debian/GNU)" in text
    host.postconf(e=["smtpd_banner = $myhostname ESMTP"])
    host.reload()
    assert isinstance(check_main_cf(host), Passed)
    host.path("/etc/postfix/main.cf").write_text(
        host.path("/etc/postfix/main.cf").read_text() + "mynetworks = 127.0.0.1/33\n")
    assert "`postfix check` complains" in hint(check_main_cf, host)


def test_main_cf_solution_passes(cap):
    upto(cap, 2)
    assert "greets with '220 mail.capstone.test ESMTP'" in str(check_main_cf(cap[1]))


# -- 3 · users -------------------------------------------------------------------------------
def test_users(cap):
    lab, host, _ = cap
    upto(cap, 2)
    assert "no account 'alice'" in hint(check_users, host, USERS)
    host.add_user("alice", "secret")
    assert "not the one asked for" in hint(check_users, host, {"alice": "wonderland"})
    step3(lab, host)
    assert "no account 'dave'" in hint(check_users, host, {"alice": "wonderland", "dave": "x"})
    assert isinstance(check_users(host, USERS), Passed)


# -- 4 · TLS ---------------------------------------------------------------------------------
def test_tls(cap):
    lab, host, _ = cap
    upto(cap, 3)
    assert "There is no certificate" in hint(check_tls, lab, host)
    step4(lab, host, dovecot=False)
    text = hint(check_tls, lab, host)
    assert text.startswith("imaps still serves the snakeoil certificate") and "ssl_cert" in text
    host.postconf(e=["smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem",
                     "smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key"])
    host.reload()
    assert hint(check_tls, lab, host).startswith("smtp still serves the snakeoil certificate")
    host.postconf(e=[f"smtpd_tls_cert_file = {LIVE}/cert.pem",
                     f"smtpd_tls_key_file = {LIVE}/privkey.pem"])
    host.reload()
    assert "Serve fullchain.pem" in hint(check_tls, lab, host)
    step4(lab, host)
    assert isinstance(check_tls(lab, host), Passed)


# -- 5 · spam filter ---------------------------------------------------------------------------
def test_spam_filter(cap):
    lab, host, _ = cap
    upto(cap, 4)
    assert "mailbox_command is not /usr/bin/procmail" in hint(check_spam_filter, host, "alice")
    step5(lab, host, procmailrc="MAILDIR=$HOME/Maildir/\nDEFAULT=$MAILDIR\n")
    assert "without an X-Spam-Status header" in hint(check_spam_filter, host, "alice")
    step5(lab, host, procmailrc=PROCMAILRC.split(":0:")[0])
    assert "no recipe moved it" in hint(check_spam_filter, host, "alice")
    step5(lab, host, procmailrc=PROCMAILRC.replace("* ^X-Spam-Status: Yes\n", ""))
    assert "went to Junk too" in hint(check_spam_filter, host, "alice")
    step5(lab, host)
    assert isinstance(check_spam_filter(host, "alice"), Passed)
    # the check's test messages are gone again
    maildir = host.maildir_path("alice")
    assert not [p for sub in ("new", "cur", ".Junk/new", ".Junk/cur")
                for p in (maildir / sub).glob("*") if p.is_file()]


# -- 6 · POP3/IMAP -----------------------------------------------------------------------------
def test_mail_access(cap):
    lab, host, _ = cap
    upto(cap, 5)
    assert "mail_location = mbox:" in hint(check_mail_access, lab, host, "alice", "wonderland")
    set_dovecot_conf(host, mail_location="maildir:~/Maildir")
    host.stop()
    host.start()
    text = hint(check_mail_access, lab, host, "alice", "wonderland")
    assert "clear text on IMAP (143) and POP3 (110)" in text and "disable_plaintext_auth" in text
    assert "cannot log in over TLS" in hint(check_mail_access, lab, host, "alice", "wrong")
    step6(lab, host)
    assert isinstance(check_mail_access(lab, host, "alice", "wonderland"), Passed)


# -- 7 · RBL ------------------------------------------------------------------------------------
def test_rbl(cap):
    lab, host, _ = cap
    upto(cap, 6)
    text = hint(check_rbl, host, "bl.lab.test")
    assert "The spammer at 127.0.0.9, listed in bl.lab.test, got '250" in text
    assert "reject_rbl_client bl.lab.test" in text
    step7(lab, host)
    assert "blocked using bl.lab.test" in str(check_rbl(host, "bl.lab.test"))
    host.postconf(e=["mynetworks = 127.0.0.0/8"])
    host.reload()
    assert "127.0.0.9 is inside mynetworks" in hint(check_rbl, host, "bl.lab.test")


# -- 8 · firewall ---------------------------------------------------------------------------------
def test_firewall(cap):
    lab, host, _ = cap
    if getattr(host, "firewall", None) is None:
        pytest.skip("this lab's hosts have no firewall yet")
    fw = host.firewall
    assert "spamd (tcp 783) is open to 192.0.2.1" in hint(check_capstone_firewall, host)
    for command in FIREWALL[2:4]:                        # no lo rule
        fw.run(command)
    assert "iptables -I INPUT 1 -i lo -j ACCEPT" in hint(check_capstone_firewall, host)
    fw.run("iptables -I INPUT 1 -i lo -j ACCEPT")
    assert "After a restart" in hint(check_capstone_firewall, host)
    fw.run("iptables-save > /etc/iptables/rules.v4")
    assert isinstance(check_capstone_firewall(host), Passed)


def test_firewall_closed_port(cap):
    lab, host, _ = cap
    if getattr(host, "firewall", None) is None:
        pytest.skip("this lab's hosts have no firewall yet")
    host.firewall.run("iptables -A INPUT -i lo -j ACCEPT")
    host.firewall.run("iptables -A INPUT -p tcp -m multiport --dports 25,110,995,143 -j ACCEPT")
    host.firewall.run("iptables -P INPUT DROP")
    assert "IMAPS (tcp 993)" in hint(check_capstone_firewall, host)


# -- 9 · end to end --------------------------------------------------------------------------------
def _send(org, subject, body):
    from labmail.notebook import MailClient
    MailClient(org, "bob", "builder").send("alice@capstone.test", subject, body)


def e2e(lab, host, org):
    return check_end_to_end(lab, host, org, "alice", "wonderland", subject="Welcome",
                            spam_subject="Cheap cruise", zone="bl.lab.test")


def test_end_to_end(cap):
    lab, host, org = cap
    upto(cap, 8)
    assert "alice has no message 'Welcome'" in hint(e2e, lab, host, org)
    _send(org, "Welcome", "Hello Alice!")
    _send(org, "Cheap cruise", f"Book now\n{GTUBE}\n")
    assert "Your mail service for capstone.test works" in str(e2e(lab, host, org))


def test_end_to_end_without_dns_names_the_log(cap):
    lab, host, org = cap
    upto(cap, 8)
    lab.dns.remove("capstone.test", "MX")           # the zone loses its records again
    lab.dns.remove("mail.capstone.test", "A")
    _send(org, "Welcome", "Hello Alice!")
    text = hint(e2e, lab, host, org)
    assert "mail.example.org's log says:" in text and "status=bounced" in text
    assert "Host or domain name not found" in text


def test_end_to_end_spam_in_the_inbox(cap):
    lab, host, org = cap
    upto(cap, 8)
    host.path("/etc/procmailrc").write_text(PROCMAILRC.split(":0:")[0])    # marks, never files
    _send(org, "Welcome", "Hello Alice!")
    _send(org, "Cheap cruise", f"Book now\n{GTUBE}\n")
    assert "'Cheap cruise' arrived from mail.example.org but sits in INBOX, not in Junk" in \
        hint(e2e, lab, host, org)


def test_end_to_end_local_injection_is_not_enough(cap):
    lab, host, org = cap
    upto(cap, 8)
    import smtplib
    with smtplib.SMTP(*host.endpoints["smtp"]) as s:          # straight in, not via example.org
        s.sendmail("bob@example.org", ["alice@capstone.test"],
                   "Subject: Welcome\r\n\r\nhi\r\n")
    assert "not from mail.example.org" in hint(e2e, lab, host, org)


def test_checks_are_reexported_by_labmail_course():
    import labmail.course as course
    import labmail.course_capstone as capstone
    assert course.check_dns is capstone.check_dns
    assert course.check_end_to_end is capstone.check_end_to_end
    with pytest.raises(AttributeError):
        course.no_such_check                     # noqa: B018


# -- the notebook ---------------------------------------------------------------------------------
def test_notebook_matches_its_builder():
    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("make_notebook_12",
                                                  ROOT / "tools" / "make_notebook_12.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.build(module.NAME, module.L12)
    actual = nbformat.read(ROOT / "notebooks" / module.NAME, as_version=4)
    assert [(c.cell_type, c.source) for c in actual.cells] == \
        [(c.cell_type, c.source) for c in expected.cells], "run tools/make_notebook_12.py"
