"""``mailq``, ``postsuper`` and ``postcat -q``: the queue as Postfix shows it.

The text is byte for byte the shape Postfix 3.7 prints (learnt from the real
``postqueue -p``): a header, one block per message (queue id with ``*`` when
active or ``!`` when on hold, size, arrival time, sender), the deferral reason
in parentheses right-aligned to column 78 before the recipients it concerns,
and a ``-- N Kbytes in M Requests.`` footer; ``Mail queue is empty`` when
there is nothing.

>>> from labmail.mta.queue import QueueFile, Recipient
>>> r = Recipient("bob@example.org", reason="connect to 127.0.0.1[127.0.0.1]:2599: Connection refused")
>>> qf = QueueFile("02C68220412", "alice@example.com", [r], b"x" * 327,
...                arrival=1795824092, queue="deferred")
>>> import datetime as dt
>>> print(format_mailq([qf], dt.timezone.utc))
-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
02C68220412     327 Sat Nov 28 00:01:32  alice@example.com
                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
                                         bob@example.org
<BLANKLINE>
-- 0 Kbytes in 1 Request.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from . import logfmt
from .queue import Queue, QueueFile, QueueFileError

__all__ = ["format_mailq", "mailq", "postcat", "postsuper", "flush_files",
           "MAILQ_HEADER", "EMPTY", "asctime"]

MAILQ_HEADER = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
EMPTY = "Mail queue is empty"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def asctime(ts: float, tz: Optional[_dt.tzinfo] = None) -> str:
    """C's ``asctime()`` without the newline: ``Sun Nov  1 09:00:00 2026``.

    >>> asctime(1795824092, _dt.timezone.utc)
    'Sat Nov 28 00:01:32 2026'
    """
    t = _dt.datetime.fromtimestamp(ts, tz or _dt.timezone.utc)
    return (f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:2d} "
            f"{t:%H:%M:%S} {t.year}")


def _marker(queue: str) -> str:
    return {"active": "*", "hold": "!"}.get(queue, "")


def format_entry(qf: QueueFile, tz: Optional[_dt.tzinfo] = None) -> List[str]:
    """The lines of one message in ``mailq`` output (without the blank line)."""
    sender = qf.sender or "MAILER-DAEMON"
    lines = [f"{qf.queue_id + _marker(qf.queue):<11s}{qf.size:8d} "
             f"{asctime(qf.arrival, tz)[:20]:<20s} {sender}"]
    shown: Optional[str] = None
    for r in qf.pending():
        # A message being delivered has no reason to show (Postfix reads the
        # reasons from the defer log, which goes when a message turns active).
        reason = r.reason if qf.queue != "active" else ""
        if reason and reason != shown:
            pad = max(0, 76 - len(reason))
            lines.append(f"{'':{pad}}({reason})")
        shown = reason or shown
        lines.append(f"{'':41}{r.address}")
    return lines


def format_mailq(entries: Sequence[QueueFile], tz: Optional[_dt.tzinfo] = None) -> str:
    """The whole ``mailq`` text for *entries* (no trailing newline)."""
    if not entries:
        return EMPTY
    out = [MAILQ_HEADER]
    total = 0
    for qf in entries:
        out += format_entry(qf, tz)
        out.append("")
        total += qf.size
    n = len(entries)
    out.append(f"-- {total // 1024} Kbytes in {n} Request{'' if n == 1 else 's'}.")
    return "\n".join(out)


def mailq(queue: Queue, tz: Optional[_dt.tzinfo] = None) -> str:
    """``mailq`` for a :class:`Queue` (active, incoming, deferred, hold)."""
    return format_mailq(queue.entries(), tz or getattr(queue.clock, "tz", None))


def postcat(qf: QueueFile, tz: Optional[_dt.tzinfo] = None) -> str:
    """``postcat -q ID``: envelope records, then the contents (LF line ends).

    Same section markers and record names as Postfix's postcat, with the lab's
    flat directory (``deferred/ID`` rather than ``deferred/0/ID``).
    """
    where = f"{qf.queue}/{qf.queue_id}"
    content = qf.content.replace(b"\r\n", b"\n").decode("utf-8", "replace")
    head_len = len(qf.to_bytes()) - len(qf.content)
    sizes = (qf.size, head_len, len(qf.recipients), 0, qf.size, 0)
    out = [f"*** ENVELOPE RECORDS {where} ***",
           "message_size:" + "".join(f"{v:16d}" for v in sizes),
           f"message_arrival_time: {asctime(qf.arrival, tz)}",
           f"create_time: {asctime(qf.arrival, tz)}",
           f"named_attribute: log_ident={qf.queue_id}"]
    out += [f"named_attribute: {k}={v}" for k, v in qf.attrs.items()]
    out.append(f"sender: {qf.sender}")
    for r in qf.recipients:
        orig = r.original or r.address
        out += [f"named_attribute: dsn_orig_rcpt=rfc822;{orig}",
                f"original_recipient: {orig}",
                f"{'done_recipient' if r.done else 'recipient'}: {r.address}"]
    out.append(f"*** MESSAGE CONTENTS {where} ***")
    text = "\n".join(out) + "\n" + content
    if not text.endswith("\n"):
        text += "\n"
    text += (f"*** HEADER EXTRACTED {where} ***\n"
             f"*** MESSAGE FILE END {where} ***")
    return text


def _select(queue: Queue, ids: Iterable[str], queues: Tuple[str, ...]) -> List[Tuple[str, str]]:
    """(queue id, queue name) pairs; ``ALL`` selects every message in *queues*."""
    out = []
    for qid in ids:
        if qid.upper() == "ALL":
            out += [(i, q) for q in queues for i in queue.ids_in(q)]
        else:
            where = queue.locate(qid)
            if where in queues:
                out.append((qid, where))
    seen, uniq = set(), []
    for item in out:
        if item[0] not in seen:
            seen.add(item[0])
            uniq.append(item)
    return uniq


def postsuper(queue: Queue, action: str, ids: Iterable[str], *,
              maillog: Any = None) -> List[str]:
    """``postsuper -d|-h|-H ID|ALL``: delete, hold or release; returns the
    lines postsuper prints (also written to *maillog* as postfix/postsuper).

    >>> import tempfile, pathlib
    >>> from labmail.clock import Clock, IdGenerator
    >>> q = Queue(pathlib.Path(tempfile.mkdtemp()), Clock(), IdGenerator(3))
    >>> qf = q.enqueue("a@example.com", ["b@example.org"], b"hi")
    >>> postsuper(q, "-h", ["ALL"])
    ['Placed on hold: 1 message']
    >>> postsuper(q, "-d", [qf.queue_id])[0].endswith(": removed")
    True
    """
    ids = list(ids)
    if action == "-d":
        pairs = _select(queue, ids, ("incoming", "active", "deferred", "hold", "corrupt"))
        verb, each = "Deleted", "removed"
    elif action == "-h":
        # A message being delivered right now is left alone (as qmgr owns it).
        pairs = _select(queue, ids, ("incoming", "deferred"))
        verb, each = "Placed on hold", "placed on hold"
    elif action == "-H":
        pairs = _select(queue, ids, ("hold",))
        verb, each = "Released from hold", "released from hold"
    else:
        raise ValueError(f"unknown postsuper action {action!r}; use -d, -h or -H")
    every = any(i.upper() == "ALL" for i in ids)
    lines: List[str] = []
    count = 0
    for qid, where in pairs:
        src = queue.path(where, qid)
        try:
            if action == "-d":
                src.unlink()
            else:
                dst = queue.path("hold" if action == "-h" else "deferred", qid)
                if action == "-H":
                    _make_due(queue, qid, where)
                src.replace(dst)
        except FileNotFoundError:
            continue
        count += 1
        if action == "-d" or not every:
            lines.append(logfmt.postsuper_done(qid, each))
    lines.append(logfmt.postsuper_summary(verb, count))
    if maillog is not None:
        for line in lines:
            maillog.write(logfmt.POSTSUPER, line)
    return lines


def _make_due(queue: Queue, qid: str, where: str) -> None:
    """A released message is tried at the next queue run (next_try = 0)."""
    try:
        qf = queue.load(qid, where)
    except (KeyError, QueueFileError):
        return
    qf.next_try = 0.0
    queue.write(qf)


def flush_files(queue: Queue) -> int:
    """``postqueue -f`` without a running queue manager in this process:
    move every deferred message to ``incoming/`` so the next qmgr run (the
    lab's poll, or the next start) delivers it at once.  Returns the count."""
    n = 0
    for qid in queue.ids_in("deferred"):
        try:
            queue.path("deferred", qid).replace(queue.path("incoming", qid))
            n += 1
        except FileNotFoundError:
            continue
    return n
