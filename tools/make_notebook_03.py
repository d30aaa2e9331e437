"""Build lesson 03 (configuring the MTA).

Same builder as ``tools/make_notebooks.py`` (its ``build``, ``execute`` and
``student_source`` are reused by import); only the lesson differs::

    .venv/bin/python tools/make_notebook_03.py              # write and execute
    .venv/bin/python tools/make_notebook_03.py --no-execute
    .venv/bin/python tools/make_notebook_03.py --student build/student
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import (NOTEBOOKS, ROOT, Cell, build, execute,  # noqa: E402,F401
                            run_cli, student_source)  # tests rebuild through this module


def main(argv: Sequence[str] = ()) -> int:
    return run_cli(LESSONS, argv, __doc__)


# ---------------------------------------------------------------------------
# The lesson
# ---------------------------------------------------------------------------
NAV_03 = ("*previous:* [02 · The SMTP dialogue, by hand](02-the-smtp-dialogue.ipynb) | "
          "[contents](../README.md#lessons) | *next:* [04 · DNS, MX and relaying](04-dns-mx-and-relaying.ipynb)")

L03: List[Cell] = [
    ("md", f"""
# 03 · Configuring the MTA

**Time:** about 60 minutes &nbsp;·&nbsp; **Before:** [02 · The SMTP dialogue, by hand](02-the-smtp-dialogue.ipynb)

**Questions**

* What does Debian's installer write into `/etc/postfix/main.cf`, and why
  does it ask which *kind* of mail server you want?
* How does Postfix read `main.cf`, and what does a `$` in a value mean?
* Which settings decide the server's name, the domains it accepts mail for,
  where mailboxes live and who may send mail *through* it?
* How do I find a mistake in `main.cf` before it takes the server down?

**After this lab you can**

* name Debian's five configuration types and say what each one changes;
* read and edit `main.cf`, and use `postconf` (`-n`, `-d`, `-x`, `-e`) to
  see what Postfix really uses;
* set `myhostname`, `mydomain`, `myorigin` and `mydestination`, and
  predict how they expand;
* choose between one mbox file per user in `mail_spool_directory` and
  `home_mailbox = Maildir/`;
* hide the software in `smtpd_banner` and choose `inet_protocols`;
* check a configuration and reload it safely;
* recognise an open relay, and close it with `mynetworks`.

{NAV_03}
"""),
    ("md", """
## Installing Postfix: one question, five answers

On Debian or Ubuntu, `apt-get install postfix` (or later
`dpkg-reconfigure postfix`) asks for the **general mail configuration type**:

| answer | the server … |
|---|---|
| *Internet Site* | sends and receives mail itself, directly over SMTP |
| *Internet with smarthost* | receives mail directly, but sends everything through another server, the *smarthost* (`relayhost`) |
| *Satellite system* | sends everything to the smarthost and accepts no mail from the network (`inet_interfaces = loopback-only`) |
| *Local only* | only delivers between the machine's own users (`default_transport = error`) |
| *No configuration* | writes no `main.cf` at all; Postfix will not start until you do |

The installer then asks a few more things (the *system mail name*, the
networks to trust) and writes `main.cf` with `postconf -e`, one setting at a
time.  `labmail.mta.profiles` writes the same file, so you can look at it
without a spare machine.  Our server will be `mail.example.com`, receiving
mail for `example.com`:
"""),
    ("code", """
from labmail.mta.profiles import PROFILES, debian_install

site = debian_install("internet-site", hostname="mail.example.com", mailname="example.com")
print(site.main_cf)
"""),
    ("md", """
That is the whole file: about twenty-five settings.  Postfix knows about a
thousand parameters; every one that `main.cf` does not set keeps its
built-in default.  Note `smtpd_banner`, `myhostname`, `mydestination`
(the domains this machine takes mail for; `example.com` is there because it
is the mail name we gave) and `mynetworks` (the clients trusted to send mail
out through this server).

