"""Build lessons 07-08 (fighting spam; blocking at the door with RBLs).

Same builder as ``tools/make_notebooks.py`` (its ``build``, ``execute`` and
``student_source`` are reused by import); only the lessons differ::

    .venv/bin/python tools/make_notebooks_07_08.py              # write and execute both
    .venv/bin/python tools/make_notebooks_07_08.py 08 --no-execute
    .venv/bin/python tools/make_notebooks_07_08.py --student build/student
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
NAV_07 = ("*previous:* [06 · Testing and logs](06-testing-and-logs.ipynb) | "
          "[contents](../README.md#lessons) | "
          "*next:* [08 · Blocking at the door: RBLs](08-blocking-at-the-door-rbl.ipynb)")
NAV_08 = ("*previous:* [07 · Fighting spam](07-fighting-spam.ipynb) | "
          "[contents](../README.md#lessons) | "
          "*next:* [09 · Securing connections with TLS](09-securing-connections-tls.ipynb)")

L07: List[Cell] = [
    ("md", """
# 07 · Fighting spam

**Time:** about 60 minutes &nbsp;·&nbsp; **Before:** [06 · Testing and logs](06-testing-and-logs.ipynb)

**Questions**

* How does SpamAssassin decide that a message is spam?
* What does a rule look like, and how do I write my own?
* What does the recipient get when a message is marked as spam?
* How does a mail server hand every message to SpamAssassin, and file spam away?
* Where should the line between spam and ham be drawn?

**After this lab you can**

* read a SpamAssassin report: which rules hit, how many points each added,
  and why `required_hits 5` (its new name: `required_score`) decides;
* read rules in the `.cf` files and write a `body` rule with its `score`
  and `describe`;
* choose `report_safe` 0, 1 or 2 and explain why 2 is the safer choice;
* train the Bayes filter with `sa-learn` on examples of spam and ham;
* wire SpamAssassin into delivery: `mailbox_command = /usr/bin/procmail`,
  a `:0 hbfw` recipe piping into `spamc`, and a recipe filing
  `X-Spam-Flag: YES` into a `Junk` folder;
* read a score histogram and pick a threshold, knowing what a false
  positive costs.

{nav}
""".replace("{nav}", NAV_07)),
    ("md", """
## Setup

One server, `mail.example.com`, with Alice's mailbox.  Like every lab
host, it runs a SpamAssassin daemon, `spamd`, next to Postfix:
"""),
    ("code", """
import labmail

lab = labmail.Lab(seed=1, clock="2026-11-27T09:00:00+00:00")
host = lab.add_host("mail.example.com", users={"alice": "wonderland"})
lab.start()
print(lab.port_table())
"""),
    ("md", """
## What a score is

SpamAssassin does not *know* whether a message is spam.  It runs a few
hundred small tests (*rules*) on it.  Each rule that matches (*hits*) adds
its points, some rules subtract points, and the sum is the **score**.  A
message whose score reaches the threshold is spam.

The lab's engine, `labmail.spam.check`, does what the `spamassassin`
command does.  A message that promises a prize:
"""),
    ("code", r'''
from labmail import spam

prize = b"""From: Holiday Team <win@prizes.example.net>
To: alice@example.com
Subject: You have been selected!!

Dear winner, you have won a FREE cruise.  Click here to claim your prize
before the offer expires today.  This email is not spam.
"""
result = spam.check(prize)
print(result.summary())
'''),
    ("md", """
Every line is one rule that hit: its points, its name and its description.
Some rules look at the header (a missing `Date:`, a shouting subject),
others at the text a reader sees, and `LAB_NO_RELAYS` only informs (0 points).
No single rule decides; the sum does.  A message from a colleague hits
almost nothing:
"""),
    ("code", r'''
lunch = b"""From: Bob <bob@example.org>
To: alice@example.com
Date: Fri, 27 Nov 2026 08:55:00 +0000
Message-ID: <lunch-1@example.org>
Subject: lunch?

Shall we meet at noon at the usual place?
"""
print(spam.check(lunch).summary())
'''),
    ("md", """
## Reading rules

