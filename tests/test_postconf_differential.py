"""labmail postconf against Debian's real postconf(1) on the same main.cf files.

Runs when /usr/sbin/postconf exists (apt-get install postfix); skips otherwise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from labmail.mta.postconf import postconf_dir

DATA = Path(__file__).parent / "data" / "maincf"
CASES = sorted(p.name for p in DATA.glob("*.cf"))
POSTCONF = shutil.which("postconf") or ("/usr/sbin/postconf" if Path("/usr/sbin/postconf").exists() else None)

# Values the lab computes differently on purpose: the machine's interfaces
# (Postfix probes the NICs, the lab uses the host's lab address) and the pid.
MACHINE = {"mynetworks", "process_id", "proxy_read_maps", "smtpd_client_event_limit_exceptions",
           "smtpd_forbid_bare_newline_exclusions", "postscreen_forbid_bare_newline_exclusions"}

NAMES = ["myhostname", "mydomain", "myorigin", "mydestination", "smtpd_banner", "mail_name",
         "relayhost", "mynetworks_style", "smtpd_relay_restrictions", "relay_domains",
         "alias_maps", "alias_database", "home_mailbox", "mailbox_command",
         "recipient_delimiter", "message_size_limit", "inet_interfaces", "inet_protocols",
         "smtputf8_enable", "append_dot_mydomain", "smtpd_helo_required",
         "maximal_queue_lifetime", "bounce_queue_lifetime", "smtpd_tls_key_file",
         "smtp_tls_dane_insecure_mx_policy", "syslog_name", "smtpd_timeout"]

pytestmark = [pytest.mark.realtool,
              pytest.mark.skipif(POSTCONF is None, reason="postconf not installed; apt-get install postfix")]


def _config_dir(tmp_path: Path, case: str) -> Path:
    d = tmp_path / case.replace(".cf", "")
    d.mkdir()
    shutil.copy(DATA / case, d / "main.cf")
    # Per-service parameters come from master.cf: give both programs the stock one.
    for master in ("/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf"):
        if Path(master).exists():
            shutil.copy(master, d / "master.cf")
            break
    # postconf pauses ~2 s on files modified within the last seconds; age them.
    for f in d.iterdir():
        os.utime(f, (1_600_000_000, 1_600_000_000))
    return d


def _real(*args: str) -> str:
    proc = subprocess.run([POSTCONF, *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("case", CASES)
def test_postconf_n(tmp_path, case):
    d = _config_dir(tmp_path, case)
    ours = postconf_dir(str(d), nondefault=True)
    assert ours.status == 0, ours.stderr
    assert ours.stdout == _real("-c", str(d), "-n")


@pytest.mark.parametrize("case", CASES)
def test_postconf_x_h_names(tmp_path, case):
    d = _config_dir(tmp_path, case)
    names = list(NAMES)
    explicit = postconf_dir(str(d), nondefault=True).stdout.splitlines()
    names += [line.split(" =")[0] for line in explicit if line.split(" =")[0] not in names]
    if "mynetworks" not in names:
        names = [n for n in names if n not in MACHINE]
    ours = postconf_dir(str(d), names=names, expand=True, hide_names=True)
    assert ours.status == 0, ours.stderr
    assert ours.stdout == _real("-c", str(d), "-x", "-h", *names)


@pytest.mark.parametrize("case", ["expansion.cf", "unknown.cf", "continuation.cf"])
@pytest.mark.parametrize("flags", [[], ["-x"], ["-d"]])
def test_full_listing(tmp_path, case, flags):
    d = _config_dir(tmp_path, case)
    ours = postconf_dir(str(d), expand="-x" in flags, defaults="-d" in flags)
    real = _real("-c", str(d), *flags)

    def keep(text):
        return [l for l in text.splitlines() if l.split(" =")[0] not in MACHINE]
    assert keep(ours.stdout) == keep(real)


def test_warnings_match_as_a_set(tmp_path):
    d = _config_dir(tmp_path, "unknown.cf")
    shutil.copy(DATA / "overrides.cf", d / "main.cf")
    (d / "main.cf").write_text((DATA / "overrides.cf").read_text() + (DATA / "unknown.cf").read_text())
    os.utime(d / "main.cf", (1_600_000_000, 1_600_000_000))
    ours = postconf_dir(str(d), nondefault=True)
    real = subprocess.run([POSTCONF, "-c", str(d), "-n"], capture_output=True, text=True, timeout=30)
    assert ours.stdout == real.stdout
    # the real program names itself by the path it was started with
    real_err = real.stderr.replace(f"{POSTCONF}:", "postconf:")
    ours_set, real_set = set(ours.stderr.splitlines()), set(real_err.splitlines())
    assert ours_set <= real_set
    # postconf reads main.cf twice and on the second pass also warns about the
    # first occurrence overriding the final value; the lab reports each override once.
    assert all("overriding earlier entry" in w for w in real_set - ours_set)


@pytest.mark.parametrize("case", CASES)
def test_postconf_e_and_X_edit_files_the_same_way(tmp_path, case):
    d = _config_dir(tmp_path, case)
    ours_dir = tmp_path / "ours"
    ours_dir.mkdir()
    shutil.copy(d / "main.cf", ours_dir / "main.cf")
    edits = ["myhostname = edited.example.com", "relayhost=", "new_parameter = $myhostname"]
    # One setting per call: postconf appends several new names in its hash table's order.
    from labmail.mta.postconf import edit_config_dir
    for edit in edits:
        os.utime(d / "main.cf", (1_600_000_000, 1_600_000_000))
        subprocess.run([POSTCONF, "-c", str(d), "-e", edit], check=True, capture_output=True, timeout=30)
        assert edit_config_dir(str(ours_dir), assign=[edit]).status == 0
    assert (ours_dir / "main.cf").read_text() == (d / "main.cf").read_text()
    os.utime(d / "main.cf", (1_600_000_000, 1_600_000_000))
    subprocess.run([POSTCONF, "-c", str(d), "-X", "mydestination", "myorigin"], check=True,
                   capture_output=True, timeout=30)
    assert edit_config_dir(str(ours_dir), remove=["mydestination", "myorigin"]).status == 0
    assert (ours_dir / "main.cf").read_text() == (d / "main.cf").read_text()
