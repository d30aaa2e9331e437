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


NAV = ("*previous:* [10 · POP3](10-pop3.ipynb) | [contents](../README.md#lessons) | "
       "*next:* [12 · Capstone: your own mail server](12-capstone-your-own-mail-server.ipynb)")

L11: List[Cell] = [
    ("md", f"""
# 11 · POP3 vs IMAP: three ways to read mail

{NAV}

**Time:** about 50 minutes &nbsp;·&nbsp; **Before:** [10 · POP3](10-pop3.ipynb)

**Questions**

* Why do mail programs need an access protocol at all?
* Why would a mail program keep mail on the server instead of downloading it?
* How does IMAP let a phone and a laptop see the same mailbox, folders and flags?
* How does a mail program that was offline for a week catch up without
  downloading everything again?
* Which ports does a firewall open so that people can read their mail?

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
  for POP3, POP3S, IMAP and IMAPS.
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
--add-service=pop3s`.  (An interactive firewall for the lab host comes in a
later lesson.)

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
The laptop logs out, and the lab stops:
"""),
    ("code", r"""
laptop.logout()
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
* Python's `imaplib`: <https://docs.python.org/3/library/imaplib.html>;
  IMAPClient: <https://imapclient.readthedocs.io/>

{NAV}
"""),
]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
