"""Reading a Postfix maillog: records, one message's story, a pflogsumm-style summary.

A mail log is one syslog line per event.  :func:`parse_line` turns a line
into a :class:`LogRecord` (time, host, program, pid, queue id, the kind of
event and its ``key=value`` fields); :func:`follow` gathers the lines of one
queue id (what ``grep 3F1A22C0E4B /var/log/maillog`` shows); :func:`summarize`
counts what pflogsumm's "Grand Totals" count — received, delivered,
deferred, bounced, rejected — per recipient domain and per hour, and
:func:`chart` draws the hourly traffic with matplotlib (imported only then).

>>> rec = parse_line("Nov 28 00:01:32 mail postfix/smtp[9949]: 0384F220433: "
...     "to=<frank@example.org>, relay=none, delay=0.02, delays=0/0.02/0/0, "
...     "dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: "
...     "Connection refused)", year=2026)
>>> rec.event, rec.queue_id, rec.fields["status"], rec.fields["dsn"]
('delivery', '0384F220433', 'deferred', '4.4.1')
>>> rec.reason
'connect to 127.0.0.1[127.0.0.1]:2599: Connection refused'
"""
from __future__ import annotations

import datetime as _dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

__all__ = ["LogRecord", "parse_line", "read_log", "follow", "Summary", "summarize", "chart",
           "queue_timeline", "chart_queue"]

_MONTHS = {m: i + 1 for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))}

_PREFIX = re.compile(
    r"^(?:(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)"
    r"|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?))"
    r" (?P<host>\S+) (?P<program>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: (?P<text>.*)$")

_QID = r"(?P<qid>[0-9A-Za-z]{6,20})"
# Each event kind and the pattern of its message, tried in order.
_EVENTS = [
    ("delivery", re.compile(
        _QID + r": to=<(?P<to>[^>]*)>, (?:orig_to=<(?P<orig_to>[^>]*)>, )?relay=(?P<relay>[^,]+), "
        r"(?:conn_use=\d+, )?delay=(?P<delay>[\d.]+), delays=(?P<delays>[\d./]+), "
        r"dsn=(?P<dsn>[\d.]+), status=(?P<status>\w+) \((?P<reason>.*)\)$")),
    ("queued", re.compile(
        _QID + r": from=<(?P<from>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+) \(queue active\)$")),
    ("expired", re.compile(_QID + r": from=<(?P<from>[^>]*)>, status=expired, returned to sender$")),
    ("removed", re.compile(_QID + r": removed$")),
    ("client", re.compile(_QID + r": client=(?P<client_name>[^\[\s]+)\[(?P<client_ip>[^\]]+)\]"
                          r"(?:, sasl_method=(?P<sasl_method>[^,]+), sasl_username=(?P<sasl_username>.*))?$")),
    ("message-id", re.compile(_QID + r": message-id=(?P<message_id>.*)$")),
    ("bounce", re.compile(_QID + r": sender non-delivery notification: (?P<bounce_id>\w+)$")),
    ("reject", re.compile(
        r"^(?P<qid>NOQUEUE|[0-9A-Za-z]{6,20}): reject: (?P<stage>[\w ]+?) from "
        r"(?P<client_name>[^\[\s]+)\[(?P<client_ip>[^\]]+)\]: (?P<reason>.*?); "
        r"from=<(?P<from>[^>]*)>(?: to=<(?P<to>[^>]*)>)?(?: proto=(?P<proto>\S+))?(?: helo=<(?P<helo>[^>]*)>)?$")),
    ("connect", re.compile(r"^connect from (?P<client_name>[^\[\s]+)\[(?P<client_ip>[^\]]+)\]")),
    ("disconnect", re.compile(r"^disconnect from (?P<client_name>[^\[\s]+)\[(?P<client_ip>[^\]]+)\](?P<counts>.*)$")),
    ("connect-failed", re.compile(r"^connect to (?P<host>[^\[\s]+)\[(?P<ip>[^\]]+)\]:(?P<port>\d+): (?P<reason>.*)$")),
    ("postsuper", re.compile(_QID + r": (?P<action>placed on hold|released from hold|requeued)$")),
]


@dataclass(frozen=True)
class LogRecord:
    """One parsed maillog line.

    ``event`` is one of delivery, queued, expired, removed, client,
    message-id, bounce, reject, connect, disconnect, connect-failed,
    postsuper or other; ``fields`` has the named values of that event.
    """

    when: _dt.datetime
    host: str
    program: str
    pid: Optional[int]
    text: str
    event: str = "other"
    queue_id: Optional[str] = None
    fields: Dict[str, str] = field(default_factory=dict)
    line: str = ""

    @property
    def reason(self) -> str:
        """The text in parentheses of a delivery, or a rejection's reply."""
        return self.fields.get("reason", "")

    @property
    def service(self) -> str:
        """The program without its ``postfix/`` prefix (``smtpd``, ``qmgr``)."""
        return self.program.rsplit("/", 1)[-1]


