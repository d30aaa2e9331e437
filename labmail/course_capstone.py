"""Checks for lesson 12, the capstone: a mail service for a new domain, step by step.

Each check looks at what a client on the internet would see — DNS answers, the
server's greeting and replies, a real TLS handshake, where a test message was
filed, an IMAP login — and returns a :class:`~labmail.course.Passed` note or
raises :class:`~labmail.course.CheckFailed` whose hint is phrased in terms of
mail ("capstone.test has no MX record: a sending MTA would not know where to
deliver").  The steps, in the order of the lesson:

1. :func:`check_dns` — MX and A records in the lab's DNS;
2. :func:`check_main_cf` — the identity and trust settings of ``main.cf``;
3. :func:`check_users` — accounts with their passwords;
4. :func:`check_tls` — the certbot (dns-01) certificate served by SMTP and IMAPS;
5. :func:`check_spam_filter` — procmail, spamc and a Junk folder;
6. :func:`check_mail_access` — POP3 and IMAP over TLS, no password in clear text
   (steps 6-9 live in :mod:`labmail.course_capstone_service`);
7. :func:`check_rbl` — ``reject_rbl_client`` refuses a listed client, and only it;
8. :func:`check_capstone_firewall` — 25, 110, 995, 143, 993 open, spamd closed, saved;
9. :func:`check_end_to_end` — mail from another lab host arrives, spam in Junk.

>>> check_dns(lab, host, "capstone.test")          # doctest: +SKIP
Correct: capstone.test MX 10 mail.capstone.test., and mail.capstone.test has the address your host listens on.
"""
from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Iterable, List, Mapping, Optional, Sequence, Tuple

from .course import CheckFailed, Passed
from .course_capstone_service import (check_capstone_firewall, check_end_to_end,
                                      check_mail_access, check_rbl)

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .lab import Lab

__all__ = ["check_dns", "check_main_cf", "check_users", "check_tls", "check_spam_filter",
           "check_mail_access", "check_rbl", "check_capstone_firewall", "check_end_to_end",
           "GTUBE"]

#: SpamAssassin's test string: every installation scores a message with it 1000 points
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
#: words in a greeting that tell an attacker which software (and version) to try
_REVEALING = re.compile(r"postfix|labmail|sendmail|exim|debian|ubuntu|\d+\.\d+\.\d+", re.I)


def _domain_of(host: "Host") -> str:
    return host.hostname.partition(".")[2]


# -- 1 · DNS -------------------------------------------------------------------------
def check_dns(lab: "Lab", host: "Host", domain: Optional[str] = None) -> Passed:
    """*domain* has an MX record naming a host whose A record is *host*'s address."""
    domain = domain or _domain_of(host)
    if lab.resolver is None:
        raise CheckFailed("The lab is not running, so nobody can ask its DNS: lab.start().")
    mx = lab.resolver.lookup(domain, "MX")
    if mx.status == "NXDOMAIN":
        raise CheckFailed(f"{domain} does not exist in DNS (NXDOMAIN): a sending MTA would bounce "
                          "mail for it at once.  Publish the zone with its MX record.")
    if mx.status != "OK":
        raise CheckFailed(f"{domain} has no MX record: a sending MTA would not know where to "
                          f"deliver mail for @{domain} (it would try {domain}'s own address, "
                          f"and find none).  Publish '{domain}. MX 10 {host.hostname}.'")
    targets = sorted(mx.values, key=lambda rd: rd.preference)
    names = [rd.exchange.to_text().rstrip(".") for rd in targets]
    if names == [""]:
        raise CheckFailed(f"{domain} has the null MX '0 .': it says the domain takes no mail at "
                          "all (RFC 7505).  Point the MX at your mail host instead.")
    for name in names:
        addresses = lab.resolver.addresses(name)
        if host.ip in addresses:
            return Passed(f"Correct: {domain} MX {targets[names.index(name)].to_text()}, and "
                          f"{name} has the address your host listens on.")
    first = names[0]
    addresses = lab.resolver.addresses(first)
    if not addresses:
        raise CheckFailed(f"{domain}'s MX points to {first}, which has no A record: a sending "
                          "MTA finds the name but not the address, and bounces with 'Host or "
                          f"domain name not found'.  Publish '{first}. A <your host's address>' "
                          "(host.ip).")
    raise CheckFailed(f"{domain}'s MX points to {first} at {', '.join(addresses)}, but your "
                      f"host listens at {host.ip}: mail would go to the wrong machine.")


