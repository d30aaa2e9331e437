"""Build lesson 12, the capstone: your own mail server for a new domain, step by step.

Same builder as ``tools/make_notebooks.py`` (its ``build``, ``execute`` and
``run_cli`` are reused by import); the graded checks are in
``labmail/course_capstone.py``::

    .venv/bin/python tools/make_notebook_12.py                 # write and execute
    .venv/bin/python tools/make_notebook_12.py --no-execute
    .venv/bin/python tools/make_notebook_12.py --student build/student
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import (NOTEBOOKS, ROOT, Cell, build, execute,  # noqa: E402,F401
                            run_cli, student_source)  # tests rebuild through this module

NAME = "12-capstone-your-own-mail-server.ipynb"


def main(argv: Sequence[str] = ()) -> int:
    return run_cli({NAME: L12}, argv, __doc__)


NAV = ("*previous:* [11 · POP3 vs IMAP](11-pop3-vs-imap.ipynb) | "
       "[contents](../README.md#lessons) | *next:* —")

L12: List[Cell] = [
    ("md", f"""
# 12 · Capstone: your own mail server

{NAV}

**Time:** about 90 minutes &nbsp;·&nbsp; **Before:** lessons [03](03-configuring-the-mta.ipynb)
to [11](11-pop3-vs-imap.ipynb) — each step below comes back to one of them

**Questions**

* What does it take to run mail for a brand-new domain, from a freshly
  installed server to the first message from the internet?
* In which order do the pieces go in, and how do I know each one works
  before I build on it?
* How do DNS, Postfix, certificates, procmail, SpamAssassin, Dovecot, a
  blocklist and a firewall fit together?

**After this lab you can**

* publish the MX and A records that make a domain reachable for mail;
* turn Debian's "Internet Site" `main.cf` into the configuration of a real
  domain, and say why each of `myhostname`, `mydomain`, `myorigin`,
  `mydestination`, `mynetworks` and `smtpd_banner` matters;
* create mail accounts, get a certificate with a dns-01 challenge and put it
  in front of SMTP, POP3 and IMAP;
* file spam into a Junk folder with procmail and SpamAssassin, refuse listed
  clients with an RBL, and open exactly the mail ports in the firewall;
* test the whole service end to end from another mail server.
"""),
    ("md", r"""
## The assignment

*Capstone Ltd.* has registered the domain **`capstone.test`** and rented a
server, **`mail.capstone.test`**.  The hoster installed Postfix with
Debian's answers for an *Internet Site*, Dovecot and SpamAssassin with their
package defaults — and nothing else.  Nobody can send mail to the domain yet.
Your job is to make it a mail service:

| step | you build | the check makes sure that … |
|---|---|---|
| 1 | DNS: MX and A records | a sending server finds your host |
| 2 | `main.cf` | the server knows its domain, trusts only you, hides its software |
| 3 | accounts | alice and carol exist and have their passwords |
| 4 | TLS | SMTP and IMAPS serve a certificate from the lab's CA (dns-01) |
| 5 | spam filter | procmail pipes mail through `spamc` and files spam into Junk |
| 6 | POP3 and IMAP | Dovecot reads the Maildirs, and only over TLS |
| 7 | an RBL | a listed spammer is refused at `RCPT TO` |
| 8 | the firewall | 25, 110, 995, 143, 993 open, everything else closed |
| 9 | the end-to-end test | mail from another lab host arrives; its spam in Junk |

Each step has a short explanation, a task, a cell for your code and a check
cell.  A check that fails says what a mail client or a sending server would
run into; fix it and run the two cells again.  The steps build on each other:
do them in order.

## Setup

Two hosts: your new server, and `mail.example.org`, where Bob has his
mailbox — the rest of the internet.  The lab's DNS also serves a blocklist,
`bl.lab.test`, run by an anti-spam project; it lists `127.0.0.9`, a machine
that sends spam.
"""),
    ("code", r"""
import sys
import labmail
from labmail.net.dns import dnsbl_list, unregister_host

lab = labmail.Lab(seed=12, clock="2026-11-27T09:00:00+00:00")
host = lab.add_host("mail.capstone.test", profile="internet-site")   # freshly installed
org = lab.add_host("mail.example.org", users={"bob": "builder"})
lab.start()
dnsbl_list(lab.dns, "bl.lab.test", "127.0.0.9", reason="127.0.0.9 sends spam to our traps")

