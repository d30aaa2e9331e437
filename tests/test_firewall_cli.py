"""labmail iptables / firewall-cmd / systemctl / netfilter-persistent on a running lab host.

The commands work on the host's running firewall through its state directory,
so a lab running in another process obeys them at once.
"""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from labmail.cli import main


def greeting(addr, timeout=0.5) -> bytes:
    with socket.create_connection(tuple(addr), timeout=timeout) as s:
        return s.recv(100)


def labmail(capsys, *words) -> tuple:
    rc = main(list(words))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_iptables_from_a_terminal_is_obeyed_by_the_running_host(host, capsys):
    state = str(host.state_dir)
    assert labmail(capsys, "iptables", "--state", state, "-P", "INPUT", "DROP")[0] == 0
    assert host.firewall.decide(110) == "DROP"
    with pytest.raises((socket.timeout, TimeoutError)):
        greeting(host.endpoints["pop3"])
    labmail(capsys, "iptables", "--state", state, "-A", "INPUT", "-p", "tcp",
            "--dport", "110", "-j", "ACCEPT")
    assert greeting(host.endpoints["pop3"], timeout=5).startswith(b"+OK")
    # and the other way round: what the notebook typed, the terminal lists
    host.firewall.run("iptables -I INPUT 1 -i lo -j ACCEPT")
    rc, out, _ = labmail(capsys, "iptables", "--state", state, "-S", "INPUT")
    assert out.splitlines() == ["-P INPUT DROP", "-A INPUT -i lo -j ACCEPT",
                                "-A INPUT -p tcp -m tcp --dport 110 -j ACCEPT"]
    rc, out, err = labmail(capsys, "iptables", "--state", state, "-A", "INPUT", "-j", "LOGX")
    assert rc == 2 and "Chain 'LOGX' does not exist" in err


def test_saved_from_a_terminal_survives_a_restart(host, capsys):
    state = str(host.state_dir)
    labmail(capsys, "iptables", "--state", state, "-A", "INPUT", "-p", "tcp", "--dport", "143",
            "-j", "REJECT")
    rc, out, _ = labmail(capsys, "netfilter-persistent", "--state", state, "save")
    assert rc == 0 and "15-ip4tables save" in out
    labmail(capsys, "iptables", "--state", state, "-A", "INPUT", "-p", "tcp", "--dport", "110",
            "-j", "REJECT")                                    # not saved
    host.stop()
    host.start()
    assert host.firewall.decide(143) == "REJECT" and host.firewall.decide(110) == "ACCEPT"
    rc, out, _ = labmail(capsys, "iptables", "--state", state, "-L", "INPUT", "-n")
    assert "dpt:143" in out and "dpt:110" not in out          # the terminal sees the reboot


def test_firewalld_from_another_process(host):
    def run(*words):
        return subprocess.run([sys.executable, "-m", "labmail", *words], capture_output=True,
                              text=True, timeout=60, env={"LABMAIL_STATE": str(host.state_dir),
                                                          "PATH": "/usr/bin:/bin"})
    assert run("systemctl", "enable", "--now", "firewalld").returncode == 0
    assert host.firewall.decide(110) == "REJECT"          # decide() looks at what runs now
    assert host.firewall.firewalld.running
    with pytest.raises((ConnectionResetError, ConnectionRefusedError)):
        greeting(host.endpoints["pop3"], timeout=5)
    proc = run("firewall-cmd", "--add-service=pop3")
    assert (proc.returncode, proc.stdout) == (0, "success\n")
    assert greeting(host.endpoints["pop3"], timeout=5).startswith(b"+OK")
    assert "services: dhcpv6-client pop3 ssh" in run("firewall-cmd", "--list-all").stdout


def test_a_directory_that_is_no_host(tmp_path, capsys):
    rc, _, err = labmail(capsys, "iptables", "--state", str(tmp_path), "-L")
    assert rc == 1 and "not a lab host's state directory" in err