# -- 2 · main.cf ---------------------------------------------------------------------
def _file_config(host: "Host"):  # -> MainCf
    from .mta.maincf import MainCf
    return MainCf.from_file(host.path("/etc/postfix/main.cf"), overrides=host.config.overrides(),
                            path_map=host.path, display_path="/etc/postfix/main.cf")


def _words(value: str) -> List[str]:
    return [w for w in re.split(r"[\s,]+", value) if w]


def _networks(value: str) -> List[ipaddress.IPv4Network]:
    nets = []
    for word in _words(value):
        try:
            nets.append(ipaddress.ip_network(word.strip("[]"), strict=False))
        except ValueError:
            continue            # a table (hash:/etc/postfix/network_table) or a typo
    return nets  # type: ignore[return-value]


def check_main_cf(host: "Host", domain: Optional[str] = None, *,
                  strangers: Sequence[str] = ("127.0.0.9",)) -> Passed:
    """myhostname, mydomain, myorigin, mydestination, mynetworks, smtpd_banner and
    home_mailbox fit a server for *domain*; ``postfix check`` is clean and the host reloaded.

    *strangers* (and every other host of the lab) must be outside ``mynetworks``;
    127.0.0.1, where the notebook (your admin laptop) connects from, inside.
    """
    domain = (domain or _domain_of(host)).lower()
    result = host.check()
    if not result.ok:
        raise CheckFailed(f"`postfix check` complains: {result.lines()[0]}.  Postfix refuses to "
                          "reload a main.cf with errors: fix that line first.")
    cf = _file_config(host)
    if cf.get("myhostname").lower() != host.hostname:
        raise CheckFailed(f"myhostname is {cf.get('myhostname')!r}: the MX points to "
                          f"{host.hostname}, and the server must greet with that name.")
    if cf.get("mydomain").lower() != domain:
        raise CheckFailed(f"mydomain is {cf.get('mydomain')!r}, not {domain}.")
    origin = cf.get("myorigin")
    if origin.startswith("/"):                  # Debian's myorigin = /etc/mailname
        mailname = host.path(origin)
        origin = mailname.read_text().strip() if mailname.is_file() else origin
    if origin.lower() != domain:
        raise CheckFailed(f"myorigin gives {origin!r}: mail your users send from the server "
                          f"would come from alice@{origin} instead of alice@{domain}.  Set "
                          "myorigin = $mydomain (with the $).")
    destinations = [d.lower() for d in _words(cf.get("mydestination"))]
    if domain not in destinations:
        raise CheckFailed(f"{domain} is not in mydestination: your server would treat mail for "
                          f"alice@{domain} as mail for someone else and refuse to relay it "
                          "(454 4.7.1 Relay access denied).  Add $mydomain.")
    nets = _networks(cf.get("mynetworks"))
    if not any(ipaddress.ip_address("127.0.0.1") in n for n in nets):
        raise CheckFailed("127.0.0.1 is not in mynetworks: you, at the admin laptop (the "
                          "notebook connects from 127.0.0.1), could no longer send mail out "
                          "through your own server.")
    others = list(strangers) + [h.ip for h in host.lab.hosts.values() if h is not host]
    for ip in others:
        if any(ipaddress.ip_address(ip) in n for n in nets):
            raise CheckFailed(f"mynetworks = {cf.get('mynetworks')} trusts {ip}, a stranger on "
                              "the lab's internet (every lab host lives in 127.0.0.0/8): it may "
                              "relay spam through your server, which lands you on blocklists.  "
                              "Trust only 127.0.0.1/32 and your host's own address.")
    if cf.get("home_mailbox") != "Maildir/":
        raise CheckFailed(f"home_mailbox is {cf.get('home_mailbox')!r}: mail would be written "
                          "to an mbox file, but Dovecot and procmail in this capstone read "
                          "~/Maildir/.  Set home_mailbox = Maildir/ (the trailing / means Maildir).")
    names = ("myhostname", "mydomain", "myorigin", "mydestination", "mynetworks", "smtpd_banner",
             "home_mailbox")
    if any(cf.get(n) != host.config.get(n) for n in names):
        raise CheckFailed("main.cf is right, but the server still runs the old settings: "
                          "postfix reload (host.reload()).")
    from .notebook import Telnet
    with Telnet(host.endpoints["smtp"]) as t:
        greeting = t.greeting.last if t.greeting else ""
        t.send("QUIT")
    if _REVEALING.search(greeting):
        raise CheckFailed(f"Every client is greeted with '{greeting}': it tells attackers which "
                          "software to try their exploits on.  Set smtpd_banner = $myhostname "
                          "ESMTP (the name first, as RFC 5321 §4.2 wants, then ESMTP).")
    if not greeting[4:].startswith(host.hostname) or "ESMTP" not in greeting:
        raise CheckFailed(f"The greeting is '{greeting}': it must start with the host's name, "
                          "and say ESMTP so that clients use EHLO.  smtpd_banner = $myhostname ESMTP")
    return Passed(f"Correct: `postfix check` is clean; {host.hostname} serves {domain} "
                  f"(myorigin {domain}), trusts only you and itself, greets with "
                  f"'{greeting}'.")


