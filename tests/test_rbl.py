"""DNS blocklists in the smtpd restriction lists (labmail.mta.rbl).

Socket-free evaluator tests with a dictionary standing in for DNS, then one
lab over real sockets: the lab DNS serves bl.lab.test, a client bound to
127.0.0.9 (a stranger) is refused at RCPT TO with Postfix's text.
"""
from __future__ import annotations

import socket

import pytest

from labmail.mta.maincf import MainCf
from labmail.mta.rbl import expand_template, filter_matches
from labmail.mta.restrictions import Context, Restrictions, Stage, needs_dns

BASE = ("compatibility_level = 3.6\nmyhostname = mail.example.com\nmynetworks = 127.0.0.1/32\n"
        "mydestination = example.org\n")
LISTINGS = {
    ("127.0.0.9", "bl.lab.test"): (True, ["127.0.0.2"], ["spam source, see http://bl.lab.test/127.0.0.9"]),
    ("127.0.0.8", "bl.lab.test"): (True, ["127.0.0.4"], []),
    ("spam.test", "dbl.lab.test"): (True, ["127.0.1.2"], ["spammer domain"]),
    ("127.0.0.7", "wl.lab.test"): (True, ["127.0.10.1"], []),
}


def lookup(name, zone):
    return LISTINGS.get((name, zone), (False, [], []))


def check(extra, ip="127.0.0.9", *, sender="a@x.test", rcpt="bob@example.org", helo="c.x.test",
          name="unknown"):
    r = Restrictions.from_config(MainCf.from_text(BASE + extra))
    ctx = Context(ip, name, helo=helo, sender=sender, recipient=rcpt, dnsbl=lookup)
    return r.check_verbose(Stage.RCPT, ctx)


RECIPIENT_RBL = "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, "


def test_listed_client_is_refused_with_postfix_text_and_log_line():
    decision, warnings = check(RECIPIENT_RBL + "reject_rbl_client bl.lab.test\n")
    assert decision.reply == ("554 5.7.1 Service unavailable; Client host [127.0.0.9] blocked using "
                              "bl.lab.test; spam source, see http://bl.lab.test/127.0.0.9")
    assert decision.log == ("NOQUEUE: reject: RCPT from unknown[127.0.0.9]: " + decision.reply +
                            "; from=<a@x.test> to=<bob@example.org> proto=ESMTP helo=<c.x.test>")
    assert warnings == ()


def test_listing_without_txt_has_no_reason_part():
    decision, _ = check(RECIPIENT_RBL + "reject_rbl_client bl.lab.test\n", ip="127.0.0.8")
    assert decision.reply == "554 5.7.1 Service unavailable; Client host [127.0.0.8] blocked using bl.lab.test"


def test_unlisted_client_and_mynetworks_pass():
    assert check(RECIPIENT_RBL + "reject_rbl_client bl.lab.test\n", ip="127.0.0.5")[0] is None
    assert check(RECIPIENT_RBL + "reject_rbl_client bl.lab.test\n", ip="127.0.0.1")[0] is None


def test_address_filter_selects_the_return_code():
    cfg = RECIPIENT_RBL + "reject_rbl_client bl.lab.test=127.0.0.2\n"
    assert check(cfg, ip="127.0.0.9")[0] is not None
    assert check(cfg, ip="127.0.0.8")[0] is None                  # listed as 127.0.0.4
    cfg = RECIPIENT_RBL + "reject_rbl_client bl.lab.test=127.0.0.[3..5]\n"
    assert check(cfg, ip="127.0.0.8")[0].reply.endswith("blocked using bl.lab.test")


@pytest.mark.parametrize("pattern,address,expected", [
    ("127.0.0.2", "127.0.0.2", True), ("127.0.0.2", "127.0.0.3", False),
    ("127.0.0.[2;4]", "127.0.0.4", True), ("127.0.0.[2;4]", "127.0.0.3", False),
    ("127.0.[0..2].[1..255]", "127.0.1.9", True), ("127.0.0", "127.0.0.2", False),
])
def test_filter_patterns(pattern, address, expected):
    assert filter_matches(pattern, address) is expected


def test_rhsbl_sender_names_the_address():
    decision, _ = check(RECIPIENT_RBL + "reject_rhsbl_sender dbl.lab.test\n", sender="x@spam.test")
    assert decision.reply == ("554 5.7.1 Service unavailable; Sender address [x@spam.test] blocked using "
                              "dbl.lab.test; spammer domain")
    assert check(RECIPIENT_RBL + "reject_rhsbl_sender dbl.lab.test\n", sender="")[0] is None


def test_rhsbl_helo_and_client():
    decision, _ = check(RECIPIENT_RBL + "reject_rhsbl_helo dbl.lab.test\n", helo="spam.test")
    assert decision.reply.startswith("554 5.7.1 Service unavailable; Helo command [spam.test] blocked using")
    decision, _ = check(RECIPIENT_RBL + "reject_rhsbl_client dbl.lab.test\n", name="spam.test")
    assert decision.reply.startswith("554 5.7.1 Service unavailable; Client host [spam.test] blocked using")
    # an unknown client name is not looked up
    assert check(RECIPIENT_RBL + "reject_rhsbl_client dbl.lab.test\n")[0] is None


