"""The lab DNS: zone data, the authoritative server over real UDP/TCP, the resolver."""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading

import dns.flags
import dns.name
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labmail.net.dns import LabDNS, Zone, register_host, unregister_host
from labmail.net.resolver import (HOST_NOT_FOUND, NO_DATA, TRY_AGAIN, DNSLookupError,
                                  LabResolver, dnsbl_lookup, dnsbl_name)


# -- a lab-like loop in a thread, with the server on it ---------------------------------
@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def served(loop):
    """A running LabDNS with two mail hosts for example.org and one for example.net."""
    lab_dns = LabDNS()
    register_host(lab_dns, "mail.example.org", "127.0.0.3")
    lab_dns.add("example.org", "MX", "20 backup.example.org")
    lab_dns.add("backup.example.org", "A", "127.0.0.4")
    lab_dns.add("example.org", "TXT", '"v=spf1 mx -all"')
    lab_dns.add("www.example.org", "CNAME", "mail.example.org")
    asyncio.run_coroutine_threadsafe(lab_dns.start("127.0.0.1", 0), loop).result(5)
    yield lab_dns
    asyncio.run_coroutine_threadsafe(lab_dns.stop(), loop).result(5)


def ask(lab_dns: LabDNS, name: str, rtype: str = "A", **kw) -> dns.message.Message:
    """Answer a query without sockets (the sans-IO core)."""
    q = dns.message.make_query(name, rtype, **kw)
    return dns.message.from_wire(lab_dns.handle(q.to_wire()))


# -- zone data, no sockets -------------------------------------------------------------
def test_register_host_publishes_a_ptr_and_mx():
    d = LabDNS()
    register_host(d, "mail.example.org", "127.0.0.3")
    texts = {(r.name, r.rtype, r.value) for r in d.records()}
    assert ("mail.example.org.", "A", "127.0.0.3") in texts
    assert ("3.0.0.127.in-addr.arpa.", "PTR", "mail.example.org.") in texts
    assert ("example.org.", "MX", "10 mail.example.org.") in texts
    register_host(d, "mail.example.org", "127.0.0.3")           # idempotent
    assert len([r for r in d.records() if r.rtype == "MX"]) == 1
    unregister_host(d, "mail.example.org", "127.0.0.3")
    assert not [r for r in d.records() if r.rtype in ("A", "PTR", "MX")]


def test_zone_serial_grows_and_cname_rules():
    z = Zone("example.org")
    s0 = z.serial
    z.add("www.example.org", "CNAME", "mail.example.org")
    assert z.serial == s0 + 1
    with pytest.raises(ValueError, match="CNAME"):
        z.add("www.example.org", "A", "127.0.0.9")
    with pytest.raises(ValueError, match="not in zone"):
        z.add("mail.example.net", "A", "127.0.0.9")
    assert z.remove("www.example.org") == 1
    assert z.remove("www.example.org") == 0
    assert "$ORIGIN example.org." in z.to_text()


def test_remove_one_value_keeps_the_others():
    d = LabDNS()
    d.add("example.org", "MX", "10 a.example.org")
    d.add("example.org", "MX", "20 b.example.org")
    assert d.remove("example.org", "MX", "10 a.example.org.") == 1
    assert [r.value for r in d.records("example.org") if r.rtype == "MX"] == ["20 b.example.org."]
    d.set("example.org", "MX", "5 c.example.org")
    assert [r.value for r in d.records("example.org") if r.rtype == "MX"] == ["5 c.example.org."]


def test_unquoted_txt_is_one_string_and_long_ones_are_split(served):
    r = LabResolver(*served.address)
    served.add("spf.example.org", "TXT", "v=spf1 mx -all")
    assert r.txt("spf.example.org") == ["v=spf1 mx -all"]
    key = "v=DKIM1; k=rsa; p=" + "A" * 400
    served.add("s1._domainkey.example.org", "TXT", key)
    assert r.txt("s1._domainkey.example.org") == [key]
    [rec] = served.records("s1._domainkey.example.org")
    assert rec.value.count('" "') == 1                   # two strings of <= 255 bytes
    assert served.remove("spf.example.org", "TXT", "v=spf1 mx -all") == 1


