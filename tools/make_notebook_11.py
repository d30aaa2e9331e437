"""Build lesson 11, POP3 vs IMAP: three ways to read mail.

Same builder as ``tools/make_notebooks.py`` (its ``build``, ``execute`` and
``student_source`` are reused by import); the cells started from the IMAP
engineer's draft (issue 6)::

    .venv/bin/python tools/make_notebook_11.py                 # write and execute
    .venv/bin/python tools/make_notebook_11.py --no-execute
    .venv/bin/python tools/make_notebook_11.py --student build/student
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import (NOTEBOOKS, ROOT, Cell, build, execute,  # noqa: E402,F401
                            run_cli, student_source)  # tests rebuild through this module

NAME = "11-pop3-vs-imap.ipynb"


def main(argv: Sequence[str] = ()) -> int:
    return run_cli({NAME: L11}, argv, __doc__)


#: The firewall part (course outline, item 13): opening the mail ports with
#: iptables or firewalld on the host's own firewall, and saving them.
FIREWALL: List[Cell] = [
    ("md", r"""
## A firewall in front of the mail server

A server on the internet is knocked on all day: scanners try every port,
looking for a database, an admin page or a test daemon someone forgot to
stop.  The answer is a **default-deny** policy for incoming connections: the
kernel refuses every new connection unless a rule lets it in, so a service
started by mistake cannot be reached from outside.  Then you open exactly
what the world must reach — for this course's mail server:

| port | who connects | service |
|---|---|---|
| 25/tcp | other mail servers, delivering to us | SMTP |
| 110/tcp, 995/tcp | our users' mail programs | POP3, POP3S |
| 143/tcp, 993/tcp | our users' mail programs | IMAP, IMAPS |

The filter is **netfilter**, part of the Linux kernel.  It judges every
packet *before* any program sees it: a connection it drops never reaches
Postfix or Dovecot — no `connect from` line, no `Disconnected` line, nothing
in the maillog.  Two tools configure it: `iptables` (rules in chains; Debian's
`iptables-persistent` saves them) and `firewalld` (zones and services; the
default on Fedora and RHEL, a package on Debian).  We use both.

**In the lab** every host has `host.firewall`, and `host.firewall.run(...)`
takes the command lines you would type as root on a Debian 12 server and
prints what `iptables` 1.8.9 and `firewall-cmd` print there.  The lab has
no root and cannot filter packets, so each of the host's listeners asks its
firewall when a connection arrives — with the client's real address and the
*standard* port (993, not 10993), as the rules name it.  (From a terminal,
`labmail iptables --state DIR -L -n` and `labmail firewall-cmd --state DIR
...` change the same firewall; `DIR` is `host.state_dir`.)  The chains
start empty, with policy ACCEPT:
"""),
    ("code", r"""
fw = host.firewall
print(fw.run("iptables -L -n"))
"""),
    ("md", r"""
`-L` lists the rules, `-n` prints addresses and ports as numbers (no DNS
lookups).  `INPUT` is the chain for packets addressed to this machine —
the one a server's firewall is about; `FORWARD` is for packets a router
passes on, `OUTPUT` for packets leaving.

So far every service answers.  `knock` connects like a mail program at
127.0.0.1 — for the lab host, somewhere on the internet — and reports what
comes back within one second:
"""),
    ("code", r"""
import socket

MAIL_SERVICES = ("smtp", "submission", "pop3", "pop3s", "imap", "imaps")

def knock(service, timeout=1.0):
    # connect to the host's service as a client would; what comes back, and how fast?
    try:
        with socket.create_connection(host.endpoints[service], timeout=timeout) as s:
            if service in ("pop3s", "imaps"):          # TLS from the first byte (RFC 8314)
                with tls.wrap_socket(s, server_hostname=host.hostname) as t:
                    first = t.recv(100)
            else:
                first = s.recv(100)
    except TimeoutError:
        return f"{service:10} silence: nothing within {timeout:g} s"
    except ConnectionResetError as exc:
        return f"{service:10} refused at once: {exc.strerror}"
    return f"{service:10} {first.decode().strip()[:48]}"

for service in MAIL_SERVICES:
    print(knock(service))
"""),
    ("md", r"""
Now the rules, in the order an administrator types them on a server far
away:

1. `-i lo -j ACCEPT` — the machine talking to itself (`spamc` to spamd on
   127.0.0.1, a local `mail` command handing mail to Postfix);
2. `-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT` — packets of
   connections already accepted, and the answers to the server's own
   connections: DNS replies, the other side of the SMTP sessions Postfix
   opens to deliver mail.  Without it the server could not look up an MX;
3. `--dport 22 -j ACCEPT` — ssh, or the next step locks you out;
4. the mail ports — here 25 and 993 for a start (the rest is your exercise),
   and a REJECT for 587: this server takes no submission, and clients should
   learn that at once;
5. `-P INPUT DROP` last: the policy takes whatever no rule accepted.
"""),
    ("code", r"""
