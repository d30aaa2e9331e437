"""Helpers and checks for lessons 04-06: DNS and relaying, the queue, testing and logs.

The checks look at what really happened in the lab (the DNS server's
records, the queue directories, the Maildirs, the maillog) and either return
a :class:`~labmail.course.Passed` note or raise
:class:`~labmail.course.CheckFailed` with a hint phrased in terms of mail.

The ``break_*`` functions set up the broken servers of lesson 06's
diagnosis exercises: each breaks one thing, sends a test message and returns
its :class:`~labmail.mua.Sent`, so the student has a queue id to look for in
the log.

>>> check_queue_empty(host)                                       # doctest: +SKIP
Correct: the queue of mail.example.com is empty.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, List, Optional, Sequence

from . import mua
from .course import CheckFailed, Passed
from .logread import LogRecord, follow, read_log

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .lab import Lab

__all__ = ["log_of", "show_log", "mx_of", "check_mx", "check_delivered", "check_queue_empty",
           "check_held", "check_not_queued", "break_destination_down", "break_mx_record",
           "break_recipient_name", "DIAGNOSES", "check_diagnosis"]


# -- reading ---------------------------------------------------------------
def log_of(host: "Host", queue_id: Optional[str] = None) -> List[LogRecord]:
    """The host's maillog as records (only *queue_id*'s story when given)."""
    records = read_log(host.maillog.path, year=host.clock.now().year)
    return _cleanup_first(follow(records, queue_id)) if queue_id else records


def show_log(host: "Host", queue_id: str) -> str:
    """The log lines of one message (and of the bounce it caused), as
    ``grep QUEUEID /var/log/maillog`` shows them; print() the result."""
    host.settle()
    return "\n".join(r.line for r in log_of(host, queue_id))


def _cleanup_first(records: List[LogRecord]) -> List[LogRecord]:
    """Records with each ``message-id`` line before its message's ``queue active``.

    Work-around, to go once cleanup logs before the queue file becomes
    visible in ``incoming/`` (labmail/host.py ``accept_message``): the queue
    manager's poll can take the file first, and lessons would show the two
    lines in a different order from run to run.
    """
    out: List[LogRecord] = []
    for rec in records:
        if rec.event == "message-id":
            for i, prev in enumerate(out):
                if prev.queue_id == rec.queue_id and prev.event == "queued":
                    out.insert(i, rec)
                    break
            else:
                out.append(rec)
        else:
            out.append(rec)
    return out


def mx_of(lab: "Lab", domain: str) -> List[str]:
    """The MX records of *domain* as ``dig +short`` shows them, best first."""
    answer = lab.dns.query(domain, "MX").answer
    return sorted(answer, key=lambda v: (int(v.split()[0]), v))


# -- checks ----------------------------------------------------------------
def check_mx(lab: "Lab", domain: str, expected: str) -> Passed:
    """*domain*'s best (lowest-preference) MX must be *expected*."""
    expected = expected.rstrip(".").lower()
    records = mx_of(lab, domain)
    if not records:
        raise CheckFailed(f"{domain} has no MX record: `lab.dns.query({domain!r}, 'MX')` "
                          "answers nothing. Publish one with lab.dns.add(domain, 'MX', "
                          "'10 host.name').")
    best = records[0].split()[1].rstrip(".").lower()
    if best != expected:
        raise CheckFailed(f"mail for {domain} goes to {best} first (MX {records}); it should "
                          f"go to {expected}. The lowest preference number wins: remove or "
                          "change the record that points elsewhere (lab.dns.remove).")
    return Passed(f"Correct: mail for {domain} goes to {expected} (MX {', '.join(records)}).")


def _subjects(host: "Host", user: str) -> List[str]:
    from .notebook.render import messages
    return [str(m.get("Subject", "")) for _, m in messages(host, user)]


def check_delivered(host: "Host", user: str, subject: str, *, count: int = 1,
                    timeout: float = 3.0) -> Passed:
    """*user* on *host* must hold exactly *count* messages with this subject."""
    deadline = time.monotonic() + timeout
    while True:
        host.settle()
        found = _subjects(host, user).count(subject)
        if found == count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if found == count:
        return Passed(f"Correct: {user}@{host.hostname} has {count} message"
                      f"{'s' if count != 1 else ''} with the subject {subject!r}.")
    if found > count:
        raise CheckFailed(f"{user} has {found} messages with the subject {subject!r}, "
                          f"not {count}: was it sent (or flushed) twice?")
    raise CheckFailed(f"{user}@{host.hostname} has no message with the subject {subject!r} "
                      f"yet. Is it still queued? Look at the sender's mailq() and its log.")


