"""Restriction evaluation, socket-free.

Every expected reply below was recorded from a real Postfix 3.7 smtpd on
loopback with the same main.cf lines (base: compatibility_level = 3.6,
myhostname = mail.example.com, mynetworks = 127.0.0.1/32), client 127.0.0.9
without a PTR name ("unknown") unless stated. tests/test_restrictions_real.py
replays the table against a live Postfix when one can be started.
"""
from __future__ import annotations

import pytest

from labmail.errors import ConfigError
from labmail.mta.maincf import MainCf
from labmail.mta.restrictions import (Context, Reply, Restrictions, Stage, destination_class,
                                      register_restriction, valid_hostname)

BASE = ("compatibility_level = 3.6\nmyhostname = mail.example.com\nmynetworks = 127.0.0.1/32\n"
        "inet_interfaces = 127.0.0.1\n")
STRANGER, INSIDE = "127.0.0.9", "127.0.0.1"

# (extra main.cf, access tables {name: text}, client ip, helo, sender, recipient, expected reply or None)
CASES = [
    ("", {}, STRANGER, "c.example.net", "a@example.net", "bob@example.org",
     "454 4.7.1 <bob@example.org>: Relay access denied"),
    ("", {}, STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com", None),
    ("", {}, STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com.", None),
    ("", {}, STRANGER, "c.example.net", "a@example.net", "bob", None),
    ("", {}, STRANGER, "c.example.net", "a@example.net", "bob@sub.",
     "454 4.7.1 <bob@sub.>: Relay access denied"),
    ("", {}, INSIDE, "client", "a", "bob@example.org", None),
    ("smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination", {}, STRANGER,
     "c.example.net", "a@example.net", "bob@example.org", "554 5.7.1 <bob@example.org>: Relay access denied"),
    ("smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\nrelay_domains = example.org", {},
     STRANGER, "c.example.net", "a@example.net", "bob@sub.example.org", None),
    ("smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\nrelay_domains = example.org", {},
     STRANGER, "c.example.net", "a@example.net", "bob@example.net", "554 5.7.1 <bob@example.net>: Relay access denied"),
    ("smtpd_recipient_restrictions = reject_non_fqdn_recipient, reject_non_fqdn_sender, reject_non_fqdn_helo_hostname",
     {}, STRANGER, "c.example.net", "a@example.net", "bob",
     "504 5.5.2 <bob>: Recipient address rejected: need fully-qualified address"),
    ("smtpd_recipient_restrictions = reject_non_fqdn_recipient, reject_non_fqdn_sender, reject_non_fqdn_helo_hostname",
     {}, STRANGER, "c.example.net", "a", "bob@mail.example.com",
     "504 5.5.2 <a>: Sender address rejected: need fully-qualified address"),
    ("smtpd_recipient_restrictions = reject_non_fqdn_recipient, reject_non_fqdn_sender, reject_non_fqdn_helo_hostname",
     {}, STRANGER, "client", "", "bob@mail.example.com",
     "504 5.5.2 <client>: Helo command rejected: need fully-qualified hostname"),
    ("smtpd_recipient_restrictions = reject_non_fqdn_recipient", {}, STRANGER, "c.example.net", "a@example.net",
     "bob@localhost", "504 5.5.2 <bob@localhost>: Recipient address rejected: need fully-qualified address"),
    ("smtpd_recipient_restrictions = reject_non_fqdn_recipient", {}, STRANGER, "c.example.net", "a@example.net",
     "postmaster", None),
    ("smtpd_recipient_restrictions = reject_non_fqdn_recipient", {}, STRANGER, "c.example.net", "a@example.net",
     "bob@[127.0.0.1]", None),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname", {}, STRANGER, "bad_host!", "a@example.net",
     "bob@mail.example.com", "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name"),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname", {}, STRANGER, "[127.0.0.9]", "a@example.net",
     "bob@mail.example.com", None),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname", {}, STRANGER, "[1.2.3]", "a@example.net",
     "bob@mail.example.com", "501 5.5.2 <[1.2.3]>: Helo command rejected: invalid ip address"),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname", {}, STRANGER, "a..b", "a@example.net",
     "bob@mail.example.com", "501 5.5.2 <a..b>: Helo command rejected: Invalid name"),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname", {}, STRANGER,
     "1.2.3.4", "a@example.net", "bob@mail.example.com",
     "504 5.5.2 <1.2.3.4>: Helo command rejected: need fully-qualified hostname"),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname", {}, STRANGER,
     "[IPv6:::1]", "a@example.net", "bob@mail.example.com", None),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname", {}, STRANGER,
     "1.2.3", "a@example.net", "bob@mail.example.com", "501 5.5.2 <1.2.3>: Helo command rejected: Invalid name"),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname", {}, STRANGER,
     "host_name.example.com.", "a@example.net", "bob@mail.example.com", None),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname", {}, STRANGER,
     "-bad.example.com", "a@example.net", "bob@mail.example.com",
     "501 5.5.2 <-bad.example.com>: Helo command rejected: Invalid name"),
    ("smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname", {}, STRANGER,
     "123.example.42", "a@example.net", "bob@mail.example.com", None),
    ("smtpd_client_restrictions = reject", {}, STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Access denied"),
    ("smtpd_client_restrictions = permit\nsmtpd_helo_restrictions = reject", {}, STRANGER, "c.example.net",
     "a@example.net", "bob@mail.example.com", "554 5.7.1 <c.example.net>: Helo command rejected: Access denied"),
    ("smtpd_sender_restrictions = reject", {}, STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "554 5.7.1 <a@example.net>: Sender address rejected: Access denied"),
    ("smtpd_sender_restrictions = reject", {}, STRANGER, "c.example.net", "", "bob@mail.example.com",
     "554 5.7.1 <>: Sender address rejected: Access denied"),
    ("smtpd_recipient_restrictions = defer", {}, STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "450 4.3.2 <bob@mail.example.com>: Recipient address rejected: Try again later"),
    ("smtpd_client_restrictions = defer", {}, STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "450 4.3.2 <unknown[127.0.0.9]>: Client host rejected: Try again later"),
    ("smtpd_client_restrictions = reject_unknown_reverse_client_hostname, reject_unknown_client_hostname", {},
     STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.9]"),
    ("smtpd_client_restrictions = reject_unknown_client_hostname", {}, STRANGER, "c.example.net", "a@example.net",
     "bob@mail.example.com", "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.9]"),
    # access tables
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access", {"access": "127.0.0.9 REJECT"},
     STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Access denied"),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access", {"access": "127.0.0 REJECT go away"},
     STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: go away"),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access", {"access": "127 550 custom text"},
     STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "550 5.7.1 <unknown[127.0.0.9]>: Client host rejected: custom text"),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access", {"access": "127.0.0.9 DEFER busy"},
     STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "450 4.7.1 <unknown[127.0.0.9]>: Client host rejected: busy"),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access", {"access": "127.0.0.9 DEFER"},
     STRANGER, "c.example.net", "a@example.net", "bob@mail.example.com",
     "450 4.7.1 <unknown[127.0.0.9]>: Client host rejected: Access denied"),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access",
     {"access": "unknown OK\n127.0.0.9 450 4.7.9 mine"}, STRANGER, "c.example.net", "a@example.net",
     "bob@mail.example.com", None),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access",
     {"access": "127.0.0.9 450 4.7.9 mine"}, STRANGER, "c.example.net", "a@example.net",
     "bob@mail.example.com", "450 4.7.9 <unknown[127.0.0.9]>: Client host rejected: mine"),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access",
     {"access": "127.0.0.9 DUNNO\n127 REJECT"}, STRANGER, "c.example.net", "a@example.net", "bob@example.org",
     "454 4.7.1 <bob@example.org>: Relay access denied"),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access",
     {"access": "127.0.0.9 reject_unauth_destination"}, STRANGER, "c.example.net", "a@example.net",
     "bob@example.org", "554 5.7.1 <bob@example.org>: Relay access denied"),
    ("smtpd_client_restrictions = check_client_access hash:/etc/postfix/access",
     {"access": "127.0.0.9 550"}, STRANGER, "c.example.net", "a@example.net", "bob@example.org",
     "454 4.7.1 <bob@example.org>: Relay access denied"),
    ("smtpd_sender_restrictions = check_sender_access hash:/etc/postfix/sender\nsmtpd_recipient_restrictions = reject",
     {"sender": "example.net REJECT no spammers"}, STRANGER, "c.example.net", "a@sub.example.net",
     "bob@mail.example.com", "554 5.7.1 <a@sub.example.net>: Sender address rejected: no spammers"),
    ("smtpd_sender_restrictions = check_sender_access hash:/etc/postfix/sender\nsmtpd_recipient_restrictions = reject",
     {"sender": "a@ REJECT no a"}, STRANGER, "c.example.net", "a@sub.example.net",
     "bob@mail.example.com", "554 5.7.1 <a@sub.example.net>: Sender address rejected: no a"),
    ("smtpd_sender_restrictions = check_sender_access hash:/etc/postfix/sender\nsmtpd_recipient_restrictions = reject",
     {"sender": "a@ REJECT no a"}, STRANGER, "c.example.net", "b@example.net",
     "bob@mail.example.com", "554 5.7.1 <bob@mail.example.com>: Recipient address rejected: Access denied"),
    ("smtpd_sender_restrictions = check_sender_access hash:/etc/postfix/sender\nsmtpd_recipient_restrictions = reject",
     {"sender": "sub.example.net REJECT sub\n.example.net REJECT dot"}, STRANGER, "c.example.net",
     "a@example.net", "bob@mail.example.com",
     "554 5.7.1 <bob@mail.example.com>: Recipient address rejected: Access denied"),
    ("smtpd_sender_restrictions = check_sender_access hash:/etc/postfix/sender\nsmtpd_recipient_restrictions = reject",
     {"sender": "a@example.net OK\nexample.net REJECT"}, STRANGER, "c.example.net",
     "a@sub.example.net", "bob@mail.example.com",
     "554 5.7.1 <a@sub.example.net>: Sender address rejected: Access denied"),
    ("smtpd_sender_restrictions = check_sender_access hash:/etc/postfix/sender\nsmtpd_recipient_restrictions = reject",
     {"sender": "a@example.net OK\nexample.net REJECT"}, STRANGER, "c.example.net",
     "a@example.net", "bob@mail.example.com",
     "554 5.7.1 <bob@mail.example.com>: Recipient address rejected: Access denied"),
    ("smtpd_relay_restrictions = permit_mynetworks, permit, reject_unauth_destination\n"
     "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination", {}, STRANGER,
     "c.example.net", "", "bob@example.org", "554 5.7.1 <bob@example.org>: Relay access denied"),
    ("mynetworks = 127.0.0.0/8", {}, STRANGER, "c.example.net", "a@example.net", "bob@example.org", None),
]