def test_warn_if_reject_logs_reject_warning_and_accepts():
    decision, warnings = check(RECIPIENT_RBL + "warn_if_reject reject_rbl_client bl.lab.test\n")
    assert decision is None
    assert warnings == ("NOQUEUE: reject_warning: RCPT from unknown[127.0.0.9]: 554 5.7.1 Service unavailable; "
                        "Client host [127.0.0.9] blocked using bl.lab.test; spam source, see "
                        "http://bl.lab.test/127.0.0.9; from=<a@x.test> to=<bob@example.org> proto=ESMTP "
                        "helo=<c.x.test>",)
    # it changes only the NEXT restriction
    decision, _ = check(RECIPIENT_RBL + "warn_if_reject reject_rhsbl_sender dbl.lab.test, "
                        "reject_rbl_client bl.lab.test\n")
    assert decision is not None and "Client host" in decision.reply


def test_dnswl_permits_before_a_later_reject():
    cfg = "smtpd_recipient_restrictions = permit_dnswl_client wl.lab.test, reject\n"
    assert check(cfg, ip="127.0.0.7")[0] is None
    assert check(cfg, ip="127.0.0.9")[0].reply.startswith("554 5.7.1 <bob@example.org>")


def test_rbl_reply_maps_and_default_rbl_reply(tmp_path):
    table = tmp_path / "rbl_reply"
    table.write_text("bl.lab.test 550 Go away, $client_address is listed${rbl_reason?: $rbl_reason}\n")
    cfg = RECIPIENT_RBL + f"reject_rbl_client bl.lab.test\nrbl_reply_maps = texthash:{table}\n"
    decision, _ = check(cfg)
    assert decision.reply.startswith("550 5.7.1 Go away, 127.0.0.9 is listed: spam source")
    assert check(cfg, ip="127.0.0.8")[0].reply == "550 5.7.1 Go away, 127.0.0.8 is listed"
    cfg = RECIPIENT_RBL + "reject_rbl_client bl.lab.test\nmaps_rbl_reject_code = 521\n" \
                          "default_rbl_reply = $rbl_code Blocked by $rbl_domain\n"
    assert check(cfg)[0].reply == "521 5.7.1 Blocked by bl.lab.test"


def test_reason_outside_the_expansion_filter_is_replaced():
    # measured on Postfix 3.7.11: each byte outside smtpd_expansion_filter becomes a space
    LISTINGS[("127.0.0.6", "bl.lab.test")] = (True, ["127.0.0.4"], ["bad\x07char\u00e9 x"])
    decision, _ = check(RECIPIENT_RBL + "reject_rbl_client bl.lab.test\n", ip="127.0.0.6")
    assert decision.reply == ("554 5.7.1 Service unavailable; Client host [127.0.0.6] blocked using "
                              "bl.lab.test; bad char   x")


def test_several_txt_records_are_joined_with_a_slash(tmp_path):
    LISTINGS[("127.0.0.7", "bl.lab.test")] = (True, ["127.0.0.2"], ["first reason", "second reason"])
    table = tmp_path / "rbl_reply"
    table.write_text("bl.lab.test=127.0.0.[2..3] 550 filtered key $rbl_domain\n"
                     "bl.lab.test 551 plain key $rbl_domain ${rbl_reason?[$rbl_reason]}\n")
    maps = f"rbl_reply_maps = texthash:{table}\n"
    # measured on Postfix 3.7.11: the map key is the argument as written, $rbl_domain the bare zone
    cfg = RECIPIENT_RBL + "reject_rbl_client bl.lab.test=127.0.0.[2..3]\n" + maps
    assert check(cfg, ip="127.0.0.7")[0].reply == "550 5.7.1 filtered key bl.lab.test"
    cfg = RECIPIENT_RBL + "reject_rbl_client bl.lab.test\n" + maps
    assert check(cfg, ip="127.0.0.7")[0].reply == "551 5.7.1 plain key bl.lab.test [first reason / second reason]"
    # a filtered argument without its own entry does not fall back to the bare zone's
    cfg = RECIPIENT_RBL + "reject_rbl_client bl.lab.test=127.0.0.4\n" + maps
    assert check(cfg, ip="127.0.0.6")[0].reply.startswith("554 5.7.1 Service unavailable; Client host [127.0.0.6]")


def test_template_expansion():
    assert expand_template("$a ${b:none} ${a?[$a]}", {"a": "x", "b": ""}) == "x none [x]"


def test_temporary_dns_failure_skips_the_list():
    def failing(name, zone):
        raise OSError("timeout")
    r = Restrictions.from_config(MainCf.from_text(BASE + RECIPIENT_RBL + "reject_rbl_client bl.lab.test\n"))
    ctx = Context("127.0.0.9", sender="a@x.test", recipient="bob@example.org", dnsbl=failing)
    assert r.check(Stage.RCPT, ctx) is None