# -- 3 · users -----------------------------------------------------------------------
def check_users(host: "Host", users: Mapping[str, str]) -> Passed:
    """Each of *users* (name -> password) has an account and that password for POP3/IMAP."""
    from .access.auth import PasswdFile
    domain = host.config.get("mydomain")
    passwd = PasswdFile(host.path("/etc/dovecot/users"))
    for name, password in users.items():
        if not host.users.exists(name):
            raise CheckFailed(f"{host.hostname} has no account {name!r}: mail to {name}@{domain} "
                              "would be refused with 550 5.1.1 User unknown in local recipient "
                              f"table.  host.add_user({name!r}, password)")
        if not passwd.verify(name, password):
            raise CheckFailed(f"{name} has an account, but her password in /etc/dovecot/users is "
                              "not the one asked for: her mail program would get 'Authentication "
                              "failed'.  Give the password as host.add_user()'s second argument.")
    return Passed(f"Correct: {', '.join(users)} can receive mail at @{domain} and log in.")


# -- 4 · TLS -------------------------------------------------------------------------
def check_tls(lab: "Lab", host: "Host", live: Optional[str] = None) -> Passed:
    """SMTP (STARTTLS on 25) and IMAPS (993) serve the certbot certificate of
    ``/etc/letsencrypt/live/HOSTNAME`` and verify against the lab CA."""
    from .net.certs import describe, load_certs
    from .net.tlsinspect import inspect_tls
    live = (live or f"/etc/letsencrypt/live/{host.hostname}").rstrip("/")
    cert = host.path(live + "/cert.pem")
    if not cert.exists():
        raise CheckFailed(f"There is no certificate in {live}/ yet: get one with certbot's dns-01 "
                          "challenge (Certbot(...).certonly([host.hostname])); the CA must find "
                          "its TXT record in your zone.")
    wanted = describe(load_certs(cert)[0]).fingerprint_sha256
    snakeoil = host.path("/etc/ssl/certs/ssl-cert-snakeoil.pem")
    installed = describe(load_certs(snakeoil)[0]).fingerprint_sha256 if snakeoil.exists() else ""
    for service, starttls, what, apply in (
            ("smtp", "smtp", "smtpd_tls_cert_file and smtpd_tls_key_file in main.cf",
             "then reload Postfix"),
            ("imaps", None, "ssl_cert and ssl_key in dovecot.conf (each with a leading '<')",
             "then restart Dovecot (host.stop(); host.start())")):
        try:
            report = inspect_tls(*host.endpoints[service], starttls=starttls,
                                 cafile=lab.ca.root_path, server_name=host.hostname)
        except (OSError, KeyError) as exc:
            raise CheckFailed(f"No TLS handshake with {service} on {host.hostname}: {exc}.  Is "
                              "the host running?") from None
        served = report.chain[0].fingerprint_sha256 if report.chain else ""
        if served != wanted:
            old = ("the snakeoil certificate made at installation" if served == installed
                   else "another certificate")
            raise CheckFailed(f"{service} still serves {old}, not the one certbot got in "
                              f"{live}/.  Point {what} at {live}/fullchain.pem and "
                              f"privkey.pem, {apply}.")
        if not report.verified:
            raise CheckFailed(f"{service} serves the new certificate, but a client that trusts "
                              f"the lab CA does not accept it: {report.reason}.  Serve "
                              "fullchain.pem (certificate and intermediate), not cert.pem alone.")
    return Passed(f"Correct: SMTP (STARTTLS) and IMAPS serve {live}/fullchain.pem, and a client "
                  "that trusts the lab CA verifies it.")