for rule in ("iptables -A INPUT -i lo -j ACCEPT",
             "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
             "iptables -A INPUT -p tcp --dport 22 -j ACCEPT",
             "iptables -A INPUT -p tcp --dport 25 -j ACCEPT",
             "iptables -A INPUT -p tcp --dport 993 -j ACCEPT",
             "iptables -A INPUT -p tcp --dport 587 -j REJECT --reject-with tcp-reset",
             "iptables -P INPUT DROP"):
    assert fw.run(rule).rc == 0, rule          # like the shell: exit status 0 is success
print(fw.run("iptables -L INPUT -n --line-numbers"))
"""),
    ("md", r"""
The chain is read from the top, and the **first rule that matches decides**;
what no rule takes falls to the policy, now DROP.  With `-n`, iptables 1.8.9
prints protocols as numbers (`6` is TCP, `0` all of them); `tcp dpt:993` is
the destination port, and `--ctstate` shows as `ctstate RELATED,ESTABLISHED`.
Knock again:
"""),
    ("code", r"""
for service in MAIL_SERVICES:
    print(knock(service))
"""),
    ("md", r"""
Three outcomes, and this is how a client tells **DROP from REJECT**:

* **ACCEPT** (25, 993): the greeting, as before.
* **DROP** (110, 995, 143 — the policy): silence.  The kernel throws the
  packets away; the client cannot tell a dropped port from a dead host or a
  cut cable, and waits until its own timeout — Thunderbird spins, a sending
  Postfix waits `smtp_connect_timeout` (30 s) before it tries the next MX.
  On 995 not even the TLS handshake starts.  Scanners learn nothing, and
  neither do your own users.
* **REJECT** (587): an answer at once — with `--reject-with tcp-reset` a TCP
  reset, with the default `icmp-port-unreachable` an ICMP error.  The client
  fails immediately with "Connection refused" and can tell its user why.

*The lab's difference:* its listening socket has already accepted the
connection when the firewall is asked, so a lab REJECT arrives as a reset
just after `connect()` ("Connection reset by peer") and a lab DROP as a
connection that never says a word.  On a real server `connect()` itself
fails ("Connection refused") or times out.  The lab also judges only new
connections; a real kernel judges every packet, which is why rule 2 matters
there.

A real client, `poplib` with a one-second timeout, against the dropped POP3
port — and the maillog shows that Dovecot never heard of it:
"""),
    ("code", r"""
def pop3_log_lines():
    return [line for line in host.maillog.lines() if "pop3" in line]

before = len(pop3_log_lines())
try:
    clients.POP3(host, timeout=1)
except TimeoutError as exc:
    print("poplib gave up:", repr(exc))
print("new pop3 lines in the maillog:", pop3_log_lines()[before:])
"""),
    ("md", r"""
**Exercise 4.** Finish the firewall: mail programs anywhere must reach POP3
and IMAP on all four ports (110, 995, 143, 993) and other servers SMTP on 25,
while everything else stays closed — the policy stays DROP, 587 stays
rejected.  Use `fw.run("iptables ...")`; one rule may name several ports
with `-m multiport --dports 110,995,143`.
"""),
    ("code", r"""
### BEGIN SOLUTION
fw.run("iptables -A INPUT -p tcp -m multiport --dports 110,995,143 -j ACCEPT")
### END SOLUTION
print(fw.run("iptables -L INPUT -n"))
"""),
    ("code", r"""
from labmail.course import check_firewall
check_firewall(host, open_ports=(25, 110, 995, 143, 993), closed_ports=(465, 587, 783))
"""),
    ("md", r"""
`check_firewall` asks the firewall about a client at 192.0.2.1 (an address
reserved for examples: a stranger on the internet).  The mail programs see
it too:
"""),
    ("code", r"""
for service in MAIL_SERVICES:
    print(knock(service))
"""),
    ("md", r"""
A dropped client leaves no trace in the maillog: the daemon never saw it.
To see who knocks at closed ports, put a **LOG** rule last.  LOG decides
nothing — it hands a line to the kernel log and the packet goes on, here to
the DROP policy.  Kernel lines go to `/var/log/kern.log` (or `journalctl
-k`), never to the mail log; the `--log-prefix` makes them easy to find.
Port 465 (SMTPS) is not open:
"""),
    ("code", r"""
import re

fw.run('iptables -A INPUT -j LOG --log-prefix "INPUT-drop: "')
print(knock("smtps"))
for line in host.path("/var/log/kern.log").read_text().splitlines():
    # the client's port (SPT) and the packet's IP id change with every connection
    print(re.sub(r"ID=\d+ ", "ID=<id> ", re.sub(r"SPT=\d+ ", "SPT=<port> ", line)))
"""),
    ("md", r"""