def parse_line(line: str, year: Optional[int] = None,
               tz: Optional[_dt.tzinfo] = None) -> Optional[LogRecord]:
    """A :class:`LogRecord`, or None for a line that is not syslog-shaped.

    Traditional syslog stamps have no year: *year* (default: this year)
    supplies it.
    """
    line = line.rstrip("\r\n")
    m = _PREFIX.match(line)
    if not m:
        return None
    if m.group("iso"):
        when = _dt.datetime.fromisoformat(m.group("iso").replace("Z", "+00:00"))
    else:
        h, mi, s = (int(x) for x in m.group("hms").split(":"))
        when = _dt.datetime(year or _dt.date.today().year, _MONTHS[m.group("mon")],
                            int(m.group("day")), h, mi, s, tzinfo=tz or _dt.timezone.utc)
    text = m.group("text")
    event, qid, fields = "other", None, {}
    for name, rx in _EVENTS:
        em = rx.match(text)
        if em:
            event = name
            fields = {k.replace("_", "-") if k == "message_id" else k: v
                      for k, v in em.groupdict().items() if v is not None}
            qid = fields.pop("qid", None)
            break
    else:
        qm = re.match(_QID + r": ", text)
        if qm:
            qid = qm.group("qid")
    pid = int(m.group("pid")) if m.group("pid") else None
    return LogRecord(when, m.group("host"), m.group("program"), pid, text, event, qid, fields, line)


def read_log(source: Union[str, Path, Iterable[str]], year: Optional[int] = None,
             tz: Optional[_dt.tzinfo] = None) -> List[LogRecord]:
    """Parse a whole log: a path, the log's text, or an iterable of lines."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and Path(source).exists()):
        lines: Iterable[str] = Path(source).read_text(encoding="utf-8", errors="replace").splitlines()
    elif isinstance(source, str):
        lines = source.splitlines()
    else:
        lines = source
    out = []
    for ln in lines:
        rec = parse_line(ln, year, tz)
        if rec is not None:
            out.append(rec)
    return out


def follow(records: Iterable[LogRecord], queue_id: str) -> List[LogRecord]:
    """The records of one message and of the bounce it caused (whose first
    lines come before the ``sender non-delivery notification`` line)."""
    records = list(records)
    ids = {queue_id}
    for r in records:
        if r.event == "bounce" and r.queue_id in ids:
            ids.add(r.fields["bounce_id"])
    return [r for r in records if r.queue_id in ids]


@dataclass
class Summary:
    """Counts in the spirit of pflogsumm (see :func:`summarize`)."""

    received: int = 0
    delivered: int = 0
    deferred: int = 0               # messages deferred at least once
    deferrals: int = 0              # deferred delivery attempts
    bounced: int = 0
    expired: int = 0
    rejected: int = 0
    bytes_received: int = 0
    bytes_delivered: int = 0
    senders: set = field(default_factory=set)
    recipients: set = field(default_factory=set)
    per_domain: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    per_hour: Dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    reject_reasons: Counter = field(default_factory=Counter)
    defer_reasons: Counter = field(default_factory=Counter)

    @property
    def reject_percent(self) -> int:
        total = self.received + self.rejected
        return round(100 * self.rejected / total) if total else 0

    def as_dict(self) -> Dict[str, Any]:
        """The grand totals as a plain dict (for tests and widgets)."""
        return {k: getattr(self, k) for k in ("received", "delivered", "deferred", "deferrals",
                                              "bounced", "expired", "rejected",
                                              "bytes_received", "bytes_delivered")}

    def report(self) -> str:
        """A text report laid out like pflogsumm's first sections."""
        out = ["Grand Totals", "------------", "messages", "",
               f"{self.received:7d}   received",
               f"{self.delivered:7d}   delivered",
               f"{self.deferred:7d}   deferred  ({self.deferrals}  deferrals)",
               f"{self.bounced:7d}   bounced",
               f"{self.rejected:7d}   rejected ({self.reject_percent}%)", "",
               f"{self.bytes_received:7d}   bytes received",
               f"{self.bytes_delivered:7d}   bytes delivered",
               f"{len(self.senders):7d}   senders",
               f"{len(self.recipients):7d}   recipients", "", "",
               "Per-Hour Traffic Summary", "------------------------",
               "    time          received  delivered   deferred    bounced     rejected",
               "    --------------------------------------------------------------------"]
        for h in sorted(self.per_hour):
            c = self.per_hour[h]
            out.append(f"    {h:02d}00-{(h + 1) % 24:02d}00   {c['received']:9d}  {c['delivered']:9d}  "
                       f"{c['deferred']:9d}  {c['bounced']:9d}  {c['rejected']:9d}")
        out += ["", "", "Host/Domain Summary: Message Delivery",
                "--------------------------------------",
                " sent cnt  defers   bounced  host/domain",
                " --------  -------  -------  -----------"]
        for dom in sorted(self.per_domain, key=lambda d: (-self.per_domain[d]["sent"], d)):
            c = self.per_domain[dom]
            out.append(f" {c['sent']:8d}  {c['deferred']:7d}  {c['bounced']:7d}  {dom}")
        if self.defer_reasons:
            out += ["", "", "message deferral detail", "-----------------------"]
            out += [f"  {n:5d}   {why}" for why, n in self.defer_reasons.most_common()]
        if self.reject_reasons:
            out += ["", "", "message reject detail", "---------------------"]
            out += [f"  {n:5d}   {why}" for why, n in self.reject_reasons.most_common()]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.report()