# The lab publishes DNS records for every host it starts.  A new domain
# starts with an empty zone, so we take those records away again: step 1
# is yours.
unregister_host(lab.dns, host.hostname, host.ip)
print(host.hostname, "| accounts:", host.users.names())
"""),
    ("md", r"""
What the installer left behind — Debian's `main.cf` for an Internet Site
(`postconf -n` lists what the file sets):
"""),
    ("code", r"""
print(host.postconf(n=True))
"""),
    ("md", r"""
And nobody on the internet can find the server yet:
"""),
    ("code", r"""
dns_ip, dns_port = lab.dns.address
!{sys.executable} -m labmail dig @{dns_ip} -p {dns_port} capstone.test MX | grep -oE "status: [A-Z]+|ANSWER: [0-9]+"
"""),
    ("md", r"""
`NOERROR` with no answer: the zone `capstone.test` exists (the registrar
created it), but it has no MX record.

## Step 1 · DNS: MX and A records

A server that has a message for `alice@capstone.test` asks DNS for the
domain's **MX** records ("mail exchanger": which hosts take mail for this
domain, with a preference — lowest first), then for the **A** record of the
chosen host, and connects to that address on port 25 (lesson 04).  Two
records make a domain reachable:

```
capstone.test.       300  IN  MX  10 mail.capstone.test.
mail.capstone.test.  300  IN  A   <the server's address>
```

An MX must name a host, never an address, and that host needs its own A
record.  (A real server also wants a **PTR** record, the reverse lookup of
its address, set at whoever owns the address block: many receivers distrust
servers without one.)  On a real name server you would edit the zone file
(`/etc/bind/db.capstone.test`) and reload it; the lab's DNS reads the same
format with `lab.dns.load_zone(text, "capstone.test")`, or takes single
records with `lab.dns.add(name, type, value)`.

**Task 1.** Publish an MX record for `capstone.test` with preference 10
pointing at `mail.capstone.test`, and an A record for `mail.capstone.test`
with the host's address (`host.ip`).
"""),
    ("code", r'''
### BEGIN SOLUTION
zone = f"""
$TTL 300
@      IN  MX  10 mail
mail   IN  A   {host.ip}
"""
lab.dns.load_zone(zone, "capstone.test")
### END SOLUTION
print(lab.dns.zone("capstone.test").to_text())
'''),
    ("code", r"""
from labmail.course_capstone import check_dns
check_dns(lab, host, "capstone.test")
"""),
    ("md", r"""
What a sending server now finds — the same question as before, and the
route Postfix's smtp client computes from it:
"""),
    ("code", r"""
!{sys.executable} -m labmail dig @{dns_ip} -p {dns_port} capstone.test MX +short
[(mx.preference, mx.name, mx.implicit) for mx in lab.resolver.mx_hosts("capstone.test")]
"""),
    ("md", r"""
## Step 2 · `main.cf`: who the server is, and whom it trusts

Six parameters make the installer's file the configuration of *this* domain
(lesson 03):

* `myhostname` — the server's own name, `mail.capstone.test`: it greets
  with it and writes it into `Received:` headers.  It must be the name the
  MX points to.
* `mydomain` — `capstone.test`.  Postfix derives it from `myhostname` by
  dropping the first label, but saying it is clearer.
* `myorigin` — the domain mail from this server appears to come from.
  Debian sets `/etc/mailname`, which holds the *host* name; mail from local
  users would say `alice@mail.capstone.test`.  `$mydomain` (note the `$`)
  makes it `alice@capstone.test`.
* `mydestination` — the domains delivered *here*.  The installer listed the
  host name and `localhost`, but not the domain itself: mail for
  `alice@capstone.test` would be treated as someone else's, and refused.
* `mynetworks` — clients that may relay through the server to anywhere.
  The usual `127.0.0.0/8` is a trap in this lab: every lab host, the
  spammer at 127.0.0.9 included, lives in 127.0.0.0/8.  Trust only
  `127.0.0.1/32` (your admin laptop: the notebook) and the host's own address.
* `smtpd_banner` — the first line every client reads.  Debian's
  `$myhostname ESMTP $mail_name (Debian/GNU)` tells attackers which software
  to try; `$myhostname ESMTP` is all RFC 5321 asks for.