Rules live in plain text files ending in `.cf`; on Debian in
`/usr/share/spamassassin/` (never edit those: updates overwrite them) and
your own in `/etc/mail/spamassassin/local.cf`.  The course's rule set is in
`labmail/spam/rules/`.  Here is the rule behind `LAB_LOTTERY`:
"""),
    ("code", r'''
from pathlib import Path
import labmail.spam

rules = Path(labmail.spam.__file__).parent / "rules"
print(sorted(p.name for p in rules.glob("*.cf")))
for line in (rules / "20_body.cf").read_text().splitlines():
    if " LAB_LOTTERY " in line + " ":
        print(line)
'''),
    ("md", """
Three lines make a rule:

* `body NAME /regex/flags`: the test.  `body` searches the text a reader
  sees (decoded, HTML turned into text); `header NAME Field =~ /regex/`
  tests one header field; `uri` the links; `rawbody` the undecoded text;
  `meta` combines other rules (`LAB_LOTTERY_CLAIM` hits only when a "win"
  comes with a demand).
* `score NAME points`: what a hit adds (negative points are for signs of
  ham).
* `describe NAME text`: the line the report shows.

## `required_hits 5`

The threshold is `required_score` in `local.cf`; its old name
`required_hits` still works, and many guides use it.  The default is 5.0.
The prize mail above is far over it.  A milder one, with fewer of the
classic phrases, stays under it, unless the server is stricter:
"""),
    ("code", r'''
mild = b"""From: Holidays <win@prizes.example.net>
To: alice@example.com
Subject: You have been selected

Congratulations! You won a FREE Cruise to the Caribbean. Reply today.
"""
for threshold in (5, 3):
    r = spam.check(mild, f"required_hits {threshold}\n")
    print(f"required_hits {threshold}: score {r.score:.1f} -> {'spam' if r.is_spam else 'ham'}")
'''),
    ("md", """
Lower the threshold and more spam is caught, but also more honest mail
(*ham*) is marked as spam.  We come back to that trade at the end.

## What the recipient gets: `report_safe`

SpamAssassin marks every message with `X-Spam-*` header fields.  When the
message is spam, `report_safe` decides what happens to it:

| `report_safe` | the recipient gets |
|---|---|
| 0 | the original message, with the `X-Spam-*` fields added (and the subject rewritten, if configured) |
| 1 (default) | a **new** message: a report, with the original attached as `message/rfc822` |
| 2 | the same new message, with the original attached as `text/plain` |

Here is the prize mail with a `local.cf` that also rewrites the subject;
we look at the three results side by side: the header fields
SpamAssassin adds and the MIME structure.
"""),
    ("code", r'''
import email
from email import policy

def describe(raw):
    msg = email.message_from_bytes(raw, policy=policy.default)
    out = [f"Subject: {msg['Subject']}", f"X-Spam-Flag: {msg['X-Spam-Flag']}",
           f"X-Spam-Status: {' '.join(str(msg['X-Spam-Status']).split())[:60]}..."]
    for part in msg.walk():
        out.append("  part " + part.get_content_type()
                   + (f" ({part.get_filename() or part.get_content_disposition()})"
                      if part.get_content_disposition() else ""))
    return out

for mode in (0, 1, 2):
    cf = f"rewrite_header Subject *****SPAM*****\nreport_safe {mode}\n"
    print(f"--- report_safe {mode}")
    print("\n".join(describe(spam.check(prize, cf).rewritten)))
'''),
    ("md", """
With **0**, the message itself arrives, with its original body, links and
attachments intact.  With **1**, it arrives wrapped in a report; but a
mail program shows an attached `message/rfc822` as a message, often right
away, with its HTML, its images (which tell the spammer that the address
is read) and its attachments one click away.  With **2**, the original is
attached as `text/plain`: the mail program shows its source as text and
renders nothing, and nothing in it can be clicked.  That is why **2** is
the safe choice for users who open their Junk folder.  The report that
leads the new message:
"""),
    ("code", r'''
wrapped = spam.check(prize, "report_safe 2\n").rewritten
msg = email.message_from_bytes(wrapped, policy=policy.default)
report = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
print(report.get_content()[:900])
'''),
    ("md", """