One line per refused connection: the interface it came in on, the client's
address (`SRC`) and ours (`DST`), `PROTO=TCP`, the port it wanted (`DPT=465`)
and `SYN`, the first packet of a TCP connection.  On a server on the
internet this file fills quickly — which is why such a rule usually gets a
limit (`-m limit --limit 5/min`, not modelled in the lab).

"""),
    ("md", r"""
## Saving the rules

Rules typed with `iptables` live in the kernel only: a reboot forgets them.
Debian's `iptables-persistent` package loads `/etc/iptables/rules.v4` at
boot, in the format `iptables-save` prints and `iptables-restore` reads —
the table (`*filter`), each chain's policy, the rules as you would type them,
`COMMIT`:
"""),
    ("code", r"""
print(fw.run("iptables-save"))
"""),
    ("md", r"""
**Exercise 5.** Save the rules so that the host comes back with them after a
restart: write them where `iptables-persistent` reads them (or let
`netfilter-persistent save` do it).
"""),
    ("code", r"""
### BEGIN SOLUTION
fw.run("iptables-save > /etc/iptables/rules.v4")
### END SOLUTION
print("/etc/iptables/rules.v4 exists:", host.path("/etc/iptables/rules.v4").exists())
"""),
    ("code", r"""
from labmail.course import check_firewall_saved
check_firewall_saved(host, open_ports=(25, 110, 995, 143, 993), closed_ports=(465, 587, 783))
"""),
    ("md", r"""
The proof is a restart.  Like a reboot, it starts with empty chains and
loads the saved file:
"""),
    ("code", r"""
host.stop()
host.start()
print(host.firewall.run("iptables -L INPUT -n"))
for service in MAIL_SERVICES:
    print(knock(service))
"""),
    ("md", r"""
## The same with firewalld

firewalld thinks in **zones** (where a packet comes from) and **services**
(named sets of ports from `/usr/lib/firewalld/services/`: `imaps` is
993/tcp, `smtp-submission` 587/tcp).  The default zone, `public`, lets in
ssh and dhcpv6-client only and *rejects* everything else (with an ICMP
"host prohibited", so clients get an answer at once).

firewalld keeps two configurations.  A command changes the **runtime** one,
which the kernel uses now; with `--permanent` it changes the saved one
(`/etc/firewalld/zones/public.xml`) instead, which `--reload` and every boot
load.  `--runtime-to-permanent` saves what runs.

A server uses one of the two tools.  To switch, empty iptables (and save it
empty, or the old rules come back at the next boot) and start firewalld:
"""),
    ("code", r"""
for command in ("iptables -F INPUT", "iptables -P INPUT ACCEPT",
                "iptables-save > /etc/iptables/rules.v4",
                "systemctl enable --now firewalld"):
    assert fw.run(command).rc == 0, command
print(fw.run("firewall-cmd --state"))
print(fw.run("firewall-cmd --list-all"))
print(knock("pop3"))
"""),
    ("md", r"""
The mail services go into the permanent configuration, all in one command;
the running firewall does not change until the reload:
"""),
    ("code", r"""
print(fw.run("firewall-cmd --permanent --add-service=smtp --add-service=pop3 "
             "--add-service=pop3s --add-service=imap --add-service=imaps"))
print("runtime:  ", fw.run("firewall-cmd --list-services"))
print(fw.run("firewall-cmd --reload"))
print("runtime:  ", fw.run("firewall-cmd --list-services"))
print("permanent:", fw.run("firewall-cmd --permanent --list-services"))
"""),
    ("md", r"""
A port without a service name is opened with `--add-port`.  Say the users
should send mail through submission after all: 587 is opened in the runtime
configuration first, tried, then kept with `--runtime-to-permanent`:
"""),
    ("code", r"""
print(fw.run("firewall-cmd --add-port=587/tcp"))
print(knock("submission"))
print(fw.run("firewall-cmd --runtime-to-permanent"))
print(host.path("/etc/firewalld/zones/public.xml").read_text())
"""),
    ("md", r"""
The same checks as for iptables — the ports are open for a stranger, the
rest is closed, and a restart (firewalld is enabled, so it starts at boot)
keeps it so:
"""),
    ("code", r"""
print(check_firewall(host, open_ports=(25, 110, 995, 143, 993, 587), closed_ports=(465, 783)))
print(check_firewall_saved(host, open_ports=(25, 110, 995, 143, 993, 587)))
host.stop()
host.start()
print(fw.run("firewall-cmd --list-all"))
"""),
]


NAV = ("*previous:* [10 · POP3](10-pop3.ipynb) | [contents](../README.md#lessons) | "
       "*next:* [12 · Capstone: your own mail server](12-capstone-your-own-mail-server.ipynb)")

L11: List[Cell] = [
    ("md", f"""
# 11 · POP3 vs IMAP: three ways to read mail

{NAV}

**Time:** about 70 minutes &nbsp;·&nbsp; **Before:** [10 · POP3](10-pop3.ipynb)

**Questions**