One more: `home_mailbox = Maildir/`.  Without it, mail is appended to an
mbox file in `/var/mail`; procmail (step 5) and Dovecot (step 6) will work
with `~/Maildir/`, one file per message.

After editing: `postfix check` (`host.check()`), then `postfix reload`
(`host.reload()`).  A reload with errors is refused and the old settings
stay in force.

**Task 2.** Set the seven parameters with `host.postconf(e=[...])`
(`postconf -e`), check, and reload.
"""),
    ("code", r"""
### BEGIN SOLUTION
host.postconf(e=["mydomain = capstone.test",
                 "myorigin = $mydomain",
                 "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
                 f"mynetworks = 127.0.0.1/32 {host.ip}/32",
                 "smtpd_banner = $myhostname ESMTP",
                 "home_mailbox = Maildir/"])
print("\n".join(host.check().lines()) or "postfix check: no problems")
warnings = host.reload()            # postfix reload; returns its warnings
### END SOLUTION
"""),
    ("code", r"""
from labmail.course_capstone import check_main_cf
check_main_cf(host, "capstone.test")
"""),
    ("md", r"""
## Step 3 · Accounts

Postfix's local delivery takes mail only for accounts it knows (the *local
recipient table*: `/etc/passwd` and `/etc/aliases`); anyone else gets
`550 5.1.1 ... User unknown in local recipient table` at `RCPT TO`, before
the message is sent.  Dovecot needs a password for each account (here the
passwd-file `/etc/dovecot/users`, with hashed passwords).  On a real server
that is `adduser alice` and `doveadm pw`; in the lab `host.add_user(name,
password)` does both and creates the user's Maildir.

**Task 3.** Create the accounts `alice` (password `wonderland`) and `carol`
(password `singer`).
"""),
    ("code", r"""
USERS = {"alice": "wonderland", "carol": "singer"}
### BEGIN SOLUTION
for name, password in USERS.items():
    host.add_user(name, password)
### END SOLUTION
"""),
    ("code", r"""
from labmail.course_capstone import check_users
check_users(host, USERS)
"""),
    ("md", r"""
## Step 4 · TLS with a certificate from the lab's CA

The installer's *snakeoil* certificate was made on the machine at
installation.  A real server gets one from a CA that clients trust — Let's
Encrypt, or in the lab, its own CA (lesson 09).  With the **dns-01**
challenge the CA asks you to publish a TXT record at
`_acme-challenge.mail.capstone.test`; only someone who controls the zone can,
so finding it there proves the name is yours.  `Certbot.certonly()` opens the
order, publishes the record, lets the CA look it up, and writes the files in
certbot's layout:

```
/etc/letsencrypt/live/mail.capstone.test/fullchain.pem   certificate + intermediate
/etc/letsencrypt/live/mail.capstone.test/privkey.pem     its private key
```

Both servers must use them: Postfix's `smtpd_tls_cert_file` and
`smtpd_tls_key_file` (then `postfix reload`), and Dovecot's `ssl_cert` and
`ssl_key` — in `dovecot.conf` a leading `<` means "the contents of this
file" — then restart Dovecot.  `set_dovecot_conf(host, name="value")`
changes `dovecot.conf` lines; `host.stop(); host.start()` restarts the host's
services (`systemctl restart dovecot postfix`).

**Task 4.** Get the certificate for `mail.capstone.test` and point Postfix
and Dovecot at it.
"""),
    ("code", r"""
from labmail.net.certbot import Certbot
from labmail.course_tls import set_dovecot_conf

LIVE = "/etc/letsencrypt/live/mail.capstone.test"
### BEGIN SOLUTION
bot = Certbot(host.path("/etc/letsencrypt"), lab.ca, lab.dns, lab.resolver,
              clock=lab.clock, ids=lab.ids)
lineage = bot.certonly(["mail.capstone.test"])
host.postconf(e=[f"smtpd_tls_cert_file = {LIVE}/fullchain.pem",
                 f"smtpd_tls_key_file = {LIVE}/privkey.pem"])
host.reload()
set_dovecot_conf(host, ssl_cert=f"<{LIVE}/fullchain.pem", ssl_key=f"<{LIVE}/privkey.pem")
host.stop(); host.start()
### END SOLUTION
"""),
    ("code", r"""
