"""Build lessons 04-06 (DNS and relaying, the mail queue, testing and logs).

Same builder as ``tools/make_notebooks.py`` (its ``build``, ``execute`` and
``student_source`` are reused by import); only the lessons differ::

    .venv/bin/python tools/make_notebooks_04_06.py              # write and execute all
    .venv/bin/python tools/make_notebooks_04_06.py 05 --no-execute
    .venv/bin/python tools/make_notebooks_04_06.py --student build/student
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
# The lessons
# ---------------------------------------------------------------------------
SETUP_CLOCK = 'clock="2026-11-27T09:00:00+00:00"'

NAV_04 = ("*previous:* [03 · Configuring the MTA](03-configuring-the-mta.ipynb) | "
          "[contents](../README.md#lessons) | "
          "*next:* [05 · The mail queue](05-the-mail-queue.ipynb)")

L04: List[Cell] = [
    ("md", f"""
# 04 · DNS, MX and relaying

**Time:** about 50 minutes &nbsp;·&nbsp; **Before:** [03 · Configuring the MTA](03-configuring-the-mta.ipynb)

**Questions**

* How does a mail server find the server of another domain?
* What is an MX record, and what does its number mean?
* When does a server deliver a message itself, and when does it pass it on?
* Mail does not arrive: how do I check DNS and MX?

**After this lab you can**

* read the A, PTR and MX records of a domain with `dig` (here `labmail dig`
  and `lab.dns.query`);
* follow one message from one server to another in both servers' logs;
* say what `mydestination` and `mynetworks` decide, and why a server
  refuses to relay for strangers but accepts mail for its own domain from
  anyone;
* predict which server gets mail when a domain has several MX records, or
  none;
* recognise the log lines of a DNS mistake and fix the record.

{NAV_04}
"""),
    ("md", """
## A small internet of three domains

So far the lab had one server.  Mail on the internet crosses between servers
run by different organisations, so this lesson starts three, one per
domain, each with one user:

| domain | its mail server | user |
|---|---|---|
| `example.com` | `mail.example.com` | alice |
| `example.org` | `mail.example.org` | bob |
| `example.net` | `mail.example.net` | carol |
"""),
    ("code", f"""
import sys
import labmail
from labmail import mua
from labmail.course_queue import show_log, mx_of

lab = labmail.Lab(seed=1, {SETUP_CLOCK})
com = lab.add_host("mail.example.com", users={{"alice": "wonderland"}})
org = lab.add_host("mail.example.org", users={{"bob": "builder"}})
net = lab.add_host("mail.example.net", users={{"carol": "singer"}})
lab.start()
for h in lab.hosts.values():
    print(f"{{h.hostname:<18}} {{h.ip:<10}} SMTP on {{h.endpoints['smtp'][0]}}:{{h.endpoints['smtp'][1]}}")
print("lab DNS server on", *lab.dns.address)
"""),
    ("md", """
Each server has its own loopback address, as each would have its own public
address on the internet.  The lab also runs a **DNS server**: the internet's
phone book, which turns names into addresses and tells a sending server
where a domain's mail goes.  (It listens on port 10053 instead of 53, for
the same reason SMTP is on 10025: ports below 1024 need root.)

## What the DNS knows about a mail domain

When the lab started a host it published three records for it, as an
administrator would in the domain's zone:
"""),
    ("code", """
for record in lab.dns.records("example.org"):
    print(record)
for record in lab.dns.records("3.0.0.127.in-addr.arpa"):
    print(record)
"""),
    ("md", """
Read each line as *name, time to live (seconds), class, type, value*:

* **SOA** and **NS** describe the zone itself (who is authoritative for it);
* **A** maps the server's name to its IPv4 address: `mail.example.org` is
  `127.0.0.3`;
* **MX** (*mail exchanger*, RFC 5321 §5.1) says which host receives mail for
  the domain `example.org`: `mail.example.org`, with **preference** 10;
* **PTR** goes the other way, from address to name (the *reverse* zone
  `in-addr.arpa`, with the address written backwards).  Receiving servers
  look it up to put a name on a client (`connect from mail.example.org[127.0.0.3]`),
  and many refuse mail from addresses without one.

Administrators ask a DNS server with `dig`.  The lab has the same tool,
`labmail dig`, and the same query from Python, `lab.dns.query`:
"""),
    ("code", """
print(lab.dns.query("example.org", "MX").format(stats=False))
"""),
    ("md", """
`status: NOERROR` and one record in the ANSWER SECTION; the ADDITIONAL
SECTION already brings the address of the server the MX names, saving the
sender a second question.  In a shell you would type
`dig example.org MX` (here `labmail dig`; `@server -p port` says which
server to ask, as with the real `dig`); `+short` prints only the answer:
"""),
    ("code", """
dns_ip, dns_port = lab.dns.address
!{sys.executable} -m labmail dig @{dns_ip} -p {dns_port} example.org MX +short
!{sys.executable} -m labmail dig @{dns_ip} -p {dns_port} mail.example.org +short
!{sys.executable} -m labmail dig @{dns_ip} -p {dns_port} -x 127.0.0.3 +short
"""),
    ("md", """
## Mail crossing between servers

Alice sends Bob a message with the lab's mailx-like client (lesson 06 uses
it more).  It hands the message to *her* server, `mail.example.com`, exactly
as a mail program on her machine would:
"""),
    ("code", """
sent = mua.send(com, "bob@example.org", subject="Hello across", body="Hi Bob, greetings from example.com.",
                sender="Alice <alice@example.com>")
lab.settle()
sent
"""),
    ("md", """
