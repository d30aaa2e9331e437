"""Build the lesson notebooks 00-02 from the cell lists below, then (optionally) run them.

The lessons are written here as Python data so that they can be reviewed
as ordinary diffs; the ``.ipynb`` files are generated.  Executing stores the
outputs that ``pytest --nbval`` later compares::

    .venv/bin/python tools/make_notebooks.py              # write and execute all
    .venv/bin/python tools/make_notebooks.py 01 --no-execute
    .venv/bin/python tools/make_notebooks.py --student build/student

``--student DIR`` writes the student edition instead: no outputs, and each
``### BEGIN SOLUTION`` … ``### END SOLUTION`` region replaced by a stub
(nbgrader's convention), so the check cell after it fails with its hint
until the student writes the code.  (This covers lessons 00-02 only;
``tools/make_course.py`` builds both editions of every notebook, which is
what ``make course`` runs.)

Each lesson is a list of ``(kind, text)`` pairs at the end of this file;
kind is ``"md"`` or ``"code"`` (``"code:tag1,tag2"`` adds cell tags).  The
prose is the course's own; facts follow RFC 5321/5322 and the Postfix manuals.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

Cell = Tuple[str, str]

SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*(\n|$)",
                      re.S | re.M)
STUB = "# YOUR CODE HERE\nraise NotImplementedError()\n"


def student_source(source: str) -> str:
    """*source* with every solution region replaced by the stub.

    >>> student_source("a = 1\\n### BEGIN SOLUTION\\nb = 2\\n### END SOLUTION\\n")
    'a = 1\\n# YOUR CODE HERE\\nraise NotImplementedError()\\n'
    """
    return SOLUTION.sub(lambda m: "".join(m.group(1) + ln + "\n"
                                          for ln in STUB.splitlines()), source)


def build(name: str, cells: Sequence[Cell]) -> nbformat.NotebookNode:
    """A notebook from (kind, source) pairs; sources are stripped of outer blank lines."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(cells):
        kind, _, tags = kind.partition(":")
        text = source.strip("\n")
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(text)
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(text)
        else:
            raise ValueError(f"{name}: cell {i}: unknown kind {kind!r}")
        cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"     # stable ids keep diffs small
        if tags:
            cell.metadata["tags"] = tags.split(",")
        nb.cells.append(cell)
    return nb


def execute(path: Path) -> None:
    """Run the notebook in place so its outputs are stored."""
    jupyter = Path(sys.executable).with_name("jupyter")
    subprocess.run([str(jupyter), "nbconvert", "--to", "notebook", "--execute", "--inplace",
                    "--ExecutePreprocessor.timeout=60", str(path)], check=True)