def _build(tmp_path, extra: str, tables: dict) -> Restrictions:
    etc = tmp_path / "etc" / "postfix"
    etc.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (etc / name).write_text(text + "\n")

    def path_map(p: str):
        return tmp_path / p.lstrip("/")
    cf = MainCf.from_text(BASE + extra + "\n", "/etc/postfix/main.cf", path_map=path_map)
    return Restrictions.from_config(cf)


def _ids():
    return [f"{i:02d}-{c[6] or 'accept'}"[:60] for i, c in enumerate(CASES)]


@pytest.mark.parametrize("extra,tables,ip,helo,sender,rcpt,expected", CASES, ids=_ids())
def test_against_recorded_postfix(tmp_path, extra, tables, ip, helo, sender, rcpt, expected):
    r = _build(tmp_path, extra, tables)
    decision = r.check(Stage.RCPT, Context(ip, helo=helo, sender=sender, recipient=rcpt))
    assert (decision.reply if decision else None) == expected


def test_unknown_sender_and_recipient_domain_with_injected_dns(tmp_path):
    r = _build(tmp_path, "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
                         "smtpd_recipient_restrictions = reject_unknown_recipient_domain\n"
                         "mynetworks = 127.0.0.0/8", {})
    known = {"example.com": True, "nonexistent.invalid": False}

    def ctx(sender, rcpt):
        return Context(STRANGER, helo="c.example.net", sender=sender, recipient=rcpt, dns=known.get)
    assert r.check(Stage.RCPT, ctx("a@nonexistent.invalid", "bob@mail.example.com")).reply == \
        "450 4.1.8 <a@nonexistent.invalid>: Sender address rejected: Domain not found"
    assert r.check(Stage.RCPT, ctx("", "bob@nonexistent.invalid")).reply == \
        "450 4.1.2 <bob@nonexistent.invalid>: Recipient address rejected: Domain not found"
    assert r.check(Stage.RCPT, ctx("a@localhost", "bob@mail.example.com")) is None   # local: not looked up
    assert r.check(Stage.RCPT, ctx("a@example.com", "bob@[192.0.2.1]")) is None
    assert r.check(Stage.RCPT, ctx("a@example.com", "bob")) is None
    r5 = _build(tmp_path, "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
                          "unknown_address_reject_code = 550", {})
    assert r5.check(Stage.RCPT, ctx("a@nonexistent.invalid", "bob@mail.example.com")).reply == \
        "550 5.1.8 <a@nonexistent.invalid>: Sender address rejected: Domain not found"


