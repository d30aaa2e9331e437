"""A maillog viewer: ``tail`` with filters by program, queue id and status.

:func:`filter_records` is the pure part (what ``grep`` would do, but on
parsed :class:`~labmail.logread.LogRecord` s); :class:`LogView` reads a
host's ``/var/log/maillog`` and shows the last lines as text, as coloured
HTML, or as a widget with filter boxes.

>>> from labmail.logread import read_log
>>> recs = read_log(["Nov 27 09:00:01 mail postfix/smtpd[10]: connect from x[127.0.0.1]",
...     "Nov 27 09:00:02 mail postfix/local[11]: 3F1A22C0E4B: to=<a@b>, relay=local, "
...     "delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)"], year=2026)
>>> [r.service for r in filter_records(recs, status="sent")]
['local']
>>> len(filter_records(recs, program="smtpd"))
1
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from ..logread import LogRecord, follow, read_log
from ._ui import Tool, esc, ipywidgets

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host

__all__ = ["STATUS_COLOURS", "filter_records", "status_of", "log_text", "log_html", "LogView"]

#: colour of a line by what it says about a message
STATUS_COLOURS = {"sent": "#1d7a2e", "deferred": "#b9770e", "bounced": "#b03a2e",
                  "reject": "#b03a2e", "expired": "#b03a2e", "": "#333"}


def status_of(rec: LogRecord) -> str:
    """``sent``, ``deferred``, ``bounced``, ``reject``, ``expired`` or ``""``."""
    if rec.event == "delivery":
        return rec.fields.get("status", "")
    if rec.event in ("reject", "expired"):
        return rec.event
    return ""


def filter_records(records: Sequence[LogRecord], *, program: Optional[str] = None,
                   queue_id: Optional[str] = None, status: Optional[str] = None,
                   text: Optional[str] = None, tail: Optional[int] = None) -> List[LogRecord]:
    """Keep the records that match every filter given; then the last *tail* of them.

    ``program`` matches ``smtpd`` or ``postfix/smtpd``; ``queue_id`` keeps a
    message's story (and its bounce's, as :func:`~labmail.logread.follow`);
    ``status`` is one of :data:`STATUS_COLOURS`; ``text`` is a substring.
    """
    out = list(records)
    if queue_id:
        out = follow(out, queue_id.strip())
    if program:
        want = program.strip()
        out = [r for r in out if r.program == want or r.service == want]
    if status:
        out = [r for r in out if status_of(r) == status]
    if text:
        out = [r for r in out if text in r.line]
    return out[-tail:] if tail else out


def log_text(records: Sequence[LogRecord]) -> str:
    """The records' lines as they are in the file."""
    return "\n".join(r.line for r in records) if records else "(no matching log lines)"


def log_html(records: Sequence[LogRecord]) -> str:
    """The lines coloured by status, queue ids in bold."""
    if not records:
        return "<i>(no matching log lines)</i>"
    rows = []
    for r in records:
        colour = STATUS_COLOURS.get(status_of(r), "#333")
        line = esc(r.line)
        if r.queue_id:
            line = line.replace(r.queue_id, f"<b>{r.queue_id}</b>", 1)
        rows.append(f"<div style='color:{colour}'>{line}</div>")
    return ("<div style='font-family:monospace;white-space:pre-wrap;font-size:90%'>"
            + "".join(rows) + "</div>")


class LogView(Tool):
    """The last lines of a host's maillog, filtered.

    >>> LogView(host, status="deferred")                           # doctest: +SKIP
    Nov 27 09:00:03 mail postfix/smtp[1236]: 0384F220433: to=<frank@example.org>, ...
    """

    def __init__(self, host: "Host", *, program: Optional[str] = None,
                 queue_id: Optional[str] = None, status: Optional[str] = None,
                 text: Optional[str] = None, tail: int = 30) -> None:
        self.host = host
        self.program, self.queue_id, self.status, self.grep = program, queue_id, status, text
        self.tail = tail

    def records(self) -> List[LogRecord]:
        """The maillog, parsed, with the filters applied."""
        path = self.host.maillog.path
        if not path.exists():
            return []
        recs = read_log(path, year=self.host.clock.now().year)
        return filter_records(recs, program=self.program, queue_id=self.queue_id,
                              status=self.status, text=self.grep, tail=self.tail)

    def programs(self) -> List[str]:
        """Every program that wrote to the log (for the filter box)."""
        path = self.host.maillog.path
        recs = read_log(path, year=self.host.clock.now().year) if path.exists() else []
        return sorted({r.program for r in recs})

    def text(self) -> str:
        return log_text(self.records())

    def html(self) -> str:
        return log_html(self.records())

    def widget(self) -> Any:
        """Filter boxes (program, queue id, status, text), a refresh button and the lines."""
        w = ipywidgets()
        program = w.Dropdown(options=[("any program", "")] + [(p, p) for p in self.programs()],
                             value=self.program or "", description="program")
        qid = w.Text(value=self.queue_id or "", description="queue id", placeholder="3F1A22C0E4B")
        status = w.Dropdown(options=[("any status", "")] + [(s, s) for s in STATUS_COLOURS if s],
                            value=self.status or "", description="status")
        grep = w.Text(value=self.grep or "", description="text")
        tail = w.IntSlider(value=self.tail, min=5, max=500, step=5, description="tail")
        refresh = w.Button(description="refresh", icon="refresh")
        pane = w.HTML(self.html())

        def update(_change: Any = None) -> None:
            self.program = program.value or None
            self.queue_id = qid.value.strip() or None
            self.status = status.value or None
            self.grep = grep.value or None
            self.tail = tail.value
            pane.value = self.html()

        for box in (program, qid, status, grep, tail):
            box.observe(update, names="value")
        refresh.on_click(update)
        return w.VBox([w.HBox([program, status, refresh]), w.HBox([qid, grep]), tail, pane])