## Exercise: write a rule

Prize mails love a *free cruise*.  Write a `local.cf` text with a `body`
rule named `LAB_FREE_CRUISE` that hits "free cruise" in any mix of upper
and lower case, scores **2.5** points, and has a description.  It must not
hit Bob's harmless mail about his car's cruise control, which "is free of
charge".  Put the text in `local_cf`; the check runs your rule on both
messages.
"""),
    ("code", r'''
local_cf = None
### BEGIN SOLUTION
local_cf = r"""
body     LAB_FREE_CRUISE  /\bfree\s+cruise\b/i
describe LAB_FREE_CRUISE  Offers a free cruise
score    LAB_FREE_CRUISE  2.5
"""
### END SOLUTION
'''),
    ("code", """
from labmail.course_spam import check_rule

check_rule(local_cf)
"""),
    ("md", """
## Bayes: learning from examples

Hand-written rules know the spam of yesterday.  The Bayes filter learns
the words of *your* mail: feed it examples (`sa-learn --spam FOLDER`,
`sa-learn --ham FOLDER`), and it computes, for each word, how much more
often it appears in spam than in ham.  For a new message it combines
the strongest words into a probability, which fires one of the rules
`BAYES_00` (surely ham) … `BAYES_99` (surely spam).  It stays silent until
it has learnt enough: `bayes_min_spam_num` and `bayes_min_ham_num`
(100 each in the course's settings, 200 in SpamAssassin's).

The course comes with a labelled corpus of messages.  We train on one half
and test on the other half, which Bayes has never seen.  Training reports
its progress as `sa-learn` does:
"""),
    ("code", r'''
from labmail.spam import corpus
from labmail.spam.bayes import BayesStore

train_set, test_set = corpus.halves()
print(f"{len(train_set)} messages to learn from, {len(test_set)} held out")

db = BayesStore(None)              # in memory; sa-learn keeps it in ~/.spamassassin/bayes_*
def progress(done, total):
    if done % 60 == 0 or done == total:
        print(corpus.progress_text(done, total, "messages learnt"))
learnt = corpus.train(db, train_set, progress)
print(f"learnt {learnt}: {db.nspam} spam, {db.nham} ham")
'''),
    ("md", """
In a notebook, a progress bar is nicer.  (The output of this cell is not
compared by the course's tests, because a widget shows only in a live
notebook.)  Training the same messages again teaches nothing new: the
database remembers which messages it has seen.
"""),
    ("code:nbval-ignore-output", r'''
import ipywidgets
from IPython.display import display

bar = ipywidgets.HTML(corpus.progress_html(0, len(train_set)))
display(bar)
corpus.train(db, train_set, lambda done, total: setattr(bar, "value", corpus.progress_html(done, total)))
'''),
    ("md", """
What does Bayes say about held-out messages?  The first two of each kind:
"""),
    ("code", r'''
spams = [s for s in test_set if s.label == "spam"][:2]
hams = [s for s in test_set if s.label == "ham"][:2]
for sample in spams + hams:
    r = spam.check(sample.data, bayes=db)
    bayes_rules = [t for t in r.tests if t.startswith("BAYES_")]
    print(f"{sample.label:4}  {sample.path.name:28} score {r.score:5.1f}  {', '.join(bayes_rules)}")
'''),
    ("md", """
## Wiring it in: Postfix, procmail and spamc

On a real server, SpamAssassin runs as the daemon `spamd`, and a small
client, `spamc`, sends it each message and prints the marked-up result.
Postfix's local delivery agent hands every message for a local user to
`mailbox_command`; here that is **procmail**, which runs the recipes of
`/etc/procmailrc`:

* `:0 hbfw` with `| /usr/bin/spamc`: pipe the header (`h`) and body (`b`)
  through `spamc` as a *filter* (`f`): the message continues with spamc's
  output, marks and all; `w` waits for spamc and checks its exit status.
* `:0:` with `* ^X-Spam-Flag: YES` and `.Junk/`: when the marked message
  carries `X-Spam-Flag: YES`, file it into the Maildir folder `.Junk`
  (the trailing `:` takes a lock file).