* Why do mail programs need an access protocol at all?
* Why would a mail program keep mail on the server instead of downloading it?
* How does IMAP let a phone and a laptop see the same mailbox, folders and flags?
* How does a mail program that was offline for a week catch up without
  downloading everything again?
* Which ports does a firewall open so that people can read their mail?
* What does a mail program notice when a firewall drops or rejects it?

**After this lab you can**

* say why access protocols exist, and compare POP3's download model with
  IMAP's three modes — online, offline, disconnected;
* follow an IMAP session on the wire: tags, untagged `*` data, tagged results;
* use `imaplib` and `imapclient` to list folders, search, fetch, flag, move
  and delete;
* resynchronise a cached mailbox with `UIDVALIDITY`, `UIDNEXT` and CONDSTORE's
  `HIGHESTMODSEQ`;
* find special-use folders (`\\Sent`, `\\Junk`, ...), read the Dovecot
  settings and log lines behind it all, and say which ports a firewall opens
  for POP3, POP3S, IMAP and IMAPS;
* put a default-deny firewall in front of the server with `iptables` or
  `firewalld`, open ports 25, 110, 995, 143 and 993, tell DROP from REJECT by
  what a client sees, and save the rules so that they survive a reboot.
"""),
    ("md", r"""
## Why access protocols exist

SMTP carries a message *to* the recipient's server, and the local delivery
agent files it there (`/var/mail/alice`, `~/Maildir`).  The server is online
all the time; Alice's laptop and phone are not.  How does the mail get from
the server onto them?

* **The mail files are not available to the client.**  The mailbox lives on
  the server's disk.  A laptop at home or a phone on the road cannot open
  `/home/alice/Maildir` — and should not: Alice has no shell account there.
* **No access to the shared spool.**  In the old days users logged in to the
  mail host and read `/var/spool/mail` with `mail` or `pine`.  Sharing that
  spool over a network file system (NFS) needs locks that break, and gives
  every client the whole file system instead of *one* mailbox behind a password.
* **Slow links.**  A client on a slow or expensive link wants to see the
  subjects first and fetch only what it opens — not a 20 MB attachment it
  will never read.
* **Offline copies.**  People read mail on a train: the client keeps a copy,
  and changes made offline (read, deleted, filed) must be carried back.

An **access protocol** solves this: the client logs in over the network and
asks the server for *its own* mailbox.  Two are in use:

| | POP3 (RFC 1939, lesson 10) | IMAP (RFC 3501, now RFC 9051) |
|---|---|---|
| model | download, then (usually) delete on the server | work on the server; copies are optional |
| folders | only the INBOX | many folders, created by the client |
| flags (read, answered, ...) | none | kept on the server, shared by all devices |
| partial fetch | whole message (or `TOP`) | any header, any MIME part, any byte range |
| several devices | the first to download wins | all see the same mailbox |
| ports | 110, 995 with TLS | 143, 993 with TLS |

In this course's words, IMAP knows **three modes**: *online* (work on the
server), *offline* (download and delete, as POP3 does) and *disconnected* (a
local cache that resynchronises).  We try each one.

A lab with one host; Bob sends Alice three messages, and himself two:
"""),
    ("code", r"""
import labmail
from email.message import EmailMessage
from labmail import clients

lab = labmail.Lab(seed=1, clock="2026-11-27T09:00:00+00:00")
host = lab.add_host("mail.example.com", users={"alice": "wonderland", "bob": "builder"})
lab.start()
tls = lab.client_tls_context()          # trusts the lab's CA, checks the host name

