"""A transcript viewer: client and server lines in colour, the TLS switch marked.

:func:`transcript_text` and :func:`transcript_html` are pure functions of a
recorded :class:`~labmail.trace.Transcript`; :class:`TranscriptView` puts
them behind a session picker (``.widget()``).  In the text form every
line after the TLS handshake carries a ``[TLS]`` mark, and the switch itself
is a ruled line, so one sees at a glance what an eavesdropper could read.

>>> from labmail.clock import Clock
>>> from labmail.trace import TranscriptStore
>>> t = TranscriptStore(Clock.fixed("2026-11-27T09:00:00+00:00")).open(
...     "smtp", ("127.0.0.1", 5000), ("127.0.0.2", 25))
>>> t.server("220 mail ESMTP"); t.client("STARTTLS"); t.server("220 2.0.0 Ready")
>>> t.start_tls("TLSv1.3"); t.client("EHLO laptop")
>>> print(transcript_text(t))
SMTP 127.0.0.1 -> 127.0.0.2:25
      S: 220 mail ESMTP
      C: STARTTLS
      S: 220 2.0.0 Ready
====== TLS handshake done: TLSv1.3; what follows is encrypted on the wire ======
[TLS] C: EHLO laptop
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from ._ui import Tool, esc, ipywidgets

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host
    from ..trace import Line, Transcript

__all__ = ["COLOURS", "line_kind", "transcript_text", "transcript_html", "TranscriptView"]

#: colour of each kind of line
COLOURS = {"client": "#1f5fbf", "server": "#1d7a2e", "error": "#b03a2e", "note": "#8a5a00",
           "tls": "#6c3483"}


def line_kind(line: "Line") -> str:
    """client, server, error (a 4xx/5xx or -ERR/NO/BAD reply), tls (the switch) or note."""
    if line.who == "C":
        return "client"
    if line.who == "S":
        t = line.text
        words = t.split(" ", 2)
        if t[:1] in "45" and t[:3].isdigit() or t.startswith("-ERR") or \
                len(words) > 1 and words[1] in ("NO", "BAD"):
            return "error"
        return "server"
    return "tls" if line.text.startswith("TLS handshake done") else "note"


def _heading(t: "Transcript") -> str:
    peer = t.peer[0] if t.peer else "?"
    local = f"{t.local[0]}:{t.local[1]}" if t.local else "?"
    return f"{t.protocol.upper()} {peer} -> {local}"


def transcript_text(t: "Transcript") -> str:
    """The session as text: ``[TLS]`` before encrypted lines, a rule at the switch."""
    rows = [_heading(t)]
    for ln in list(t.lines):
        kind = line_kind(ln)
        if kind == "tls":
            rows.append(f"====== {ln.text} ======")
            continue
        mark = "[TLS] " if ln.tls else "      "
        rows.append(mark + str(ln))
    return "\n".join(rows)


def transcript_html(t: "Transcript") -> str:
    """The session as coloured HTML (client blue, server green, errors red, TLS purple)."""
    rows = [f"<div style='font-weight:bold'>{esc(_heading(t))}</div>"]
    for ln in list(t.lines):
        kind = line_kind(ln)
        colour = COLOURS[kind]
        if kind == "tls":
            rows.append(f"<div style='color:{colour};border-top:2px solid {colour};"
                        f"border-bottom:2px solid {colour};margin:2px 0'>&#128274; "
                        f"{esc(ln.text)}</div>")
            continue
        lock = "&#128274; " if ln.tls else ""
        bg = ";background:#f4ecf7" if ln.tls else ""
        rows.append(f"<div class='lm-{kind}' style='color:{colour}{bg}'>{lock}"
                    f"{esc(str(ln))}</div>")
    return ("<div style='font-family:monospace;white-space:pre-wrap'>" + "".join(rows)
            + "</div>")


class TranscriptView(Tool):
    """Recorded sessions of a host (or a list of transcripts), one shown at a time.

    >>> view = TranscriptView(host, "smtp")                       # doctest: +SKIP
    >>> view                          # the last session, as text    # doctest: +SKIP
    >>> view.widget()                 # a session picker and the coloured view  # doctest: +SKIP
    """

    def __init__(self, source: "Any", protocol: Optional[str] = None,
                 index: int = -1) -> None:
        self._host: Optional["Host"] = None if isinstance(source, (list, tuple)) else source
        self._fixed: Sequence["Transcript"] = source if self._host is None else ()
        self.protocol = protocol
        self.index = index

    def sessions(self) -> List["Transcript"]:
        """The transcripts to choose from, oldest first."""
        if self._host is not None:
            return list(self._host.transcripts(self.protocol))
        return list(self._fixed)

    def current(self) -> Optional["Transcript"]:
        items = self.sessions()
        if not items:
            return None
        return items[self.index if -len(items) <= self.index < len(items) else -1]

    def text(self) -> str:
        t = self.current()
        return transcript_text(t) if t is not None else "(no session recorded yet)"

    def html(self) -> str:
        t = self.current()
        return transcript_html(t) if t is not None else "<i>(no session recorded yet)</i>"

    def widget(self) -> Any:
        """A dropdown of sessions and the coloured transcript (ipywidgets)."""
        w = ipywidgets()
        pane = w.HTML(self.html())
        items = self.sessions()
        options = [(f"{i + 1}: {_heading(t)} ({len(t.lines)} lines)", i)
                   for i, t in enumerate(items)]
        picker = w.Dropdown(options=options or [("(none)", -1)],
                            value=(len(items) + self.index) % len(items) if items else -1,
                            description="session")
        refresh = w.Button(description="refresh", icon="refresh")

        def show(_change: Any = None) -> None:
            self.index = picker.value
            pane.value = self.html()

        def reload(_button: Any = None) -> None:
            fresh = self.sessions()
            picker.options = [(f"{i + 1}: {_heading(t)} ({len(t.lines)} lines)", i)
                              for i, t in enumerate(fresh)] or [("(none)", -1)]
            picker.value = len(fresh) - 1 if fresh else -1
            show()

        picker.observe(show, names="value")
        refresh.on_click(reload)
        return w.VBox([w.HBox([picker, refresh]), pane])
