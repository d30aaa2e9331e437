"""Build lesson 09, Securing connections (TLS).

Same builder as ``tools/make_notebooks.py`` (its ``build``, ``execute`` and
``student_source`` are reused by import)::

    .venv/bin/python tools/make_notebook_09.py                 # write and execute
    .venv/bin/python tools/make_notebook_09.py --no-execute
    .venv/bin/python tools/make_notebook_09.py --student build/student
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import (NOTEBOOKS, ROOT, Cell, build, execute,  # noqa: E402,F401
                            run_cli, student_source)  # tests rebuild through this module

NAME = "09-securing-connections-tls.ipynb"


def main(argv: Sequence[str] = ()) -> int:
    return run_cli({NAME: L09}, argv, __doc__)


NAV = ("*previous:* 08 · Blocking at the door (RBLs) | [contents](../README.md#lessons) | "
       "*next:* [10 · POP3](10-pop3.ipynb)")
LIVE = "/etc/letsencrypt/live/mail.example.com"

L09: List[Cell] = [
    ("md", f"""
# 09 · Securing connections (TLS)

**Time:** about 60 minutes &nbsp;·&nbsp; **Before:** [02 · The SMTP dialogue](02-the-smtp-dialogue.ipynb), [04 · DNS, MX and relaying](04-dns-mx-and-relaying.ipynb)

**Questions**

* What can someone on the path between a mail client and a server read?
* How does a server prove who it is, and why do clients warn about a
  "self-signed" certificate?
* What do STARTTLS and "implicit TLS" mean, and which ports go with them?
* How do I make sure passwords never cross the network in clear text?

**After this lab you can**

* show, with a listener on the wire, that a password in `AUTH PLAIN` is
  readable by anyone on the path — and that after STARTTLS nothing is;
* make a certificate and key with `openssl req` (and read one);
* point Postfix (`smtpd_tls_cert_file`, `smtpd_tls_key_file`) and Dovecot
  (`ssl_cert`, `ssl_key`) at a certificate and reload them;
* explain a client's certificate warning, and choose between trusting one
  certificate and trusting a certificate authority;
* get a Let's-Encrypt-style certificate through a DNS challenge and use
  the files under `/etc/letsencrypt/live/`;
* offer submission on 587 (STARTTLS) and 465 (implicit TLS), and refuse
  authentication outside TLS.

{NAV}
"""),
    ("md", """
## The lab for this lesson

One server, `mail.example.com`, with two users.  As on a freshly installed
Debian server, it already has a certificate (the "snakeoil" one made at
installation; in the lab it is signed by the lab's own certificate
authority) and offers TLS on every service.  The port table shows the
standard port each lab port stands for.
"""),
    ("code", """
import base64, smtplib, ssl
import labmail
from labmail import clients
from labmail.course_tls import (tap, tapped_smtp, decode_auth_plain, overheard_passwords,
                                set_main_cf, set_dovecot_conf, smtp_dialogue, check_auth_only,
                                check_submitted, check_served_certificate)
from labmail.net.tlsctx import inspect_tls

lab = labmail.Lab(seed=1, clock="2026-11-27T09:00:00+00:00")
host = lab.add_host("mail.example.com", users={"alice": "wonderland", "bob": "builder"})
lab.start()
print(host.port_table())
"""),
    ("md", """
## 1 · The threat: a listener on the path

Mail crosses networks that neither the sender nor the server controls: a
café's Wi-Fi, a hotel network, a provider's routers.  Whoever sits on that
path — a *man in the middle* — sees every byte.  SMTP was designed in 1982
as clear text, and so was its password exchange: `AUTH PLAIN` only
base64-encodes `user` and `password`, which is an encoding, not encryption.

To see it, we switch on SMTP authentication on port 25 the careless way
(allowed with or without TLS), and put a *wire tap* between the client and
the server.  The tap relays every byte unchanged and keeps a copy.
"""),
    ("code", """
print(set_main_cf(host, smtpd_sasl_auth_enable="yes"))
host.reload()
wire = tap(lab, host, "smtp")                 # the eavesdropper, in front of port 25
with tapped_smtp(wire, host, local_hostname="laptop") as s:
    s.login("alice", "wonderland")            # no STARTTLS: all in clear text
    s.sendmail("alice@example.com", ["bob@example.com"],
               b"Subject: hello\\r\\n\\r\\nsent without TLS\\r\\n")