def test_zone_file_is_read_like_bind(served):
    zone = served.load_zone(
        "$ORIGIN example.net.\n"
        "$TTL 600\n"
        "@        IN SOA ns.example.net. root.example.net. ( 7 3600 600 86400 300 )\n"
        "@        IN MX  10 mx1\n"
        "@        IN MX  20 mx2.example.net.\n"
        "mx1      IN A   127.0.0.11\n"
        "mx2  60  IN A   127.0.0.12\n", "example.net")
    assert [r.value.split()[2] for r in zone.records() if r.rtype == "SOA"] != ["7"]
    r = LabResolver(*served.address)
    assert [(h.preference, h.name, h.addresses) for h in r.mx_hosts("example.net")] == [
        (10, "mx1.example.net", ("127.0.0.11",)), (20, "mx2.example.net", ("127.0.0.12",))]
    assert [x.ttl for x in served.records("mx2.example.net")] == [60]
    served.load_zone("@ IN MX 5 only\nonly IN A 127.0.0.13\n", "example.net")
    assert [h.name for h in r.mx_hosts("example.net")] == ["only.example.net"]


@pytest.mark.parametrize("text, line", [
    ("mail IN A 127.0.0.300\n", 1),
    ("$TTL 300\nmail IN A 127.0.0.1\nx IN MX mail\ny IN A 127.0.0.1\n", 3),
    ("x IN BOGUS 1\n", 1),
    ("\n\nx IN A\n\n", 3),
])
def test_zone_file_errors_name_the_line(text, line):
    from labmail.errors import ConfigError
    with pytest.raises(ConfigError) as err:
        LabDNS().load_zone(text, "example.org", path="/etc/bind/db.example.org")
    assert err.value.line == line and err.value.path == "/etc/bind/db.example.org"


def test_bad_record_is_a_clear_error():
    with pytest.raises(Exception):
        LabDNS().add("example.org", "MX", "mail.example.org")     # preference missing
    with pytest.raises(ValueError, match="SOA"):
        LabDNS().add("example.org", "SOA", "a. b. 1 2 3 4 5")


