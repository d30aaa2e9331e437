"""-j LOG: parsed, listed and saved as iptables 1.8.9 does; lines in kern.log, never the maillog."""
from __future__ import annotations

import socket

import pytest

from labmail.firewall import Firewall, Ruleset
from labmail.firewall.iptables import run

LOG_COMMANDS = [
    'iptables -A INPUT -p tcp --dport 110 -j LOG --log-prefix "fw-drop: "',
    "iptables -A INPUT -j LOG",
    "iptables -A INPUT -p tcp --dport 25 -j LOG --log-level warning --log-prefix smtp",
    "iptables -A INPUT -p tcp --dport 26 -j LOG --log-level 6",
    "iptables -A INPUT -j LOG --log-level emerg --log-prefix x",
    "iptables -A INPUT -p tcp --dport 143 -j LOG --log-prefix \"it's\"",
    "iptables -A INPUT -j LOG --log-prefix 0123456789012345678901234567890123",
]


def ruleset(commands=LOG_COMMANDS) -> Ruleset:
    rs = Ruleset()
    for cmd in commands:
        assert run(rs, cmd).rc == 0, cmd
    return rs


def test_listing_and_save():
    rs = ruleset()
    listing = run(rs, "iptables -L INPUT -n").stdout.splitlines()
    assert listing[2].endswith('tcp dpt:110 LOG flags 0 level 4 prefix "fw-drop: "')
    assert listing[3].endswith("0.0.0.0/0            LOG flags 0 level 4")
    assert listing[5].endswith("tcp dpt:26 LOG flags 0 level 6")
    names = run(rs, "iptables -L INPUT").stdout.splitlines()
    assert names[2].endswith('tcp dpt:pop3 LOG level warn prefix "fw-drop: "')
    assert names[5].endswith("tcp dpt:26 LOG level info")
    saved = run(rs, "iptables -S INPUT").stdout.splitlines()
    assert saved[1:] == [
        '-A INPUT -p tcp -m tcp --dport 110 -j LOG --log-prefix "fw-drop: "',
        "-A INPUT -j LOG",
        "-A INPUT -p tcp -m tcp --dport 25 -j LOG --log-prefix smtp",
        "-A INPUT -p tcp -m tcp --dport 26 -j LOG --log-level 6",
        "-A INPUT -j LOG --log-prefix x --log-level 0",
        "-A INPUT -p tcp -m tcp --dport 143 -j LOG --log-prefix \"it\\'s\"",
        "-A INPUT -j LOG --log-prefix 01234567890123456789012345678",
    ]
    again = Ruleset.restore(rs.save())
    assert again.rules_text() == rs.rules_text()


@pytest.mark.parametrize("command, message", [
    ("iptables -A INPUT -j LOG --log-level bogus", 'log level "bogus" unknown'),
    ("iptables -A INPUT -j ACCEPT --log-prefix x", 'unknown option "--log-prefix"'),
    ("iptables -A INPUT --log-prefix x -j LOG", 'unknown option "--log-prefix"'),
    ("iptables -A INPUT -j LOG --log-level 8", 'log level "8" unknown'),
])
def test_refused_as_iptables_refuses(command, message):
    out = run(Ruleset(), command)
    assert out.rc == 2 and message in out.stderr


def test_log_is_not_a_verdict():
    fw = Firewall()
    for cmd in ("iptables -A INPUT -p tcp --dport 465 -j LOG --log-prefix a",
                "iptables -A INPUT -j LOG --log-prefix b", "iptables -P INPUT DROP",
                "iptables -I INPUT 1 -p tcp --dport 25 -j ACCEPT"):
        fw.run(cmd)
    lines = []
    fw.kernel_log = lines.append
    assert fw.connection(25, "192.0.2.1", 40000) == "ACCEPT" and lines == []
    assert fw.connection(465, "192.0.2.1", 40001) == "DROP"
    assert [ln.split("IN=")[0] for ln in lines] == ["a", "b"]
    assert "SRC=192.0.2.1 DST=127.0.0.1 " in lines[0] and " SPT=40001 DPT=465 " in lines[0]
    assert fw.decide(465) == "DROP" and len(lines) == 2          # decide() logs nothing


def test_a_host_logs_to_kern_log_not_the_maillog(host):
    fw = host.firewall
    fw.run("iptables -A INPUT -p tcp --dport 995 -j ACCEPT")
    fw.run('iptables -A INPUT -j LOG --log-prefix "INPUT-drop: "')
    fw.run("iptables -P INPUT DROP")
    with socket.create_connection(tuple(host.endpoints["pop3"]), timeout=5) as s:
        s.settimeout(0.3)
        with pytest.raises((socket.timeout, TimeoutError)):
            s.recv(10)
        port = s.getsockname()[1]
    kern = host.path("/var/log/kern.log").read_text().splitlines()
    assert len(kern) == 1
    assert kern[0].startswith("Nov 27 09:00:00 mail kernel: INPUT-drop: IN=eth0 OUT= MAC=")
    assert f"SRC=127.0.0.1 DST={host.ip} " in kern[0]
    assert f" PROTO=TCP SPT={port} DPT=110 " in kern[0]
    assert "INPUT-drop" not in host.maillog.read()