* Everything else falls through to `$DEFAULT`, the inbox.

The two files on our server:
"""),
    ("code", r'''
host.postconf(e=["mailbox_command = /usr/bin/procmail"])
host.reload()
host.path("/etc/procmailrc").write_text("""\
MAILDIR=$HOME/Maildir/
DEFAULT=$MAILDIR
LOGFILE=$HOME/procmail.log

:0 hbfw
| /usr/bin/spamc

:0:
* ^X-Spam-Flag: YES
.Junk/
""")
print(host.postconf("mailbox_command"))
print(host.path("/etc/procmailrc").read_text())
'''),
    ("md", """
Postfix's local delivery agent runs `mailbox_command` with the recipient's
rights and environment (`HOME`, `USER`, `SENDER`, `RECIPIENT`…) and the
message on standard input.  The lab's procmail reads `/etc/procmailrc`,
and its `/usr/bin/spamc` talks to this host's `spamd`.  Two messages
arrive over SMTP: a test spam (SpamAssassin's GTUBE string, which every
installation scores 1000) and Bob's lunch mail:
"""),
    ("code", r'''
import smtplib
from labmail.notebook import wait_idle

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
test_spam = prize.replace(b"This email is not spam.", GTUBE)

with smtplib.SMTP(*host.endpoints["smtp"]) as smtp:
    smtp.sendmail("win@prizes.example.net", ["alice@mail.example.com"], test_spam)
    wait_idle(host)                 # one after the other, so the log reads in order
    smtp.sendmail("bob@example.org", ["alice@mail.example.com"], lunch)
    wait_idle(host)
for line in host.maillog.path.read_text().splitlines():
    if "postfix/local" in line:
        print(line)
'''),
    ("md", """
Both were delivered: `status=sent (delivered to command:
/usr/bin/procmail)`.  Postfix's part ends there; procmail decided the
rest.  Where did they go?
"""),
    ("code", r'''
from labmail.notebook import messages

for folder in ("new", ".Junk/new"):
    for path, msg in messages(host, "alice", folder):
        status = str(msg["X-Spam-Status"]).split(",")[0]
        print(f"{folder:10} {msg['Subject']!s:28} X-Spam-Flag: {msg['X-Spam-Flag'] or '-':4}"
              f" X-Spam-Status: {status}")
print()
print(host.path("/home/alice/procmail.log").read_text())
'''),
    ("md", """
The spam sits in `.Junk`; the lunch mail is in the inbox, marked
`X-Spam-Status: No`.  procmail's log shows each decision: the sender, the
subject, the folder.

What does Alice's mail program see?  It does not read the disk: it asks
the IMAP server (Dovecot on a real host).  The Maildir folder `.Junk` is
the IMAP mailbox `Junk`, and the server marks it with the special-use
attribute `\\Junk` (RFC 6154) so Thunderbird or a phone shows it as the
spam folder, with its own icon:
"""),
    ("code", r'''
from labmail import clients

with clients.IMAP4(host) as imap:                    # imaplib, by host name: port 143
    imap.starttls(ssl_context=lab.client_tls_context())   # Dovecot wants TLS before a password
    imap.login("alice", "wonderland")
    for line in imap.list()[1]:
        print(line.decode())
    for mailbox in ("INBOX", "Junk"):
        imap.select(mailbox, readonly=True)
        typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-SPAM-FLAG)])")
        subjects = [part[1].decode().strip().replace("\r\n", " | ") for part in data
                    if isinstance(part, tuple)]
        print(f"{mailbox:6}", subjects)
'''),
    ("md", """
procmail filed, IMAP shows: the filter's work reaches every mail program
without any setting in it.

## Where to draw the line

How good is the filter, and is 5 the right threshold?  Score every message
of the corpus (about a second) and count the four outcomes at
`required_score 5`: spam caught, spam missed (*false negatives*), ham
marked as spam (*false positives*), ham passed:
"""),
    ("code", r'''
from labmail.notebook import SpamExplorer

explorer = SpamExplorer(threshold=5.0)
print(explorer)
'''),
    ("md", """
