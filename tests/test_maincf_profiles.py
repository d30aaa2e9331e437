"""Debian installer presets: the lab's main.cf equals what Debian's scripts produce."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from labmail.mta.maincf import MainCf
from labmail.mta.postconf import postconf
from labmail.mta.profiles import PROFILES, debian_install, profile_name

DEBIAN = Path("/usr/share/postfix/main.cf.debian")
TLS = Path("/usr/share/postfix/main.cf.tls")
POSTCONF = shutil.which("postconf") or ("/usr/sbin/postconf" if Path("/usr/sbin/postconf").exists() else None)


def test_profile_names():
    assert profile_name("Internet Site") == "internet-site"
    assert profile_name("satellite system") == "satellite"
    assert profile_name("local_only") == "local-only"
    with pytest.raises(ValueError):
        profile_name("mail hub")


@pytest.mark.parametrize("profile", sorted(set(PROFILES) - {"no-configuration"}))
def test_every_profile_parses_and_passes_restriction_compile(profile):
    from labmail.mta.restrictions import Restrictions
    inst = debian_install(profile, hostname="mail.example.com")
    cf = MainCf.from_text(inst.main_cf, "/etc/postfix/main.cf")
    assert not [w for w in cf.warnings if "unused" in w or "overriding" in w]
    Restrictions.from_config(cf)
    assert cf.get("myhostname") == "mail.example.com"
    assert cf.get("smtpd_banner") == "mail.example.com ESMTP Postfix (Debian/GNU)"


def test_profile_differences():
    get = {p: MainCf.from_text(debian_install(p, hostname="mail.example.com").main_cf)
           for p in PROFILES if p != "no-configuration"}
    assert get["internet-site"].get("relayhost") == ""
    assert get["internet-with-smarthost"].get("relayhost") == "smtp.example.com"
    assert get["satellite"].get("inet_interfaces") == "loopback-only"
    assert get["local-only"].get("default_transport") == "error"
    assert get["local-only"].get("relayhost") == ""
    assert get["satellite"].get("mydestination") == \
        "$myhostname, mail.example.com, localhost.example.com, localhost".replace("$myhostname", "mail.example.com")
    none = debian_install("No configuration", hostname="mail.example.com")
    assert none.main_cf is None and "/etc/aliases" in none.files


def _debian_reference(tmp_path: Path, profile: str, hostname: str) -> str:
    """Run Debian's own recipe with the real postconf -e on the real template files."""
    d = tmp_path / profile
    d.mkdir()
    text = DEBIAN.read_text() + (TLS.read_text() if TLS.exists() else "")
    (d / "main.cf").write_text(text)
    domain = hostname.split(".", 1)[1]
    label = PROFILES[profile]
    if label == "Internet Site":
        dest = f"$myhostname, {hostname}, localhost.{domain}, , localhost"
    else:
        dest = f"$myhostname, {hostname}, localhost.{domain}, localhost"
    relay = f"smtp.{domain}" if label in ("Internet with smarthost", "Satellite system") else ""
    steps = ["smtpd_relay_restrictions=permit_mynetworks permit_sasl_authenticated defer_unauth_destination",
             f"myhostname={hostname}", "alias_maps=hash:/etc/aliases", "alias_database=hash:/etc/aliases",
             "myorigin=/etc/mailname", f"mydestination={dest}", f"relayhost={relay}",
             "mynetworks=127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128", "mailbox_size_limit=0",
             "recipient_delimiter=+",
             "inet_interfaces=" + ("loopback-only" if label in ("Satellite system", "Local only") else "all")]
    if label == "Local only":
        steps += ["default_transport=error", "relay_transport=error"]
    steps.append("inet_protocols=all")
    for step in steps:      # one postconf -e per setting, as postinst's set_postconf does
        os.utime(d / "main.cf", (1_600_000_000, 1_600_000_000))
        subprocess.run([POSTCONF, "-c", str(d), "-e", step], check=True, capture_output=True, timeout=30)
    os.utime(d / "main.cf", (1_600_000_000, 1_600_000_000))
    return subprocess.run([POSTCONF, "-c", str(d), "-n"], capture_output=True, text=True, timeout=30).stdout


@pytest.mark.realtool
@pytest.mark.skipif(POSTCONF is None or not DEBIAN.exists(), reason="postfix not installed; apt-get install postfix")
@pytest.mark.parametrize("profile", sorted(set(PROFILES) - {"no-configuration"}))
def test_matches_debian_recipe_with_real_postconf(tmp_path, profile):
    reference = _debian_reference(tmp_path, profile, "mail.example.com")
    ours = debian_install(profile, hostname="mail.example.com", tls=TLS.exists())
    cf = MainCf.from_text(ours.main_cf, f"{tmp_path / profile}/main.cf")
    assert postconf(cf, nondefault=True, config_directory=str(tmp_path / profile)).stdout == reference
