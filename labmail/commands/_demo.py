"""``labmail serve --demo``: two mail hosts for a live demo with real mail clients.

mail.example.com and mail.example.org, each with two users, TLS certificates
from the lab CA, submission with STARTTLS and AUTH, POP3/IMAP with and
without implicit TLS, and spam filtering (procmail pipes every message
through spamc to the host's spamd and files spam into the Junk folder).

>>> lab = build_demo_lab(port_base=20000)            # doctest: +SKIP
>>> print(account_settings(lab))                     # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ..lab import Lab

#: host name -> {user: password}; printed for the audience, so nothing secret
DEMO_USERS: Dict[str, Dict[str, str]] = {
    "mail.example.com": {"alice": "wonderland", "carol": "carousel"},
    "mail.example.org": {"bob": "builder", "dave": "daydream"},
}

#: what Debian's spamassassin + procmail set-up does (as in lesson 07): every
#: message through spamc (the host's spamd), spam into the Junk folder
PROCMAILRC = """\
MAILDIR=$HOME/Maildir/
DEFAULT=$MAILDIR
LOGFILE=$HOME/procmail.log

:0 hbfw
| /usr/bin/spamc

:0:
* ^X-Spam-Flag: YES
.Junk/
"""


def build_demo_lab(port_base: Optional[int] = None, ports: Optional[str] = None,
                   state_dir: Optional[Path] = None) -> "Lab":
    """A started lab with the two demo hosts (``ports="auto"`` for free ports)."""
    from ..lab import Lab
    lab = Lab(port_base=port_base, ports=ports, state_dir=state_dir)
    try:
        for hostname, users in DEMO_USERS.items():
            host = lab.add_host(hostname, users=users)
            # AUTH on submission, over TLS only (the snakeoil pair is signed by the lab CA)
            host.postconf(e=["mailbox_command = /usr/bin/procmail",
                             "smtpd_sasl_auth_enable = yes",
                             "smtpd_tls_auth_only = yes"])
            host.path("/etc/procmailrc").write_text(PROCMAILRC, encoding="utf-8")
            host.reload()
        lab.start()
    except BaseException:
        lab.stop()
        raise
    return lab


def account_settings(lab: "Lab") -> str:
    """The account settings a person types into Thunderbird or mutt (plain text)."""
    out: List[str] = [
        "labmail demo: two mail hosts, TLS certificates from the lab CA, spam into Junk",
        "",
        f"lab CA to trust: {lab.ca.root_path}",
        "  (Thunderbird: Settings > Privacy & Security > Certificates > Manage > Authorities > Import;",
        f"   mutt: set ssl_ca_certificates_file={lab.ca.root_path})",
        "The certificates name the hosts, so connect by name: add to /etc/hosts",
    ]
    for hostname, host in lab.hosts.items():
        out.append(f"  {host.ip:<12} {hostname}")
    for hostname, host in lab.hosts.items():
        ep = host.endpoints
        out += ["", f"[{hostname}]  address {host.ip}",
                f"  smtp        {hostname} port {ep['smtp'][1]:<5}  (standard 25: mail between servers)",
                f"  submission  {hostname} port {ep['submission'][1]:<5}  STARTTLS, normal password (standard 587)",
                f"  smtps       {hostname} port {ep['smtps'][1]:<5}  SSL/TLS, normal password (standard 465)",
                f"  imap        {hostname} port {ep['imap'][1]:<5}  STARTTLS (standard 143)",
                f"  imaps       {hostname} port {ep['imaps'][1]:<5}  SSL/TLS (standard 993)",
                f"  pop3        {hostname} port {ep['pop3'][1]:<5}  STARTTLS (standard 110)",
                f"  pop3s       {hostname} port {ep['pop3s'][1]:<5}  SSL/TLS (standard 995)",
                f"  spamd       {hostname} port {ep['spamd'][1]:<5}  (standard 783)"]
        domain = hostname.split(".", 1)[1]
        for user, password in DEMO_USERS.get(hostname, {}).items():
            out.append(f"  account     {user}@{domain}  user name {user}  password {password}")
    first = next(iter(lab.hosts.values()))
    user = next(iter(DEMO_USERS.get(first.hostname, {"alice": ""})))
    out += ["", "mutt, for example:",
            f"  mutt -f 'imaps://{user}@{first.hostname}:{first.endpoints['imaps'][1]}/INBOX'"]
    return "\n".join(out)