The scores as a histogram, one row per point, `s` for spam and `h` for
ham.  Everything at or above the threshold is marked as spam:
"""),
    ("code", r'''
import math
from collections import Counter

spam_bins = Counter(min(math.floor(s), 15) for label, s, _ in explorer.scores if label == "spam")
ham_bins = Counter(min(math.floor(s), 15) for label, s, _ in explorer.scores if label == "ham")
for b in range(min(list(spam_bins) + list(ham_bins)), 16):
    label = f"{b:>3}{'+' if b == 15 else ' '}"
    line = "h" * math.ceil(ham_bins[b] / 4) + "s" * math.ceil(spam_bins[b] / 4)
    marker = "  <- required_score 5" if b == 5 else ""
    print(f"{label} {ham_bins[b]:3} ham {spam_bins[b]:3} spam |{line}{marker}")
'''),
    ("md", """
The same as a figure, and then a slider to move the threshold and watch
the counts change (a live notebook only):
"""),
    ("code:nbval-ignore-output", r'''
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3))
bins = [x / 2 for x in range(-2, 41)]
ax.hist([min(s, 20) for label, s, _ in explorer.scores if label == "ham"], bins=bins, alpha=0.7, label="ham")
ax.hist([min(s, 20) for label, s, _ in explorer.scores if label == "spam"], bins=bins, alpha=0.7, label="spam")
ax.axvline(5.0, color="k", linestyle="--", label="required_score 5")
ax.set_xlabel("score"); ax.set_ylabel("messages"); ax.legend()
plt.show()
'''),
    ("code:nbval-ignore-output", """
explorer.widget()
"""),
    ("md", """
A false negative costs little: one more spam in the inbox.  A false
positive costs a lot: a customer's order or a job offer sits unseen in
Junk.  So administrators keep the threshold where ham is safe, and
catch the spam that slips through with more rules, Bayes and RBLs
(next lesson).

## Exercise: the lowest safe threshold

Find the lowest `required_score`, to one decimal place, at which **no ham
message** of the corpus is marked as spam (a message is spam when its
score is *at or above* the threshold).  Use `explorer.scores`, a list of
`(label, score, file name)`.
"""),
    ("code", r'''
threshold = None
### BEGIN SOLUTION
import math
top_ham = max(score for label, score, _ in explorer.scores if label == "ham")
threshold = round(math.floor(top_ham * 10 + 1e-9) / 10 + 0.1, 1)
### END SOLUTION
'''),
    ("code", """
from labmail.course_spam import check_threshold

check_threshold(threshold, explorer.scores)
"""),
    ("md", """
On this small, clean corpus the hills barely overlap, so the answer is
low.  Real mail is messier: keep a margin above the highest ham you have
seen, and look at your Junk folder now and then.

Stop the lab:
"""),
    ("code", """
lab.stop()
lab
"""),
    ("md", """
## Key points

* SpamAssassin adds up the points of the rules that hit; a message whose
  score reaches `required_score` (old name `required_hits`, default 5) is
  spam.  The report lists every hit with its points and description.
* A rule is a test (`header`, `body`, `rawbody`, `uri`, `meta`), a `score`
  and a `describe`; your own go into `/etc/mail/spamassassin/local.cf`.
* `report_safe 0` delivers the original with `X-Spam-*` fields,
  `1` wraps it as an attached `message/rfc822`, `2` as `text/plain`.
  2 is the safest: nothing of the spam is rendered or clickable.
* Bayes learns from your mail (`sa-learn --spam`, `--ham`) and adds the
  `BAYES_00`…`BAYES_99` rules once it has seen enough of both.
* Postfix delivers through `mailbox_command = /usr/bin/procmail`; the
  recipe `:0 hbfw` with `| /usr/bin/spamc` marks each message, and a
  recipe on `^X-Spam-Flag: YES` files spam into `.Junk/`.
* The threshold trades missed spam against lost ham; lost ham costs more.

## Further reading

* SpamAssassin configuration, `Mail::SpamAssassin::Conf`:
  <https://spamassassin.apache.org/full/4.0.x/doc/Mail_SpamAssassin_Conf.html>