# -- 5 · spam filtering ---------------------------------------------------------------
def _find(host: "Host", user: str, subject: str) -> List[Tuple[str, object]]:
    """(folder, message) of every copy of *subject* in *user*'s Maildir."""
    from .notebook.render import messages
    found: List[Tuple[str, object]] = []
    for folder in ("new", "cur", ".Junk/new", ".Junk/cur"):
        for _, msg in messages(host, user, folder, subject=subject):
            found.append(("Junk" if folder.startswith(".Junk") else "INBOX", msg))
    return found


def _delete(host: "Host", user: str, subjects: Iterable[str]) -> None:
    from .notebook.render import messages
    for folder in ("new", "cur", ".Junk/new", ".Junk/cur"):
        for subject in subjects:
            for path, _ in messages(host, user, folder, subject=subject):
                path.unlink(missing_ok=True)


def check_spam_filter(host: "Host", user: str) -> Passed:
    """Two test messages delivered to *user*: the spam (GTUBE) lands in ``.Junk``
    marked ``X-Spam-Status: Yes``, the ham in the inbox.  Both are removed again."""
    from .commands.sendmail import submit
    command = host.config.get("mailbox_command")
    if "procmail" not in command:
        raise CheckFailed("mailbox_command is not /usr/bin/procmail: Postfix's local delivery "
                          "writes each message itself, so SpamAssassin never sees it.  Set it "
                          "in main.cf and reload.")
    if not host.path("/etc/procmailrc").is_file():
        raise CheckFailed("/etc/procmailrc does not exist: procmail delivers everything to the "
                          "inbox unfiltered.  Write the two recipes there.")
    n = len(host.transcripts())               # a fresh pair of subjects for every run
    subjects = (f"Capstone filter test {n}: spam", f"Capstone filter test {n}: ham")
    bodies = (f"Cheap offer.\n{GTUBE}\n", "See you at the meeting at ten.\n")
    domain = host.config.get("mydomain")
    for subject, body in zip(subjects, bodies):      # one after the other: a stable log
        submit(host.state_dir, f"From: tester@example.net\nSubject: {subject}\n\n{body}".encode(),
               [f"{user}@{domain}"], sender="tester@example.net", user="root", uid=0,
               clock=host.clock, ids=host.ids)
        host.run_queue()
        host.settle()
    try:
        spam, ham = _find(host, user, subjects[0]), _find(host, user, subjects[1])
        if not spam or not ham:
            tail = [ln for ln in host.maillog.lines() if "status=" in ln][-1:]
            raise CheckFailed(f"The test messages did not reach {user}'s Maildir; the log says: "
                              f"{tail[0] if tail else 'nothing'}.  Is home_mailbox Maildir/ and "
                              "does procmailrc set MAILDIR=$HOME/Maildir/?")
        folder, msg = spam[-1]
        status = str(msg.get("X-Spam-Status", ""))           # type: ignore[attr-defined]
        if not status:
            raise CheckFailed(f"The test spam arrived in {folder} without an X-Spam-Status "
                              "header: procmail never piped it through SpamAssassin.  The "
                              "first recipe is ':0 fw' with the action '| /usr/bin/spamc' "
                              "(f: a filter, w: wait for it); look at ~/procmail.log.")
        if folder != "Junk":
            raise CheckFailed(f"SpamAssassin marked the test spam ('X-Spam-Status: "
                              f"{status.split(',')[0]}'), but it was filed into the inbox: no "
                              "recipe moved it.  Add ':0:' with the condition "
                              "'* ^X-Spam-Status: Yes' and the folder '.Junk/'.")
        if ham[-1][0] == "Junk":
            raise CheckFailed("The harmless test message went to Junk too: your filing recipe "
                              "matches every message.  Its condition must be "
                              "'* ^X-Spam-Status: Yes'.")
    finally:
        _delete(host, user, subjects)
    return Passed(f"Correct: spamc marked the test spam 'X-Spam-Status: {status.split(',')[0]}' "
                  "and procmail filed it into .Junk; the ham stayed in the inbox.  (Both test "
                  "messages were removed again.)")