def test_nxdomain_vs_nodata_with_soa_for_negative_caching():
    d = LabDNS()
    register_host(d, "mail.example.org", "127.0.0.3")
    nodata = ask(d, "mail.example.org", "MX")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    nx = ask(d, "nope.example.org", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN and not nx.answer
    for m in (nodata, nx):
        assert m.flags & dns.flags.AA
        soa = m.authority[0]
        assert soa.rdtype == dns.rdatatype.SOA and soa.name.to_text() == "example.org."
        assert soa.ttl <= soa[0].minimum                         # RFC 2308 §3
    # an empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020)
    d.add("a.b.example.org", "A", "127.0.0.5")
    assert ask(d, "b.example.org", "A").rcode() == dns.rcode.NOERROR


def test_names_outside_the_lab_do_not_exist_and_no_recursion():
    d = LabDNS()
    d.add("mail.example.org", "A", "127.0.0.3")
    m = ask(d, "www.python.org", "A")
    assert m.rcode() == dns.rcode.NXDOMAIN and m.authority[0].name.to_text() == "."
    assert not m.flags & dns.flags.RA
    assert [z.origin.to_text() for z in d.zones.values()] == ["example.org."]


def test_cname_is_followed_inside_the_lab():
    d = LabDNS()
    d.add("mail.example.org", "A", "127.0.0.3")
    d.add("www.example.org", "CNAME", "mail.example.org")
    m = ask(d, "www.example.org", "A")
    assert [dns.rdatatype.to_text(r.rdtype) for r in m.answer] == ["CNAME", "A"]
    d.add("dangling.example.org", "CNAME", "gone.example.org")
    assert ask(d, "dangling.example.org", "A").rcode() == dns.rcode.NXDOMAIN


def test_mx_answer_carries_addresses_in_additional():
    d = LabDNS()
    register_host(d, "mail.example.org", "127.0.0.3")
    m = ask(d, "example.org", "MX")
    assert [rr.to_text() for rr in m.additional if rr.rdtype == dns.rdatatype.A] == \
        ["mail.example.org. 300 IN A 127.0.0.3"]


def test_large_udp_answer_is_truncated_and_tcp_gets_all():
    d = LabDNS()
    for i in range(40):
        d.add("big.example.org", "TXT", f'"{"x" * 40} {i}"')
    q = dns.message.make_query("big.example.org", "TXT", use_edns=False)
    m = dns.message.from_wire(d.handle(q.to_wire(), transport="UDP"))
    assert m.flags & dns.flags.TC and not m.answer               # RFC 2181 §9
    m = dns.message.from_wire(d.handle(q.to_wire(), transport="TCP"))
    assert sum(len(r) for r in m.answer) == 40


def test_other_opcodes_and_garbage():
    d = LabDNS()
    q = dns.message.make_query("example.org", "A")
    q.set_opcode(dns.opcode.NOTIFY)
    assert dns.message.from_wire(d.handle(q.to_wire())).rcode() == dns.rcode.NOTIMP
    assert d.handle(b"\x00\x01") is None
    reply = d.handle(b"\x12\x34\x01\x00\x00\x01" + b"\xff" * 10)
    assert reply[:2] == b"\x12\x34" and reply[3] & 0x0F == dns.rcode.FORMERR


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_handle_never_raises_on_arbitrary_packets(data):
    reply = LabDNS().handle(data)
    assert reply is None or reply[:2] == data[:2]


# -- over the network --------------------------------------------------------------------
def test_query_over_udp_and_tcp(served):
    udp = served.query("example.org", "MX")
    tcp = served.query("example.org", "MX", tcp=True)
    assert udp.transport == "UDP" and tcp.transport == "TCP"
    assert udp.answer == tcp.answer == ["10 mail.example.org.", "20 backup.example.org."]
    assert udp.status == "NOERROR"
    assert served.query("nope.example.org").status == "NXDOMAIN"
    text = str(udp)
    assert ";; ANSWER SECTION:" in text and "status: NOERROR" in text
    assert "example.org.\t\t300\tIN\tMX\t10 mail.example.org." in text
    log = list(served.query_log)
    assert {e.transport for e in log} >= {"UDP", "TCP"}


def d_port(result):
    return result.server[1]


def test_query_output_can_be_made_repeatable(loop):
    from labmail.clock import Clock
    outputs = []
    for _ in range(2):
        d = LabDNS(clock=Clock.fixed("2026-11-27T09:00:00+00:00"))
        register_host(d, "mail.example.org", "127.0.0.3")
        asyncio.run_coroutine_threadsafe(d.start("127.0.0.1", 0), loop).result(5)
        try:
            result = d.query("example.org", "MX")
        finally:
            asyncio.run_coroutine_threadsafe(d.stop(), loop).result(5)
        assert ";; WHEN: Fri Nov 27 09:00:00 UTC 2026" in str(result)
        outputs.append(result.format(stats=False).replace(f"-p {d_port(result)} ", ""))
    assert outputs[0] == outputs[1] and "Query time" not in outputs[0]


def test_several_queries_on_one_tcp_connection(served):
    import socket
    ip, port = served.address
    with socket.create_connection((ip, port), timeout=3) as sock:
        for name in ("mail.example.org", "backup.example.org"):
            q = dns.message.make_query(name, "A")
            dns.query.send_tcp(sock, q)
            r, _ = dns.query.receive_tcp(sock, expiration=None)
            assert r.id == q.id and r.answer                      # RFC 7766 §6.2.1


def test_zone_transfer_over_tcp_only(served):
    import dns.zone
    ip, port = served.address
    z = dns.zone.from_xfr(dns.query.xfr(ip, "example.org", port=port, timeout=3))
    names = {n.to_text() for n in z.nodes}
    assert {"@", "mail", "backup", "www"} <= names
    q = dns.message.make_query("example.org", "AXFR")
    assert dns.query.udp(q, ip, port=port, timeout=3).rcode() == dns.rcode.NOTIMP
    q = dns.message.make_query("nope.example.org", "AXFR")
    assert dns.query.tcp(q, ip, port=port, timeout=3).rcode() == dns.rcode.NOTAUTH


def test_dynamic_update_rfc2136(served):
    import dns.update
    ip, port = served.address
    r = LabResolver(*served.address)

    def send(u, tcp=False):
        return (dns.query.tcp if tcp else dns.query.udp)(u, ip, port=port, timeout=3).rcode()

    u = dns.update.UpdateMessage("example.org")
    u.absent("_acme-challenge.mail.example.org.", "TXT")       # prerequisite holds
    u.add("_acme-challenge.mail.example.org.", 60, "TXT", '"token-value"')
    assert send(u) == dns.rcode.NOERROR
    assert r.txt("_acme-challenge.mail.example.org") == ["token-value"]
    u = dns.update.UpdateMessage("example.org")
    u.absent("_acme-challenge.mail.example.org.", "TXT")       # now it fails: all or nothing
    u.add("other.example.org.", 60, "A", "127.0.0.9")
    assert send(u, tcp=True) == dns.rcode.YXRRSET
    assert r.addresses("other.example.org") == []
    u = dns.update.UpdateMessage("example.org")
    u.present("mail.example.org.", "A", "127.0.0.3")          # value-dependent prerequisite
    u.delete("_acme-challenge.mail.example.org.", "TXT", '"token-value"')
    u.delete("www.example.org.")
    assert send(u) == dns.rcode.NOERROR
    assert r.txt("_acme-challenge.mail.example.org") == [] and r.addresses("www.example.org") == []
    u = dns.update.UpdateMessage("example.net")                # not a zone of the lab
    assert send(u) == dns.rcode.NOTAUTH
    u = dns.update.UpdateMessage("example.org")
    u.add("mail.example.net.", 60, "A", "127.0.0.9")
    assert send(u) == dns.rcode.NOTZONE
    assert [e.qtype for e in served.query_log][-1] == "UPDATE"


@pytest.mark.realtool
def test_nsupdate_publishes_a_challenge(served):
    nsupdate = shutil.which("nsupdate")
    if nsupdate is None:
        pytest.skip("nsupdate is not installed; apt-get install bind9-dnsutils")
    ip, port = served.address
    script = (f"server {ip} {port}\nzone example.org\n"
              "update add _acme-challenge.mail.example.org. 60 TXT \"from-nsupdate\"\nsend\n")
    run = subprocess.run([nsupdate], input=script, capture_output=True, text=True, timeout=20)
    assert run.returncode == 0, run.stderr
    assert LabResolver(ip, port).txt("_acme-challenge.mail.example.org") == ["from-nsupdate"]


def test_unknown_edns_version_is_badvers():
    q = dns.message.make_query("example.org", "A", use_edns=1)
    m = dns.message.from_wire(LabDNS().handle(q.to_wire()))
    assert m.rcode() == dns.rcode.BADVERS


def test_records_changed_in_a_lesson_are_seen_at_once(served):
    r = LabResolver(*served.address)
    assert r.addresses("new.example.org") == []
    served.add("new.example.org", "A", "127.0.0.9")
    assert r.addresses("new.example.org") == ["127.0.0.9"]
    served.remove("new.example.org")
    assert r.addresses("new.example.org") == []


def test_mx_hosts_sorted_by_preference_then_name(served):
    served.add("example.com", "MX", "30 c.example.com")
    served.add("example.com", "MX", "10 z.example.com")
    served.add("example.com", "MX", "20 b.example.com")
    served.add("example.com", "MX", "10 a.example.com")
    served.add("a.example.com", "A", "127.0.0.7")
    hosts = LabResolver(*served.address).mx_hosts("example.com")
    assert [(h.preference, h.name) for h in hosts] == [
        (10, "a.example.com"), (10, "z.example.com"), (20, "b.example.com"), (30, "c.example.com")]
    assert hosts[0].addresses == ("127.0.0.7",) and hosts[1].addresses == ()
    assert hosts[0].error is None and hosts[1].error.reason == HOST_NOT_FOUND


def test_async_resolver_agrees(served):
    r = LabResolver(*served.address)

    async def both():
        return (await r.amx_hosts("example.org"), await r.aptr("127.0.0.3"),
                await r.atxt("example.org"))

    assert asyncio.run(both()) == (r.mx_hosts("example.org"), r.ptr("127.0.0.3"),
                                   r.txt("example.org"))
    assert r.ptr("127.0.0.3") == ["mail.example.org"]
    assert r.txt("example.org") == ["v=spf1 mx -all"]


def test_no_mx_falls_back_to_a_record(served):
    served.add("plain.example.net", "A", "127.0.0.8")
    hosts = LabResolver(*served.address).mx_hosts("plain.example.net")
    assert len(hosts) == 1 and hosts[0].implicit                  # RFC 5321 §5.1
    assert (hosts[0].preference, hosts[0].name, hosts[0].addresses) == \
        (0, "plain.example.net", ("127.0.0.8",))


def test_mx_failures_have_postfix_reasons(served):
    r = LabResolver(*served.address)
    # as Postfix: MX not found -> the A lookup's error is the reason (type=A)
    with pytest.raises(DNSLookupError) as nx:
        r.mx_hosts("nope.example.org")
    assert nx.value.permanent and nx.value.reason == HOST_NOT_FOUND and nx.value.dsn == "5.4.4"
    assert str(nx.value) == ("Host or domain name not found. Name service error for "
                             "name=nope.example.org type=A: Host not found")
    with pytest.raises(DNSLookupError, match="name=gmail.com type=A: Host not found$"):
        r.mx_hosts("gmail.com")                              # not on the lab's internet
    served.add("notmail.example.org", "TXT", '"no mail here"')
    with pytest.raises(DNSLookupError) as nodata:
        r.mx_hosts("notmail.example.org")
    assert nodata.value.reason == NO_DATA and nodata.value.rtype == "A"
    served.add("nullmx.example.net", "MX", "0 .")
    with pytest.raises(DNSLookupError, match=r"^Domain nullmx.example.net does not accept mail "
                                             r"\(nullMX\)$") as null:
        r.mx_hosts("nullmx.example.net")
    assert null.value.permanent and null.value.dsn == "5.1.0"
    served.add("noaddr.example.net", "MX", "10 ghost.example.net")
    with pytest.raises(DNSLookupError, match="name=ghost.example.net type=A: Host not found"):
        r.mx_hosts("noaddr.example.net")     # no MX host has a valid address record


def test_server_down_is_a_temporary_failure(loop):
    d = LabDNS()
    d.add("example.org", "MX", "10 mail.example.org")
    ip, port = asyncio.run_coroutine_threadsafe(d.start("127.0.0.1", 0), loop).result(5)
    asyncio.run_coroutine_threadsafe(d.stop(), loop).result(5)
    with pytest.raises(DNSLookupError) as err:
        LabResolver(ip, port, timeout=0.3).mx_hosts("example.org")
    assert not err.value.permanent and err.value.reason == TRY_AGAIN
    assert err.value.dsn == "4.4.3" and "type=MX: Host not found, try again" in str(err.value)


def test_dnsbl_lookup(served):
    served.add("2.0.0.127.zen.spamhaus.lab", "A", "127.0.0.2")
    served.add("2.0.0.127.zen.spamhaus.lab", "TXT", '"Listed for the lesson"')
    r = LabResolver(*served.address)
    assert dnsbl_lookup("127.0.0.2", "zen.spamhaus.lab", resolver=r) == \
        (True, ["127.0.0.2"], ["Listed for the lesson"])
    assert r.dnsbl_lookup("127.0.0.1", "zen.spamhaus.lab") == (False, [], [])
    assert asyncio.run(r.adnsbl_lookup("127.0.0.2", "zen.spamhaus.lab"))[0] is True
    assert dnsbl_name("2001:db8::1", "v6.bl.lab").endswith("8.b.d.0.1.0.0.2.v6.bl.lab.")


def test_dnsbl_listing_helpers(served):
    from labmail.net.dns import dnsbl_delist, dnsbl_list
    r = LabResolver(*served.address)
    name = dnsbl_list(served, "bl.lab.test", "127.0.0.5", reason="Listed: see https://bl.lab.test")
    assert name == "5.0.0.127.bl.lab.test." and "bl.lab.test." in \
        [z.origin.to_text() for z in served.zones.values()]
    assert r.dnsbl_lookup("127.0.0.5", "bl.lab.test") == (
        True, ["127.0.0.2"], ["Listed: see https://bl.lab.test"])
    assert dnsbl_delist(served, "bl.lab.test", "127.0.0.5") == 2
    assert r.dnsbl_lookup("127.0.0.5", "bl.lab.test") == (False, [], [])


# -- commands and real tools ---------------------------------------------------------
def test_labmail_dig_command(served, capsys):
    from labmail.cli import main
    ip, port = served.address
    assert main(["dig", f"@{ip}", "-p", str(port), "example.org", "MX"]) == 0
    out = capsys.readouterr().out
    assert "status: NOERROR" in out and "10 mail.example.org." in out
    assert main(["dig", "-p", str(port), "-x", "127.0.0.3", "+short", f"@{ip}"]) == 0
    assert capsys.readouterr().out == "mail.example.org.\n"
    assert main(["dig", f"@{ip}", "-p", str(port), "+tcp", "nope.example.org"]) == 0
    assert "status: NXDOMAIN" in capsys.readouterr().out


def _sections(text: str) -> list:
    """The comparable part of dig's output: status, flags and the record sections."""
    keep, on = [], False
    for line in text.splitlines():
        if line.startswith(";; ->>HEADER<<-"):
            keep.append(line.split(", id:")[0])
        elif line.startswith(";; flags:"):
            keep.append(line)
        elif line.endswith("SECTION:") and "QUESTION" not in line:
            on = True
            keep.append(line)
        elif on and not line:
            on = False
        elif on:
            keep.append(line)
    return keep


@pytest.mark.realtool
def test_labmail_dig_axfr_lists_like_real_dig(served, capsys):
    dig = shutil.which("dig")
    if dig is None:
        pytest.skip("dig is not installed; apt-get install bind9-dnsutils")
    from labmail.cli import main
    ip, port = served.address
    real = subprocess.run([dig, f"@{ip}", "-p", str(port), "axfr", "example.org"],
                          capture_output=True, text=True, timeout=10).stdout
    assert main(["dig", f"@{ip}", "-p", str(port), "axfr", "example.org"]) == 0
    ours = capsys.readouterr().out
    records = lambda t: [x for x in t.splitlines() if x and not x.startswith(";")]  # noqa: E731
    assert records(ours) == records(real) and len(records(ours)) >= 8
    size = lambda t: [x.split(" (")[0] for x in t.splitlines() if "XFR size" in x]  # noqa: E731
    assert size(ours) == size(real)


@pytest.mark.realtool
@pytest.mark.parametrize("args", [["example.org", "MX"], ["nope.example.org"],
                                  ["mail.example.org", "MX"], ["www.example.org"]])
def test_labmail_dig_matches_real_dig(served, capsys, args):
    dig = shutil.which("dig")
    if dig is None:
        pytest.skip("dig is not installed; apt-get install bind9-dnsutils")
    from labmail.cli import main
    ip, port = served.address
    real = subprocess.run([dig, f"@{ip}", "-p", str(port), *args], capture_output=True,
                          text=True, timeout=10).stdout
    main(["dig", f"@{ip}", "-p", str(port), *args])
    ours = capsys.readouterr().out
    assert _sections(ours) == _sections(real)


@pytest.mark.realtool
def test_real_dig_and_host_over_udp_and_tcp(served):
    dig, host = shutil.which("dig"), shutil.which("host")
    if dig is None or host is None:
        pytest.skip("dig/host are not installed; apt-get install bind9-dnsutils")
    ip, port = served.address
    run = lambda *a: subprocess.run(a, capture_output=True, text=True, timeout=10).stdout  # noqa
    assert run(dig, f"@{ip}", "-p", str(port), "+short", "example.org", "MX") == \
        "10 mail.example.org.\n20 backup.example.org.\n"
    assert run(dig, f"@{ip}", "-p", str(port), "+tcp", "+short", "-x", "127.0.0.3") == \
        "mail.example.org.\n"
    out = run(host, "-p", str(port), "-t", "MX", "example.org", ip)
    assert "example.org mail is handled by 10 mail.example.org." in out
    out = run(host, "-p", str(port), "nope.example.org", ip)
    assert "NXDOMAIN" in out
    out = run(dig, f"@{ip}", "-p", str(port), "axfr", "example.org")
    assert "mail.example.org.\t300\tIN\tA\t127.0.0.3" in out and out.count("\tSOA\t") == 2


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["127.0.0.1", "127.0.0.53"]),
       st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){1,3}", fullmatch=True),
       st.sampled_from(["A", "MX", "TXT", "PTR", "AAAA", "SOA"]),
       st.lists(st.sampled_from(["+short", "+tcp"]), max_size=2, unique=True),
       st.permutations([0, 1, 2, 3]))