`example.org` is not a domain `mail.example.com` delivers itself, so its
queue manager hands the message to the **smtp** delivery agent.  That agent
asks DNS for the MX of `example.org`, connects to the host it names, and
plays SMTP *client*, just as Alice's program did with her server.  Every
line her server logged about this message (what `grep QUEUEID
/var/log/maillog` would show):
"""),
    ("code", """
print(show_log(com, sent.queue_id))
"""),
    ("md", """
The `postfix/smtp` line is the one to read: `relay=` names the server it
talked to, with the address and port it found through DNS, and the text in
parentheses is the other server's final reply.  `queued as …` is the queue
id *on the other side*: the message now has a new name there.  Bob's server
logged its half of the story under that id:
"""),
    ("code", """
sent_line = [ln for ln in com.maillog.lines(sent.queue_id) if "status=sent" in ln][0]
remote_id = sent_line.rsplit("queued as ", 1)[1].rstrip(")")
print(show_log(org, remote_id))
"""),
    ("md", """
`client=mail.example.com[127.0.0.2]`: the receiving server looked up the
client's address (PTR, then A to confirm) and found a name.  The
message itself carries the same journey in its `Received:` headers, newest
on top, one per server:
"""),
    ("code", """
[message] = list(org.mailbox("bob"))
for value in message.get_all("Received"):
    print("Received:", value, "\\n")
"""),
    ("md", """
## `mydestination`: is this mail for me?

Each server decides for every recipient whether the domain is its own.
Domains listed in `mydestination` are delivered locally (the `local`
agent, into a mailbox); all others are passed on with `smtp`:
"""),
    ("code", """
for h in lab.hosts.values():
    print(f"{h.hostname:<18} mydestination = {h.config.get('mydestination')}")
print()
print("mail.example.com delivers example.org itself?", com.is_local_domain("example.org"))
print("mail.example.org delivers example.org itself?", org.is_local_domain("example.org"))
"""),
    ("md", """
## Relaying, on the internet

Passing mail on to another domain's server is **relaying**.  Alice's
server relayed her message because she is one of *its* clients: the
message came from an address in its `mynetworks`.  A server must not relay
for just anyone (lesson 02 showed the `454 Relay access denied` a stranger
gets).  But it *must* accept mail for its own domains from anyone: that is
how Bob receives mail from the whole internet.  Both rules in one session,
with a stranger at `127.0.0.9` talking to Bob's server:
"""),
    ("code", """
from labmail.notebook import Telnet

stranger = Telnet(org.endpoints["smtp"], source=("127.0.0.9", 0))
stranger.talk("EHLO stranger.example", "MAIL FROM:<someone@example.info>",
              "RCPT TO:<bob@example.org>", "RCPT TO:<carol@example.net>", "QUIT")
"""),
    ("md", """
`bob@example.org` is accepted (`example.org` is in `mydestination`);
`carol@example.net` is refused, because it would make `mail.example.org` a
relay for a stranger.  So on the internet a message normally makes two hops:
*sender's client → sender's server* (relaying, allowed for its own users)
and *sender's server → recipient's MX* (final delivery, allowed for anyone).

## Several MX records: preference and backup

A domain may publish several MX records.  A sending server tries them in
order of **preference, lowest number first**, and moves to the next only
when one cannot be reached.  Give `example.org` a second, backup MX with a
higher number, pointing to `mail.example.net`:
"""),
    ("code", """
lab.dns.add("example.org", "MX", "20 mail.example.net.")
mx_of(lab, "example.org")
"""),
    ("md", """
While `mail.example.org` is up nothing changes: 10 beats 20.  Now stop it
(a crashed server, a broken network) and send again:
"""),
    ("code", """
org.stop()
sent = mua.send(com, "bob@example.org", subject="While you were down", body="Anyone there?",
                sender="Alice <alice@example.com>")
com.settle()
print(*com.maillog.lines("connect to mail.example.org"), sep="\\n")
print(show_log(com, sent.queue_id))
"""),
    ("md", """