* Writing rules: <https://cwiki.apache.org/confluence/display/SPAMASSASSIN/WritingRules>
* `sa-learn` and Bayes: <https://spamassassin.apache.org/full/4.0.x/doc/sa-learn.html>
* `spamc` and `spamd`: <https://spamassassin.apache.org/full/4.0.x/doc/spamc.html>
* procmail recipes, procmailrc(5): <https://manpages.debian.org/bookworm/procmail/procmailrc.5.en.html>
* Postfix `mailbox_command`: <https://www.postfix.org/postconf.5.html#mailbox_command>

{nav}
""".replace("{nav}", NAV_07)),
]

L08: List[Cell] = [
    ("md", """
# 08 · Blocking at the door: RBLs

**Time:** about 45 minutes &nbsp;·&nbsp; **Before:** [07 · Fighting spam](07-fighting-spam.ipynb)

**Questions**

* What is a DNS blocklist (RBL, DNSBL), and how does a server ask one?
* How does Postfix refuse a listed client before it sends a single line of spam?
* What happens to an honest server that lands on a list?
* Why is refusing at the door cheaper than filtering after acceptance?

**After this lab you can**

* build a DNSBL query name (reversed octets + zone) and look it up with
  `dig`, reading the A record (listed or not) and the TXT record (why);
* add `reject_rbl_client` to `smtpd_recipient_restrictions` in the right
  place, and test it with `warn_if_reject` first;
* read Postfix's `554 5.7.1 Service unavailable; Client host [...] blocked
  using ...` reply and its `NOQUEUE: reject:` log line;
* explain what a listing costs an innocent server, and how it gets off a list.

{nav}
""".replace("{nav}", NAV_08)),
    ("md", """
## Setup

Our server `mail.example.com`, and a second one, `mail.example.org`
(Bob's provider).  The lab's DNS server also serves a blocklist zone,
`bl.lab.test`, run by an imaginary anti-spam project.  It lists the
"stranger" of the lab, `127.0.0.9`, a machine that sends spam:
"""),
    ("code", r'''
import sys
import labmail
from labmail.net.dns import dnsbl_list, dnsbl_delist

lab = labmail.Lab(seed=1, clock="2026-11-27T09:00:00+00:00")
host = lab.add_host("mail.example.com", users={"alice": "wonderland"})
org = lab.add_host("mail.example.org", users={"bob": "builder"})
lab.start()
dnsbl_list(lab.dns, "bl.lab.test", "127.0.0.9",
           reason="127.0.0.9 sent spam to our traps; see http://bl.lab.test/lookup?ip=127.0.0.9")
print(host, org)
'''),
    ("md", """
## A DNSBL lookup by hand

A blocklist is an ordinary DNS zone (RFC 5782).  To ask whether
`127.0.0.9` is listed, reverse its four numbers and append the zone:
`9.0.0.127.bl.lab.test`, the same trick as the `in-addr.arpa` names of
reverse DNS.  An **A record** there means "listed" (by convention
`127.0.0.2`, other values for other lists or reasons); *no such name*
(NXDOMAIN) means "not listed".  A **TXT record** says why.
"""),
    ("code", r'''
from labmail.net.resolver import dnsbl_name

name = dnsbl_name("127.0.0.9", "bl.lab.test")
print(name)
print(lab.dns.query(name, "A").format(stats=False))
'''),
    ("md", """
The same with `dig`, as an administrator would, asking for the reason
(`TXT`), and for an address that is not listed:
"""),
    ("code", r'''
dns_ip, dns_port = lab.dns.address
!{sys.executable} -m labmail dig @{dns_ip} -p {dns_port} 9.0.0.127.bl.lab.test TXT +short
!{sys.executable} -m labmail dig @{dns_ip} -p {dns_port} 5.0.0.127.bl.lab.test A | grep -o "status: [A-Z]*"
'''),
    ("md", """
## Exercise: the query name

A client connects from `203.0.113.45`.  Which name does a server look up to
ask the list `bl.lab.test` about it?  Write it as a string (without
calling `dnsbl_name`).
"""),
    ("code", r'''
query_name = None
### BEGIN SOLUTION
query_name = ".".join(reversed("203.0.113.45".split("."))) + ".bl.lab.test"
### END SOLUTION
'''),
    ("code", """
from labmail.course_spam import check_dnsbl_name

check_dnsbl_name(query_name, "203.0.113.45", "bl.lab.test")
"""),
    ("md", """
## `reject_rbl_client` in Postfix

Postfix asks the lists while it decides about `RCPT TO`, in
`smtpd_recipient_restrictions`.  The order matters:

```
smtpd_recipient_restrictions =
    permit_mynetworks,
    permit_sasl_authenticated,
    reject_unauth_destination,
    reject_unknown_recipient_domain,
    reject_rbl_client bl.lab.test