def test_needs_dns_covers_rbl_rhsbl_and_classes():
    assert needs_dns(MainCf.from_text("smtpd_client_restrictions = reject_rhsbl_client d.test"))
    assert needs_dns(MainCf.from_text("smtpd_restriction_classes = c\nc = reject_rbl_client b.test\n"
                                      "smtpd_recipient_restrictions = c, reject_unauth_destination"))
    assert not needs_dns(MainCf.from_text("smtpd_recipient_restrictions = reject_unauth_destination"))


# ---------------------------------------------------------------------------
# over real sockets


def _dialogue(address, src: str, commands):
    with socket.create_connection(address, timeout=10, source_address=(src, 0)) as s:
        f = s.makefile("rb")

        def reply() -> str:
            for _ in range(50):
                line = f.readline().decode().rstrip("\r\n")
                if len(line) < 4 or line[3] != "-":
                    return line
            raise AssertionError("endless reply")
        replies = [reply()]
        for cmd in commands:
            s.sendall(cmd.encode() + b"\r\n")
            replies.append(reply())
        s.sendall(b"QUIT\r\n")
        return replies


@pytest.fixture(scope="module")
def lab_host(tmp_path_factory):
    import labmail
    from labmail.net.dns import dnsbl_list
    lab = labmail.Lab(ports="auto", state_dir=tmp_path_factory.mktemp("lab"), seed=7,
                      clock="2026-11-27T09:00:00+00:00")
    host = lab.add_host("mail.example.com", users={"bob": "builder"})
    lab.start()
    dnsbl_list(lab.dns, "bl.lab.test", "127.0.0.9", reason="spam source (lesson 08)")
    yield host
    lab.stop()


def _configure(host, restrictions: str) -> None:
    # reject_unknown_recipient_domain keeps the check in a worker thread even
    # before smtpd uses needs_dns() (the lab DNS answers on the lab's loop)
    host.path("/etc/postfix/main.cf").write_text(
        "compatibility_level = 3.6\nmyhostname = mail.example.com\nmynetworks = 127.0.0.1/32\n"
        "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, "
        f"reject_unknown_recipient_domain, {restrictions}\n")
    host.reload()


def test_stranger_is_refused_over_smtp(lab_host):
    _configure(lab_host, "reject_rbl_client bl.lab.test")
    replies = _dialogue(lab_host.endpoints["smtp"], "127.0.0.9",
                        ["EHLO stranger.test", "MAIL FROM:<x@stranger.test>", "RCPT TO:<bob@mail.example.com>"])
    assert replies[-1] == ("554 5.7.1 Service unavailable; Client host [127.0.0.9] blocked using bl.lab.test; "
                           "spam source (lesson 08)")
    log = lab_host.maillog.path.read_text() if hasattr(lab_host.maillog, "path") else ""
    if log:
        assert "NOQUEUE: reject: RCPT from unknown[127.0.0.9]: 554 5.7.1 Service unavailable;" in log
    # an unlisted client gets through
    replies = _dialogue(lab_host.endpoints["smtp"], "127.0.0.5",
                        ["EHLO ok.test", "MAIL FROM:<x@ok.test>", "RCPT TO:<bob@mail.example.com>"])
    assert replies[-1].startswith("250 ")


def test_warn_if_reject_over_smtp_accepts_and_logs(lab_host):
    _configure(lab_host, "warn_if_reject, reject_rbl_client bl.lab.test")
    replies = _dialogue(lab_host.endpoints["smtp"], "127.0.0.9",
                        ["EHLO stranger.test", "MAIL FROM:<x@stranger.test>", "RCPT TO:<bob@mail.example.com>"])
    assert replies[-1].startswith("250 ")
    log = lab_host.maillog.path.read_text() if hasattr(lab_host.maillog, "path") else ""
    if log:
        assert "NOQUEUE: reject_warning: RCPT from unknown[127.0.0.9]: 554 5.7.1 Service unavailable;" in log


# ---------------------------------------------------------------------------
# properties of the =d.d.d.d filter (postconf(5): a number, or [n;n..m] per octet)

from hypothesis import given, strategies as st  # noqa: E402

octet = st.integers(min_value=0, max_value=255)


@given(st.tuples(octet, octet, octet, octet))
def test_an_address_matches_itself_as_a_filter(parts):
    address = ".".join(map(str, parts))
    assert filter_matches(address, address)


@given(st.tuples(octet, octet, octet), octet, octet, octet)
def test_a_range_in_the_last_octet_is_inclusive(head, low, high, value):
    low, high = min(low, high), max(low, high)
    prefix = ".".join(map(str, head))
    assert filter_matches(f"{prefix}.[{low}..{high}]", f"{prefix}.{value}") is (low <= value <= high)


@given(st.text(alphabet="abc xyz;:?$", max_size=20))
def test_a_template_without_names_is_left_as_written(text):
    text = text.replace("$", "")
    assert expand_template(text, {"a": "1"}) == text