print(wire.transcript())
"""),
    ("md", """
Every line is readable, the message included.  The `AUTH PLAIN` line
carries the password; one line of Python (or `base64 -d` in a shell) turns
it back:
"""),
    ("code", """
line = [l for l in wire.transcript().splitlines() if l.startswith("C: AUTH PLAIN")][0]
print(line)
print(decode_auth_plain(line))
print(base64.b64decode(line.split()[-1]))
"""),
    ("md", """
## 2 · STARTTLS: the same dialogue, encrypted

RFC 3207 adds one command to SMTP: `STARTTLS`.  The server lists it in its
EHLO reply; the client sends it, the server answers `220 2.0.0 Ready to
start TLS`, and both sides run a TLS handshake over the same connection.
From then on every byte is encrypted.  The session also starts over: the
client must say EHLO again, and the server forgets everything it learnt
before the handshake (so nothing injected in clear text can survive it).

Same tap, same client — with one `starttls()` before `login()`:
"""),
    ("code", """
wire.clear()
with tapped_smtp(wire, host, local_hostname="laptop") as s:
    s.starttls(context=lab.client_tls_context())
    s.login("alice", "wonderland")
    s.sendmail("alice@example.com", ["bob@example.com"],
               b"Subject: hello again\\r\\n\\r\\nsent with TLS\\r\\n")
lines = wire.transcript().splitlines()
switch = lines.index("S: 220 2.0.0 Ready to start TLS")
print("\\n".join(lines[:switch + 1]))
kinds = sorted({l.split("[TLS ")[1].split(",")[0].split(":")[0] for l in lines[switch + 1:]
                if "[TLS " in l})
print(f"... then only TLS records: {', '.join(kinds)}")
print("password seen on the wire:", wire.seen(b"wonderland"), "| overheard:", overheard_passwords(wire))
lab.run(wire.stop())
"""),
    ("md", """
The server, of course, still reads everything: it holds the key.  Its own
transcript of the session marks the point where the wire became encrypted:
"""),
    ("code", """
server_view = host.transcripts("smtp")[-1]
print("\\n".join(str(l) for l in server_view.lines if l.text != "connection closed"))
"""),
    ("md", """
The server notes the handshake in its log, and the `Received:` header of
the message says how it came in: `ESMTPS` (S: TLS) and `A` when the client
authenticated (RFC 3848).
"""),
    ("code", """
host.settle()
print("\\n".join(l for l in host.maillog.read().splitlines()
                if "TLS connection" in l or "sasl_method" in l))
for msg in sorted(host.mailbox("bob"), key=lambda m: m["Subject"]):
    print(f'{msg["Subject"]:<12} ->', " ".join(msg["Received"].split()[8:11]))
"""),
    ("md", """
## 3 · A certificate of your own

Encryption alone is not enough: the client must also know it talks to the
real `mail.example.com` and not to the man in the middle, who could just as
well run TLS himself.  That is what the server's **certificate** is for: it
binds a public key to names, and it is signed — by the server itself
(*self-signed*) or by a **certificate authority** (CA) the client trusts.

The classic way to make a key and a self-signed certificate is one
`openssl` command.  The lab makes the same files with
`write_self_signed()`, and tells you the command it stands for:
"""),
    ("code", """
from labmail.net.certs import write_self_signed, openssl_req_command, load_certs, describe

print(openssl_req_command("mail.example.com", "/etc/ssl/certs/mail.pem",
                          "/etc/ssl/private/mail.key", sans=["mail.example.com"]))
info = write_self_signed(host.path("/etc/ssl/certs/mail.pem"),
                         host.path("/etc/ssl/private/mail.key"),
                         "mail.example.com", sans=["mail.example.com"])
print(info)
print("self-signed:", info.self_signed)
"""),
    ("md", """
`-x509` makes a certificate rather than a request, `-newkey rsa:2048` a new
2048-bit RSA key, `-nodes` leaves the key unencrypted (the server must read
it at start without a passphrase), `-days 365` is the validity, `-subj` the
name and `-addext subjectAltName=...` the names clients actually check
(RFC 6125).  The key file must stay private: mode 0600, readable by root
only.

Point Postfix at the pair.  Postfix's smtpd reads its certificate every time
it starts a process, so a reload is enough:
"""),
    ("code", """
