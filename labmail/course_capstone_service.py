"""Lesson 12's checks for steps 6-9: the finished service as its clients see it.

POP3/IMAP logins, an RBL, the firewall, and the end-to-end test from another
lab host.  Re-exported by :mod:`labmail.course_capstone` (steps 1-5), which
the lesson imports.

>>> check_rbl(host, "bl.lab.test", "127.0.0.9")          # doctest: +SKIP
Correct: 127.0.0.9 gets '554 5.7.1 Service unavailable; ...'; honest servers still reach alice, and nobody may relay.
"""
from __future__ import annotations

import imaplib
import poplib
from typing import TYPE_CHECKING, Sequence

from .course import MAIL_PORTS, CheckFailed, Passed, check_firewall, check_firewall_saved

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .lab import Lab

__all__ = ["check_mail_access", "check_rbl", "check_capstone_firewall", "check_end_to_end"]


# -- 6 · POP3 and IMAP ----------------------------------------------------------------
def check_mail_access(lab: "Lab", host: "Host", user: str, password: str) -> Passed:
    """*user* reads mail over IMAPS and POP3S (TLS verified); Dovecot reads the Maildir
    Postfix writes; a password sent in clear text on 110 or 143 is refused."""
    from . import clients
    from .access.dovecotconf import load_dovecot_conf
    conf = load_dovecot_conf(host.path("/etc/dovecot/dovecot.conf"), protocol="imap")
    if not conf.mail_location.startswith("maildir:~/Maildir"):
        raise CheckFailed(f"Dovecot reads mail_location = {conf.mail_location}, but Postfix "
                          "(and procmail) deliver to ~/Maildir/: users would see an empty "
                          "inbox.  Set mail_location = maildir:~/Maildir in dovecot.conf.")
    context = lab.client_tls_context()
    try:
        imap = clients.IMAP4_SSL(host, ssl_context=context, timeout=10)
        try:
            imap.login(user, password)
            typ, _ = imap.select("INBOX", readonly=True)
            folders = b" ".join(x for x in imap.list()[1] if isinstance(x, bytes))
        finally:
            imap.logout()
        pop = clients.POP3_SSL(host, context=context, timeout=10)
        try:
            pop.user(user)
            pop.pass_(password)
            pop.stat()
        finally:
            pop.quit()
    except (imaplib.IMAP4.error, poplib.error_proto) as exc:
        raise CheckFailed(f"{user} cannot log in over TLS ({exc}): check her password "
                          "(step 3) and Dovecot's passdb.") from None
    except OSError as exc:
        raise CheckFailed(f"No TLS session with {host.hostname}'s IMAPS/POP3S port: {exc}.  "
                          "Is the host running, with ssl = yes or required?") from None
    if b"Junk" not in folders:
        raise CheckFailed("IMAP shows no Junk folder: the spam procmail files would be "
                          "invisible to mail programs.")
    leaks = []
    try:
        plain = clients.IMAP4(host, timeout=10)
        try:
            plain.login(user, password)
            leaks.append("IMAP (143)")
        except imaplib.IMAP4.error:
            pass
        finally:
            plain.shutdown()
        plain_pop = clients.POP3(host, timeout=10)
        try:
            plain_pop.user(user)
            plain_pop.pass_(password)
            leaks.append("POP3 (110)")
        except poplib.error_proto:
            pass
        finally:
            plain_pop.close()
    except OSError:
        pass                      # a firewall that closes 110/143 keeps the password off them too
    if leaks:
        raise CheckFailed(f"{user}'s password crossed the network in clear text on "
                          f"{' and '.join(leaks)}, and Dovecot accepted it: anyone on the path "
                          "can read it.  Set disable_plaintext_auth = yes (clients must "
                          "STARTTLS/STLS first), then restart Dovecot.")
    return Passed(f"Correct: {user} reads her Maildir over IMAPS and POP3S with a verified "
                  "certificate; a clear-text login on 110 or 143 is refused.")


# -- 7 · RBL ---------------------------------------------------------------------------
def _rcpt(host: "Host", source: str, recipient: str) -> str:
    """The reply a client at *source* gets for RCPT TO:<recipient> (no mail is sent)."""
    from .notebook import Telnet
    with Telnet(host.endpoints["smtp"], source=(source, 0)) as t:
        t.talk("EHLO client.example.net", "MAIL FROM:<someone@example.net>")
        reply = t.send(f"RCPT TO:<{recipient}>").last
        t.send("QUIT")
    return reply


def check_rbl(host: "Host", zone: str, listed: str = "127.0.0.9", *,
              honest: str = "127.0.0.5", user: str = "alice") -> Passed:
    """The client at *listed* (in the DNSBL *zone*) is refused at RCPT TO; an honest
    client at *honest* may write to *user*, but may not relay."""
    domain = host.config.get("mydomain")
    if host.in_mynetworks(listed):
        raise CheckFailed(f"{listed} is inside mynetworks: permit_mynetworks lets it in before "
                          "any list is asked.  Narrow mynetworks (step 2).")
    reply = _rcpt(host, listed, f"{user}@{domain}")
    if not reply.startswith("5") or zone not in reply:
        raise CheckFailed(f"The spammer at {listed}, listed in {zone}, got '{reply}' for "
                          f"{user}@{domain}.  Add reject_rbl_client {zone} to "
                          "smtpd_recipient_restrictions (after permit_mynetworks and "
                          "reject_unauth_destination), check and reload.")
    ok = _rcpt(host, honest, f"{user}@{domain}")
    if not ok.startswith("250"):
        raise CheckFailed(f"Too strict: an honest server at {honest}, not listed, got '{ok}' "
                          f"for {user}@{domain}.")
    relay = _rcpt(host, honest, "victim@example.org")
    if relay.startswith("250"):
        raise CheckFailed(f"Open relay: {honest} may send through you to victim@example.org "
                          f"('{relay}').  Keep reject_unauth_destination in "
                          "smtpd_recipient_restrictions.")
    return Passed(f"Correct: {listed} gets '{reply}'; honest servers still reach {user}, "
                  "and nobody may relay.")