def test_log_lines_as_postfix_writes_them(tmp_path):
    r = _build(tmp_path, "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n"
                         "smtpd_sender_restrictions = reject_non_fqdn_sender", {})
    d = r.check(Stage.HELO, Context(STRANGER, helo="client", esmtp=False))
    assert d.log == ("NOQUEUE: reject: HELO from unknown[127.0.0.9]: 504 5.5.2 <client>: Helo command rejected: "
                     "need fully-qualified hostname; proto=SMTP helo=<client>")
    d = r.check(Stage.MAIL, Context(STRANGER, helo="c.example.net", sender="a"))
    assert d.log == ("NOQUEUE: reject: MAIL from unknown[127.0.0.9]: 504 5.5.2 <a>: Sender address rejected: "
                     "need fully-qualified address; from=<a> proto=ESMTP helo=<c.example.net>")
    r = _build(tmp_path, "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject", {})
    d = r.check(Stage.CONNECT, Context(STRANGER))
    assert d.log == ("NOQUEUE: reject: CONNECT from unknown[127.0.0.9]: 554 5.7.1 <unknown[127.0.0.9]>: "
                     "Client host rejected: Access denied; proto=SMTP")
    d = _build(tmp_path, "", {}).check(Stage.RCPT, Context(STRANGER, helo="c.example.net", sender="a@example.net",
                                                             recipient="bob@example.org", queue_id="62DB7220502"))
    assert d.log.startswith("62DB7220502: reject: RCPT from unknown[127.0.0.9]: 454 4.7.1")