from labmail.course_capstone import check_tls
check_tls(lab, host)
"""),
    ("md", r"""
What a client now sees on port 25 after `STARTTLS` — the chain it was sent
and the verdict of a client that trusts the lab's CA:
"""),
    ("code", r"""
from labmail.net.tlsinspect import inspect_tls
report = inspect_tls(*host.endpoints["smtp"], starttls="smtp", cafile=lab.ca.root_path,
                     server_name=host.hostname)
print(report.level, report.protocol)
for cert in report.chain:
    print("  subject:", cert.subject, "| issuer:", cert.issuer)
"""),
    ("md", r"""
## Step 5 · Spam into Junk: procmail and SpamAssassin

Lesson 07's wiring.  Postfix's local delivery hands every message to
`mailbox_command`; with `/usr/bin/procmail` the recipes in `/etc/procmailrc`
decide where it goes:

```
MAILDIR=$HOME/Maildir/
DEFAULT=$MAILDIR
LOGFILE=$HOME/procmail.log

:0 fw
| /usr/bin/spamc

:0:
* ^X-Spam-Status: Yes
.Junk/
```

* `:0 fw` pipes the message through `spamc`, the client of the SpamAssassin
  daemon `spamd`, as a **f**ilter (the message goes on as spamc's output,
  now with `X-Spam-*` header fields) and **w**aits for it.
* `:0:` with the condition `^X-Spam-Status: Yes` files spam into the Maildir
  folder `.Junk/`, which IMAP shows as `Junk`; the second `:` takes a lock.
* everything else falls through to `$DEFAULT`, the inbox.

**Task 5.** Set `mailbox_command = /usr/bin/procmail`, reload, and write
`/etc/procmailrc` (`host.path("/etc/procmailrc").write_text(...)`).  The
check delivers a test spam and a harmless message to alice, looks where they
were filed, and removes them again.
"""),
    ("code", r'''
### BEGIN SOLUTION
host.postconf(e=["mailbox_command = /usr/bin/procmail"])
host.reload()
procmailrc = host.path("/etc/procmailrc")
procmailrc.write_text("""\
MAILDIR=$HOME/Maildir/
DEFAULT=$MAILDIR
LOGFILE=$HOME/procmail.log

:0 fw
| /usr/bin/spamc

:0:
* ^X-Spam-Status: Yes
.Junk/
""")
### END SOLUTION
'''),
    ("code", r"""
from labmail.course_capstone import check_spam_filter
check_spam_filter(host, "alice")
"""),
    ("md", r"""
procmail's log tells what it did with each message — the check's two test
messages, one filed into `.Junk/`, one into the Maildir itself:
"""),
    ("code", r"""
print(host.path("/home/alice/procmail.log").read_text())
"""),
    ("md", r"""
## Step 6 · POP3 and IMAP with Dovecot

Users read their mail with POP3 or IMAP (lessons 10 and 11).  Two things in
`dovecot.conf` are still the package's defaults:

* `mail_location` — where Dovecot looks for mail.  It was set to match the
  installer's mbox delivery; Postfix and procmail now write `~/Maildir/`.
  Dovecot must read the same place: `maildir:~/Maildir`.  (Postfix's
  `home_mailbox` and Dovecot's `mail_location` always come as a pair.)
* `disable_plaintext_auth` — `no` lets a client send its password before
  `STARTTLS` (IMAP, port 143) or `STLS` (POP3, port 110), readable by
  anyone on the path.  `yes` refuses that; POP3S (995) and IMAPS (993)
  are encrypted from the first byte anyway.

**Task 6.** Set both in `dovecot.conf` and restart Dovecot.
"""),
    ("code", r"""
### BEGIN SOLUTION
set_dovecot_conf(host, mail_location="maildir:~/Maildir", disable_plaintext_auth="yes")
host.stop(); host.start()
### END SOLUTION
"""),
    ("code", r"""
from labmail.course_capstone import check_mail_access
check_mail_access(lab, host, "alice", "wonderland")
"""),
    ("md", r"""
## Step 7 · Refusing known spammers: an RBL

SpamAssassin works after a message was accepted, received and queued.  A
DNS blocklist refuses a known spammer at `RCPT TO`, before it sends a
single line of its message (lesson 08).  The order in
`smtpd_recipient_restrictions` matters: your own clients first
(`permit_mynetworks`), then the relay protection
(`reject_unauth_destination`), then the list, so that only strangers
writing to your own domain cost a DNS query:

```
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,
    reject_rbl_client bl.lab.test
```

**Task 7.** Add `reject_rbl_client bl.lab.test` that way, check and reload.
"""),
    ("code", r"""
### BEGIN SOLUTION
host.postconf(e=["smtpd_recipient_restrictions = permit_mynetworks, "
                 "reject_unauth_destination, reject_rbl_client bl.lab.test"])
print("\n".join(host.check().lines()) or "postfix check: no problems")
warnings = host.reload()
### END SOLUTION
"""),
    ("code", r"""
from labmail.course_capstone import check_rbl
check_rbl(host, "bl.lab.test", "127.0.0.9")
"""),
    ("md", r"""
## Step 8 · The firewall

Last, the host's firewall (lesson 11): open the mail ports to the world —
SMTP 25, POP3 110, POP3S 995, IMAP 143, IMAPS 993 — and nothing else.
Two more rules every server with a `DROP` policy needs, and one matter of
order:

* `-i lo -j ACCEPT` — the machine talking to itself.  `spamc` reaches `spamd`
  (port 783) over the loopback interface; without this rule every message
  would wait for spamc's timeout and arrive unfiltered.
* `-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT` — answers to
  connections the server opened itself (its DNS queries, its deliveries).
* the policy last (`iptables -P INPUT DROP`): set it first over SSH and you
  lock yourself out before the next rule arrives.

Your users send mail through submission (587), so open it too; a real
server also keeps SSH (22) for you.  Then save the rules so that they survive
a reboot: `iptables-save > /etc/iptables/rules.v4` (Debian's
iptables-persistent loads that file at boot).  `host.firewall.run(command)`
runs a command line as root would on the host.

**Task 8.** Configure and save the firewall.
"""),
    ("code", r"""
### BEGIN SOLUTION
for command in ["iptables -A INPUT -i lo -j ACCEPT",
                "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                "iptables -A INPUT -p tcp -m multiport --dports 25,587,110,995,143,993 -j ACCEPT",
                "iptables -P INPUT DROP",
                "iptables-save > /etc/iptables/rules.v4"]:
    host.firewall.run(command)
### END SOLUTION
print(host.firewall.run("iptables -L INPUT -n"))
"""),
    ("code", r"""
from labmail.course_capstone import check_capstone_firewall
check_capstone_firewall(host)
"""),
    ("md", r"""
## Step 9 · The end-to-end test

Everything so far was checked piece by piece.  Now the real thing: Bob, at
`example.org`, writes to Alice.  His mail program submits the message to
*his* server (`mail.example.org`, port 587, STARTTLS and login); that server
looks up the MX of `capstone.test` in DNS, connects to your host on port 25
through your firewall, passes your restrictions and the RBL, and your host
delivers through procmail and SpamAssassin into Alice's Maildir, where she
reads it over IMAPS.

`send_as_bob(subject, body)` below is Bob's mail program: it submits a
message to `mail.example.org` on port 587, with `STARTTLS` and Bob's login,
and waits until both servers have passed it on.

**Task 9.** As Bob, send alice@capstone.test a message with the subject
`Welcome to the internet` and any text, and a second one with the subject
`Cheap cruise` whose text contains SpamAssassin's test string `GTUBE`
(imported below).
"""),
    ("code", r"""
from email.message import EmailMessage
from labmail import clients
from labmail.course_capstone import GTUBE

def send_as_bob(subject, body, to="alice@capstone.test"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Bob <bob@example.org>", to, subject
    msg.set_content(body)
    with clients.SMTP(org, "submission") as smtp:        # Bob's own server, port 587
        smtp.starttls(context=lab.client_tls_context())
        smtp.login("bob", "builder")
        smtp.send_message(msg)
    org.settle(); host.settle()        # both servers have passed it on

### BEGIN SOLUTION
send_as_bob("Welcome to the internet", "Hello Alice, your server works!")
send_as_bob("Cheap cruise", f"Book now!\n{GTUBE}\n")
### END SOLUTION
"""),
    ("code", r"""
from labmail.course_capstone import check_end_to_end
check_end_to_end(lab, host, org, "alice", "wonderland", subject="Welcome to the internet",
                 spam_subject="Cheap cruise", zone="bl.lab.test")
"""),
    ("md", r"""
The journey in the logs.  On Bob's server: the MX lookup led to your host,
with a *Verified* TLS connection (your certificate, checked against the lab
CA):
"""),
    ("code", r"""
for line in org.maillog.lines():
    if "capstone" in line and ("TLS" in line or "status=" in line):
        print(line)
"""),
    ("md", r"""
On yours: the connection from `mail.example.org`, the message handed to
procmail:
"""),
    ("code", r"""
import re
queue_ids = re.findall(r"queued as (\w+)", "\n".join(org.maillog.lines()))
for line in host.maillog.lines():
    if "from mail.example.org[" in line or any(qid in line for qid in queue_ids):
        print(line)
"""),
    ("md", r"""
And Alice's view, with her mail program:
"""),
    ("code", r"""
from labmail.notebook import MailClient
alice = MailClient(host, "alice", "wonderland")
print(alice)
alice.folder = "Junk"
print(alice)
"""),
    ("md", r"""
The spammer at 127.0.0.9 tries its luck, and is turned away at the door:
"""),
    ("code", r"""
from labmail.notebook import Telnet
with Telnet(host.endpoints["smtp"], source=("127.0.0.9", 0)) as spammer:
    print(spammer.talk("EHLO friendly.example.net", "MAIL FROM:<offers@example.net>",
                       "RCPT TO:<alice@capstone.test>", "QUIT"))
"""),
    ("md", r"""
Your mail service runs.  Stop the lab:
"""),
    ("code", r"""
lab.stop()
"""),
    ("md", f"""
## Key points

* A domain receives mail once DNS says where: an **MX** record naming the
  mail host, and an **A** record for that host (a PTR for its address helps
  it be trusted).
* `main.cf`: `myhostname` is the name the MX points to; `mydomain` the
  domain; `myorigin = $mydomain`; the domain belongs in `mydestination`;
  `mynetworks` trusts only your own machines; `smtpd_banner =
  $myhostname ESMTP` hides the software.  `postfix check`, then `postfix
  reload`.
* An account per user, and a password Dovecot can check.
* A certificate from a trusted CA (dns-01: a TXT record proves the name is
  yours) in `/etc/letsencrypt/live/HOST/`, named by Postfix's
  `smtpd_tls_cert_file`/`smtpd_tls_key_file` and Dovecot's `ssl_cert`/`ssl_key`.
* `mailbox_command = /usr/bin/procmail`, `:0 fw | /usr/bin/spamc` and a
  recipe on `X-Spam-Status: Yes` file spam into `.Junk/`, which IMAP shows.
* Postfix's `home_mailbox` and Dovecot's `mail_location` must agree;
  `disable_plaintext_auth = yes` keeps passwords off the wire.
* `reject_rbl_client` after `permit_mynetworks` and
  `reject_unauth_destination` refuses listed clients before they send.
* Firewall: accept `lo` and established connections, open 25, 110, 995, 143,
  993 (and 587), drop the rest, save the rules.
* Test end to end, from another server, as the internet will.

## Further reading

* Postfix Basic Configuration: <https://www.postfix.org/BASIC_CONFIGURATION_README.html>;
  every parameter: <https://www.postfix.org/postconf.5.html>
* Postfix TLS support: <https://www.postfix.org/TLS_README.html>; certbot's
  documentation: <https://eff-certbot.readthedocs.io/>
* Dovecot quick configuration: <https://doc.dovecot.org/configuration_manual/quick_configuration/>
* procmailrc(5): <https://manpages.debian.org/bookworm/procmail/procmailrc.5.en.html>;
  SpamAssassin's spamc: <https://spamassassin.apache.org/full/4.0.x/doc/spamc.html>
* RFC 5321 (SMTP) §5 on MX lookups: <https://www.rfc-editor.org/rfc/rfc5321#section-5>;
  RFC 5782 (DNS blocklists): <https://www.rfc-editor.org/rfc/rfc5782>
* Debian's wiki on iptables-persistent: <https://wiki.debian.org/iptables>

{NAV}
"""),
]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