# -- 8 · firewall ----------------------------------------------------------------------
def check_capstone_firewall(host: "Host", open_ports: Sequence[int] = MAIL_PORTS) -> Passed:
    """*open_ports* open to the world, spamd (783) closed to it but reachable on lo,
    everything else dropped, and the rules saved for the next boot."""
    fw = getattr(host, "firewall", None)
    if fw is None:
        raise CheckFailed(f"{host.hostname} has no firewall in this version of the lab.")
    check_firewall(fw, open_ports, closed_ports=(783,))
    if fw.decide(783, "tcp", fw.own_ip) != "ACCEPT":
        raise CheckFailed("The host's own spamc can no longer reach spamd: it connects over the "
                          "loopback interface, which your rules do not let in, so every message "
                          "would wait for spamc's timeout and arrive unfiltered.  Accept lo first: "
                          "iptables -I INPUT 1 -i lo -j ACCEPT")
    check_firewall_saved(fw, open_ports, closed_ports=(783,))
    return Passed(f"Correct: tcp {', '.join(map(str, open_ports))} are open to the world, spamd "
                  "is closed to it, lo is trusted, and the rules survive a reboot.")


# -- 9 · end to end --------------------------------------------------------------------
def _delivery_log(sender: "Host", domain: str) -> str:
    lines = [ln for ln in sender.maillog.lines() if f"@{domain}>" in ln and "status=" in ln]
    return lines[-1] if lines else ""


def check_end_to_end(lab: "Lab", host: "Host", sender: "Host", user: str, password: str, *,
                     subject: str, spam_subject: str, zone: str,
                     listed: str = "127.0.0.9") -> Passed:
    """Over IMAPS as *user*: *subject* (relayed by *sender*, another lab host) in the
    INBOX, *spam_subject* in Junk; and the client at *listed* is refused at the door."""
    from . import clients
    sender.settle()
    host.settle()
    domain = host.config.get("mydomain")
    try:
        imap = clients.IMAP4_SSL(host, ssl_context=lab.client_tls_context(), timeout=10)
    except OSError as exc:
        raise CheckFailed(f"{user}'s mail program cannot reach IMAPS: {exc}.  Is 993 open in "
                          "the firewall?") from None
    found: dict = {}
    try:
        imap.login(user, password)
        for box in ("INBOX", "Junk"):
            if imap.select(box, readonly=True)[0] != "OK":
                continue
            for wanted in (subject, spam_subject):
                typ, data = imap.search(None, "SUBJECT", f'"{wanted}"')
                for num in (data[0] or b"").split():
                    typ, parts = imap.fetch(num.decode(), "(BODY.PEEK[])")   # spam: original attached
                    for part in parts:             # skip unsolicited "* n FETCH (FLAGS ...)"
                        if isinstance(part, tuple):
                            found.setdefault(wanted, []).append(
                                (box, part[1].decode("utf-8", "replace")))
    except imaplib.IMAP4.error as exc:
        raise CheckFailed(f"{user} cannot read her mail over IMAPS ({exc}): steps 3 and 6.") from None
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    for wanted, folder in ((subject, "INBOX"), (spam_subject, "Junk")):
        copies = found.get(wanted, [])
        if not copies:
            log = _delivery_log(sender, domain)
            raise CheckFailed(f"{user} has no message {wanted!r}.  {sender.hostname}'s log says: "
                              f"{log or 'no delivery to @' + domain + ' at all (was it sent?)'}.  "
                              "'Host or domain name not found' means DNS, 'Connection refused' "
                              "or 'timed out' the firewall, '554'/'454' the restrictions.")
        box, text = copies[-1]
        if f"from {sender.hostname}" not in text:
            raise CheckFailed(f"{wanted!r} arrived, but not from {sender.hostname} (see its "
                              "Received: header): send it through the other lab host, as mail "
                              "from the internet would come.")
        if box != folder:
            raise CheckFailed(f"{wanted!r} arrived from {sender.hostname} but sits in {box}, "
                              f"not in {folder}: look at X-Spam-Status and your procmail recipes.")
    reply = _rcpt(host, listed, f"{user}@{domain}")
    if not reply.startswith("5"):
        raise CheckFailed(f"The listed client {listed} got '{reply}': the RBL is not enforced.")
    return Passed(f"Correct: mail from {sender.hostname} reached {user}'s INBOX over MX and TLS, "
                  f"its spam is in Junk, and {listed} is refused at the door.  Your mail service "
                  f"for {domain} works.")
