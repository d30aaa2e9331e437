"""Firewall checks for the lessons: pass when the ports are right, explain why not otherwise."""
from __future__ import annotations

import pytest

from labmail.course import CheckFailed, check_firewall, check_firewall_saved
from labmail.firewall import Firewall


@pytest.fixture
def fw(tmp_path):
    return Firewall(lambda real: tmp_path / real.lstrip("/"), own_ip="127.0.0.2")


def test_policy_drop_without_rules_names_the_fix(fw):
    fw.run("iptables -P INPUT DROP")
    with pytest.raises(CheckFailed) as e:
        check_firewall(fw)
    assert "SMTP (tcp 25) is DROPPED by iptables' INPUT policy" in str(e.value)
    assert "iptables -A INPUT -p tcp --dport 25 -j ACCEPT" in str(e.value)


def test_a_reject_rule_above_the_accept(fw):
    fw.run("iptables -A INPUT -p tcp --dport 993 -j REJECT")
    fw.run("iptables -A INPUT -p tcp --dport 993 -j ACCEPT")
    with pytest.raises(CheckFailed) as e:
        check_firewall(fw, [993])
    assert "REJECTED by the rule '-A INPUT -p tcp -m tcp --dport 993 -j REJECT" in str(e.value)
    assert "first match wins" in str(e.value)


def test_firewalld_zone_hint_and_pass(fw):
    fw.run("systemctl start firewalld")
    with pytest.raises(CheckFailed) as e:
        check_firewall(fw, [993])
    assert "firewall-cmd --add-service=imaps" in str(e.value)
    for svc in ("smtp", "pop3", "pop3s", "imap", "imaps"):
        fw.run(f"firewall-cmd --add-service={svc}")
    assert str(check_firewall(fw)).startswith("Correct: 192.0.2.1 can reach tcp ports 25, 110")
    with pytest.raises(CheckFailed) as e:
        check_firewall_saved(fw)                  # runtime only: lost on restart
    assert "--permanent" in str(e.value)
    fw.run("firewall-cmd --runtime-to-permanent")
    fw.run("systemctl enable firewalld")
    assert str(check_firewall_saved(fw)).startswith("Correct")


def test_closed_ports_must_stay_closed(fw):
    with pytest.raises(CheckFailed) as e:
        check_firewall(fw, [25], closed_ports=[783])
    assert "spamd (tcp 783) is open to 192.0.2.1" in str(e.value)
    for port in (25,):
        fw.run(f"iptables -A INPUT -p tcp --dport {port} -j ACCEPT")
    fw.run("iptables -P INPUT DROP")
    assert "783 stay closed" in str(check_firewall(fw, [25], closed_ports=[783]))
    with pytest.raises(CheckFailed):
        check_firewall_saved(fw, [25])
    fw.run("netfilter-persistent save")
    check_firewall_saved(fw, [25])
