"""The firewall's outputs next to the real iptables and firewalld's service files.

iptables runs in a fresh network namespace (``unshare -n``), so the
machine's own firewall is never touched.  Needs root and iptables.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labmail.firewall import SERVICE_PORTS, Ruleset
from labmail.firewall.iptables import run

from test_firewall import COMMANDS

pytestmark = pytest.mark.realtool


def _real(commands, listing):
    if shutil.which("iptables") is None:
        pytest.skip("iptables is not installed; apt-get install iptables")
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to run iptables in its own network namespace")
    script = " && ".join(commands) + " && " + listing
    proc = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True,
                          text=True, timeout=30)
    if proc.returncode != 0 and "Permission denied" in proc.stderr + proc.stdout:
        pytest.skip(f"no network namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("listing", ["iptables -L -n", "iptables -L -n --line-numbers",
                                     "iptables -L INPUT -n -v", "iptables -S",
                                     "iptables -L FORWARD", "iptables -L"])
def test_listings_as_real_iptables(listing):
    real = _real(COMMANDS, listing)
    rs = Ruleset()
    for cmd in COMMANDS:
        assert run(rs, cmd).rc == 0
    assert run(rs, listing).stdout == real


def test_save_as_real_iptables_save():
    real = _real(COMMANDS, "iptables-save")
    rs = Ruleset()
    for cmd in COMMANDS:
        run(rs, cmd)
    strip = re.compile(r"^# .*\n", re.M)
    assert strip.sub("", rs.save()) == strip.sub("", real)


def test_service_ports_as_firewalld_service_files():
    root = Path("/usr/lib/firewalld/services")
    if not root.is_dir():
        pytest.skip("firewalld is not installed; apt-get install firewalld")
    for name, ports in SERVICE_PORTS.items():
        tree = ET.parse(root / f"{name}.xml")
        real = tuple((int(p.get("port")), p.get("protocol")) for p in tree.iter("port"))
        assert real == ports, name


@pytest.mark.parametrize("listing", ["iptables -L INPUT -n", "iptables -L INPUT", "iptables -S"])
def test_log_rules_as_real_iptables(listing):
    from test_firewall_log import LOG_COMMANDS
    real = _real(LOG_COMMANDS, listing)
    rs = Ruleset()
    for cmd in LOG_COMMANDS:
        assert run(rs, cmd).rc == 0
    assert run(rs, listing).stdout == real
