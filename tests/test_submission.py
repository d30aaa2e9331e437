"""Submission (587) and smtps (465) with SMTP AUTH, over real sockets, plus the SASL machine."""
from __future__ import annotations

import base64
import smtplib

import pytest
from hypothesis import given, strategies as st

from labmail import clients
from labmail.mta.sasl import Aborted, Challenge, ExchangeState, Failure, SaslExchange, Success

from conftest import wait_for
from test_tls_smtpd import Raw

MSG = b"From: alice@example.com\r\nTo: carol@example.org\r\nSubject: sub\r\n\r\nHi\r\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_services_listen_on_587_and_465(host):
    assert {"submission", "smtps"} <= set(host.endpoints)
    assert "submission" in host.port_table() and "465" in host.port_table()


def test_submission_requires_tls_then_auth(host, lab):
    r = Raw(host.endpoints["submission"], context=lab.client_tls_context())
    ehlo = r.cmd("EHLO laptop")
    assert "250-STARTTLS" in ehlo and not any("AUTH" in ln for ln in ehlo)
    assert r.last("AUTH PLAIN " + b64(b"\0alice\0secret")) == \
        "530 5.7.0 Must issue a STARTTLS command first"
    r.cmd("STARTTLS")
    r.starttls()
    assert "250-AUTH PLAIN LOGIN" in r.cmd("EHLO laptop")
    assert r.last("MAIL FROM:<alice@example.com>") == "250 2.1.0 Ok"
    assert r.last("RCPT TO:<carol@example.org>") == \
        "554 5.7.1 <carol@example.org>: Recipient address rejected: Access denied"
    r.last("RSET")
    assert r.last("AUTH PLAIN " + b64(b"\0alice\0wrong")) == \
        "535 5.7.8 Error: authentication failed: (reason unavailable)"
    assert r.last("AUTH PLAIN " + b64(b"\0alice\0secret")) == "235 2.7.0 Authentication successful"
    assert r.last("AUTH PLAIN " + b64(b"\0alice\0secret")) == \
        "503 5.5.1 Error: already authenticated"
    # RFC 4954 §5: the AUTH= parameter of MAIL names the original submitter
    assert r.last("MAIL FROM:<alice@example.com> AUTH=<>") == "250 2.1.0 Ok"
    assert r.last("RCPT TO:<carol@example.org>") == "250 2.1.5 Ok"
    r.last("QUIT")
    r.close()
    host.settle()
    log = host.maillog.read()
    assert ("postfix/submission/smtpd[" in log)
    assert ("warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: "
            "(reason unavailable), sasl_username=alice") in log
    assert "client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username=alice" in log
    wait_for(lambda: "disconnect" in host.maillog.read())
    assert "auth=1/4" in host.maillog.read(), host.maillog.read()


def test_smtplib_login_over_starttls_and_esmtpsa(host, lab):
    with clients.SMTP(host, "submission", local_hostname="laptop") as s:
        s.starttls(context=lab.client_tls_context())
        s.login("alice", "secret")
        s.sendmail("alice@example.com", ["bob@example.com"], MSG)
    host.settle()
    msg = next(iter(host.mailbox("bob")))
    assert "with ESMTPSA id" in msg["Received"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtps_implicit_tls_login(host, lab, mechanism):
    """aiosmtpd leaves session.ssl unset on an implicit-TLS port (aio-libs/aiosmtpd#274)."""
    with clients.SMTP_SSL(host, context=lab.client_tls_context(), local_hostname="laptop") as s:
        code, text = s.ehlo()
        assert b"STARTTLS" not in text and b"AUTH PLAIN LOGIN" in text
        assert s.docmd("STARTTLS") == (554, b"5.5.1 Error: TLS already active")
        s.user, s.password = "alice", "secret"
        code, _ = s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))
        assert code == 235
        s.sendmail("alice@example.com", ["bob@example.com"], MSG)
    host.settle()
    log = host.maillog.read()
    connect = log.index("postfix/smtps/smtpd")
    assert "connect from localhost[127.0.0.1]" in log[connect:]
    assert "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3" in log
    assert f"sasl_method={mechanism}, sasl_username=alice" in log
    t = host.last_transcript()
    assert t.tls


def test_smtps_without_credentials_cannot_relay(host, lab):
    with clients.SMTP_SSL(host, context=lab.client_tls_context(), local_hostname="laptop") as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.sendmail("alice@example.com", ["carol@example.org"], MSG)