def test_delay_reject_yes_checks_everything_at_rcpt(tmp_path):
    r = _build(tmp_path, "smtpd_client_restrictions = reject", {})
    assert r.check(Stage.CONNECT, Context(STRANGER)) is None
    assert r.check(Stage.MAIL, Context(STRANGER, sender="a@example.net")) is None
    assert r.check(Stage.RCPT, Context(STRANGER, sender="a@example.net", recipient="b@mail.example.com")).parameter \
        == "smtpd_client_restrictions"


def test_relay_before_recipient_order_depends_on_compatibility_level(tmp_path):
    extra = "smtpd_recipient_restrictions = reject_non_fqdn_recipient, reject_unauth_destination\n"
    ctx = Context(STRANGER, helo="c.example.net", sender="a@example.net", recipient="bob@sub.")
    assert _build(tmp_path, extra, {}).check(Stage.RCPT, ctx).reply.startswith("454 4.7.1")
    cf = MainCf.from_text("compatibility_level = 0\nmyhostname = mail.example.com\nmynetworks = 127.0.0.1/32\n"
                          + extra)
    assert Restrictions.from_config(cf).check(Stage.RCPT, ctx).reply == \
        "504 5.5.2 <bob@sub.>: Recipient address rejected: need fully-qualified address"


def test_sasl_and_mynetworks_permit(tmp_path):
    r = _build(tmp_path, "", {})
    ctx = Context(STRANGER, helo="c.example.net", sender="a@example.net", recipient="bob@example.org",
                  sasl_username="alice")
    assert r.check(Stage.RCPT, ctx) is None