def test_dig_words_in_any_order(server, name, rtype, opts, order):
    from labmail.commands.dig import parse_words
    words = [f"@{server}", name, rtype, *opts]
    # dig lets @server and +options go anywhere; the type follows the name
    shuffled = [words[i] for i in order if i < len(words) and i not in (1, 2)]
    args = shuffled[:1] + [name, rtype] + shuffled[1:]
    got = parse_words(args)
    assert got == (server, name, rtype, [o[1:] for o in args if o.startswith("+")])


_LABELS = st.sampled_from(["mail", "www", "a", "b", "mx1"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(_LABELS, min_size=1, max_size=2), st.integers(1, 9),
                          st.booleans()), max_size=12),
       st.lists(_LABELS, min_size=1, max_size=2))
def test_answers_agree_with_a_model_of_the_zone(edits, asked):
    """Random adds and removes, then one question: the answer is what the data says."""
    d = LabDNS()
    d.zone("example.org")
    model = {}
    for labels, octet, add in edits:
        name = ".".join(labels) + ".example.org."
        if add:
            d.add(name, "A", f"127.0.0.{octet}")
            model.setdefault(name, set()).add(f"127.0.0.{octet}")
        else:
            d.remove(name, "A")
            model.pop(name, None)
    qname = ".".join(asked) + ".example.org."
    m = ask(d, qname, "A")
    values = {rd.to_text() for rrset in m.answer for rd in rrset}
    assert values == model.get(qname, set())
    exists = any(n == qname or n.endswith("." + qname) for n in model if model[n])
    assert m.rcode() == (dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN)
    assert ask(d, qname, "MX").rcode() == m.rcode()           # NODATA for other types


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "delete_rrset", "delete_rr", "delete_name",
                                           "present", "absent"]),
                          _LABELS, st.sampled_from(["A", "TXT", "MX"])), max_size=6))
def test_any_update_is_answered_and_keeps_the_zone_consistent(ops):
    import dns.update
    d = LabDNS()
    register_host(d, "mail.example.org", "127.0.0.3")
    u = dns.update.UpdateMessage("example.org")
    value = {"A": "127.0.0.9", "TXT": '"t"', "MX": "10 mail.example.org."}
    for op, label, rtype in ops:
        name = dns.name.from_text(f"{label}.example.org")
        if op == "add":
            u.add(name, 60, rtype, value[rtype])
        elif op == "delete_rrset":
            u.delete(name, rtype)
        elif op == "delete_rr":
            u.delete(name, rtype, value[rtype])
        elif op == "delete_name":
            u.delete(name)
        elif op == "present":
            u.present(name, rtype)
        else:
            u.absent(name, rtype)
    reply = dns.message.from_wire(d.handle(u.to_wire()))
    assert reply.id == u.id and reply.opcode() == dns.opcode.UPDATE
    soa = [r for r in d.records("example.org") if r.rtype == "SOA"]
    assert len(soa) == 1                               # the SOA survives every update
    for rec in d.records():                           # and the data is still servable
        assert ask(d, rec.name, rec.rtype).rcode() == dns.rcode.NOERROR