def test_port_25_has_no_auth_by_default_and_auth_can_be_enabled(host, lab):
    r = Raw(host.endpoints["smtp"], context=lab.client_tls_context())
    r.cmd("EHLO laptop")
    assert r.last("AUTH PLAIN " + b64(b"\0alice\0secret")) == \
        "503 5.5.1 Error: authentication not enabled"
    r.close()
    cf = host.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + "smtpd_sasl_auth_enable = yes\nsmtpd_tls_auth_only = yes\n")
    host.reload()
    r = Raw(host.endpoints["smtp"], context=lab.client_tls_context())
    assert not any("AUTH" in ln for ln in r.cmd("EHLO laptop"))
    # AUTH before TLS refused: the password must never cross the wire in clear text
    assert r.last("AUTH PLAIN " + b64(b"\0alice\0secret")) == \
        "503 5.5.1 Error: authentication not enabled"
    r.cmd("STARTTLS")
    r.starttls()
    assert "250-AUTH PLAIN LOGIN" in r.cmd("EHLO laptop")
    assert r.last("AUTH LOGIN") == "334 VXNlcm5hbWU6"
    assert r.last(b64(b"alice")) == "334 UGFzc3dvcmQ6"
    assert r.last("*") == "501 5.7.0 Authentication aborted"
    assert r.last("AUTH FOO") == "535 5.7.8 Error: authentication failed: Invalid authentication mechanism"
    assert r.last("AUTH") == "501 5.5.4 Syntax: AUTH mechanism"
    assert r.last("AUTH PLAIN !!!") == \
        "535 5.7.8 Error: authentication failed: Invalid base64 data in initial response"
    assert r.last("AUTH PLAIN") == "334 "
    assert r.last(b64(b"\0alice\0secret")) == "235 2.7.0 Authentication successful"
    r.last("QUIT")
    r.close()
    log = host.maillog.read()
    assert "warning: localhost[127.0.0.1]: SASL LOGIN authentication aborted" in log
    assert "SASL FOO authentication failed: Invalid authentication mechanism, " \
           "sasl_username=(unavailable)" in log


def test_auth_during_a_transaction_is_refused(host, lab):
    cf = host.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + "smtpd_sasl_auth_enable = yes\n")
    host.reload()
    r = Raw(host.endpoints["smtp"])
    assert "250-AUTH PLAIN LOGIN" in r.cmd("EHLO laptop")     # no auth_only: offered in clear
    r.last("MAIL FROM:<alice@example.com>")
    assert r.last("AUTH PLAIN " + b64(b"\0alice\0secret")) == \
        "503 5.5.1 Error: MAIL transaction in progress"
    r.close()


# -- the sans-IO exchange ------------------------------------------------------------
def _verify(user, password):
    return (user, password) == ("alice", "secret")


def test_exchange_plain_with_challenge():
    ex = SaslExchange(_verify)
    assert ex.start("plain", None) == Challenge("")
    assert ex.state is ExchangeState.PLAIN_RESPONSE
    assert ex.respond(b64(b"\0alice\0secret")) == Success("PLAIN", "alice")
    assert ex.state is ExchangeState.DONE


def test_exchange_failures():
    assert SaslExchange(_verify).start("PLAIN", "=") == Failure("PLAIN", "(reason unavailable)")
    assert SaslExchange(_verify).start("PLAIN", b64(b"alice")) == \
        Failure("PLAIN", "(reason unavailable)")
    assert SaslExchange(_verify).start("PLAIN", b64(b"bob\0alice\0secret")).reply.startswith("535")
    ex = SaslExchange(_verify)
    ex.start("LOGIN", b64(b"alice"))
    assert ex.respond("*") == Aborted("LOGIN")
    ex = SaslExchange(_verify)
    ex.start("LOGIN", None)
    assert ex.respond("%%%") == Failure("LOGIN", "Invalid base64 data in continued response")


@given(st.binary(max_size=80))
def test_exchange_never_raises_on_any_response(data):
    for mech in ("PLAIN", "LOGIN"):
        ex = SaslExchange(_verify)
        step = ex.start(mech, None)
        while isinstance(step, Challenge):
            step = ex.respond(base64.b64encode(data).decode())
        assert isinstance(step, (Success, Failure))
        assert step.reply[:3] in ("235", "535")


@given(st.text(max_size=40))
def test_exchange_initial_response_is_total(text):
    step = SaslExchange(_verify).start("PLAIN", text or "=")
    assert step.reply[:3] in ("235", "535", "334")