def test_configuration_errors_name_the_line():
    with pytest.raises(ConfigError) as info:
        Restrictions.from_config(MainCf.from_text(BASE + "smtpd_relay_restrictions = permit_mynetworks, bogus\n",
                                                  "/etc/postfix/main.cf"))
    assert info.value.line == 5 and 'unknown smtpd restriction: "bogus"' in info.value.message
    with pytest.raises(ConfigError, match="specify at least one working instance"):
        Restrictions.from_config(MainCf.from_text(BASE + "smtpd_relay_restrictions =\n"))
    with pytest.raises(ConfigError, match="specify at least one working instance"):
        Restrictions.from_config(MainCf.from_text(BASE + "smtpd_relay_restrictions = permit, reject_unauth_destination\n"))
    with pytest.raises(ConfigError, match="needs an argument"):
        Restrictions.from_config(MainCf.from_text(BASE + "smtpd_client_restrictions = check_client_access\n"))


def test_permit_shadowing_warning():
    r = Restrictions.from_config(MainCf.from_text(
        BASE + "smtpd_relay_restrictions = permit_mynetworks, permit, reject_unauth_destination\n"
               "smtpd_recipient_restrictions = reject_unauth_destination\n"))
    assert "restriction `reject_unauth_destination' after `permit' is ignored" in r.warnings


def test_missing_access_table_is_a_server_configuration_error(tmp_path):
    r = _build(tmp_path, "smtpd_client_restrictions = check_client_access hash:/etc/postfix/nope", {})
    d = r.check(Stage.RCPT, Context(STRANGER, helo="h.example", sender="a@example.net", recipient="b@mail.example.com"))
    assert d.reply == "451 4.3.5 Server configuration error"
    assert any("is unavailable" in w for w in d.warnings)


def test_restriction_classes_and_plugins(tmp_path):
    r = _build(tmp_path, "smtpd_restriction_classes = strict\nstrict = reject_non_fqdn_sender\n"
                         "smtpd_sender_restrictions = strict", {})
    assert r.check(Stage.RCPT, Context(STRANGER, helo="h.example", sender="a", recipient="b@mail.example.com")) \
        .reply.startswith("504 5.5.2 <a>")
    # reject_rbl_client (labmail.mta.rbl) is skipped when the context has no DNS;
    # a registration replaces it, and the original comes back afterwards
    from labmail.mta.restrictions import RESTRICTIONS
    original = RESTRICTIONS["reject_rbl_client"]
    r = _build(tmp_path, "smtpd_client_restrictions = reject_rbl_client zen.example.org", {})
    ctx = Context(STRANGER, helo="h.example", sender="a@example.net", recipient="b@mail.example.com")
    assert r.check(Stage.RCPT, ctx) is None
    seen = []

    def rbl(ev, args):
        seen.append(args)
        return Reply(554, "5.7.1", f"Service unavailable; Client host [{ev.ctx.client_ip}] blocked using {args[0]}")
    register_restriction("reject_rbl_client", rbl, nargs=1)
    try:
        r = _build(tmp_path, "smtpd_client_restrictions = reject_rbl_client zen.example.org", {})
        assert r.check(Stage.RCPT, ctx).reply.endswith("blocked using zen.example.org")
        assert seen == [("zen.example.org",)]
    finally:
        RESTRICTIONS["reject_rbl_client"] = original