def send(subject, body, to="alice@example.com"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@example.com", to, subject
    msg.set_content(body)
    with clients.SMTP(host) as smtp:
        smtp.send_message(msg)

for subject in ("Lunch?", "Slides", "Cheap pills"):
    send(subject, f"About: {subject}\n")
for subject in ("Invoice", "Minutes"):
    send(subject, f"About: {subject}\n", to="bob@example.com")
host.settle()
len(host.mailbox("alice")), len(host.mailbox("bob"))
"""),
    ("md", r"""
## The ports — and what a firewall has to open

Each access protocol has a port where the session starts in clear text (and
the client switches to TLS with `STLS`/`STARTTLS`), and a port where TLS
starts with the first byte (RFC 8314).  The lab listens on 10000 + the
standard port, at the host's own address:
"""),
    ("code", r"""
from labmail.host import STANDARD_PORTS

for service in ("pop3", "pop3s", "imap", "imaps"):
    ip, port = host.endpoints[service]
    print(f"{service:6} standard port {STANDARD_PORTS[service]:3}   lab: {ip}:{port}")
"""),
    ("md", r"""
A firewall in front of a mail server must let clients *in* to the ports of
the services it offers — TCP, from anywhere the users are:

| port | service | firewall |
|---|---|---|
| 110/tcp | POP3, `STLS` to upgrade | open only if clients still use it; the password must wait for TLS |
| 995/tcp | POP3S, TLS from the start | open for POP3 users |
| 143/tcp | IMAP, `STARTTLS` to upgrade | open only if clients still use it; the password must wait for TLS |
| 993/tcp | IMAPS, TLS from the start | open for IMAP users |

A firewall only sees port numbers, not whether a session on 110 or 143 has
switched to TLS yet.  That is why the *server* must refuse passwords in clear
text (Dovecot's `disable_plaintext_auth = yes`, lesson 10), and why many
sites open only 993 and 995.  Replies go back through the same connection, so
nothing has to be opened on the client's side.  With iptables the rule for a
TLS-only site reads `iptables -A INPUT -p tcp -m multiport --dports 993,995
-j ACCEPT`, with firewalld `firewall-cmd --permanent --add-service=imaps
--add-service=pop3s`.  (The lab host's own firewall is the last part of this
lesson.)

**Exercise 1.** Put into `tls_only_ports` the set of standard TCP ports a
firewall must open on a server whose users read mail with POP3 and IMAP, *over
TLS from the first byte only*.
"""),
    ("code", r"""
tls_only_ports = None
### BEGIN SOLUTION
tls_only_ports = {993, 995}
### END SOLUTION
"""),
    ("code", r"""
from labmail.course_access import check_tls_only_ports
check_tls_only_ports(tls_only_ports)
"""),
    ("md", r"""
## POP3's download model

First a reminder of lesson 10.  Bob's mail program collects his mail with
POP3 over TLS (port 995), stores it at home and deletes it on the server:
"""),
    ("code", r"""
pop = clients.POP3_SSL(host, context=tls)     # by name: TLS checks "mail.example.com"
pop.user("bob")
pop.pass_("builder")
print(pop.stat())                               # (messages, octets)
print(pop.uidl()[1])                            # the unique ids a client remembers
home = [b"\n".join(pop.retr(n)[1]) for n in range(1, pop.stat()[0] + 1)]
for n in range(1, len(home) + 1):
    pop.dele(n)
print(pop.quit())                               # the deletions happen now (UPDATE state)
print(len(home), "messages at home")
"""),
    ("md", r"""
That is all POP3 can do: one mailbox, no folders, no flags, and each message
fetched whole.  Once Bob's laptop has it, his phone never will — the copy on
the server is gone.  IMAP was made for the other way of working.

## IMAP by hand

Every IMAP command starts with a *tag* chosen by the client (`a1`, `a2`, ...),
so that a client may send several commands without waiting.  The server
answers with untagged lines (`* ...`: data) and ends with a line that repeats
the tag and says `OK`, `NO` (failed) or `BAD` (not understood).  A tiny
`openssl s_client -connect mail.example.com:993`, on the IMAPS port so the
password is never in clear text:
"""),
    ("code", r"""
import socket

def imap_by_hand(*commands):
    # send each command with a tag over IMAPS and print the dialogue
    raw = socket.create_connection(host.endpoints["imaps"], timeout=10)
    with tls.wrap_socket(raw, server_hostname=host.hostname) as s:
        print(f"   (TLS: {s.version()}, certificate for {host.hostname} verified)")
        f = s.makefile("rb")
        print("S:", f.readline().decode().rstrip())
        for n, command in enumerate(commands, 1):
            tag = f"a{n}"
            print("C:", tag, command)
            s.sendall(f"{tag} {command}\r\n".encode())
            for _ in range(100):                 # bounded: a lesson must never hang
                raw = f.readline()
                if not raw:                      # the server closed the connection
                    break
                line = raw.decode().rstrip("\r\n")
                print("S:", line)
                if line.startswith(tag + " "):
                    break

imap_by_hand("LOGIN alice wonderland", "SELECT INBOX",
             "FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "LOGOUT")
"""),
    ("md", r"""
Read the `SELECT` answer line by line: `FLAGS` lists the flags this folder
knows (`\Seen` = read, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`);
`3 EXISTS` is the number of messages; `UIDVALIDITY` and `UIDNEXT` are the
numbers a caching client remembers (below); `[READ-WRITE]` says this session
may change the folder.  `BODY.PEEK[...]` fetches part of a message *without*
marking it read; `BODY[...]` would set `\Seen`.  A message body arrives as a
*literal*: `{19}` announces 19 bytes that follow as they are.

A session moves through four states, and each state allows certain commands —
the server's own table:
"""),
    ("code", r"""
from labmail.access.imap.states import describe
print(describe())
"""),
    ("md", r"""
## Mode 1 — online: work on the server

In the online mode the client keeps (almost) nothing: it lists, searches,
reads, flags and files on the server, and every other device sees the result.

`imapclient` speaks IMAP for us and parses the answers.  `LabIMAPClient` is
`imapclient.IMAPClient` connected through `labmail.clients`: it reaches the
lab address but checks the certificate against the host *name*, on port 993.
Alice's laptop lists her folders:
"""),
    ("code", r"""
from labmail.course_access import LabIMAPClient

def connect(user="alice", password="wonderland"):
    c = LabIMAPClient(host)                      # IMAPS: TLS from the first byte
    c.login(user, password)
    return c

laptop = connect()
for flags, delimiter, name in laptop.list_folders():
    print(f"{name:6} {b' '.join(flags).decode()}")
"""),
    ("md", r"""
Besides the INBOX, Dovecot creates four **special-use folders** (RFC 6154).
Their flags — `\Drafts`, `\Junk`, `\Sent`, `\Trash` — tell every client
which folder is for what, whatever it is called (a German client might show
"Gesendet" for `\Sent`); the spam filter can file spam into the `\Junk`
folder.  `\HasNoChildren` says a folder has no subfolders (RFC 3348).

Alice searches, files the spam and flags a message — all on the server,
nothing is downloaded:
"""),
    ("code", r"""
laptop.select_folder("INBOX")
spam = laptop.search(["SUBJECT", "pills"])
laptop.move(spam, "Junk")                       # MOVE (RFC 6851)
lunch = laptop.search(["SUBJECT", "Lunch"])
laptop.add_flags(lunch, [b"\\Flagged"])
{uid: data[b"FLAGS"] for uid, data in laptop.fetch(laptop.search(["ALL"]), ["FLAGS"]).items()}
"""),
    ("md", r"""
Folders are the client's to make.  Alice creates one for a project; another
device sees it at once:
"""),
    ("code", r"""
laptop.create_folder("Projects")
laptop.copy(laptop.search(["SUBJECT", "Slides"]), "Projects")
other = connect()
status = other.folder_status("Projects", ["MESSAGES", "UIDNEXT"])
other.logout()
status
"""),
    ("md", r"""
The numbers the client works with are **UIDs**: each message keeps its UID
in a folder for as long as the folder's `UIDVALIDITY` stays the same, so a
client can name a message across sessions (message *numbers* shift when
others are expunged, just as in POP3).  Dovecot keeps them in
`dovecot-uidlist` next to the Maildir; every folder is a Maildir++
subdirectory whose name starts with a dot:
"""),
    ("code", r"""
maildir = host.maildir_path("alice")
header, *records = (maildir / "dovecot-uidlist").read_text().splitlines()
print(header)             # version 3, V = UIDVALIDITY, N = next UID, G = mailbox GUID
print(len(records), "messages in the INBOX, one line each: UID, size, file name")
sorted(p.name for p in maildir.iterdir() if p.name.startswith("."))
"""),
    ("md", r"""
**Exercise 2.** Special-use folders are found by their flag, not by their
name.  Using `laptop.list_folders()`, put the name of Alice's folder flagged
`\Junk` into `junk` (let the code find it: do not type the name).
"""),
    ("code", r"""
junk = None
### BEGIN SOLUTION
for flags, delimiter, name in laptop.list_folders():
    if b"\\Junk" in flags:
        junk = name
### END SOLUTION
junk
"""),
    ("code", r"""
from labmail.course_access import check_junk_folder
check_junk_folder(host, junk)
"""),
    ("md", r"""
## Mode 2 — offline: download and delete, like POP3

IMAP can work as POP3 does: fetch everything, then delete it on the server.
This time with the standard library's `imaplib`, on port 143 with
`STARTTLS` before the password.  Deleting is two steps: the `\Deleted` flag
marks a message, `EXPUNGE` removes the marked ones.  (Bob plays this part, so
Alice keeps her mail for the next one.)
"""),
    ("code", r"""
send("Agenda", "1. lunch\n", to="bob@example.com")
send("Photos", "From the trip.\n", to="bob@example.com")
host.settle()

imap = clients.IMAP4(host)                      # port 143, clear text so far
imap.starttls(ssl_context=tls)                  # now TLS, host name checked
print(imap.login("bob", "builder"))
print(imap.select("INBOX"))
typ, [numbers] = imap.search(None, "ALL")
downloaded = [imap.fetch(n, "(RFC822)")[1][0][1] for n in numbers.split()]
print(imap.store("1:*", "+FLAGS", r"(\Deleted)"))
print(imap.expunge())                           # one "* n EXPUNGE" per message removed
print(len(downloaded), "downloaded;", imap.select("INBOX")[1], "left on the server")
imap.logout()
"""),
    ("md", r"""
The `EXPUNGE` replies name message *numbers*, and every removal renumbers
the messages after it (RFC 3501 §7.4.1) — one more reason why clients hold
on to UIDs.  `RFC822` fetched the whole message and set `\Seen` on the way.

## Mode 3 — disconnected: a local cache that resynchronises

The disconnected mode joins the other two: the phone keeps a copy of the
folder so Alice can read offline, and changes go to the server when it is
online.  To catch up cheaply it remembers three numbers from `SELECT`:

* `UIDVALIDITY` — are my UIDs still valid?  If it changed (the folder was
  recreated), throw the cache away and download again;
* `UIDNEXT` — every message with a UID from here on is new;
* `HIGHESTMODSEQ` (the CONDSTORE extension, RFC 7162) — every change to a
  message raises its *modification sequence*; the client asks only for
  messages changed since the number it saw.
"""),
    ("code", r"""
phone = connect()
phone.enable("CONDSTORE")
state = phone.select_folder("INBOX")
cache = {uid: data[b"FLAGS"] for uid, data in phone.fetch(phone.search(["ALL"]), ["FLAGS"]).items()}
saved = {k: state[k] for k in (b"UIDVALIDITY", b"UIDNEXT", b"HIGHESTMODSEQ")}
phone.logout()                                   # the phone goes offline
print("cached:", cache)
saved
"""),
    ("md", r"""
While the phone is offline, Alice reads one message on the laptop, deletes
another, and a new message arrives:
"""),
    ("code", r"""
laptop.select_folder("INBOX")
laptop.add_flags(laptop.search(["SUBJECT", "Slides"]), [b"\\Seen"])
laptop.delete_messages(laptop.search(["SUBJECT", "Lunch"]))
laptop.expunge()
send("Meeting moved", "Now at three.\n")
host.settle()
"""),
    ("md", r"""
Back online, the phone asks only for what changed — not for the whole folder.
One catch: `UID n:*` always matches the *last* message even when its UID is
below `n` (RFC 3501 §6.4.8: `*` is the highest UID), so the answer is
filtered.  Messages expunged meanwhile are the cached UIDs the server no
longer lists (the QRESYNC extension, RFC 7162 §3.2, would name them directly).
"""),
    ("code", r"""
phone = connect()
phone.enable("CONDSTORE")
now = phone.select_folder("INBOX")
assert now[b"UIDVALIDITY"] == saved[b"UIDVALIDITY"]       # otherwise: throw the cache away
print("HIGHESTMODSEQ", saved[b"HIGHESTMODSEQ"], "->", now[b"HIGHESTMODSEQ"])
on_server = phone.search(["ALL"])                           # UIDs only: small
changed = phone.fetch(on_server, ["FLAGS"], modifiers=[f"CHANGEDSINCE {saved[b'HIGHESTMODSEQ']}"])
new = [uid for uid in phone.search(["UID", f"{saved[b'UIDNEXT']}:*"]) if uid >= saved[b"UIDNEXT"]]
gone = sorted(set(cache) - set(on_server))
print("flags changed:", {uid: d[b"FLAGS"] for uid, d in changed.items() if uid in cache})
print("new messages: ", new)
print("expunged:     ", gone)
"""),
    ("md", r"""
Three small answers instead of the whole folder — on a slow link that is the
difference between seconds and minutes.  Tools such as `mbsync` (isync) and
`offlineimap` keep full local copies in this way, both directions.

## Being told at once: IDLE

Instead of asking every few minutes, a client can say `IDLE` (RFC 2177) and
wait: the server tells it the moment something changes.
"""),
    ("code", r"""
phone.idle()
send("Coffee?", "Now?\n")
host.settle()
news = phone.idle_check(timeout=5)          # e.g. [(4, b'EXISTS'), (1, b'RECENT')]
phone.idle_done()
phone.logout()
b"EXISTS" in {kind for _, kind in news}
"""),
    ("md", r"""
**Exercise 3.** Alice answered the message about the meeting from her phone.
Working on the server with `laptop`, mark every message in her INBOX whose
subject contains "Meeting" as answered (`\Answered`) — and no other message.
"""),
    ("code", r"""
### BEGIN SOLUTION
laptop.select_folder("INBOX")
laptop.add_flags(laptop.search(["SUBJECT", "Meeting"]), [b"\\Answered"])
### END SOLUTION
"""),
    ("code", r"""
from labmail.course_access import check_flagged
check_flagged(host, "Meeting", r"\Answered")
"""),
    ("md", r"""
## Behind it: Dovecot's settings and log

On a real server all of this is Dovecot (`dovecot-imapd` and
`dovecot-pop3d` on Debian).  The lab reads the same `dovecot.conf` settings:
which protocols run (`protocols`), TLS (`ssl`, `ssl_cert`, `ssl_key`),
whether passwords may cross the wire in clear text before TLS
(`disable_plaintext_auth`), who the users are (`passdb`/`userdb`), and
where the mail lives (`mail_location`, agreeing with Postfix's
`home_mailbox = Maildir/` — the MTA delivers where Dovecot reads).
"""),
    ("code", r"""
print(host.path("/etc/dovecot/dovecot.conf").read_text())
"""),
    ("md", r"""
A real Debian install spreads these over `/etc/dovecot/conf.d/` (`10-mail.conf`
for `mail_location`, `10-ssl.conf`, `10-auth.conf`, `15-mailboxes.conf` for the
special-use folders: `mailbox Junk { special_use = \Junk; auto = subscribe }`);
`doveconf -n` prints the settings that differ from the defaults.  The lab's
parser reads the file as Dovecot does:
"""),
    ("code", r"""
from labmail.access.dovecotconf import load_dovecot_conf
conf = load_dovecot_conf(host.path("/etc/dovecot/dovecot.conf"), protocol="imap")
print("protocols:", conf.protocols)
print("mail_location:", conf.mail_location)
print("ssl:", conf.ssl, " disable_plaintext_auth:", conf.disable_plaintext_auth)
"""),
    ("md", r"""
Each IMAP session leaves two lines in the mail log: `imap-login: Login:
user=<alice>, method=PLAIN, rip=..., lip=...` when the password was accepted
(`rip`/`lip`: remote and local IP), and `imap(alice)...: Disconnected: Logged
out in=... out=...` with the bytes read and written, and how many messages
the session deleted and expunged.  The laptop is still logged in, so its
second line is still missing:
"""),
    ("code", r"""
for line in host.maillog.lines():
    if "imap" in line:
        print(line)
"""),
    ("md", r"""
The laptop logs out:
"""),
    ("code", r"""
laptop.logout()
"""),
] + FIREWALL + [
    ("md", r"""
The lab stops:
"""),
    ("code", r"""
lab.stop()
"""),
    ("md", f"""
## Key points

* Access protocols exist because the mailbox lives on a server that clients
  cannot open directly: no shared spool, no file access, slow links, and
  people who want copies to read offline.
* POP3 downloads (and usually deletes): one mailbox, no folders, no flags on
  the server.  IMAP works on the server and keeps every device in step.
* IMAP's modes: **online** (work on the server), **offline** (download and
  delete, as POP3), **disconnected** (a local cache resynchronised with
  `UIDVALIDITY`, `UIDNEXT` and CONDSTORE's `HIGHESTMODSEQ`/`CHANGEDSINCE`).
* IMAP commands carry tags; `*` lines are data; `OK`/`NO`/`BAD` end a
  command.  UIDs stay, message numbers shift; `\\Deleted` + `EXPUNGE` delete.
* Special-use folders (`\\Sent`, `\\Drafts`, `\\Trash`, `\\Junk`) tell clients
  where things go; the spam filter can file spam into `Junk`.
* Ports: 110/995 for POP3/POP3S, 143/993 for IMAP/IMAPS (lab: 10110, 10995,
  10143, 10993).  A firewall opens them for incoming TCP; TLS-only sites
  open just 993 and 995, and Dovecot's `disable_plaintext_auth = yes` keeps
  passwords off 110 and 143 until `STARTTLS`.
* A mail server's firewall denies by default (`iptables -P INPUT DROP`) and
  accepts `lo`, established connections, ssh and the mail ports 25, 110,
  995, 143, 993.  Netfilter decides before any daemon: a dropped client
  leaves no line in the maillog.
* DROP is silence until the client's timeout; REJECT is an immediate
  "connection refused".  Rules are read top-down, the first match wins.
* A LOG rule writes a line to the kernel log (`/var/log/kern.log`) and lets
  the packet go on; put it last to see what the policy drops.
* Save what you typed: `iptables-save > /etc/iptables/rules.v4`
  (iptables-persistent) or `netfilter-persistent save`; with firewalld,
  `--permanent` and `--reload`, or `--runtime-to-permanent`.

## Further reading

* RFC 1939, *Post Office Protocol – Version 3*: <https://www.rfc-editor.org/rfc/rfc1939>
* RFC 3501, *Internet Message Access Protocol – Version 4rev1*:
  <https://www.rfc-editor.org/rfc/rfc3501>; its successor RFC 9051 (IMAP4rev2):
  <https://www.rfc-editor.org/rfc/rfc9051>
* RFC 7162, *IMAP Extensions: Quick Flag Changes Resynchronization (CONDSTORE)
  and Quick Mailbox Resynchronization (QRESYNC)*: <https://www.rfc-editor.org/rfc/rfc7162>
* RFC 6154 (special-use mailboxes): <https://www.rfc-editor.org/rfc/rfc6154>;
  RFC 2177 (IDLE): <https://www.rfc-editor.org/rfc/rfc2177>;
  RFC 8314 (implicit TLS ports): <https://www.rfc-editor.org/rfc/rfc8314>
* Dovecot documentation: <https://doc.dovecot.org/> — in particular the mail
  location settings (<https://doc.dovecot.org/configuration_manual/mail_location/>)
  and the IMAP server (<https://doc.dovecot.org/configuration_manual/protocols/imap_server/>)
* `iptables(8)` and `iptables-extensions(8)` (`conntrack`, `multiport`,
  `REJECT`): <https://manpages.debian.org/bookworm/iptables/iptables.8.en.html>;
  the Debian wiki on saving rules: <https://wiki.debian.org/iptables>
* `firewall-cmd(1)` and firewalld's zones and services:
  <https://firewalld.org/documentation/>
* Python's `imaplib`: <https://docs.python.org/3/library/imaplib.html>;
  IMAPClient: <https://imapclient.readthedocs.io/>

{NAV}
"""),
]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