```

`permit_mynetworks` and `permit_sasl_authenticated` come first: our own
users are never looked up.  `reject_unauth_destination` comes before the
list: relay attempts are refused without a DNS query.  Only mail for our
own domains from strangers reaches `reject_rbl_client`.  (With
`zone=127.0.0.2` Postfix would only react to that one return code.)
"""),
    ("code", r'''
host.postconf(e=["smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, "
                 "reject_unauth_destination, reject_unknown_recipient_domain, "
                 "reject_rbl_client bl.lab.test"])
print("\n".join(host.check().lines()) or "postfix check: no problems")
host.reload()
print(host.postconf("smtpd_recipient_restrictions"))
'''),
    ("md", """
## The stranger knocks

The spammer at `127.0.0.9` tries to deliver to Alice:
"""),
    ("code", r'''
from labmail.notebook import Telnet

stranger = Telnet(host.endpoints["smtp"], source=("127.0.0.9", 0))
stranger.talk("EHLO friendly.example.net", "MAIL FROM:<offers@example.net>",
              "RCPT TO:<alice@mail.example.com>", "QUIT")
'''),
    ("md", """
`554 5.7.1 Service unavailable; Client host [127.0.0.9] blocked using
bl.lab.test;` and then the list's TXT reason, word for word.  Postfix's
template for this reply is `default_rbl_reply`; `rbl_reply_maps` can give
each list its own.  The server's log has the matching line, with
`NOQUEUE` because no queue file was ever created:
"""),
    ("code", r'''
for line in host.maillog.path.read_text().splitlines():
    if "NOQUEUE" in line:
        print(line)
'''),
    ("md", """
A client that is not listed (here `127.0.0.5`) is not affected:
"""),
    ("code", r'''
with Telnet(host.endpoints["smtp"], source=("127.0.0.5", 0)) as t:
    t.talk("EHLO good.example.net", "MAIL FROM:<news@example.net>")
    print(t.send("RCPT TO:<alice@mail.example.com>").last)
    t.send("QUIT")
'''),
    ("md", """
## What a listing costs an innocent server

Lists are run by people and by spam traps, and they catch honest servers
too: a provider whose customer's password was stolen sends spam for an
hour, and its address is listed.  Suppose that happened to
`mail.example.org`:
"""),
    ("code", r'''
dnsbl_list(lab.dns, "bl.lab.test", org.ip, reason=f"{org.ip} sent spam on 2026-11-26")

from labmail.commands.sendmail import submit

qid = submit(org.state_dir, b"Subject: Minutes of the meeting\n\nHere they are, Alice.\n",
             ["alice@mail.example.com"], sender="bob@example.org", user="bob", uid=1001,
             clock=lab.clock, ids=lab.ids)
org.run_queue()
lab.settle()
for line in org.maillog.path.read_text().splitlines():
    if qid in line and "status=" in line:
        print(line)
'''),
    ("md", """
Bob's honest message was refused, and Bob gets a bounce from his own
server.  Every customer of the provider is cut off from every server that
uses the list.  The provider has to find and stop the cause, then ask the
list to remove the address (most lists have a web form; some expire
entries on their own).  Once delisted, the next attempt goes through:
"""),
    ("code", r'''
dnsbl_delist(lab.dns, "bl.lab.test", org.ip)
qid = submit(org.state_dir, b"Subject: Minutes, second try\n\nHere they are, Alice.\n",
             ["alice@mail.example.com"], sender="bob@example.org", user="bob", uid=1001,
             clock=lab.clock, ids=lab.ids)
org.run_queue()
lab.settle()
for line in org.maillog.path.read_text().splitlines():
    if qid in line and "status=" in line:
        print(line)
'''),
    ("md", """
This is also why a careful administrator uses lists with a good
reputation for few false listings, and why the lesson 03 mistake, an open
relay, is so costly: it gets *your* server listed.

## Why filtering at the door lightens the server

Compare what the server did for the stranger with what it does for a
message it accepts and then filters (lesson 07):

| | refused at `RCPT TO` (RBL) | accepted, then filtered |
|---|---|---|
| data received | a few command lines | the whole message (often with images) |
| work | one DNS query (cached by the resolver) | queue file, `cleanup`, `spamd` runs hundreds of rules, delivery |
| disk | nothing | the message, in the queue and in Junk |
| who tells the sender | the *sending* server, from our reply | nobody, or our server must send a bounce, often to a forged address ("backscatter") |

The session with the stranger, as our server recorded it, is all it cost:
"""),
    ("code", r'''
session = host.transcripts("smtp")[0]
print(session)
'''),
    ("md", """
## Exercise: test a list before you trust it

Before an administrator enables a new list, they watch what it *would*
block.  `warn_if_reject` placed right before a restriction turns its
rejection into a log line, `reject_warning:`, and lets the mail through.
Change `smtpd_recipient_restrictions` so that `reject_rbl_client
bl.lab.test` only warns (keep the other restrictions), check, and reload.
"""),
    ("code", r'''
### BEGIN SOLUTION
host.postconf(e=["smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, "
                 "reject_unauth_destination, reject_unknown_recipient_domain, "
                 "warn_if_reject reject_rbl_client bl.lab.test"])
print("\n".join(host.check().lines()) or "postfix check: no problems")
warnings = host.reload()
### END SOLUTION
'''),
    ("code", """
from labmail.course_spam import check_rbl_warn_only

check_rbl_warn_only(host)
"""),
    ("md", """
The warning, as the log shows it:
"""),
    ("code", r'''
for line in host.maillog.path.read_text().splitlines():
    if "reject_warning" in line:
        print(line)
'''),
    ("md", """
Stop the lab:
"""),
    ("code", """
lab.stop()
lab
"""),
    ("md", """
## Key points

* A DNSBL is a DNS zone: look up the reversed IP address under the zone
  (`9.0.0.127.bl.lab.test`); an A record means listed, the TXT record says
  why, NXDOMAIN means not listed.
* `reject_rbl_client zone` in `smtpd_recipient_restrictions`, after
  `permit_mynetworks`, `permit_sasl_authenticated` and
  `reject_unauth_destination`; `reject_rhsbl_client`, `_sender` and
  `_helo` do the same for domain names.
* Postfix answers `554 5.7.1 Service unavailable; Client host [ip] blocked
  using zone; reason` and logs `NOQUEUE: reject: RCPT from ...`.
* `warn_if_reject` before a restriction logs `reject_warning:` instead of
  refusing: test a list before you trust it.
* A listing cuts an honest server off from everyone using the list;
  fix the cause, then ask to be delisted.
* Refusing at the door costs a DNS query; accepting and filtering costs
  bandwidth, disk, CPU and, with bounces, backscatter.

## Further reading

* RFC 5782, DNS blacklists and whitelists: <https://www.rfc-editor.org/rfc/rfc5782>
* Postfix, `reject_rbl_client` and friends:
  <https://www.postfix.org/postconf.5.html#reject_rbl_client>,
  `default_rbl_reply`: <https://www.postfix.org/postconf.5.html#default_rbl_reply>
* Postfix access restrictions: <https://www.postfix.org/SMTPD_ACCESS_README.html>
* Postfix postscreen, which asks lists before smtpd even starts:
  <https://www.postfix.org/POSTSCREEN_README.html>

{nav}
""".replace("{nav}", NAV_08)),
]

LESSONS: Dict[str, List[Cell]] = {
    "07-fighting-spam.ipynb": L07,
    "08-blocking-at-the-door-rbl.ipynb": L08,
}

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