def test_helpers():
    assert valid_hostname("mail.example.com") and not valid_hostname("bad_host!")
    cf = MainCf.from_text("myhostname = mail.example.com\ninet_interfaces = 127.0.0.2\n")
    assert destination_class(cf, "[127.0.0.2]") == "local"
    assert destination_class(cf, "[127.0.0.3]", local_addresses=("127.0.0.3",)) == "local"
    assert destination_class(cf, "localhost") == "local"


def test_legacy_names_and_valid_but_unsimulated_restrictions(tmp_path):
    r = _build(tmp_path, "smtpd_helo_restrictions = reject_invalid_hostname, reject_non_fqdn_hostname\n"
                         "smtpd_recipient_restrictions = defer_if_permit, reject_unlisted_recipient", {})
    d = r.check(Stage.RCPT, Context(STRANGER, helo="client", sender="a@example.net", recipient="b@mail.example.com"))
    assert d.reply == "504 5.5.2 <client>: Helo command rejected: need fully-qualified hostname"


def test_inline_table_in_a_restriction_list(tmp_path):
    r = _build(tmp_path, "smtpd_client_restrictions = check_client_access "
                         "inline:{ 127.0.0.9=REJECT stay out, 127.0.0.1=OK }", {})
    d = r.check(Stage.RCPT, Context(STRANGER, helo="h.example", sender="a@example.net", recipient="b@mail.example.com"))
    assert d.reply == "554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: stay out"


def test_domains_from_lookup_tables(tmp_path):
    r = _build(tmp_path, "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
                         "relay_domains = hash:/etc/postfix/relay_domains\n",
               {"relay_domains": "example.org OK"})
    ctx = lambda rcpt: Context(STRANGER, helo="h.example", sender="a@example.net", recipient=rcpt)  # noqa: E731
    assert r.check(Stage.RCPT, ctx("bob@example.org")) is None
    assert r.check(Stage.RCPT, ctx("bob@sub.example.org")) is None          # parent_domain_matches_subdomains
    assert r.check(Stage.RCPT, ctx("bob@example.net")).reply == "554 5.7.1 <bob@example.net>: Relay access denied"


def test_dns_temporary_failure_is_defer_if_permit(tmp_path):
    """A DNS timeout defers only what would otherwise be accepted (unknown_address_tempfail_action)."""
    r = _build(tmp_path, "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
                         "mynetworks = 127.0.0.0/8", {})

    def ctx(rcpt, dns):
        return Context(STRANGER, helo="c.example.net", sender="a@slow.example", recipient=rcpt, dns=dns)
    d = r.check(Stage.RCPT, ctx("bob@mail.example.com", lambda domain: None))
    assert d.reply == "450 4.1.8 <a@slow.example>: Sender address rejected: Domain not found"
    assert d.restriction == "reject_unknown_sender_domain"
    # a later reject wins over the postponed deferral
    r2 = _build(tmp_path, "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
                          "smtpd_recipient_restrictions = reject", {})
    assert r2.check(Stage.RCPT, ctx("bob@mail.example.com", lambda domain: None)).reply == \
        "554 5.7.1 <bob@mail.example.com>: Recipient address rejected: Access denied"
    r3 = _build(tmp_path, "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
                          "unknown_address_tempfail_action = defer", {})
    assert r3.check(Stage.RCPT, ctx("bob@mail.example.com", lambda domain: None)).reply.startswith("450 4.1.8")