print(set_main_cf(host, smtpd_tls_cert_file="/etc/ssl/certs/mail.pem",
                  smtpd_tls_key_file="/etc/ssl/private/mail.key",
                  smtpd_tls_security_level="may"))
problems = host.reload()              # postfix reload; returns its warnings
"""),
    ("md", """
## 4 · "This certificate is not trusted"

Now connect as a careful mail client does: verify the certificate against
the CAs the operating system trusts.  No CA signed this certificate, so the
client stops — this is the warning a mail program shows the first time it
meets a self-signed certificate ("the identity of the server cannot be
verified").
"""),
    ("code", """
try:
    with clients.SMTP(host, local_hostname="laptop") as s:
        s.starttls(context=ssl.create_default_context())
except ssl.SSLCertVerificationError as exc:
    print("refused:", exc.verify_message, f"(OpenSSL error {exc.verify_code})")
"""),
    ("md", """
`labmail tls-check` (the lab's `posttls-finger` / `openssl s_client`) shows
the same verdict in Postfix's words, with the certificate chain: subject
and issuer are the same name — nobody vouches for this key.
"""),
    ("code", """
report = inspect_tls(*host.endpoints["smtp"], starttls="smtp", cafile=lab.ca.root_path,
                     server_name="mail.example.com")
print(report)
"""),
    ("md", """
There are two ways out.

* **Trust this one certificate** (certificate pinning): give the client the
  certificate file itself as its only trust anchor.  It works, but every
  client must receive the file by some safe route, and again whenever the
  certificate changes.
* **Use a certificate signed by a CA that clients already trust.**  Then
  nothing needs to be handed out.  On the internet that is Let's Encrypt
  (free, automated); in the lab it is the lab's CA, whose root every lab
  client trusts (`lab.client_tls_context()`, and the file
  `lab.ca.root_path` for curl, openssl and mail programs).

The first way, for completeness:
"""),
    ("code", """
pinned = ssl.create_default_context(cafile=str(host.path("/etc/ssl/certs/mail.pem")))
with clients.SMTP(host, local_hostname="laptop") as s:
    s.starttls(context=pinned)
    print("trusted explicitly:", s.sock.version(), s.sock.cipher()[0])
"""),
    ("md", f"""
## 5 · A Let's-Encrypt-style certificate

A CA must check that whoever asks for a certificate for `mail.example.com`
controls that name.  Let's Encrypt's ACME protocol offers challenges; the
**dns-01** challenge asks you to publish a TXT record under
`_acme-challenge.<name>` whose value only you (holding your account key)
can compute.  The CA then looks the record up in DNS and, if it is there,
signs.  `certbot` automates it; the lab's `Certbot` does the same against
the lab's DNS and CA, step by step:
"""),
    ("code", """
from labmail.net.certbot import Certbot

bot = Certbot(host.path("/etc/letsencrypt"), lab.ca, lab.dns, lab.resolver,
              clock=lab.clock, ids=lab.ids)
order = bot.begin(["mail.example.com"])
challenge = order.challenges[0]
print("publish a TXT record at", challenge.record_name)
print(f"with a value of {len(challenge.txt_value)} characters (from the CA's token and your account key)")
"""),
    ("code", """
lab.dns.add(challenge.record_name, "TXT", f'"{challenge.txt_value}"', 60)   # your DNS zone
lineage = bot.finish(order)              # the CA queries DNS, checks the value, signs
lab.dns.remove(challenge.record_name, "TXT")
for f in sorted(lineage.live_dir.iterdir()):
    print(f"{f.name:<15} -> {f.resolve().relative_to(host.state_dir)}")
"""),
    ("md", f"""
This is certbot's layout: `live/mail.example.com/` holds links to the
current version in `archive/`, so renewal can swap them without touching
the configuration.

| file | what it is | who uses it |
|---|---|---|
| `cert.pem` | the server's certificate | rarely alone |
| `chain.pem` | the CA's intermediate certificate | |
| `fullchain.pem` | both: what the server must send | `smtpd_tls_cert_file`, Dovecot's `ssl_cert` |
| `privkey.pem` | the private key | `smtpd_tls_key_file`, Dovecot's `ssl_key` |

Point Postfix at them and reload:
"""),
    ("code", f"""
print(set_main_cf(host, smtpd_tls_cert_file="{LIVE}/fullchain.pem",
                  smtpd_tls_key_file="{LIVE}/privkey.pem"))
host.reload()
report = inspect_tls(*host.endpoints["smtp"], starttls="smtp", cafile=lab.ca.root_path,
                     server_name="mail.example.com")
print(report)
"""),
    ("md", """
*Verified*: the chain leads to a trusted root and the name matches.  The
ordinary client from section 4 that refused the self-signed certificate,
given the lab's root as its trust store, now simply works:
"""),
    ("code", """
with clients.SMTP(host, local_hostname="laptop") as s:
    s.starttls(context=lab.client_tls_context())
    print("verified:", s.sock.version(), s.sock.cipher()[0],
          "| issuer:", dict(x[0] for x in s.sock.getpeercert()["issuer"])["commonName"])
"""),
    ("md", """
Let's Encrypt certificates live 90 days; `certbot renew` (run twice a day
by a timer) renews those with less than 30 days left.  With the lab clock:
"""),
    ("code", """
def renew():
    return [(r.name, f"version {bot.certificates()[0].version}" if r.renewed else "not due")
            for r in bot.renew()]
print(renew())                                  # nothing due yet
lab.clock.advance(hours=24 * 61)
print(renew())                                  # 29 days left: renewed
"""),
    ("md", """
## 6 · Implicit TLS and STARTTLS, and their ports

STARTTLS upgrades a clear-text connection.  **Implicit TLS** starts the
handshake as soon as the TCP connection opens, before the server's
greeting; nothing is ever sent in clear.  RFC 8314 (2018) recommends
implicit TLS for mail clients.

| service | clear text, STARTTLS | implicit TLS |
|---|---|---|
| SMTP between servers | 25 | — |
| mail submission (clients sending) | 587 (`submission`) | 465 (`submissions`, Postfix: `smtps`) |
| POP3 | 110 (`STLS`, RFC 2595) | 995 (`pop3s`) |
| IMAP | 143 (`STARTTLS`) | 993 (`imaps`) |

Servers talk to each other on port 25 with opportunistic STARTTLS
(`smtpd_tls_security_level = may`); clients submit their mail on 587 or
465, where Postfix requires TLS and a login.  In `master.cf` these are two
more smtpd services with their own `-o` settings:

```
submission inet n - y - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
smtps     inet n - y - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
```

On 465 a client wraps the socket in TLS first (`SMTP_SSL`, `POP3_SSL`,
`IMAP4_SSL`):
"""),
    ("code", """
with clients.SMTP_SSL(host, context=lab.client_tls_context(), local_hostname="laptop") as s:
    print(s.ehlo()[1].decode().splitlines()[:1], "... no STARTTLS: already encrypted")
    s.login("alice", "wonderland")
    s.sendmail("alice@example.com", ["bob@example.com"],
               b"Subject: via 465\\r\\n\\r\\nimplicit TLS\\r\\n")
host.settle()                                   # let delivery finish
pop = clients.POP3_SSL(host, context=lab.client_tls_context())
print(pop.getwelcome().decode())
pop.user("bob"); pop.pass_("builder")
print("bob has", pop.stat()[0], "messages")
pop.quit()
print("quit")
"""),
    ("md", """
## 7 · Authentication only inside TLS

On the submission port the server refuses everything but EHLO, NOOP,
STARTTLS and QUIT until TLS is on (`530 5.7.0 Must issue a STARTTLS command
first`), and it does not even *offer* AUTH before (`smtpd_tls_auth_only`):
a client cannot leak its password by mistake.
"""),
    ("code", """
secret = base64.b64encode(b"\\0alice\\0wonderland").decode()
for line in smtp_dialogue(host.endpoints["submission"],
                          ["EHLO laptop", "AUTH PLAIN " + secret, "STARTTLS", "<TLS>",
                           "EHLO laptop", "AUTH PLAIN " + secret, "QUIT"],
                          context=lab.client_tls_context(), server_name="mail.example.com"):
    print(line)
"""),
    ("md", """
The cleartext `AUTH PLAIN` above never got an answer but `530` — yet it
*was* sent in clear.  Port 25 of our server still offers AUTH without TLS
(section 1).  That is the first exercise.
"""),
    ("md", """
## Exercise 1 · No passwords in clear text on port 25

Change `main.cf` so that port 25 still offers AUTH, but only after
STARTTLS, and reload.  (Use `set_main_cf(host, name="value")`, which
edits the file as `postconf -e` does, or edit
`host.path("/etc/postfix/main.cf")` yourself.)
"""),
    ("code", """
### BEGIN SOLUTION
print(set_main_cf(host, smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="yes"))
problems = host.reload()              # postfix reload; returns its warnings
### END SOLUTION
"""),
    ("code", """
check_auth_only(lab, host)
"""),
    ("md", """
## Exercise 2 · Submit like a mail program

Send a message from alice to `bob@example.com` with the subject
`Exercise 2` the way a well-configured mail program does: to the
**submission** port, STARTTLS verified against the lab CA, then login.
Use `clients.SMTP(host, "submission", local_hostname="laptop")`.
"""),
    ("code", """
### BEGIN SOLUTION
with clients.SMTP(host, "submission", local_hostname="laptop") as s:
    s.starttls(context=lab.client_tls_context())
    s.login("alice", "wonderland")
    s.sendmail("alice@example.com", ["bob@example.com"],
               b"Subject: Exercise 2\\r\\n\\r\\nsubmitted properly\\r\\n")
    print("sent over", s.sock.version())
### END SOLUTION
"""),
    ("code", """
check_submitted(host, "bob", "Exercise 2")
"""),
    ("md", f"""
## Exercise 3 · Dovecot gets the same certificate

POP3 and IMAP still serve the snakeoil certificate.  Point Dovecot at the
Let's Encrypt files.  In `dovecot.conf` a leading `<` means "the contents
of this file":

```
ssl_cert = <{LIVE}/fullchain.pem
ssl_key = <{LIVE}/privkey.pem
```

Use `set_dovecot_conf(host, ssl_cert="<...", ssl_key="<...")`, then restart
the server (`host.stop(); host.start()`, as `systemctl restart dovecot`).
"""),
    ("code", f"""
### BEGIN SOLUTION
set_dovecot_conf(host, ssl_cert="<{LIVE}/fullchain.pem", ssl_key="<{LIVE}/privkey.pem")
host.stop(); host.start()
print(host)
### END SOLUTION
"""),
    ("code", f"""
print(check_served_certificate(lab, host, "pop3s", "{LIVE}"))
print(check_served_certificate(lab, host, "imap", "{LIVE}"))
"""),
    ("code", """
lab.stop()
lab
"""),
    ("md", f"""
## Key points

* Without TLS, anyone on the path reads everything, passwords included
  (`AUTH PLAIN` is base64, not encryption).
* STARTTLS (RFC 3207) upgrades a connection on 25/587/110/143; implicit TLS
  (RFC 8314) encrypts from the first byte on 465/995/993.  After STARTTLS
  the session starts over.
* A certificate binds names to a key; clients trust it only when a CA they
  trust signed it, or when they were given that very certificate.
* Let's Encrypt issues free certificates after a challenge (dns-01: a TXT
  record under `_acme-challenge`); point `smtpd_tls_cert_file`/`ssl_cert` at
  `live/DOMAIN/fullchain.pem` and the keys at `privkey.pem`.
* Offer AUTH only inside TLS (`smtpd_tls_auth_only = yes`, the submission
  ports), and look for `ESMTPSA` and `TLS connection established` to check.

## Further reading

* RFC 3207, *SMTP Service Extension for Secure SMTP over TLS*: <https://www.rfc-editor.org/rfc/rfc3207>
* RFC 8314, *Cleartext Considered Obsolete: Use of TLS for Email Submission and Access*:
  <https://www.rfc-editor.org/rfc/rfc8314>
* RFC 4954, *SMTP Service Extension for Authentication*: <https://www.rfc-editor.org/rfc/rfc4954>
* RFC 5321 §3.2 (the EHLO extensions STARTTLS and AUTH build on):
  <https://www.rfc-editor.org/rfc/rfc5321>
* RFC 8555, *Automatic Certificate Management Environment (ACME)*:
  <https://www.rfc-editor.org/rfc/rfc8555>
* Postfix TLS support: <https://www.postfix.org/TLS_README.html>; SASL:
  <https://www.postfix.org/SASL_README.html>
* Dovecot's SSL configuration: <https://doc.dovecot.org/configuration_manual/dovecot_ssl_configuration/>

{NAV}
"""),
]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