def summarize(records: Iterable[LogRecord]) -> Summary:
    """Count a log's traffic.

    received: distinct queue ids the queue manager took in (``queue active``);
    delivered / bounced: ``status=sent`` / ``status=bounced`` recipients;
    deferred: distinct messages with a ``status=deferred`` (``deferrals`` counts
    the attempts); rejected: ``reject:`` lines.
    """
    s = Summary()
    sizes: Dict[str, int] = {}
    deferred_ids = set()
    for r in records:
        hour = r.when.hour
        if r.event == "queued" and r.queue_id not in sizes:
            sizes[r.queue_id] = int(r.fields["size"])
            s.received += 1
            s.bytes_received += sizes[r.queue_id]
            s.senders.add(r.fields["from"] or "MAILER-DAEMON")
            s.per_hour[hour]["received"] += 1
        elif r.event == "delivery":
            status = r.fields["status"]
            to = r.fields["to"]
            dom = to.rpartition("@")[2].lower() or "(local)"
            s.recipients.add(to)
            if status == "sent":
                s.delivered += 1
                s.bytes_delivered += sizes.get(r.queue_id or "", 0)
            elif status == "deferred":
                s.deferrals += 1
                deferred_ids.add(r.queue_id)
                s.defer_reasons[r.reason] += 1
            elif status == "bounced":
                s.bounced += 1
            s.per_domain[dom][status] += 1
            s.per_hour[hour]["delivered" if status == "sent" else status] += 1
        elif r.event == "expired":
            s.expired += 1
        elif r.event == "reject":
            s.rejected += 1
            s.per_hour[hour]["rejected"] += 1
            s.reject_reasons[r.reason] += 1
    s.deferred = len(deferred_ids)
    return s


def chart(summary: Summary, ax: Any = None) -> Any:
    """A bar chart of traffic per hour (matplotlib imported only here).

    Returns the matplotlib Figure.
    """
    if ax is None:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 3.5))
    else:
        fig = ax.figure
    hours = list(range(24))
    bottom = [0] * 24
    for kind in ("delivered", "deferred", "bounced", "rejected"):
        values = [summary.per_hour.get(h, Counter())[kind] for h in hours]
        ax.bar(hours, values, bottom=bottom, label=kind)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.plot(hours, [summary.per_hour.get(h, Counter())["received"] for h in hours],
            color="black", marker="o", linewidth=1, label="received")
    ax.set_xlabel("hour of day")
    ax.set_ylabel("messages")
    ax.set_xticks(range(0, 24, 2))
    ax.set_title("Mail traffic per hour")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def queue_timeline(records: Iterable[LogRecord]) -> List[tuple]:
    """How many messages were queued, and how many of them deferred, after
    each event: ``[(when, queued, deferred), ...]``.

    A message enters with its first ``queue active`` line and leaves with
    ``removed``; it counts as deferred from a ``status=deferred`` until its
    next attempt.  This is the "queue size over time" of a lesson's plot.
    """
    queued, deferred = set(), set()
    out = []
    for r in records:
        qid = r.queue_id
        changed = True
        if r.event == "queued":
            queued.add(qid)
            deferred.discard(qid)
        elif r.event == "delivery" and r.fields.get("status") == "deferred":
            deferred.add(qid)
        elif r.event == "removed":
            queued.discard(qid)
            deferred.discard(qid)
        else:
            changed = False
        if changed:
            out.append((r.when, len(queued), len(deferred)))
    return out


def chart_queue(records: Iterable[LogRecord], ax: Any = None) -> Any:
    """A step plot of :func:`queue_timeline` (matplotlib imported only here)."""
    points = queue_timeline(records)
    if ax is None:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 3))
    else:
        fig = ax.figure
    if points:
        when = [p[0] for p in points]
        ax.step(when, [p[1] for p in points], where="post", label="in the queue")
        ax.step(when, [p[2] for p in points], where="post", label="deferred")
    ax.set_xlabel("lab time")
    ax.set_ylabel("messages")
    ax.set_title("Queue size over time")
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return fig
