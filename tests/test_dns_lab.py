"""The lab DNS as the Lab runs it: hosts registered on start, dig against it."""
from __future__ import annotations

import shutil
import subprocess

import pytest


def test_hosts_are_published_when_the_lab_starts(lab):
    lab.add_host("mail.example.com")
    lab.add_host("mail.example.org")
    lab.start()
    assert lab.dns.query("example.com", "MX").answer == ["10 mail.example.com."]
    assert lab.dns.query("example.org", "MX", tcp=True).answer == ["10 mail.example.org."]
    ip = lab.host("mail.example.org").ip
    assert lab.resolver.ptr(ip) == ["mail.example.org"]
    hosts = lab.resolver.mx_hosts("example.org")
    assert [(h.name, h.addresses) for h in hosts] == [("mail.example.org", (ip,))]


def test_lessons_change_records_and_see_it(lab):
    lab.add_host("mail.example.com")
    lab.start()
    lab.dns.add("example.com", "MX", "5 backup.example.com")
    assert lab.dns.query("example.com", "MX").answer == ["5 backup.example.com.",
                                                         "10 mail.example.com."]
    assert [h.preference for h in lab.resolver.mx_hosts("example.com")] == [5, 10]
    lab.dns.remove("example.com", "MX", "5 backup.example.com")
    assert lab.dns.query("example.com", "MX").answer == ["10 mail.example.com."]


def test_labmail_dig_against_the_lab(lab, capsys):
    from labmail.cli import main
    lab.add_host("mail.example.com")
    lab.start()
    ip, port = lab.dns.address
    assert main(["dig", f"@{ip}", "-p", str(port), "+short", "example.com", "MX"]) == 0
    assert capsys.readouterr().out == "10 mail.example.com.\n"


@pytest.mark.realtool
def test_real_dig_against_the_lab(lab):
    dig = shutil.which("dig")
    if dig is None:
        pytest.skip("dig is not installed; apt-get install bind9-dnsutils")
    host = lab.add_host("mail.example.com")
    lab.start()
    ip, port = lab.dns.address
    out = subprocess.run([dig, f"@{ip}", "-p", str(port), "+short", "-x", host.ip],
                         capture_output=True, text=True, timeout=10).stdout
    assert out == "mail.example.com.\n"