def check_queue_empty(host: "Host") -> Passed:
    """Nothing may be left in *host*'s queue (incoming, active, deferred, hold)."""
    host.settle()
    entries = host.queue.entries()
    if entries:
        where = ", ".join(f"{q.queue_id} ({q.queue})" for q in entries)
        raise CheckFailed(f"{host.hostname} still has {len(entries)} message(s) queued: "
                          f"{where}. mailq() says why; flush() retries deferred mail, "
                          "postsuper -d deletes, -H releases held mail.")
    return Passed(f"Correct: the queue of {host.hostname} is empty.")


def check_held(host: "Host", queue_id: str) -> Passed:
    """*queue_id* must be on hold (``postsuper -h``): ``!`` in mailq."""
    where = host.queue.locate(queue_id)
    if where != "hold":
        raise CheckFailed(f"{queue_id} is {'not queued at all' if where is None else 'in ' + where + '/'}"
                          "; postsuper(host.queue, '-h', [queue_id]) puts it on hold.")
    return Passed(f"Correct: {queue_id} is on hold (mailq marks it with '!').")


def check_not_queued(host: "Host", queue_id: str) -> Passed:
    """*queue_id* must be gone from the queue (delivered, bounced or deleted)."""
    host.settle()
    where = host.queue.locate(queue_id)
    if where is not None:
        raise CheckFailed(f"{queue_id} is still in {where}/ on {host.hostname}.")
    return Passed(f"Correct: {queue_id} is no longer in the queue.")


# -- lesson 06: three broken set-ups ---------------------------------------
def break_destination_down(lab: "Lab", src: "Host", dst: "Host", rcpt: str,
                           subject: str = "Test 1") -> "mua.Sent":
    """The receiving server is not running; a test message is sent to it."""
    dst.stop()
    sent = mua.send(src, rcpt, subject=subject, body="Testing the link.\n",
                    sender=f"alice@{src.hostname.partition('.')[2]}")
    src.settle()
    return sent


def break_mx_record(lab: "Lab", src: "Host", domain: str, wrong: "Host", rcpt: str,
                    subject: str = "Test 2") -> "mua.Sent":
    """A better MX record for *domain* points at a server that does not
    accept its mail; a test message is sent."""
    lab.dns.add(domain, "MX", f"5 {wrong.hostname}.")
    sent = mua.send(src, rcpt, subject=subject, body="Testing the MX.\n",
                    sender=f"alice@{src.hostname.partition('.')[2]}")
    src.settle()
    return sent


def break_recipient_name(lab: "Lab", src: "Host", rcpt: str,
                         subject: str = "Test 3") -> "mua.Sent":
    """A test message to a name the remote server does not know."""
    sent = mua.send(src, rcpt, subject=subject, body="Testing the address.\n",
                    sender=f"alice@{src.hostname.partition('.')[2]}")
    lab.settle()
    return sent


#: the causes a student can name in lesson 06, and the log text that shows each
DIAGNOSES = {
    "down": "Connection refused",
    "mx": "Relay access denied",
    "user": "User unknown in local recipient table",
    "dns": "Host or domain name not found",
}


def check_diagnosis(host: "Host", queue_id: str, answer: str) -> Passed:
    """*answer* (one of :data:`DIAGNOSES`) must name what the log says about *queue_id*."""
    key = (answer or "").strip().lower()
    if key not in DIAGNOSES:
        raise CheckFailed(f"answer with one of {', '.join(repr(k) for k in DIAGNOSES)}.")
    text = "\n".join(r.text for r in log_of(host, queue_id) if r.event == "delivery")
    if not text:
        raise CheckFailed(f"the log of {host.hostname} has no delivery attempt for {queue_id}; "
                          "wait a moment (host.settle()) and look again.")
    if DIAGNOSES[key] not in text:
        raise CheckFailed(f"the status= line of {queue_id} does not point to {key!r}: read its "
                          "text in parentheses again, and who said it.")
    return Passed(f"Correct: the log of {queue_id} says {DIAGNOSES[key]!r}.")


def sent_ids(items: Sequence["mua.Sent"]) -> List[str]:
    """The queue ids of several :class:`~labmail.mua.Sent` results."""
    return [s.queue_id or "" for s in items]