def run_cli(lessons: Dict[str, List[Cell]], argv: Sequence[str], description: str) -> int:
    """The command line every lesson generator shares: build (and run) *lessons*.

    ``NN ...`` limits it to some lessons, ``--no-execute`` writes without
    running, ``--student DIR`` writes the student edition (stubs, no outputs).
    """
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("only", nargs="*", help="lesson numbers to build (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write without running")
    parser.add_argument("--student", metavar="DIR",
                        help="write the student edition (stubs, no outputs) into DIR")
    args = parser.parse_args(list(argv))
    for name, cells in lessons.items():
        if args.only and name[:2] not in args.only:
            continue
        if args.student:
            out = Path(args.student)
            out.mkdir(parents=True, exist_ok=True)
            nb = build(name, cells)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.source = student_source(cell.source).rstrip("\n")
            nbformat.write(nb, out / name)
            print(f"wrote {out / name}")
            continue
        target = NOTEBOOKS / name
        # Build and run a hidden copy next to the target (same working
        # directory for the kernel); a failed run leaves the old notebook alone.
        scratch = NOTEBOOKS / f".{name}.building.ipynb"
        nbformat.write(build(name, cells), scratch)
        try:
            if not args.no_execute:
                execute(scratch)
            os.replace(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


def main(argv: Sequence[str] = ()) -> int:
    return run_cli(LESSONS, argv, __doc__)


# ---------------------------------------------------------------------------
# The lessons
# ---------------------------------------------------------------------------
NAV_00 = ("*previous:* — | [contents](../README.md#lessons) | "
          "*next:* [01 · MUA, MTA and MDA](01-mua-mta-mda.ipynb)")

L00: List[Cell] = [
    ("md", f"""
# 00 · Welcome: a mail server you can open up

**Time:** about 15 minutes &nbsp;·&nbsp; **You need:** nothing beyond running a notebook cell

**Questions**

* What does this course teach, and in which order?
* What is a *lab*, and where do its mail servers run?
* Why does the lab's SMTP server listen on port 10025 instead of 25?

**After this lab you can**

* start a lab with one mail host, look at it, and stop it again;
* read a host's port table and say which standard port each lab port stands for;
* find the host's files (its `main.cf`, its mailboxes, its log);
* run, re-run and restart cells without losing track of what is running;
* solve an exercise and read what its check cell says.

{NAV_00}
"""),
    ("md", """
## What this course is about

Mail is older than the web and still runs on a handful of plain-text
protocols.  A Linux administrator who runs a mail service deals with the
same pieces again and again: an SMTP server that accepts and forwards mail
(usually **Postfix**), a program that puts mail into mailboxes, a POP3/IMAP
server that lets people read it (usually **Dovecot**), a spam filter
(**SpamAssassin**) and a few lines of DNS.

Normally you would learn this on a spare server that you control as root,
with a domain name and port 25 open to the internet.  This course replaces
that server with a **lab**: small Python versions of those programs that
speak the same protocols, answer with the same reply codes, write the same
kinds of files and the same log lines, and run inside this notebook.

| # | Lesson | What you do |
|---|--------|-------------|
| 00 | Welcome | start, inspect and stop a lab (this notebook) |
| 01 | MUA, MTA and MDA | follow one message from a mail program into a mailbox |
| 02 | The SMTP dialogue | talk SMTP by hand; read reply codes; make mistakes on purpose |
| 03 | Configuring the MTA | `main.cf`: `myhostname`, `mydomain`, `myorigin`, `mydestination`, `mynetworks`, `smtpd_banner` |
| 04 | DNS, MX and relaying | how a server finds the next hop; why an open relay is dangerous |
| 05 | The mail queue | why mail waits; `mailq`, `postfix flush` |
| 06 | Testing and logs | test messages with `mailx`; reading the maillog when something fails |
| 07 | Fighting spam | SpamAssassin scores, `required_hits`, `report_safe`, procmail |
| 08 | Blocking at the door | realtime blackhole lists (`reject_rbl_client`) |
| 09 | Securing connections | TLS for SMTP, certificates, Let's Encrypt |
| 10 | POP3 | fetching mail from a Dovecot-like server |
| 11 | POP3 versus IMAP | IMAP's online, offline and disconnected modes |
| 12 | Capstone | a small mail site, end to end |
"""),
    ("md", """
### Where installing Postfix went

On a real machine the first step would be installing the MTA: check for it
(`rpm -qa | grep postfix` on the Red Hat family), install it (`dnf -y install
postfix`, or `apt-get -y install postfix` on Debian and Ubuntu), then start it
and enable it at boot (`systemctl enable --now postfix`).  Debian's installer
also asks what kind of site you run: *No configuration*, *Internet Site*,
*Internet with smarthost*, *Satellite system* or *Local only*.

In this course the lab takes the place of that step: a lab host comes up
already "installed" and running, with a short `main.cf` that only names the
host and the domains it delivers to.  Lesson 03 reads and changes that file.
"""),
    ("md", """
## How a lab works

* A **lab** is a tiny private internet inside this notebook's Python process.
* A **host** is one mail server on it, with a fully qualified name such as
  `mail.example.com`, its user accounts, and its own files laid out as on a
  real server (`/etc/postfix/main.cf`, `/home/alice/Maildir`,
  `/var/log/maillog`), under a private *state directory*.
* Each host gets **its own IP address on the loopback network**.  On Linux the
  whole block `127.0.0.0/8` belongs to the machine itself, so the first host
  can be `127.0.0.2`, the next `127.0.0.3`, and so on, without any network
  card.  (Where the system allows only `127.0.0.1`, as on macOS, hosts share it
  and get separate port ranges instead.)
* **Ports.** Real servers listen on standard ports: SMTP 25, POP3 110,
  IMAP 143, …  Ports below 1024 are *privileged*: only root may listen on
  them.  On Binder or a shared JupyterHub you are not root, so the lab adds a
  **port base** of 10000: SMTP listens on 10025, POP3 on 10110, IMAP on 10143.
  The protocols are exactly the same; only the number differs.
* One background thread runs every server of the lab, so a cell can use an
  ordinary client library (such as Python's `smtplib`) and wait for its
  answer while the servers keep working.

Let's build one.  The two extra arguments make this notebook reproducible:
`seed` fixes the random queue ids and `clock` freezes the lab's time, so your
output matches the stored one.  In your own experiments you can leave them out.
"""),
    ("code", """
import labmail

lab = labmail.Lab(seed=1, clock="2026-11-27T09:00:00+00:00")
lab
"""),
    ("md", """
The lab exists but has no hosts and nothing listens yet.  Add a host with two
user accounts (the passwords matter from lesson 10 on, when users log in to
read their mail):
"""),
    ("code", """
host = lab.add_host("mail.example.com", users={"alice": "wonderland", "bob": "builder"})
host
"""),
    ("md", """
The host has an address but is **stopped**: adding a host only prepares its
files.  `lab.start()` opens every service and returns once all of them
listen:
"""),
    ("code", """
lab.start()
host
"""),
    ("md", """
## The port table

Which service listens where?  Each row pairs a service with its standard port
and the address the lab really uses:
"""),
    ("code", """
print(host.port_table())
"""),
    ("md", """
The first row is the one the next lessons use: SMTP, the protocol that moves
mail, on `127.0.0.2:10025`.  The other rows are services for later lessons,
such as POP3 and IMAP, which people use to read their mail (lessons 10 and
11).  The rule behind the numbers is just an addition, `port_base + standard
port`:
"""),
    ("code", """
for service, port in labmail.STANDARD_PORTS.items():
    print(f"{service:<11} standard {port:>3}  ->  lab {lab.port_base + port}")
"""),
    ("md", """
Two lines deserve a word: `submission` (587) is where mail programs hand in
mail with a password, `smtps` (465) the same over TLS from the first byte.
Both come back in lesson 09.

Is anything there?  A quick check with Python's SMTP client: connecting
returns the server's *greeting*, reply code `220` followed by the host name.
(`local_hostname="laptop"` is the name our client introduces itself with;
without it, Python would use this machine's name and your output would
differ from the stored one.)
"""),
    ("code", """
import smtplib

client = smtplib.SMTP(local_hostname="laptop")
print(client.connect(*host.endpoints["smtp"]))
print(client.quit())
"""),
    ("md", """
`220` means *service ready*, and `221` after `QUIT` means *closing*.  Lesson 02
explains these numbers in detail.

## The host's files

Everything the host keeps lives in its state directory, arranged as on a real
server.  `labmail.notebook.tree` lists it like the `tree` command:
"""),
    ("code", """
from labmail.notebook import tree

tree(host.state_dir)
"""),
    ("md", """
Among them:

* `etc/postfix/main.cf` is the MTA's configuration (lesson 03);
* `etc/passwd` lists the accounts and `etc/aliases` the aliases (such as
  `postmaster`, which every mail domain must have);
* `etc/dovecot/` configures the POP3/IMAP server (lessons 10 and 11), and
  `etc/ssl/` holds a self-signed certificate, as Debian creates one at
  installation (lesson 09);
* `home/alice/Maildir/` is where Alice's mail will land, one file per message
  (lesson 01);
* `var/spool/postfix/` holds the mail queue, one directory per queue
  (lesson 05);
* `var/log/maillog` is the mail log.

`host.path()` turns the path a real server would use into the file in the
lab, so you can open it.  Here is the configuration the host started with:
"""),
    ("code", """
print(host.path("/etc/postfix/main.cf").read_text())
"""),
    ("md", """
And the log.  Its format is syslog's (date, short host name, program with
its process id, message), as in `/var/log/maillog` on Red Hat systems or
`/var/log/mail.log` on Debian.  So far: the master daemon started (the
configuration path shows where this lab keeps its files, a new temporary
directory each time), then our test connection came and went.  `quit=1
commands=1` counts the commands the client sent: one, `QUIT`, and it
succeeded.  (`wait_idle` first waits the few milliseconds the server takes
to log the end of a connection.)
"""),
    ("code", """
from labmail.notebook import wait_idle

wait_idle(host)
print(host.maillog.read())
"""),
    ("md", """
## Exercises

Each lesson ends its sections with small exercises: a task, a cell for your
code, and a check cell that says what is still wrong.  Run the check cell
after your code.

**1. Which port?**  Store in `imap_port` the port on which *this lab* runs
the IMAP server of `mail.example.com` (a number).
"""),
    ("code", """
imap_port = None
### BEGIN SOLUTION
imap_port = host.endpoints["imap"][1]
### END SOLUTION
imap_port
"""),
    ("code", """
from labmail import course

course.check_port(host, "imap", imap_port)
"""),
    ("md", """
**2. Where is the file?**  On a real server the aliases live in
`/etc/aliases`.  Store in `aliases_path` where *this host* keeps that file.
"""),
    ("code", """
aliases_path = None
### BEGIN SOLUTION
aliases_path = host.path("/etc/aliases")
### END SOLUTION
aliases_path
"""),
    ("code", """
course.check_path(host, "/etc/aliases", aliases_path)
"""),
    ("md", """
## Running cells

* **Shift+Enter** runs a cell and moves to the next one.  Cells run in the
  order you run them, not in the order they appear: if something looks
  wrong, use *Kernel → Restart Kernel and Run All Cells*.
* The servers live inside the notebook's kernel.  Restarting the kernel
  stops the lab with it; run the notebook from the top to get it back.
* A cell that waits forever (a client waiting for a reply that never comes)
  can be stopped with *Kernel → Interrupt* (the ■ button).
* Running `lab.add_host(...)` twice for the same name fails on purpose, with
  a message saying so: a lab has one host of each name.

When you are done, stop the lab.  Every port is released and the host's
files stay until Python exits, so you could still read them:
"""),
    ("code", """
lab.stop()
lab
"""),
    ("md", """
## Key points

* The lab is a small private internet in the notebook: hosts with their own
  loopback addresses (`127.0.0.2`, …), accounts, files and servers.
* Services listen on `port_base + standard port` (SMTP 10025) because only
  root may use ports below 1024, and on Binder you are not root.
* `host.port_table()`, `host.path(...)`, `host.maillog` and
  `labmail.notebook.tree` show what the host is doing and keeping.
* Every lesson starts a lab in its first cells and stops it in its last.

## Further reading

* RFC 5321, *Simple Mail Transfer Protocol*: <https://www.rfc-editor.org/rfc/rfc5321>
* RFC 5322, *Internet Message Format*: <https://www.rfc-editor.org/rfc/rfc5322>
* The Postfix documentation, starting with the basic configuration guide:
  <https://www.postfix.org/BASIC_CONFIGURATION_README.html>

{nav}
""".replace("{nav}", NAV_00)),
]

NAV_01 = ("*previous:* [00 · Welcome](00-welcome.ipynb) | [contents](../README.md#lessons) | "
          "*next:* [02 · The SMTP dialogue](02-the-smtp-dialogue.ipynb)")

L01: List[Cell] = [
    ("md", f"""
# 01 · MUA, MTA and MDA: three programs, one message

**Time:** about 35 minutes &nbsp;·&nbsp; **Before:** [00 · Welcome](00-welcome.ipynb)

**Questions**

* What happens between pressing *Send* and a message appearing in someone's mailbox?
* Which program does which part of the job?
* What is the *envelope* of a message, and why is it not the same as its headers?

**After this lab you can**

* name the three parts of a mail service and give real programs for each;
* send a message with Python's `smtplib`, playing the mail program;
* read the MTA's side of that conversation (its transcript and its log lines);
* open the file the delivery agent wrote and explain its `Received:`,
  `Return-Path:` and `Delivered-To:` headers;
* send a blind copy by choosing the envelope recipients;
* send and read mail with a mail program in the notebook.

{NAV_01}
"""),
    ("md", """
## Three jobs, three kinds of program

A mail service splits its work between three kinds of program:

```
 Bob writes                                                         Alice reads
    |                                                                    ^
  [MUA] --SMTP, port 25--> [MTA] --SMTP--> ... --> [MTA] --> [MDA] --> mailbox --> [MUA]
 mail program            transfer agent          transfer agent  delivery agent
```

* The **MUA**, *mail user agent*, is what people read and write mail with:
  Thunderbird, Outlook, Apple Mail, mutt, `mailx`, or a webmail page.  It
  hands outgoing mail to an MTA and shows the mail that has arrived.
* The **MTA**, *mail transfer agent*, moves mail from site to site.  It
  accepts messages over SMTP, decides where each one goes, and either passes
  it to the next MTA or keeps it because the recipient is local.  On Linux
  the two classics are **Sendmail**, the old and famous one (free, but
  built as one large program with a notoriously intricate configuration and a
  long record of security holes), and **Postfix**, written from the start
  with security in mind (many small processes, each with as little privilege
  as it needs) and the default MTA of many current distributions.
* The **MDA**, *mail delivery agent*, takes a message the MTA has decided to
  keep and writes it into the recipient's mailbox, perhaps filtering or
  sorting it on the way: **procmail** and **maildrop** are classic MDAs;
  Postfix also ships its own simple one, `local`.

Between MTAs the language is **SMTP**, the Simple Mail Transfer Protocol
(RFC 5321).  It is a dialogue of short lines of plain ASCII text on TCP port
25, the same whatever operating system runs at either end: Outlook on
Windows talks to Postfix on Linux without either caring what the other is.
"""),
    ("md", """
In the lab, `smtplib` plays the MUA, the host's smtpd plays the MTA, and its
local delivery (modelled on Postfix's `local`) plays the MDA.  Start a lab
with one host and two users:
"""),
    ("code", """
import smtplib
import labmail
from labmail.notebook import messages, show_transcript, wait_idle

lab = labmail.Lab(seed=1, clock="2026-11-27T09:00:00+00:00")
host = lab.add_host("mail.example.com", users={"alice": "wonderland", "bob": "builder"})
lab.start()
print(host.port_table())
"""),
    ("md", """
## Be the MUA: send a message

A message is text: a few header lines, an empty line, then the body.
`sendmail()` takes three things: the sender's address, the list of
recipients, and that text.  Keep an eye on the first two; they come back
later in this lesson.
"""),
    ("code", """
message = \"\"\"\\
From: Bob <bob@example.org>
To: Alice <alice@example.com>
Subject: Lunch on Friday?

Hi Alice, shall we meet at noon?
Bob
\"\"\"

with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as mua:
    refused = mua.sendmail("bob@example.org", ["alice@example.com"], message)
refused
"""),
    ("md", """
`sendmail()` returns the recipients the server refused; the empty dictionary
means it accepted every one.  Leaving the `with` block sent `QUIT` and
closed the connection.

## Watch the MTA: the transcript

The lab records every SMTP session as the server saw it: `C:` lines came
from the client, `S:` lines are the server's replies, `*` lines are events.
(`wait_idle` waits the few milliseconds until the server has closed the
connection and delivered the message, so what we look at is complete.)
"""),
    ("code", """
wait_idle(host)
show_transcript(host.last_transcript())
"""),
    ("md", """
Reading from the top:

1. `220 …` — the server greets first, with its name.
2. `ehlo laptop` — the client introduces itself (by the name we gave it) and
   the server lists what it supports (lesson 02 goes through them).
3. `mail FROM:<bob@example.org>` — who the message is from, plus its size;
   `250 2.1.0 Ok`.
4. `rcpt TO:<alice@example.com>` — who it is for; `250 2.1.5 Ok`.
5. `data` — `354` invites the text, which ends with a line holding a single
   `.`; the server answers `250 2.0.0 Ok: queued as …` with the **queue id**
   it gave the message.
6. `QUIT`, `221`, and the connection closes.

`smtplib` writes the command words in lower case; SMTP does not mind (RFC 5321
§2.4: commands are case-insensitive).

## The MTA's log

The same story, told by the server for the administrator, is in the maillog.
Each line names the program that wrote it (`postfix/smtpd`, `postfix/qmgr`,
…).  Several programs work at once, so their lines interleave; two filters
untangle them.  First, what `smtpd` (the SMTP server) logged about the
session:
"""),
    ("code", """
print("\\n".join(host.maillog.lines("postfix/smtpd")))
"""),
    ("md", """
* `connect from localhost[127.0.0.1]` — a client connected; smtpd logs the
  name and address of the *connection*, not what the client claims to be.
* `91B2265B1F5: client=…` — the first recipient was accepted, and the
  message got its **queue id**.
* `disconnect from … ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5` — the
  session ended; each command succeeded once.

Second, the message's own journey: every line carrying its queue id, which
we take from the server's `250 … queued as` reply:
"""),
    ("code", """
queued = [line for line in host.last_transcript().server_lines() if "queued as" in line]
queue_id = queued[0].split()[-1]
print("\\n".join(host.maillog.lines(queue_id)))
"""),
    ("md", """
* `cleanup … message-id=<…>` — the message was checked and completed.  Our
  MUA sent no `Message-Id:` and no `Date:`, so the server added both, as
  Postfix does for clients on its own network.
* `qmgr … from=<bob@example.org>, size=…, nrcpt=1 (queue active)` — the
  queue manager has the message: its envelope sender, size and number of
  recipients.
* `local … to=<alice@example.com>, relay=local, … status=sent (delivered to
  maildir)` — **the MDA at work**: delivered into Alice's Maildir.
* `qmgr … removed` — nothing left to do, so the queue file is gone.

## Open the file the MDA wrote

Alice's mailbox is a **Maildir**: a directory with three subdirectories.
A delivery agent writes each message into `tmp/`, then moves it to `new/`
in one step, so a mail reader never sees half a message; a mail reader
moves messages it has seen to `cur/`.  One message, one file:
"""),
    ("code", """
new = host.maildir_path("alice") / "new"
[path.name for path in new.iterdir()]
"""),
    ("md", """
The name is the delivery time in seconds, then `V`device`I`inode`M`microseconds,
then the host name: unique without any locking.  (The device and inode
numbers depend on the disk, so they differ on your machine.)  The file is the
message exactly as stored:
"""),
    ("code", """
path = next(new.iterdir())
print(path.read_text())
"""),
    ("md", """
Compare it with what the MUA sent.  The body and the `From:`, `To:` and
`Subject:` lines are untouched; new lines were added **on top**, newest first,
as RFC 5321 §4.4 asks of every server a message passes through:

* `Return-Path: <bob@example.org>` — added at final delivery: the address
  from `MAIL FROM`, where bounces must go.
* `Delivered-To: alice@example.com` — also added by the MDA: the address
  from `RCPT TO` this copy was delivered for.
* `Received: from laptop (localhost [127.0.0.1]) by mail.example.com
  (labmail) with ESMTP id 91B2265B1F5 for <alice@example.com>; …` — the
  MTA's stamp: the name the client *claimed* (`laptop`), the name and
  address the connection really came from, the receiving host, the protocol,
  the queue id (the same as in the log) and the date.  A message that crosses
  the internet collects one `Received:` line per MTA, and reading them from
  the bottom up retraces its path.
* `Message-Id:` and `Date:` — filled in by the server, as the log said.

Python's `mailbox` module reads a Maildir too; `host.mailbox(user)` opens one:
"""),
    ("code", """
box = host.mailbox("alice")
[(m["From"], m["Subject"]) for m in box]
"""),
    ("md", """
## Envelope versus headers

A paper letter has an envelope, read by the post office, and a letter inside,
read by the person.  The two can disagree: a letter starting *"Dear all"*
can arrive in any number of envelopes.

SMTP works the same way.  The **envelope** is what the client says in the
dialogue: `MAIL FROM` (the sender, where bounces go) and one `RCPT TO` per
recipient.  MTAs route and deliver by the envelope *only*.  The **headers**
(`From:`, `To:`, `Cc:`, `Subject:`, …, RFC 5322) are part of the text after
`DATA`; servers carry them along and the recipient's MUA displays them.

Here Carol writes to a "lunch club" that has no mailbox at all, and the
envelope names the real readers:
"""),
    ("code", """
club = \"\"\"\\
From: Carol <carol@example.net>
To: Lunch club <lunch-club@example.com>
Subject: Table booked

A table for four at noon, Friday.
\"\"\"

with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as mua:
    mua.sendmail("carol@example.net", ["alice@example.com", "bob@example.com"], club)

wait_idle(host)
for user in ("alice", "bob"):
    path, msg = messages(host, user, subject="Table booked")[-1]     # each one's copy
    print(f"{user:<6} Delivered-To: {msg['Delivered-To']:<18}  To: {msg['To']}")
"""),
    ("md", """
Both received the message, although the `To:` header names neither of them:
the envelope decided.  `Delivered-To:` records which envelope recipient each
copy was for.  (With two recipients, the `Received:` line leaves out its
`for <…>` part; a server does not reveal one recipient to another.)

The reverse also holds: an address that appears only in a header gets
nothing, and an address in the envelope is checked even if the headers look
fine.  Put the club's address in the envelope and the server refuses it,
because no such mailbox exists:
"""),
    ("code", """
try:
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as mua:
        mua.sendmail("carol@example.net", ["lunch-club@example.com"], club)
except smtplib.SMTPRecipientsRefused as error:
    print(error.recipients)
"""),
    ("md", """
`550` is a permanent refusal and `5.1.1` says *bad destination mailbox*.  The
log keeps a line for it too, marked `NOQUEUE` because no message was ever
created:
"""),
    ("code", """
print("\\n".join(host.maillog.lines("NOQUEUE")))
"""),
    ("md", """
## Exercise: a blind copy

Dave (`dave@example.net`) sends Alice a message with the subject
`Budget 2027`.  Bob must receive it too, **blind**: Alice must not be able to
see that Bob got a copy, so Bob's address may not appear in any header.
Send it in **one** call, as one message.

*Hint:* which of the two parts decides who receives a message, and which
part does Alice read?  (A `Bcc:` header in a mail program works exactly like
this: the program moves those addresses into the envelope and drops the
header.)
"""),
    ("code", """
### BEGIN SOLUTION
budget = \"\"\"\\
From: Dave <dave@example.net>
To: Alice <alice@example.com>
Subject: Budget 2027

Alice, the figures are attached in spirit.
\"\"\"
with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as mua:
    refused = mua.sendmail("dave@example.net", ["alice@example.com", "bob@example.com"], budget)
refused
### END SOLUTION
"""),
    ("md", """
Check your answer.  When something is off, the check says what the server
saw and what to change:
"""),
    ("code", """
from labmail import course

course.check_blind_copy(host, visible="alice@example.com", hidden="bob@example.com")
"""),
    ("md", """
## A mail program in the notebook

So far Python's `smtplib` played the mail program.  `MailClient` is a small
MUA for the lab, built like the ones you know: it **reads** a mailbox over
IMAP (lesson 11) and **sends** over the *submission* port 587, switching to
TLS and logging in first (lesson 09), exactly as Thunderbird is set up.  It
prints as plain text; `mua.widget()` is its clickable version.

Alice writes to Bob; then we look at Bob's mailbox through the same program:
"""),
    ("code", """
from labmail.notebook import MailClient

mua = MailClient(host, "alice", "wonderland")
mua.send("bob@example.com", "Minutes", "The minutes of Friday's lunch are on the wiki.")
print(mua.log[-1].replace(str(host.endpoints["submission"][1]), "587"))
wait_idle(host)
bob = mua.add_account(host, "bob", "builder")
mua.use(bob.address)
print(mua)
"""),
    ("md", """
`N` marks a message Bob has not read yet.  Bob's *envelope* copies are all
there: the lunch-club message and Dave's blind copy too.  The same message
three ways (the header, the raw source as stored, the MIME structure):
"""),
    ("code", """
uid = mua.messages()[-1].uid
print(mua.show(uid, "mime"))
print(mua.show(uid, "raw"))
"""),
    ("md", """
The interactive client: pick an account, a folder and a message; switch
between *headers*, *raw* and *mime*; write a message at the bottom and press
*send*.  (Its output is not stored in the notebook: it changes as you click.)
"""),
    ("code:nbval-ignore-output", """
mua.widget()
"""),
    ("md", """
## Exercise: a message from the mail program

Switch the mail program back to Alice's account and send Bob a message with
the subject `Agenda` (any text).  This time the MUA builds the headers and
the envelope for you: which address does it use for `MAIL FROM`?
"""),
    ("code", """
### BEGIN SOLUTION
mua.use("alice@example.com")
mua.send("bob@example.com", "Agenda", "1. Budget 2027\\n2. Lunch")
### END SOLUTION
"""),
    ("code", """
course.check_received(host, "bob", "Agenda", sender="alice@example.com")
"""),
    ("md", """
We're done with this lab; stop it so its port is free for the next lesson:
"""),
    ("code", """
lab.stop()
lab
"""),
    ("md", """
## Key points

* The **MUA** writes and shows mail, the **MTA** moves it between sites over
  SMTP (port 25, plain ASCII text), the **MDA** writes it into mailboxes.
* Sendmail and Postfix are the classic Linux MTAs; Postfix was designed for
  security and is now the usual default.  procmail and maildrop are MDAs.
* The MTA's **transcript** and **maillog** tell the same story; the queue id
  ties the log lines, the `250 … queued as` reply and the `Received:` header
  together.
* A Maildir holds one file per message; servers add trace headers on top
  (`Received:`, and at delivery `Return-Path:` and `Delivered-To:`).
* Servers deliver by the **envelope** (`MAIL FROM`, `RCPT TO`), people read
  the **headers**; a blind copy is an envelope recipient missing from the
  headers.

## Further reading

* RFC 5321 §2.3 (terminology: envelope, content, headers) and §4.4 (trace
  information): <https://www.rfc-editor.org/rfc/rfc5321>
* RFC 5322 §3.6 (the header fields `From:`, `To:`, `Cc:`, `Bcc:`):
  <https://www.rfc-editor.org/rfc/rfc5322>
* Postfix architecture overview (which process does what):
  <https://www.postfix.org/OVERVIEW.html>; the `local(8)` delivery agent:
  <https://www.postfix.org/local.8.html>
* The Maildir format: <https://cr.yp.to/proto/maildir.html>

{nav}
""".replace("{nav}", NAV_01)),
]

NAV_02 = ("*previous:* [01 · MUA, MTA and MDA](01-mua-mta-mda.ipynb) | "
          "[contents](../README.md#lessons) | "
          "*next:* [03 · Configuring the MTA](03-configuring-the-mta.ipynb)")

L02: List[Cell] = [
    ("md", f"""
# 02 · The SMTP dialogue, by hand

**Time:** about 45 minutes &nbsp;·&nbsp; **Before:** [01 · MUA, MTA and MDA](01-mua-mta-mda.ipynb)

**Questions**

* What exactly do an SMTP client and server say to each other?
* How do I read a reply such as `550 5.1.1 …` or `454 4.7.1 …`?
* What does a server do when a client gets things wrong, or asks it to pass
  mail on to someone else's domain?

**After this lab you can**

* deliver a message by typing the SMTP commands yourself, as with
  `telnet mail.example.com 25`;
* say what each keyword in an `EHLO` reply promises;
* tell success, "go on", "try later" and "give up" apart from the first digit
  of a reply, and read an enhanced status code;
* send message text containing a line that starts with a dot;
* recognise `500`, `503`, `550` and `454` and say what caused each;
* follow a session through the server's own table of states.

{NAV_02}
"""),
    ("md", """
## Talking to port 25 yourself

Administrators test mail servers by talking to them directly:
`telnet mail.example.com 25` (or `nc`, or `openssl s_client` for TLS) opens a
TCP connection and lets you type SMTP lines.  Nothing more is needed, because
SMTP is plain text.  A raw socket in Python does the same thing.  First a lab:
"""),
    ("code", """
import socket
import labmail

lab = labmail.Lab(seed=1, clock="2026-11-27T09:00:00+00:00")
host = lab.add_host("mail.example.com", users={"alice": "wonderland", "bob": "builder"})
lab.start()
host.endpoints["smtp"]
"""),
    ("md", """
Connect, read what the server says, say `QUIT`, read again:
"""),
    ("code", """
sock = socket.create_connection(host.endpoints["smtp"], timeout=5)
print(sock.recv(1024))
sock.sendall(b"QUIT\\r\\n")
print(sock.recv(1024))
sock.close()
"""),
    ("md", """
Those are the bytes on the wire.  The server speaks first, with a **greeting**:
code `220`, its name, and its banner text (Postfix's default banner says
`ESMTP` and the program's name; lesson 03 shows how to hide the latter).  Every
line ends with carriage return and line feed, `\\r\\n` (CRLF), in both
directions (RFC 5321 §2.3.8).

Reading replies byte by byte gets tedious, so the rest of the lesson uses
`Telnet` from `labmail.notebook`: the same socket, but `send()` adds the CRLF
and returns the complete reply, however many lines it has.
"""),
    ("code", """
from labmail.notebook import Telnet

c = Telnet(host.endpoints["smtp"])
c.greeting
"""),
    ("md", """
## EHLO: who are you, and what can you do?

The client introduces itself with `EHLO` and a name for itself.  The server
answers with its own name, then one **extension keyword** per line.  All lines
but the last have a `-` after the code; the last has a space.  That is how
every multi-line reply signals where it ends.
"""),
    ("code", """
c.send("EHLO laptop")
"""),
    ("md", """
| keyword | RFC | what the server promises |
|---|---|---|
| `PIPELINING` | 2920 | the client may send several commands in one go and read the replies afterwards, saving round trips |
| `SIZE 10240000` | 1870 | messages up to 10,240,000 bytes (Postfix's default `message_size_limit`); a client can announce the size in `MAIL FROM` and be refused at once |
| `VRFY` | 5321 | the server answers `VRFY user` (does this address exist?).  Many sites switch it off (`disable_vrfy_command = yes`) because it helps spammers collect addresses |
| `ENHANCEDSTATUSCODES` | 2034 | replies carry a second, finer code such as `2.1.5` (RFC 3463) |
| `8BITMIME` | 6152 | message text may contain bytes above 127, not just 7-bit ASCII |
| `SMTPUTF8` | 6531 | addresses and headers may be in UTF-8 (`dörte@example.com`) |

The old greeting `HELO` still works, but gets a one-line reply and no
extensions: a client that says `HELO` gets plain RFC 821 SMTP.  Missing from
this list: `STARTTLS` (encryption, lesson 09) and `AUTH` (log in before
sending).

## One message, command by command

`MAIL FROM` opens a *transaction* with the envelope sender:
"""),
    ("code", """
c.send("MAIL FROM:<bob@example.org>")
"""),
    ("md", """
One `RCPT TO` per recipient; each gets its own answer:
"""),
    ("code", """
c.send("RCPT TO:<alice@example.com>")
"""),
    ("md", """
`DATA` asks to send the text.  The answer is not `250` but `354`: *go ahead,
end with a line holding only a dot*.
"""),
    ("code", """
c.send("DATA")
"""),
    ("md", """
Now the headers, an empty line, the body, and the lone `.`.  Only after the
dot does the server answer, and its `250` means it has taken responsibility
for the message (the lab, like Postfix, answers only once the message is
safely on disk):
"""),
    ("code", """
c.send_lines([
    "From: Bob <bob@example.org>",
    "To: Alice <alice@example.com>",
    "Subject: Typed by hand",
    "",
    "Hello Alice, this message was typed line by line.",
    ".",
])
"""),
    ("md", """
The queue id is the message's name on this server from now on: in the log,
in the `Received:` header, in any bounce.  The session could go on with
another `MAIL FROM`; we say goodbye instead:
"""),
    ("code", """
c.send("QUIT")
"""),
    ("md", """
## Reading reply codes

Every reply starts with three digits (RFC 5321 §4.2).  The **first digit**
is all a client needs to decide what to do:

| first digit | meaning | examples here |
|---|---|---|
| `2xx` | done, it worked | `220` ready, `250` ok, `221` bye |
| `3xx` | go on, I need more | `354` send the text |
| `4xx` | failed *for now*: try again later | `454` relay refused (see below), `450`, `421` |
| `5xx` | failed for good: don't repeat it | `500`/`502` unknown, `503` wrong order, `550` no such user |

The **second digit** groups replies by topic: `x0x` syntax, `x1x`
information, `x2x` the connection, `x5x` the mail system.

After `ENHANCEDSTATUSCODES`, most replies carry an **enhanced status code**
*class.subject.detail* (RFC 3463): the class repeats the first digit, the
subject says what the reply is about (`1` addresses, `3` the mail system,
`4` network and routing, `5` the protocol, `7` security or policy), and the
detail narrows it down.  `2.1.0` says *about an address (here the sender):
fine*, `2.1.5` *destination address valid*, `5.1.1` *bad destination mailbox*, `5.5.2`
*syntax error*, `4.7.1` *delivery not authorised*.  The `Reply` objects that
`Telnet.send()` returns split a reply into these parts:
"""),
    ("code", """
from labmail.notebook import Reply

meaning = {2: "done", 3: "go on", 4: "try again later", 5: "give up"}
for line in ["250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>",
             "454 4.7.1 <victim@example.org>: Relay access denied",
             "550 5.1.1 <carol@example.com>: Recipient address rejected"]:
    r = Reply([line])
    print(f"{r.code}: {meaning[r.code // 100]:<16} enhanced code: {r.enhanced or '(none)'}")
"""),
    ("md", """
## Dot-stuffing

The text ends at a line holding only `.`.  So what if the body itself
contains such a line, or any line starting with a dot?  The client adds one
more dot in front of **every** line that begins with `.`, and the server
removes the first dot of such lines (RFC 5321 §4.5.2).  This is called
*dot-stuffing*.  A line `..and so on` sent by the client arrives as
`.and so on`.  `talk()` sends several commands, one after the other, and
shows the whole exchange as a telnet window would:
"""),
    ("code", """
c = Telnet(host.endpoints["smtp"])
c.talk("HELO laptop", "MAIL FROM:<bob@example.org>", "RCPT TO:<alice@example.com>", "DATA")
"""),
    ("md", """
The text: a `Subject:` header, the empty line, a body line starting with a
dot and a line of two dots, each sent with one extra dot, and the real end:
"""),
    ("code", """
c.send_lines(["Subject: Leading dots", "", "..and so on", "...", "."])
"""),
    ("md", """
What arrived in Alice's mailbox (`messages()` lists her messages, oldest
first; `subject=` picks the one we want):
"""),
    ("code", """
from labmail.notebook import messages, wait_idle

wait_idle(host)
path, msg = messages(host, "alice", subject="Leading dots")[-1]
print(msg.get_content())
"""),
    ("md", """
Each line lost exactly one dot.  Client libraries do this for you
(`smtplib` does it inside `sendmail()`); only when you type SMTP by hand is it
your job.  We leave this session and go on to the mistakes.
"""),
    ("code", """
c.send("QUIT")
"""),
    ("md", """
## Getting it wrong

A server must cope with clients that send nonsense, send commands in the
wrong order, or ask for things it won't do, and it must keep the session
usable afterwards.  Let's try a few, on a fresh connection.

A command the server doesn't know gets `500` (Postfix 3.7's answer; RFC 5321
also allows `502`, "command not implemented", which other servers use):
"""),
    ("code", """
m = Telnet(host.endpoints["smtp"])
m.send("HELLO mail.example.com")
"""),
    ("md", """
Recipients before a sender: `503`, *bad sequence of commands*.  The session
goes on; only that command was refused:
"""),
    ("code", """
m.talk("HELO laptop", "RCPT TO:<alice@example.com>")
"""),
    ("md", """
A recipient this server does not know: `550`.  Postfix looks the local part
up in its *local recipient table* (the accounts and the aliases) and refuses
unknown users right away, instead of accepting the message and bouncing it
later:
"""),
    ("code", """
m.talk("MAIL FROM:<bob@example.org>", "RCPT TO:<carol@example.com>")
"""),
    ("md", """
With no recipient accepted, there is nothing to send the text to, so `DATA`
is refused too:
"""),
    ("code", """
m.send("DATA")
"""),
    ("code", """
m.send("QUIT")
"""),
    ("md", """
### A stranger asks us to relay

`mail.example.com` delivers mail for `example.com`.  Mail for *another*
domain it would have to pass on (**relay**) to that domain's server.  A server
that relays for anyone is an *open relay*: spammers find them within hours
and send through them, and the server's address soon lands on blacklists.
So Postfix relays only for clients in `mynetworks` (and for users who log
in).  The lab host's `mynetworks` holds just itself and `127.0.0.1`:
"""),
    ("code", """
host.config.get("mynetworks")
"""),
    ("md", """
A client from elsewhere, playing the stranger: the socket is bound to
`127.0.0.9`, an address outside `mynetworks`.  It asks for mail to
`example.org`, which is not our domain:
"""),
    ("code", """
stranger = Telnet(host.endpoints["smtp"], source=("127.0.0.9", 0))
stranger.talk("HELO friendly.example.net", "MAIL FROM:<offers@example.net>",
              "RCPT TO:<victim@example.org>")
"""),
    ("md", """
`454 4.7.1 … Relay access denied`.  Why a `4`, a temporary failure, rather
than a permanent `5`?  Postfix's default relay rule (`smtpd_relay_restrictions
= permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination`)
*defers*: if the administrator had simply got `mynetworks` wrong, honest
clients retry later instead of bouncing their mail.  Mail for our own users
is still welcome from anyone; that is what an MX server is for:
"""),
    ("code", """
stranger.send("RCPT TO:<alice@example.com>")
"""),
    ("code", """
stranger.send("QUIT")
"""),
    ("md", """
The log kept every refusal, with the client's address and the reply it got:
"""),
    ("code", """
wait_idle(host)
print("\\n".join(host.maillog.lines("NOQUEUE")))
"""),
    ("md", """
## The session as a state machine

Which command is allowed when?  The lab's smtpd keeps, for every session, a
*state*, and a table saying which command, answered successfully, moves the
session to which state.  This is the server's own table
(`labmail.mta.smtp_states`), printed:
"""),
    ("code", """
from labmail.notebook import state_table_text

print(state_table_text())
"""),
    ("md", """
`CONTENT` stands for the message text and its final dot.  A refused command
leaves the state as it was; that is why the session survived every mistake
above.  Replaying the "mistakes" session through the same table shows each
step (`replay` reads the recorded transcript and feeds each command and its
reply code to the server's state machine):
"""),
    ("code", """
from labmail.notebook import path_text, replay

mistakes = host.transcripts("smtp")[-2]       # the session before the stranger's
state = replay(mistakes)
print(path_text(state.history))
"""),
    ("md", """
And drawn, with the path of our first, successful, hand-typed session in red
(`STARTTLS`, which returns to `CONNECTED`, is left out of the drawing; it is
in the table above):
"""),
    ("code", """
%matplotlib inline
from labmail.notebook import draw_state_diagram

first = host.transcripts("smtp")[1]          # [0] was the raw socket that only said QUIT
figure = draw_state_diagram(replay(first).history)
"""),
    ("md", """
The state diagram shows the *rules*; a **sequence diagram** shows one
*conversation*: the client on the left, the server on the right, time running
down, one arrow per command and per reply (a multi-line reply is one arrow,
`(+N)` counts its other lines; the message text is one arrow too).  Here is
the same first session:
"""),
    ("code", """
from labmail.notebook import SequenceDiagram

SequenceDiagram(first)
"""),
    ("code", """
figure = SequenceDiagram(first).draw()
"""),
    ("md", """
`TranscriptView(host)` shows any recorded session coloured by speaker (client
blue, server green, refusals red) and marks where TLS begins; its widget lets
you pick the session.  The stranger's attempt, refusals and all:
"""),
    ("code", """
from labmail.notebook import TranscriptView

print(TranscriptView(host, "smtp"))            # the newest session: the stranger's
"""),
    ("md", """
## Exercises

**1. A dot of its own.**  Over a `Telnet` connection, deliver to
`alice@example.com` (from `bob@example.org`) a message with the header
`Subject: Dots` whose body is exactly three lines: `before`, `.` and `after`.
Then check it.
"""),
    ("code", """
### BEGIN SOLUTION
ex = Telnet(host.endpoints["smtp"])
ex.talk("HELO laptop", "MAIL FROM:<bob@example.org>", "RCPT TO:<alice@example.com>", "DATA")
ex.send_lines(["Subject: Dots", "", "before", "..", "after", "."])
ex.talk("QUIT")
### END SOLUTION
"""),
    ("code", """
from labmail import course

course.check_dot_stuffing(host, user="alice", subject="Dots")
"""),
    ("md", """
**2. Two readers, one transaction.**  Still by hand, send one message from
`dave@example.net` to both Alice and Bob, using a single `MAIL FROM` and a
single `DATA`.
"""),
    ("code", """
### BEGIN SOLUTION
ex = Telnet(host.endpoints["smtp"])
ex.talk("HELO laptop", "MAIL FROM:<dave@example.net>", "RCPT TO:<alice@example.com>",
        "RCPT TO:<bob@example.com>", "DATA")
ex.send_lines(["Subject: For you both", "", "One message, two envelope recipients.", "."])
ex.talk("QUIT")
### END SOLUTION
"""),
    ("code", """
course.check_envelope(host, "dave@example.net", ["alice@example.com", "bob@example.com"])
"""),
    ("md", """
Stop the lab:
"""),
    ("code", """
lab.stop()
lab
"""),
    ("md", """
## Key points

* SMTP is a dialogue of CRLF-terminated text lines: greeting (`220`),
  `EHLO`, then transactions of `MAIL FROM`, one or more `RCPT TO`, `DATA`
  and the text up to a lone `.`, and finally `QUIT`.
* `EHLO` replies list extensions; `PIPELINING`, `SIZE`, `VRFY`,
  `ENHANCEDSTATUSCODES`, `8BITMIME` and `SMTPUTF8` each change what a client
  may do.
* The first digit of a reply decides: `2` done, `3` go on, `4` try later,
  `5` give up.  Enhanced codes (`5.1.1`) say precisely what went wrong.
* Lines starting with `.` are sent with an extra dot (dot-stuffing).
* Mistakes are refused one command at a time (`500`, `503`, `550`) and the
  session continues; relaying for strangers is refused (`454`) so the server
  is not an open relay.
* The server tracks each session in a small state machine; the lesson's
  diagram is drawn from that very table.

## Further reading

* RFC 5321 §3 (the SMTP procedures), §4.1 (commands), §4.2 (reply codes),
  §4.5.2 (transparency: dot-stuffing): <https://www.rfc-editor.org/rfc/rfc5321>
* RFC 3463, *Enhanced Mail System Status Codes*: <https://www.rfc-editor.org/rfc/rfc3463>
* RFC 5322 (the message format that follows `DATA`): <https://www.rfc-editor.org/rfc/rfc5322>
* Postfix `smtpd(8)` and its relay restrictions:
  <https://www.postfix.org/smtpd.8.html>,
  <https://www.postfix.org/SMTPD_ACCESS_README.html>

{nav}
""".replace("{nav}", NAV_02)),
]

LESSONS = {
    "00-welcome.ipynb": L00,
    "01-mua-mta-mda.ipynb": L01,
    "02-the-smtp-dialogue.ipynb": L02,
}

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