What do the other answers change?  The settings in which each profile
differs from *Internet Site*:
"""),
    ("code", """
from labmail.mta.maincf import MainCf

def settings(profile):
    inst = debian_install(profile, hostname="mail.example.com", mailname="example.com")
    return MainCf.from_text(inst.main_cf).explicit() if inst.main_cf else None

internet_site = settings("internet-site")
for profile, label in PROFILES.items():
    s = settings(profile)
    if s is None:
        print(f"{label}: no main.cf at all")
        continue
    print(f"{label}:")
    for name, value in s.items():
        if internet_site.get(name) != value:
            print(f"    {name} = {value}")
"""),
    ("md", """
*Internet Site* prints nothing, since it is the reference.  A smarthost
(`smtp.example.com`, the installer's suggestion) appears as `relayhost`.
The satellite and the local-only system listen on the loopback interface
only, and *Local only* also sets `default_transport = error`: mail for any
other domain fails at once.  The other three types also leave the mail
name `example.com` out of `mydestination`.  The installer assumes that
another machine, the smarthost or the real mail server, takes the mail
for the domain.

## Our server

A lab host with the *Internet Site* file, plus the two small files the
installer writes next to it (`/etc/mailname` and `/etc/aliases`).  One
answer differs from the installer's suggestion.  It proposes
`mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128`: "trust this
machine only", since on a real server every `127.x.y.z` address is the
machine itself.  In the lab, though, all hosts *and* a "stranger on the
internet" (a client bound to `127.0.0.9`) share `127.0.0.0/8`.  So we
answer with this server's own addresses: `127.0.0.1`, where you sit, and
`127.0.0.2`, the server.  A second host, `mail.example.org`, stands for
somebody else's mail server.
"""),
    ("code", """
import labmail
from labmail.notebook import Telnet, messages, tree, wait_idle

lab = labmail.Lab(seed=3, clock="2026-11-27T09:00:00+00:00")
site = debian_install("internet-site", hostname="mail.example.com", mailname="example.com",
                      mynetworks="127.0.0.1/32 127.0.0.2/32")
host = lab.add_host("mail.example.com", users={"alice": "wonderland", "bob": "builder"},
                    main_cf=site.main_cf, files=site.files)   # /etc/aliases, /etc/mailname
other = lab.add_host("mail.example.org", users={"victim": "unlucky"})
lab.start()
host.path("/etc/postfix/main.cf")
"""),
    ("md", """
On a real server the file is `/etc/postfix/main.cf`.  A lab host keeps
everything under its own state directory, and `host.path()` translates: an
absolute path in `main.cf` (`/etc/aliases`, `/var/mail`,
`/etc/ssl/certs/…`, `/etc/letsencrypt/live/…`) means that file *inside the
host's directory*.  You can open the file in JupyterLab's editor, or edit
it from Python as below.

## How Postfix reads main.cf

The rules are few (postconf(5)):

* one setting per line, `name = value`; spaces around `=` are optional;
* a line that **starts with whitespace continues** the line before it, so
  long lists can be spread over several lines;
* a line whose first non-blank character is `#` is a comment, but a `#`
  **after a value is part of the value**;
* if a name appears twice, the **later** setting wins, with a warning.

`MainCf` reads text with exactly these rules.  Here is a small file with
two traps:
"""),
    ("code", """
demo = MainCf.from_text(\"\"\"\\
# the domains we deliver locally
mydestination = $myhostname,
    localhost.$mydomain,   # not a comment!
    localhost
myhostname = first.example.com
myhostname = mail.example.com
\"\"\")
demo.warnings
"""),
    ("code", """
demo.get_list("mydestination")
"""),
    ("md", """
The second `myhostname` replaced the first, and Postfix says so; the line
number points at the later entry.  The "comment" became four bogus domain
names in the list.  Keep comments on lines of their own.

## Parameters that refer to each other: `$name`

A value may use another parameter: `$name`, `${name}` or `$(name)`.  The
reference is **expanded when the value is used**, so changing `myhostname`
changes everything built from it.  The `postconf` command shows the values
Postfix uses.  `host.postconf()` is the lab's `postconf` for a host, with
the same flags as keyword arguments; on a real server you type
`postconf myhostname mydomain …` in a shell:
"""),
    ("code", """
host.postconf("myhostname", "mydomain", "myorigin", "mydestination", "smtpd_banner")
"""),
    ("md", """
Those are the values as written (`postconf` without flags).  `mydomain`
is not in the file at all: its default is `myhostname` minus the first
label.  With `-x` (here `x=True`) every `$name` is expanded:
"""),
    ("code", """
host.postconf("mydomain", "mydestination", "smtpd_banner", x=True)
"""),
    ("md", """
`$mail_name` is `Postfix`, one more default.  The two other views every
administrator uses are `postconf -n` (only what `main.cf` sets) and
`postconf -d` (the built-in defaults, as if `main.cf` were empty):
"""),
    ("code", """
host.postconf("mydestination", "myorigin", "smtpd_banner", "mail_spool_directory", d=True)
"""),
    ("md", """
Postfix also knows conditional forms: `${name?value}` gives *value* when
`$name` is not empty, `${name:value}` when it is; and `$$` is a literal
dollar sign.  A quick test against a throw-away configuration:
"""),
    ("code", """
demo = MainCf.from_text("myhostname = mail.example.com\\nrelayhost = [smtp.example.net]:587\\n")
for text in ["${relayhost?via $relayhost}", "${relayhost:direct}", "${recipient_delimiter:no extensions}",
             "costs $$5"]:
    print(f"{text:<38} -> {demo.expand(text)}")
"""),
    ("md", """
## `myorigin`: the domain on unqualified addresses

A program on the server that sends mail "from `bob`" (`cron`, `mail`,
scripts) gives no domain; Postfix appends `$myorigin`, and it appends the
same to a recipient written without a domain.  Debian writes
`myorigin = /etc/mailname`: the first line of that file, here
`example.com`.  The usual advice says it directly, `myorigin = $mydomain`
(note the `$`: without it the value would be the word "mydomain").
`postconf -e` edits `main.cf` the way Postfix's installer does: it
replaces the setting in place, or appends it.  Then the server must
**reload** to read the file again:
"""),
    ("code", """
host.postconf(e=["myorigin = $mydomain"])
host.reload()
host.postconf("myorigin", x=True)
"""),
    ("md", """
Send a message from where you sit (`127.0.0.1`) to plain `alice`:
"""),
    ("code", """
me = Telnet(host.endpoints["smtp"])
me.talk("EHLO laptop", "MAIL FROM:<bob@example.com>", "RCPT TO:<alice>", "DATA")
"""),
    ("code", """
me.send_lines(["Subject: Lunch", "", "Canteen at noon?", "."])
"""),
    ("code", """
me.send("QUIT")
wait_idle(host)
print("\\n".join(host.maillog.lines("to=<alice")))
"""),
    ("md", """
The recipient became `alice@example.com`, a domain in `mydestination`, so
the message was delivered here (`relay=local`).  But where is it?

## Where mail is kept: `mail_spool_directory` or `home_mailbox`

Debian's `main.cf` sets neither, so Postfix's defaults apply:
`home_mailbox` is empty, and mail goes to **one mbox file per user** in
`mail_spool_directory`, `/var/mail` (Red Hat systems use
`/var/spool/mail`).  Every message is appended to that one file, after a
`From ` separator line:
"""),
    ("code", """
print(host.path("/var/mail/alice").read_text())
"""),
    ("md", """
`home_mailbox = Maildir/` instead delivers into the user's home
directory, and the **trailing slash** means the *Maildir* format: one
file per message in `new/`, moved to `cur/` once read.  Nothing is
appended to a shared file, so nothing needs locking, and a broken message
cannot damage the others.  (`home_mailbox = Mailbox`, without a slash,
would be an mbox file in the home directory.)
"""),
    ("code", """
host.postconf(e=["home_mailbox = Maildir/"])
host.reload()
with Telnet(host.endpoints["smtp"]) as me:
    me.talk("EHLO laptop", "MAIL FROM:<bob@example.com>", "RCPT TO:<alice@example.com>", "DATA")
    me.send_lines(["Subject: Lunch, again", "", "Now in your Maildir.", "."])
    me.send("QUIT")
wait_idle(host)
tree(host.path("/home/alice/Maildir"))
"""),
    ("md", """
The first message stays in `/var/mail/alice`: changing the setting moves
only new mail.  On a real server you would convert the old mailbox, or
tell the user.

## `smtpd_banner`: say less

Every client, including every spammer's scanner, sees the banner first:
"""),
    ("code", """
Telnet(host.endpoints["smtp"]).greeting
"""),
    ("md", """
Debian's banner names the software and the distribution.  A scanner
hunting for a server with a known bug learns it for free.  The name is
all a client needs (RFC 5321 §4.2 asks the greeting to start with the
server's name), so many sites shorten it:
"""),
    ("code", """
host.postconf(e=["smtpd_banner = $myhostname ESMTP"])
host.reload()
Telnet(host.endpoints["smtp"]).greeting
"""),
    ("md", """
## `inet_interfaces` and `inet_protocols`

`inet_interfaces` says on which addresses smtpd listens (`all`,
`loopback-only`, or a list of addresses).  `inet_protocols` says which IP
versions Postfix uses, for listening and for sending: `ipv4`, `ipv6` or
`all`.  A server without working IPv6 should say `ipv4`.  Otherwise
Postfix keeps trying IPv6 addresses of other servers and logs
"Network is unreachable".
"""),
    ("code", """
host.postconf("inet_interfaces", "inet_protocols")
"""),
    ("md", """
A *Satellite system* says `inet_interfaces = loopback-only`: smtpd then
listens on 127.0.0.1 only, and another machine that tries port 25 gets
"Connection refused" from the kernel, before Postfix hears anything.
These two parameters are read when Postfix *starts*, not on `postfix
reload` (the manual: "you need to stop and start Postfix when this
parameter changes"), so the change needs `systemctl restart postfix`:
in the lab `host.stop()` and `host.start()`.  Try it with a stranger at
127.0.0.9 and with the machine itself:
"""),
    ("code", """
import socket

def knock(source):
    \"\"\"Connect to port 25 from *source* and return the first reply or the error.\"\"\"
    try:
        with socket.create_connection(host.endpoints["smtp"], timeout=2,
                                      source_address=(source, 0)) as s:
            return s.recv(100).decode().strip() or "(closed)"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror}"

host.postconf(e=["inet_interfaces = loopback-only"])
host.reload()
print("after reload:   ", knock("127.0.0.9"))
host.stop(); host.start()                          # systemctl restart postfix
print("after restart:  ", knock("127.0.0.9"))
print("from the server:", knock("127.0.0.1"))
host.postconf(e=["inet_interfaces = all"])
host.stop(); host.start()
print("back to all:    ", knock("127.0.0.9"))
"""),
    ("md", """
The reload changed nothing; after the restart the stranger is refused
while a program on the server itself still gets the banner.  (A real
kernel refuses the `connect()` itself: "Connection refused".  The lab has
no root, so it accepts and resets at once: "Connection reset by peer".
Either way nothing of Postfix is reached.  A lab host
has one address, 127.0.0.N, standing for its network interface; "the
machine itself" is that address and 127.0.0.1, where this notebook
runs.)

## Check first, then reload

A mistake in `main.cf` can stop Postfix or make it behave oddly, and
Postfix tells you only in the log.  `postfix check` looks first;
the lab's version is `host.check()` (`labmail check` in a shell).  Four
typical mistakes at once:
"""),
    ("code", """
host.postconf(e=["inet_protocols = ipv5",
                 "mynetworks = 127.0.0.1/32 127.0.0.2/33",
                 "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destinaton",
                 "mydestinaton = $myhostname, localhost"])
result = host.check()
print("\\n".join(result.lines()))
result.ok
"""),
    ("md", """
Every problem names the file and line and says how to fix it.  A
misspelt parameter name is only a *warning*, since Postfix ignores names it
does not know (it says "unused parameter").  The closest real name is
suggested.

What if you reload now?  Like `postfix reload`, `host.reload()` reads the
file with the same rules.  It refuses a file with errors and lists them,
and the server keeps running with its old settings:
"""),
    ("code", """
try:
    host.reload()
except labmail.ConfigError as exc:
    print(exc)
host.config.get("inet_protocols")
"""),
    ("md", """
On a real server the habit is the same: `postfix check && postfix reload`.
Undo the four mistakes (`X=` removes a setting, as `postconf -X` does),
check and reload.  The reload returns Postfix's warnings; none are left:
"""),
    ("code", """
host.postconf(e=["inet_protocols = all", "mynetworks = 127.0.0.1/32 127.0.0.2/32",
                 "smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated "
                 "defer_unauth_destination"],
              X=["mydestinaton"])
print("\\n".join(host.check().lines()) or "postfix check: no problems")
host.reload()
"""),
    ("md", """
## `mynetworks` and the open relay

`mynetworks` lists the clients that may send mail **to any domain**
through this server: its own users' machines.  Everyone else may only
deliver mail *for* our domains.  Right now a stranger (a client bound to
`127.0.0.9`) can reach `alice@example.com`, but not relay to
`example.org`:
"""),
    ("code", """
host.postconf("mynetworks")
"""),
    ("code", """
stranger = Telnet(host.endpoints["smtp"], source=("127.0.0.9", 0))
stranger.talk("EHLO friendly.example.net", "MAIL FROM:<offers@example.net>",
              "RCPT TO:<alice@example.com>", "RCPT TO:<victim@example.org>", "QUIT")
"""),
    ("md", """
Now the classic mistake: a `mynetworks` that is too wide.  In real life it
is `0.0.0.0/0`, or the provider's whole network, written in a hurry
"so that it works".  In the lab, the installer's `127.0.0.0/8` does the
same damage, because the stranger lives there:
"""),
    ("code", """
host.postconf(e=["mynetworks = 127.0.0.0/8"])
host.reload()
spammer = Telnet(host.endpoints["smtp"], source=("127.0.0.9", 0))
spammer.talk("EHLO friendly.example.net", "MAIL FROM:<offers@example.net>",
             "RCPT TO:<victim@example.org>", "DATA")
"""),
    ("code", """
spammer.send_lines(["Subject: Cheap watches", "", "Buy now!", "."])
spammer.send("QUIT")
wait_idle(host), wait_idle(other)
path, spam = messages(other, "victim", subject="Cheap watches")[-1]
print(spam["Received"])
"""),
    ("md", """
The spam reached `victim@example.org`, and look at *who* delivered it:
`mail.example.com [127.0.0.2]`, **our** server.  The spammer stays hidden
behind us.  That is an **open relay**.  Spammers scan the internet for
them and find one within hours.  The receiving sites then report our
address to *blacklists* (lesson 08), and soon nobody accepts mail from
us, including our users' honest mail.

The defence is Postfix's relay rule, `smtpd_relay_restrictions =
permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination`:
relay for `mynetworks`, relay for users who logged in, and refuse
everything else that is not for our own domains.  It is only as good as
`mynetworks`.  (`defer_unauth_destination` answers `454 4.7.1`, "try
later", in case the administrator made a mistake.  Once `mynetworks` is
right, `reject_unauth_destination` refuses for good with
`554 5.7.1 <…>: Relay access denied`.)

## Exercise: close the relay

Make `mail.example.com` refuse to relay for the stranger again, while you
at `127.0.0.1` can still send mail anywhere and anyone can still write to
Alice.  Check your file, then reload.
"""),
    ("code", """
### BEGIN SOLUTION
host.postconf(e=["mynetworks = 127.0.0.1/32 127.0.0.2/32"])
host.reload()
### END SOLUTION
"""),
    ("md", """
The check connects as the stranger and as you, exactly as a relay tester
on the internet would:
"""),
    ("code", """
from labmail.course_config import check_relay_closed

check_relay_closed(host)
"""),
    ("md", """
## Exercise: repair a broken `main.cf`

A colleague wanted three things: IPv4 only, messages up to 20 MB, and the
relay protection spelled out in `smtpd_recipient_restrictions`.  They edited
`main.cf` by hand and did not run `postfix check`.  Here is their edit:
"""),
    ("code", """
cf = host.path("/etc/postfix/main.cf")
cf.write_text(cf.read_text().replace("inet_protocols = all", "inet_protocols = ipv5")
              + "message_size_limit = 20MB\\n"
              "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destinaton\\n")
print("\\n".join(host.check().lines()))
"""),
    ("md", """
`postfix reload` would refuse this file, and a `postfix start` after a
reboot would not start at all.  Repair the three lines with
`host.postconf(e=[...])` (each `name = value` replaces the line of that
name), keep what the colleague meant, check and reload.  Remember:
`message_size_limit` counts bytes and takes no unit.
"""),
    ("code", """
### BEGIN SOLUTION
host.postconf(e=["inet_protocols = ipv4", "message_size_limit = 20480000",
                 "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination"])
print("\\n".join(host.check().lines()) or "postfix check: no problems")
warnings = host.reload()
### END SOLUTION
"""),
    ("code", """
from labmail.course_config import check_config_repaired

check_config_repaired(host)
"""),
    ("md", """
Stop the lab:
"""),
    ("code", """
lab.stop()
lab
"""),
    ("md", f"""
## Key points

* Debian's installer asks for one of five configuration types and writes
  a short `main.cf` with `postconf -e`; everything else keeps Postfix's
  defaults (`postconf -d`).
* `main.cf` is `name = value` lines; an indented line continues the
  previous one; `#` starts a comment only at the beginning of a line; the
  last setting of a name wins.
* `$name` refers to another parameter and is expanded when used:
  `mydomain` comes from `myhostname`, `mydestination` and `smtpd_banner`
  from both.  `postconf -n`, `-d` and `-x` show what Postfix uses.
* `myorigin` completes unqualified addresses; `mydestination` lists the
  domains delivered here; `home_mailbox = Maildir/` replaces the mbox files
  in `mail_spool_directory`; `smtpd_banner` need not name the software;
  `inet_protocols` picks IPv4, IPv6 or both.
* Check before you reload (`postfix check && postfix reload`).  A refused
  reload leaves the running settings in force.
* `mynetworks` decides who may relay.  Too wide, and the server is an open
  relay that ends up on blacklists.

## Further reading

* Postfix basic configuration: <https://www.postfix.org/BASIC_CONFIGURATION_README.html>
* Every parameter and its default, postconf(5): <https://www.postfix.org/postconf.5.html>;
  the `postconf` command, postconf(1): <https://www.postfix.org/postconf.1.html>
* Relay control and the restriction lists: <https://www.postfix.org/SMTPD_ACCESS_README.html>
* Debian's package and its configuration types: `dpkg-reconfigure postfix`,
  `/usr/share/doc/postfix/README.Debian.gz`
* RFC 5321 §3.6 (relaying and mail routing) and §4.2 (the greeting):
  <https://www.rfc-editor.org/rfc/rfc5321>

{NAV_03}
"""),
]

LESSONS: Dict[str, List[Cell]] = {"03-configuring-the-mta.ipynb": L03}

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
