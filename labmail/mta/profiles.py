"""Debian's Postfix installer presets: the main.cf each "General mail configuration type" gives.

``dpkg-reconfigure postfix`` asks for one of five types. For a fresh install
with the installer's default answers, Debian's maintainer scripts start from
``/usr/share/postfix/main.cf.debian`` (plus ``main.cf.tls`` when the snakeoil
certificate exists) and then run ``postconf -e`` for each setting, which
appends ``name = value`` lines in this order:

=========================  ============  =========================  ===============  ============
setting                    Internet Site Internet with smarthost    Satellite system Local only
=========================  ============  =========================  ===============  ============
relayhost                  (empty)       smtp.<domain>              smtp.<domain>    (empty)
inet_interfaces            all           all                        loopback-only    loopback-only
default/relay_transport    --            --                         --               error
mydestination              with mailname without mailname …         …                …
=========================  ============  =========================  ===============  ============

"No configuration" writes no main.cf at all (Postfix then refuses to start).
The lab keeps the real paths in the file (``/etc/aliases``, ``/etc/mailname``,
``/etc/ssl/...``); the host maps them into its state directory.

>>> inst = debian_install("internet-site", hostname="mail.example.com")
>>> print([l for l in inst.main_cf.splitlines() if l.startswith(("mydestination", "inet_interfaces"))])
['mydestination = $myhostname, mail.example.com, localhost.example.com, , localhost', 'inet_interfaces = all']
>>> inst.files["/etc/mailname"]
'mail.example.com\\n'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

__all__ = ["PROFILES", "Installation", "debian_install", "profile_name", "DEFAULT_MYNETWORKS"]

# lab name -> the installer's wording
PROFILES: Dict[str, str] = {
    "no-configuration": "No configuration",
    "internet-site": "Internet Site",
    "internet-with-smarthost": "Internet with smarthost",
    "satellite": "Satellite system",
    "local-only": "Local only",
}
DEFAULT_MYNETWORKS = "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128"   # the installer's default answer

# The parameters of main.cf.debian and main.cf.tls, in file order (values are Debian's).
_BASE = [
    ("smtpd_banner", "$myhostname ESMTP $mail_name (Debian/GNU)"),
    ("biff", "no"),
    ("append_dot_mydomain", "no"),
    ("readme_directory", "no"),
    ("compatibility_level", "3.6"),
]
_TLS = [
    ("smtpd_tls_cert_file", "/etc/ssl/certs/ssl-cert-snakeoil.pem"),
    ("smtpd_tls_key_file", "/etc/ssl/private/ssl-cert-snakeoil.key"),
    ("smtpd_tls_security_level", "may"),
    ("smtp_tls_CApath", "/etc/ssl/certs"),
    ("smtp_tls_security_level", "may"),
    ("smtp_tls_session_cache_database", "btree:${data_directory}/smtp_scache"),
]


@dataclass(frozen=True)
class Installation:
    """What the installer leaves behind: main.cf (None for "No configuration"),
    other files by their real path, and the lines it prints while working."""
    profile: str
    main_cf: Optional[str]
    files: Dict[str, str] = field(default_factory=dict)
    messages: Tuple[str, ...] = ()


def profile_name(profile: str) -> str:
    """Normalise ``"Internet Site"``, ``"internet_site"`` … to ``"internet-site"``; ValueError if unknown."""
    key = re.sub(r"[\s_]+", "-", profile.strip().lower())
    for name, label in PROFILES.items():
        if key in (name, re.sub(r"\s+", "-", label.lower())):
            return name
    if key in ("smarthost", "internet-smarthost"):
        return "internet-with-smarthost"
    if key in ("satellite-system",):
        return "satellite"
    raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")


def _destinations(profile: str, hostname: str, mailname: str, domain: str) -> str:
    # The installer's own joins (postfix.config), including the empty element
    # it produces for an Internet Site whose mail name is the host name.
    if profile == "internet-site":
        if mailname == hostname:
            return ", ".join(["$myhostname", mailname, f"localhost.{domain}", ", localhost"])
        return ", ".join(["$myhostname", mailname, hostname, f"localhost.{domain}, localhost"])
    dest = ", ".join(["$myhostname", hostname, f"localhost.{domain}, localhost"])
    if not re.search(r"(^|\.)" + re.escape(mailname) + r"$", hostname):
        dest = f"{mailname}, {dest}"
    return dest


def debian_install(profile: str, *, hostname: str, mailname: Optional[str] = None,
                   relayhost: Optional[str] = None, mynetworks: str = DEFAULT_MYNETWORKS,
                   protocols: str = "all", tls: bool = True, root_address: str = "",
                   mailbox_limit: str = "0", recipient_delimiter: str = "+",
                   procmail: bool = False) -> Installation:
    """The files a fresh ``apt-get install postfix`` writes for *profile* on host *hostname*.

    *mailname* defaults to the host name, *relayhost* (smarthost and satellite
    only) to ``smtp.<domain>``, as the installer proposes.
    """
    name = profile_name(profile)
    label = PROFILES[name]
    if name == "no-configuration":
        return Installation(name, None, {"/etc/aliases": _aliases(root_address)},
                            ("Postfix was not set up.  Start with",
                             "  cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf"))
    hostname = hostname.rstrip(".").lower()
    domain = hostname.split(".", 1)[1] if "." in hostname else "localdomain"
    mailname = (mailname or hostname).lower()
    if name in ("internet-with-smarthost", "satellite"):
        relay = f"smtp.{domain}" if relayhost is None else relayhost
    else:
        relay = ""
    settings: List[Tuple[str, str]] = [
        ("smtpd_relay_restrictions", "permit_mynetworks permit_sasl_authenticated defer_unauth_destination"),
        ("myhostname", hostname),
        ("alias_maps", "hash:/etc/aliases"),
        ("alias_database", "hash:/etc/aliases"),
    ]
    files = {"/etc/aliases": _aliases(root_address)}
    messages = [f"setting myhostname: {hostname}", "setting alias maps", "setting alias database"]
    if "." in mailname:
        files["/etc/mailname"] = mailname + "\n"
        settings.append(("myorigin", "/etc/mailname"))
        messages += [f"changing /etc/mailname to {mailname}", "setting myorigin"]
    dest = _destinations(name, hostname, mailname, domain)
    settings += [("mydestination", dest), ("relayhost", relay)]
    messages += [f"setting destinations: {dest}", f"setting relayhost: {relay}"]
    if mynetworks:
        settings.append(("mynetworks", mynetworks))
        messages.append(f"setting mynetworks: {mynetworks}")
    if procmail:
        settings.append(("mailbox_command", 'procmail -a "$EXTENSION"'))
    settings += [("mailbox_size_limit", mailbox_limit), ("recipient_delimiter", recipient_delimiter)]
    interfaces = "loopback-only" if name in ("satellite", "local-only") else "all"
    settings.append(("inet_interfaces", interfaces))
    messages.append(f"setting inet_interfaces: {interfaces}")
    if name == "local-only":
        settings += [("default_transport", "error"), ("relay_transport", "error")]
        messages += ["setting default_transport: error", "setting relay_transport: error"]
    settings.append(("inet_protocols", protocols))
    messages.append(f"setting inet_protocols: {protocols}")

    lines = [f"# main.cf as Debian's installer writes it for \"{label}\"",
             "# (/usr/share/postfix/main.cf.debian, then postconf -e for each answer).",
             "# All parameters: postconf(5); this file's: labmail postconf -n", ""]
    lines += [f"{k} = {v}" for k, v in _BASE]
    if tls:
        lines += ["", "# TLS parameters (the snakeoil certificate exists)"]
        lines += [f"{k}={v}" if not k.endswith("_database") else f"{k} = {v}" for k, v in _TLS]
    lines.append("")
    # postconf -e writes "name = value"; an empty value keeps the space after "=".
    lines += [f"{k} = {v}" for k, v in settings]
    return Installation(name, "\n".join(lines) + "\n", files, tuple(messages))


def _aliases(root_address: str) -> str:
    text = "# Mail aliases: see aliases(5); run newaliases after editing.\npostmaster:    root\n"
    if root_address:
        text += f"root:\t{root_address}\n"
    return text
