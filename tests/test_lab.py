"""The lab runtime: start, stop, addresses, ports, state layout."""
from __future__ import annotations

import smtplib
import socket

import pytest

import labmail


def _free_base() -> int:
    """A port base whose SMTP port (base+25) is free on 127.0.0.2."""
    for base in range(20000, 60000, 977):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.2", base + 25))
                return base
            except OSError:
                continue
    raise RuntimeError("no free port base")


def test_start_returns_listening_and_stop_releases(tmp_path):
    base = _free_base()
    lab = labmail.Lab(port_base=base, state_dir=tmp_path)
    host = lab.add_host("mail.example.com", users={"alice": "secret"})
    lab.start()
    ip, port = host.endpoints["smtp"]
    assert port == base + 25
    with smtplib.SMTP(ip, port) as s:
        assert s.noop()[0] == 250
    lab.stop()
    with pytest.raises(OSError):
        socket.create_connection((ip, port), timeout=1)
    # the same ports can be taken again at once
    lab.start()
    assert host.endpoints["smtp"] == (ip, port)
    with smtplib.SMTP(ip, port) as s:
        assert s.noop()[0] == 250
    lab.stop()


def test_context_manager_starts_and_stops(tmp_path):
    with labmail.Lab(ports="auto", state_dir=tmp_path) as lab:
        host = lab.add_host("mail.example.com")
        assert host.running
        ip, port = host.endpoints["smtp"]
    assert not host.running
    with pytest.raises(OSError):
        socket.create_connection((ip, port), timeout=1)


def test_hosts_get_their_own_loopback_addresses(lab):
    a = lab.add_host("mail.example.com")
    b = lab.add_host("mail.example.org")
    lab.start()
    assert a.ip != b.ip
    assert a.endpoints["smtp"][0] == a.ip
    assert lab.resolver.ptr(a.ip) == ["mail.example.com"]
    assert lab.resolver.addresses("mail.example.org") == [b.ip]
    assert [(m.preference, m.name) for m in lab.resolver.mx_hosts("example.org")] == \
        [(10, "mail.example.org")]
    assert lab.run(lab.areverse_name(a.ip)) == "mail.example.com"
    assert lab.run(lab.areverse_name("127.0.0.9")) == "unknown"
    assert lab.run(lab.areverse_name("127.0.0.1")) == "localhost"


def test_smtpd_names_clients_by_forward_confirmed_dns(lab):
    a = lab.add_host("mail.example.com", users={"alice": "x"})
    b = lab.add_host("mail.example.org")
    lab.start()
    with smtplib.SMTP(*a.endpoints["smtp"], source_address=(b.ip, 0)) as s:
        s.noop()
    assert f"connect from mail.example.org[{b.ip}]" in a.maillog.read()
    # a PTR whose name does not point back is not believed
    lab.dns.set("mail.example.org", "A", "127.0.0.77")
    with smtplib.SMTP(*a.endpoints["smtp"], source_address=(b.ip, 0)) as s:
        s.noop()
    assert f"connect from unknown[{b.ip}]" in a.maillog.read()


def test_two_auto_labs_at_once_do_not_collide(tmp_path):
    with labmail.Lab(ports="auto", state_dir=tmp_path / "1") as one, \
            labmail.Lab(ports="auto", state_dir=tmp_path / "2") as two:
        h1 = one.add_host("mail.example.com", users={"alice": "x"})
        h2 = two.add_host("mail.example.com", users={"alice": "x"})
        assert h1.endpoints["smtp"] != h2.endpoints["smtp"]
        for h in (h1, h2):
            with smtplib.SMTP(*h.endpoints["smtp"]) as s:
                s.sendmail("x@example.net", ["alice@example.com"], b"Subject: t\r\n\r\nhi\r\n")
        assert len(h1.mailbox("alice")) == 1 and len(h2.mailbox("alice")) == 1


def test_fixed_port_lab_moves_to_a_free_address_when_taken(tmp_path):
    base = _free_base()
    with labmail.Lab(port_base=base, state_dir=tmp_path / "1") as one, \
            labmail.Lab(port_base=base, state_dir=tmp_path / "2") as two:
        h1 = one.add_host("mail.example.com")
        h2 = two.add_host("mail.example.com")
        assert h1.endpoints["smtp"][1] == h2.endpoints["smtp"][1] == base + 25
        assert h1.ip != h2.ip


def test_state_layout_mirrors_a_real_server(host):
    root = host.state_dir
    assert (root / "etc/postfix/main.cf").is_file()
    assert (root / "etc/passwd").read_text().count("alice:x:") == 1
    assert (root / "home/alice/Maildir/new").is_dir()
    assert host.path("/var/log/maillog") == root / "var/log/maillog"
    with pytest.raises(ValueError):
        host.path("/home/../../etc/passwd")


def test_default_main_cf_serves_the_domain(host):
    assert "$myhostname, localhost.$mydomain, localhost, $mydomain" in \
        host.path("/etc/postfix/main.cf").read_text()
    assert host.config.get("mydomain") == "example.com"
    assert "example.com" in host.config.get("mydestination")


def test_port_table_shows_standard_ports(host):
    table = host.port_table()
    assert "smtp" in table and " 25 " in table


def test_add_host_after_start_starts_it(lab):
    lab.add_host("mail.example.com")
    lab.start()
    late = lab.add_host("mail.example.org")
    assert late.running


def test_unknown_host_is_a_clear_error(lab):
    with pytest.raises(labmail.LabError, match="no host"):
        lab.host("nope.example.com")