Alice's server tried the preferred MX, got no connection (the `connect to …
Connection refused` line), and went on to the backup, which *answered*, but refused: `mail.example.net` has not been told
to relay for `example.org`, so to it Alice's server is just another
stranger.  A real backup MX needs its administrator's consent:
`relay_domains = example.org` in *its* `main.cf`.  The message is not lost:
a `4xx` answer means *try again later*, so it waits in the **queue** (the
subject of lesson 05):
"""),
    ("code", """
print(com.mailq())
"""),
    ("md", """
Remove the backup record, start Bob's server again and ask Alice's server
to try at once (`postfix flush`):
"""),
    ("code", """
lab.dns.remove("example.org", "MX", "20 mail.example.net.")
org.start()
com.flush()
lab.settle()
print(com.mailq())
print(len(org.mailbox("bob")), "messages for bob")
"""),
    ("md", """
## No MX at all: the A record

A domain without any MX record still receives mail: the sender falls back to
the domain's own **A** record (RFC 5321 §5.1) and treats that address as an
MX of preference 0.  Replace `example.net`'s MX by an A record for the name
`example.net` itself:
"""),
    ("code", """
lab.dns.remove("example.net", "MX")
lab.dns.add("example.net", "A", net.ip)
print(lab.dns.query("example.net", "MX").status, mx_of(lab, "example.net"))
sent = mua.send(com, "carol@example.net", subject="Via the A record", body="No MX here.",
                sender="alice@example.com")
lab.settle()
print(show_log(com, sent.queue_id))
"""),
    ("md", """
`relay=example.net[127.0.0.4]`: no MX, so the name of the domain itself was
used.  Most administrators still publish an MX: it lets the web server
(the domain's A record) and the mail server be different machines.

## When mail does not arrive: check DNS

A message that never arrives is often a DNS problem.  A typing mistake in
the domain is the simplest:
"""),
    ("code", """
sent = mua.send(com, "bob@example.ogr", subject="Typo", body="Will this arrive?",
                sender="alice@example.com")
lab.settle()
print(show_log(com, sent.queue_id))
"""),
    ("md", """
`status=bounced (Host or domain name not found …)`: the smtp agent found
neither an MX nor an A record, a permanent failure (`dsn=5.4.4`), so the
message went back to Alice at once as a *bounce* (the `sender
non-delivery notification` line and the second queue id).  Ask DNS what the
server asked:
"""),
    ("code", """
print(lab.dns.query("example.ogr", "MX").format(stats=False))
"""),
    ("md", """
`status: NXDOMAIN`: *no such domain*.  The checklist when mail to a domain
does not arrive:

1. the sender's log: the `status=` of the message's `postfix/smtp` line,
   and its reason;
2. `dig DOMAIN MX`: is there an MX, and does it name the server you
   expect (lowest number first)?
3. `dig NAME` for that server: does its A record give the right address?
4. `dig -x ADDRESS`: a PTR record for your own server's address (receivers
   check it);
5. the receiving server's log: did the connection arrive, and what did it
   answer?

## Exercises

**1. A new domain.**  `example.info` has no mail server yet.  Publish an MX
record so that mail for `example.info` goes to `mail.example.net` (preference 10).
"""),
    ("code", """
### BEGIN SOLUTION
lab.dns.add("example.info", "MX", "10 mail.example.net.")
### END SOLUTION
"""),
    ("code", """
from labmail import course_queue

course_queue.check_mx(lab, "example.info", "mail.example.net")
"""),
    ("md", """
**2. …and a server that accepts it.**  The record alone is not enough:
`mail.example.net` refuses mail for a domain that is not its own.  Add
`example.info` to its `mydestination` (with `postconf -e`, as in lesson 03,
then reload), and send carol a test message to `carol@example.info` from
`alice@example.com` through `mail.example.com`, with the subject
`Info test`.
"""),
    ("code", """
### BEGIN SOLUTION
from labmail.mta.postconf import host_postconf as postconf

postconf(net, e=["mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain, example.info"])
net.reload()
mua.send(com, "carol@example.info", subject="Info test", body="Hello", sender="alice@example.com")
### END SOLUTION
"""),
    ("code", """
course_queue.check_delivered(net, "carol", "Info test")
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

* DNS tells a sending server where a domain's mail goes: the **MX** records
  of the domain, each with a preference (lowest first), then the **A**
  record of the host they name; without MX, the domain's own A record.
* **PTR** records map addresses back to names; receiving servers log (and
  often check) them.
* A server delivers locally the domains in `mydestination` and passes on
  (relays) the others, but only for its own clients (`mynetworks`, or users
  who log in).  It accepts mail for its own domains from anyone.
* A backup MX must be configured to relay for the domain, or it is just
  another server that refuses.
* Mail that does not arrive: read the sender's `postfix/smtp` line, then
  check MX, A and PTR with `dig`, then the receiver's log.

## Further reading

* RFC 5321 §5 (address resolution and mail handling: MX, preference, the A
  record fallback): <https://www.rfc-editor.org/rfc/rfc5321#section-5>
* RFC 1035 (DNS: the record types and the zone file format):
  <https://www.rfc-editor.org/rfc/rfc1035>
* Postfix: `mydestination`, `relay_domains`, `mynetworks` in postconf(5):
  <https://www.postfix.org/postconf.5.html>; the address classes:
  <https://www.postfix.org/ADDRESS_CLASS_README.html>
* `dig` (BIND 9 manual): <https://bind9.readthedocs.io/en/latest/manpages.html#dig-dns-lookup-utility>

{nav}
""".replace("{nav}", NAV_04)),
]

NAV_05 = ("*previous:* [04 · DNS, MX and relaying](04-dns-mx-and-relaying.ipynb) | "
          "[contents](../README.md#lessons) | "
          "*next:* [06 · Testing and reading the logs](06-testing-and-logs.ipynb)")

L05: List[Cell] = [
    ("md", f"""
# 05 · The mail queue

**Time:** about 50 minutes &nbsp;·&nbsp; **Before:** [04 · DNS, MX and relaying](04-dns-mx-and-relaying.ipynb)

**Questions**

* Why does a mail server keep a queue at all?
* What do `mailq` and `postfix flush` show and do?
* How long does a server keep trying, and what happens when it gives up?
* How do I hold, release or delete a message by hand?

**After this lab you can**

* read `mailq` output: queue id, size, arrival time, sender, the reason in
  parentheses, the recipients, and the `*` and `!` markers;
* find a message's queue file and print it (`postcat`);
* explain the retry schedule (`queue_run_delay`, `minimal_backoff_time`,
  `maximal_backoff_time`) and watch it on a plot of queue size over time;
* empty a queue with `postfix flush` once the cause is fixed;
* hold, release and delete messages with `postsuper`;
* read a bounce (a delivery status notification) when a message expires or
  is refused for good.

{NAV_05}
"""),
    ("md", """
## Why a queue?

When a server answers `250` after the message text, it has taken
responsibility for the message: it must deliver it or tell the sender it
could not.  Delivery can fail for a while (the other server is down, the
network is broken, a disk is full), so every message first goes to disk,
into the **queue**, and only then is delivered.  Postfix's `cleanup` writes
it, the **queue manager** (`qmgr`) hands it to a delivery agent, and
whatever cannot be delivered *now* waits in the queue for the next try.

Two servers again: Alice's at `example.com`, Bob's at `example.org`.
"""),
    ("code", f"""
import sys
import labmail
from labmail import mua
from labmail.course_queue import show_log, log_of

lab = labmail.Lab(seed=1, {SETUP_CLOCK})
com = lab.add_host("mail.example.com", users={{"alice": "wonderland"}})
org = lab.add_host("mail.example.org", users={{"bob": "builder"}})
lab.start()
print(com.mailq())
"""),
    ("md", """
`mailq` (the same as `postqueue -p`, or `sendmail -bp`) lists the queue;
on a healthy server it is almost always empty, because a message stays only
for the milliseconds its delivery takes.

## A destination that is down

Stop Bob's server, as if its machine had crashed, and send him three
messages:
"""),
    ("code", """
org.stop()
waiting = [mua.send(com, "bob@example.org", subject=f"Report {n}", body="Figures attached.",
                    sender="Alice <alice@example.com>") for n in (1, 2, 3)]
com.settle()
print(com.mailq())
"""),
    ("md", """
Each message is a block:

* the **queue id**, the message's name on this server (it is in the log
  and in the `Received:` header);
* its **size** in bytes and its **arrival time**;
* the **sender** (`MAILER-DAEMON` for a bounce, whose sender is empty);
* in parentheses, **why** the last attempt failed;
* the recipients still waiting.

A `*` after the id would mean *being delivered right now* (the `active`
queue); a `!` means *on hold*.  The last line counts the messages.  The
log has the same reason in the `status=deferred` line:
"""),
    ("code", """
print(show_log(com, waiting[0].queue_id))
"""),
    ("md", """
## The queue on disk

The queue is a set of directories under `/var/spool/postfix`, one file per
message: `incoming` (just arrived), `active` (being delivered), `deferred`
(waiting for a retry), `hold` (put aside by the administrator).  A message
moves between them by a rename, so a crash never leaves half a message:
"""),
    ("code", """
spool = com.path("/var/spool/postfix")
for queue in ("incoming", "active", "deferred", "hold"):
    print(f"{queue:<9}", sorted(p.name for p in (spool / queue).iterdir()))
"""),
    ("md", """
`postcat -q QUEUEID` prints a queue file: the envelope (sender, recipients,
arrival time), the headers and the body.  The lab's files are readable
text, and the lab has the same tool:
"""),
    ("code", """
from labmail.mta.mailq import postcat

print(postcat(com.queue.load(waiting[0].queue_id), tz=com.clock.tz))
"""),
    ("md", """
For programs (and plots) the queue is also a table:
"""),
    ("code", """
import datetime as dt

def when(ts):
    return dt.datetime.fromtimestamp(ts, com.clock.tz).strftime("%H:%M:%S")

for row in com.queue.table():
    print(row["queue_id"], row["queue"], row["size"], "attempts:", row["attempts"],
          "next try:", when(row["next_try"]))
"""),
    ("md", """
## Retries and back-off

The queue manager looks at the deferred queue every `queue_run_delay`
(300 s by default).  A message is tried again once its **back-off** has
passed: the time since it arrived, but at least `minimal_backoff_time`
(300 s) and at most `maximal_backoff_time` (4000 s).  So the gaps between
attempts roughly double: 5 minutes, 5, 10, 20, 40, then about an hour each.
"""),
    ("code", """
from labmail.mta.qmgr import next_retry, QmgrSettings

settings = QmgrSettings.from_config(com.config)
print("queue_run_delay", settings.queue_run_delay, "s; backoff", settings.minimal_backoff_time,
      "to", settings.maximal_backoff_time, "s; give up after", settings.maximal_queue_lifetime / 86400, "days")
age, tries = 0.0, []
for attempt in range(8):
    wait = next_retry(0, age, settings) - age
    tries.append(f"{age / 60:.0f} min")
    age += wait
print("attempts at:", ", ".join(tries))
"""),
    ("md", """
Nobody wants to wait hours in a lesson, so the lab has its own clock:
`lab.clock.advance(minutes=10)` moves *lab time* forward, and
`com.run_queue()` lets the queue manager look at the queue right away (as it
would at its next scheduled run).  Let an hour pass in steps of ten minutes,
with Alice sending two more messages every step, while Bob's server stays
down:
"""),
    ("code", """
for step in range(6):
    lab.clock.advance(minutes=10)
    com.run_queue()
    for n in (1, 2):
        waiting.append(mua.send(com, "bob@example.org", subject=f"Update {step}.{n}",
                                body="More figures.", sender="alice@example.com"))
    com.settle()
print(lab.clock.now().strftime("%H:%M"), len(com.queue), "messages queued")
print(show_log(com, waiting[0].queue_id))
"""),
    ("md", """
Read the `delay=` of the first message: each attempt is later than the one
before, and the gaps grow.  The whole story as a plot of queue size over
lab time, drawn from the log (every `queue active`, `status=deferred` and
`removed` line):
"""),
    ("code", """
%matplotlib inline
from labmail.logread import chart_queue

figure = chart_queue(log_of(com))
"""),
    ("md", """
## `postfix flush`: the cause is fixed, go now

Bob's server comes back.  Without help, each message would wait for its own
next retry, up to an hour for the oldest.  `postfix flush` (also
`postqueue -f` or `sendmail -q`) asks the queue manager to try every
deferred message now; here `com.flush()`, or `labmail flush` in a shell:
"""),
    ("code", """
org.start()
print(com.flush(), "messages tried")
lab.settle()
print(com.mailq())
print(len(org.mailbox("bob")), "messages in Bob's mailbox")
"""),
    ("md", """
Use flush after fixing the cause, not instead of it: on a server whose
destination is still down, it only makes one more round of failures.

## Holding and deleting: `postsuper`

`postsuper` is the administrator's tool for the queue itself:

| command | what it does |
|---|---|
| `postsuper -h ID` | put a message **on hold**: it stays, but is not tried |
| `postsuper -H ID` | release it (back to the deferred queue, due at once) |
| `postsuper -d ID` | delete it, without a bounce |
| `ALL` instead of `ID` | every message |

Stop Bob's server again and queue two messages, one of them a mistake:
"""),
    ("code", """
from labmail.mta.mailq import postsuper

org.stop()
keep = mua.send(com, "bob@example.org", subject="Contract", body="Please sign.", sender="alice@example.com")
oops = mua.send(com, "bob@example.org", subject="Salaries", body="Oops, not for you.", sender="alice@example.com")
com.settle()
print(postsuper(com.queue, "-h", [keep.queue_id], maillog=com.maillog))
print(postsuper(com.queue, "-d", [oops.queue_id], maillog=com.maillog))
print(com.mailq())
"""),
    ("md", """
The `!` marks the held message.  (In a shell: `postsuper -h ID`, then
`postsuper -d ID`; both print what they did and log it as
`postfix/postsuper`.)  A held message is not tried even by a flush; it
waits until someone releases it:
"""),
    ("code", """
org.start()
com.flush()
print(com.mailq())
print(postsuper(com.queue, "-H", [keep.queue_id], maillog=com.maillog))
com.flush()
lab.settle()
print(com.mailq())
print(sorted(m["Subject"] for m in org.mailbox("bob"))[-3:])
"""),
    ("md", """
## A bounce arriving back

A message comes back to its sender as a **bounce** in two cases.

**A permanent refusal.**  A `5xx` answer means *never*, so there is no
point in retrying:
"""),
    ("code", """
sent = mua.send(com, "robert@example.org", subject="Hi Robert", body="Are you there?",
                sender="Alice <alice@example.com>")
lab.settle()
print(show_log(com, sent.queue_id))
"""),
    ("md", """
The `postfix/bounce` line names the new message: a **delivery status
notification** (DSN, RFC 3464) from `MAILER-DAEMON` to the original
sender, queued and delivered like any other mail.  Its envelope sender is
empty (`from=<>`), so a bounce can never bounce back and forth.

**Expiry.**  A message that stays deferred longer than
`maximal_queue_lifetime` (5 days) is returned too.  Bob's server goes down
for a long week:
"""),
    ("code", """
org.stop()
lost = mua.send(com, "bob@example.org", subject="Lost in the queue", body="Will you ever see this?",
                sender="Alice <alice@example.com>")
com.settle()
for day in range(6):
    lab.clock.advance(days=1)
    com.run_queue()
lab.settle()
print(show_log(com, lost.queue_id))
"""),
    ("md", """
`status=expired, returned to sender`.  What Alice finds in her mailbox:
"""),
    ("code", """
from labmail.notebook import messages

path, dsn = messages(com, "alice", subject="Undelivered Mail Returned to Sender")[-1]
print("From:   ", dsn["From"])
print("Subject:", dsn["Subject"])
print("Type:   ", dsn.get_content_type(), dsn.get_param("report-type"))
for part in dsn.iter_parts():
    print("  part:", part.get_content_type(), "-", part.get("Content-Description", ""))
"""),
    ("md", """
Three parts, as RFC 3464 and RFC 6522 lay them out: a text for people,
a machine-readable `message/delivery-status`, and the headers of the
original message (so Alice can tell which one failed).  The text:
"""),
    ("code", """
print(list(dsn.iter_parts())[0].get_content())
"""),
    ("md", """
And the part for programs, with one block per failed recipient:
"""),
    ("code", """
status = list(dsn.iter_parts())[1]
for block in status.get_payload():
    print(block.as_string().strip(), end="\\n\\n")
"""),
    ("md", """
## Exercises

**1. Delete a mistake.**  Bob's server is still down.  The cell below
queues a message that must never arrive.  Delete it from the queue (no
bounce to the sender).
"""),
    ("code", """
mistake = mua.send(com, "bob@example.org", subject="Draft, do not send", body="...",
                   sender="alice@example.com")
com.settle()
print(com.mailq())
"""),
    ("code", """
### BEGIN SOLUTION
postsuper(com.queue, "-d", [mistake.queue_id], maillog=com.maillog)
### END SOLUTION
"""),
    ("code", """
from labmail import course_queue

course_queue.check_not_queued(com, mistake.queue_id)
"""),
    ("md", """
**2. Bring the mail home.**  Two more messages are waiting for Bob.  Make
sure both are delivered now, without waiting for the next queue run, and
that Alice's queue is empty afterwards.
"""),
    ("code", """
for n in (1, 2):
    mua.send(com, "bob@example.org", subject="Waiting", body=f"Message {n}", sender="alice@example.com")
com.settle()
print(com.mailq())
"""),
    ("code", """
### BEGIN SOLUTION
org.start()
com.flush()
### END SOLUTION
"""),
    ("code", """
print(course_queue.check_queue_empty(com))
print(course_queue.check_delivered(org, "bob", "Waiting", count=2))
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

* A server writes every accepted message to its queue before answering
  `250`, and removes it only once every recipient is delivered or bounced.
* `mailq` shows what waits and why; the reason in parentheses is the last
  attempt's failure, also in the log's `status=deferred` line.
* Deferred mail is retried with a growing back-off (`minimal_backoff_time`
  to `maximal_backoff_time`), checked every `queue_run_delay`.
* `postfix flush` retries everything now: use it once the cause is fixed.
* `postsuper -h`/`-H`/`-d` hold, release and delete messages.
* A `5xx` answer bounces at once; a message deferred longer than
  `maximal_queue_lifetime` expires.  Either way the sender gets a delivery
  status notification from `MAILER-DAEMON`.

## Further reading

* Postfix queue scheduling: <https://www.postfix.org/QSHAPE_README.html>
  and <https://www.postfix.org/SCHEDULER_README.html>; `qmgr(8)`:
  <https://www.postfix.org/qmgr.8.html>
* `mailq`/`postqueue(1)`: <https://www.postfix.org/postqueue.1.html>,
  `postsuper(1)`: <https://www.postfix.org/postsuper.1.html>, `postcat(1)`:
  <https://www.postfix.org/postcat.1.html>
* RFC 3464 (delivery status notifications):
  <https://www.rfc-editor.org/rfc/rfc3464>; RFC 5321 §4.5.4 (retry strategy)
  and §6.1 (reliable delivery): <https://www.rfc-editor.org/rfc/rfc5321>

{nav}
""".replace("{nav}", NAV_05)),
]

NAV_06 = ("*previous:* [05 · The mail queue](05-the-mail-queue.ipynb) | "
          "[contents](../README.md#lessons) | "
          "*next:* 07 · Fighting spam (SpamAssassin, procmail)")

L06: List[Cell] = [
    ("md", f"""
# 06 · Testing and reading the logs

**Time:** about 60 minutes &nbsp;·&nbsp; **Before:** [05 · The mail queue](05-the-mail-queue.ipynb)

**Questions**

* How do I test a new mail server, step by step?
* What does each line of `/var/log/maillog` say, and which one matters when
  mail goes missing?
* How do I find the cause of a failure from the log alone?

**After this lab you can**

* test a server as administrators do: a local user first, then a remote
  site, then mail coming in from outside, with a command-line client
  (subject, sender, attachment);
* follow one message through the log by its queue id and explain every
  field of a delivery line (`relay`, `delay`, `delays`, `dsn`, `status`);
* diagnose a server that is down, a wrong MX record and a wrong address
  from their log lines, and fix each;
* summarise a log in the way `pflogsumm` does, as numbers and as a chart.

{NAV_06}
"""),
    ("md", """
## The test plan

A new mail server is tested in three steps, each adding one thing that can
go wrong:

1. mail **to another user on the same server**: only this server is
   involved (the MTA, the local delivery, the mailbox);
2. mail **to a remote site**: now DNS, the network and the other server take
   part;
3. mail **from a remote site**: your MX record, your firewall and your
   `mydestination` must be right for others to reach you.

And at each step, when something fails: **read the log**.

Three servers again.  Alice and Bob share `mail.example.com`; Carol is at
`example.org`; `mail.example.net` plays a third party.
"""),
    ("code", f"""
import sys
import labmail
from labmail import mua
from labmail.course_queue import show_log, log_of

lab = labmail.Lab(seed=1, {SETUP_CLOCK})
com = lab.add_host("mail.example.com", users={{"alice": "wonderland", "bob": "builder"}})
org = lab.add_host("mail.example.org", users={{"carol": "singer"}})
net = lab.add_host("mail.example.net", users={{"dave": "diver"}})
lab.start()
lab
"""),
    ("md", """
## Step 1: another user on the same server

On the server itself, the classic test is the `mailx` (or `mail`) command:

```sh
echo "Hello Bob, this is a test." | mailx -s "Test 1" -r "Alice <alice@example.com>" bob@example.com
```

`-s` sets the subject, `-r` the sender (a name and an address), the body
comes from standard input.  `mua.send` is the lab's `mailx`: it builds the
same message and hands it to the server.  (`labmail mailx` does it from a
shell, with the same options.)
"""),
    ("code", """
test1 = mua.send(com, "bob@example.com", subject="Test 1", body="Hello Bob, this is a test.",
                 sender="Alice <alice@example.com>")
test1
"""),
    ("md", """
`250 … queued as …`: the server has it.  The same from a shell, with the
lab's `mailx` (`-v` prints the server's answer; real `mailx` stays silent):
"""),
    ("code", """
ip, port = com.endpoints["smtp"]
!echo "Hello again, from a shell." | {sys.executable} -m labmail mailx -v -s "Test 1b" -r "Alice <alice@example.com>" --smtp {ip}:{port} bob@example.com
"""),
    ("md", """
Did Bob get them?
"""),
    ("code", """
from labmail.notebook import messages

com.settle()
print([m["Subject"] for _, m in messages(com, "bob")])
path, msg = messages(com, "bob", subject="Test 1")[-1]
print(msg)
"""),
    ("md", """
Besides the headers `mailx` wrote (`From`, `To`, `Subject`, `Date`, `MIME-Version`,
`Content-Type`), the server added `Message-Id` (cleanup), `Received` (the trace of the hop), and
at delivery `Return-Path` (the envelope sender) and `Delivered-To`.

On a real server, `mailx` does not speak SMTP at all: it runs the server's
`sendmail` command, which drops the message into the queue directory through
`postdrop`; Postfix's `pickup` daemon then hands it to `cleanup`.  Scripts
and cron jobs use the same door (`printf 'Subject: …' | sendmail bob`).  The
lab's version is `labmail sendmail`; here is the same from Python, as user
`root`, to the bare name `bob`:
"""),
    ("code", """
from labmail.commands.sendmail import submit

qid = submit(com.state_dir, b"Subject: Nightly backup\\n\\nThe backup finished.\\n", ["bob"],
             sender=None, user="root", uid=0, clock=lab.clock, ids=lab.ids)
com.run_queue()
print(show_log(com, qid))
"""),
    ("md", """
No `smtpd` line this time, but `pickup` with the user id and the login
name; the bare names were completed with `myorigin`
(`root@mail.example.com`, `bob@mail.example.com`), as `trivial-rewrite`
does for mail written on the server itself.

## Step 2: a remote site, with an attachment

`mailx -a FILE` attaches a file; the message becomes `multipart/mixed`, one
part for the text and one per file:

```sh
echo "The figures, as promised." | mailx -s "Test 2" -r "Alice <alice@example.com>" -a report.csv carol@example.org
```
"""),
    ("code", """
import pathlib, tempfile

report = pathlib.Path(tempfile.mkdtemp()) / "report.csv"
report.write_text("month,messages\\nOctober,120\\nNovember,164\\n")
test2 = mua.send(com, "carol@example.org", subject="Test 2", body="The figures, as promised.",
                 sender="Alice <alice@example.com>", attachments=[report])
lab.settle()
path, msg = messages(org, "carol", subject="Test 2")[-1]
for part in msg.walk():
    print(part.get_content_type(), part.get_filename() or "")
print(msg.get_body(("plain",)).get_content())
for attachment in msg.iter_attachments():
    print(attachment.get_filename(), "->", attachment.get_content())
"""),
    ("md", """
## Step 3: mail from a remote site

Carol answers from her own server.  This proves the other direction: the MX
record of `example.com`, and Alice's server accepting mail for its domain
from a stranger.
"""),
    ("code", """
test3 = mua.send(org, "alice@example.com", subject="Re: Test 2", body="Got it, thanks!",
                 sender="Carol <carol@example.org>")
lab.settle()
[subject for subject in (m["Subject"] for _, m in messages(com, "alice"))]
"""),
    ("md", """
All three steps passed.  Now the log, which tells what happened at each.

## Reading the maillog line by line

Postfix logs through syslog; on Red Hat systems the lines go to
`/var/log/maillog`, on Debian and Ubuntu to `/var/log/mail.log` (or wherever
`rsyslogd` is told to put the `mail` facility).  The lab host writes the
same file under its state directory.  The first thing to do with a queue id
is `grep` for it:
"""),
    ("code", """
!grep {test2.queue_id} {com.maillog.path}
"""),
    ("md", """
Each line starts with the syslog prefix: *date and time*, *host name*,
*program[process id]*, then the program's message, which (for a message)
starts with the queue id.  In order:

| program | line | meaning |
|---|---|---|
| `smtpd` | `client=localhost[127.0.0.1]` | a client connected and started a transaction; the queue id is given at the first accepted `RCPT` |
| `cleanup` | `message-id=<…>` | the message was written to the queue (with the `Message-Id` it has, or was given) |
| `qmgr` | `from=<…>, size=…, nrcpt=… (queue active)` | the queue manager took it: sender, size in bytes, number of recipients |
| `smtp` or `local` | `to=<…>, relay=…, delay=…, delays=…, dsn=…, status=…` | one delivery attempt for one recipient: **the line to read** |
| `qmgr` | `removed` | all recipients done: the queue file is deleted |

The fields of the delivery line:

* `relay=` where it went: `local` (a mailbox here), `host[address]:port` (another
  server), `none` (no connection was made);
* `delay=` seconds from arrival to the end of this attempt;
* `delays=a/b/c/d` splits that time: *a* before the queue manager took the
  message, *b* waiting in the queue manager, *c* setting up the connection
  (DNS, TCP, greeting, TLS), *d* transmitting;
* `dsn=` the enhanced status code (`2.x.x` delivered, `4.x.x` try again,
  `5.x.x` failed for good);
* `status=` `sent`, `deferred` or `bounced`, and in parentheses the reason
  (for `smtp`, the remote server's own words and its queue id).

The lab's log reader splits lines into these fields:
"""),
    ("code", """
for record in log_of(com, test2.queue_id):
    print(f"{record.service:<8} {record.event:<11} {record.fields}")
"""),
    ("md", """
Lines without a queue id tell about connections: `connect from`, and
`disconnect from` with a count of each command the client sent (useful to
spot clients that never get as far as `DATA`):
"""),
    ("code", """
print(*org.maillog.lines("connect from mail.example.com"), sep="\\n")
"""),
    ("md", """
## Exercises: three broken set-ups

Each cell below breaks something in the lab, the way real set-ups break,
and sends a test message.  It does not say what it broke.  For each:

1. read the log of the message (`show_log(com, sent.queue_id)`, or
   `com.maillog.tail(…)`), and name the cause as one of `"down"`
   (the other server does not answer), `"mx"` (DNS sends the mail to the
   wrong server), `"user"` (the address does not exist there) or `"dns"`
   (the domain cannot be found);
2. fix it, so that the message (or a new copy of it) arrives.

Useful tools: `mailq`, `com.flush()`, `lab.dns.query(…)`, `mx_of(lab, …)`,
`lab.dns.remove(…)`, `host.start()`, and `/etc/aliases` of the receiving host
(`host.path("/etc/aliases")`, then `host.users.reload()`, the lab's
`newaliases`).

**Set-up 1.**  An hour later, Alice tests again:
"""),
    ("code", """
from labmail import course_queue
from labmail.course_queue import mx_of

lab.clock.advance(hours=1)
sent1 = course_queue.break_destination_down(lab, com, org, "carol@example.org", subject="Test 4")
print(com.mailq())
"""),
    ("code", """
### BEGIN SOLUTION
print(show_log(com, sent1.queue_id))
answer1 = "down"
### END SOLUTION
"""),
    ("code", """
course_queue.check_diagnosis(com, sent1.queue_id, answer1)
"""),
    ("md", """
Now fix it, and get the waiting message delivered:
"""),
    ("code", """
### BEGIN SOLUTION
org.start()
com.flush()
### END SOLUTION
"""),
    ("code", """
course_queue.check_delivered(org, "carol", "Test 4")
"""),
    ("md", """
**Set-up 2.**  Another hour; someone has edited DNS:
"""),
    ("code", """
lab.clock.advance(hours=1)
sent2 = course_queue.break_mx_record(lab, com, "example.org", net, "carol@example.org", subject="Test 5")
print(com.mailq())
"""),
    ("code", """
### BEGIN SOLUTION
print(show_log(com, sent2.queue_id))
print(mx_of(lab, "example.org"))
answer2 = "mx"
### END SOLUTION
"""),
    ("code", """
course_queue.check_diagnosis(com, sent2.queue_id, answer2)
"""),
    ("code", """
### BEGIN SOLUTION
lab.dns.remove("example.org", "MX", "5 mail.example.net.")
com.flush()
### END SOLUTION
"""),
    ("code", """
print(course_queue.check_mx(lab, "example.org", "mail.example.org"))
print(course_queue.check_delivered(org, "carol", "Test 5"))
"""),
    ("md", """
**Set-up 3.**  Alice writes to Carol by another name:
"""),
    ("code", """
lab.clock.advance(hours=1)
sent3 = course_queue.break_recipient_name(lab, com, "karol@example.org", subject="Test 6")
print(com.mailq())
"""),
    ("code", """
### BEGIN SOLUTION
print(show_log(com, sent3.queue_id))
answer3 = "user"
### END SOLUTION
"""),
    ("code", """
course_queue.check_diagnosis(com, sent3.queue_id, answer3)
"""),
    ("md", """
This message is not in any queue: a `5xx` answer bounced it at once (Alice
has the bounce).  Suppose `karol` is a spelling people often use: make
`mail.example.org` accept it for Carol with an alias, then send the test
(`Test 6`, to `karol@example.org`) again.
"""),
    ("code", """
### BEGIN SOLUTION
aliases = org.path("/etc/aliases")
aliases.write_text(aliases.read_text() + "karol: carol\\n")
org.users.reload()
mua.send(com, "karol@example.org", subject="Test 6", body="Second try.", sender="alice@example.com")
### END SOLUTION
"""),
    ("code", """
course_queue.check_delivered(org, "carol", "Test 6")
"""),
    ("md", """
## The summary: pflogsumm

On a busy server nobody reads every line.  `pflogsumm` reads a day's log
and prints totals: messages received, delivered, deferred, bounced and
rejected, traffic per hour and per domain, and the most common reasons for
deferrals and rejections.  The lab's version, for Alice's server:
"""),
    ("code", """
from labmail.logread import summarize, chart

summary = summarize(log_of(com))
print(summary.report())
"""),
    ("md", """
The same numbers per hour, as a chart (one bar per hour of lab time; each
exercise above happened an hour after the one before):
"""),
    ("code", """
%matplotlib inline
figure = chart(summary)
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

* Test in steps: a local user, a remote site, then mail from outside; each
  step adds one part that can fail.
* `mailx -s SUBJECT -r "Name <address>" -a FILE to` builds a complete
  message; the server adds `Message-Id`, `Received`, `Return-Path`.
* In `/var/log/maillog` (`/var/log/mail.log` on Debian), follow a message
  by its queue id: `smtpd`, `cleanup`, `qmgr`, then one `smtp`/`local` line
  per delivery attempt, then `removed`.
* The delivery line's `status=` and the text in parentheses say what
  happened; `relay=` says where; `dsn=` says how final it is.
* `Connection refused` → the other server is down; `Relay access denied`
  from an unexpected host → check the MX records; `User unknown` → the
  address; `Host or domain name not found` → the domain's DNS.
* `pflogsumm` turns a log into totals and per-hour traffic.

## Further reading

* Postfix logging, and what the delivery line's fields mean:
  <https://www.postfix.org/MAILLOG_README.html> and `delays=` in
  <https://www.postfix.org/postconf.5.html#delay_logging_resolution_limit>
* Postfix debugging how-to: <https://www.postfix.org/DEBUG_README.html>
* RFC 5321 §4.4 (the `Received:` trace fields) and RFC 3463 (the enhanced
  status codes of `dsn=`): <https://www.rfc-editor.org/rfc/rfc5321#section-4.4>,
  <https://www.rfc-editor.org/rfc/rfc3463>
* `mailx` (POSIX): <https://pubs.opengroup.org/onlinepubs/9699919799/utilities/mailx.html>
* pflogsumm: <https://jimsun.linxnet.com/postfix_contrib.html>

{nav}
""".replace("{nav}", NAV_06)),
]

LESSONS: Dict[str, List[Cell]] = {
    "04-dns-mx-and-relaying.ipynb": L04,
    "05-the-mail-queue.ipynb": L05,
    "06-testing-and-logs.ipynb": L06,
}

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
