"""Small display helpers for the lessons: transcripts, files, mailboxes.

Each helper returns an object that shows itself as HTML in Jupyter and as
plain text anywhere else (``print`` or a terminal), so the same cell reads
well in JupyterLab, on GitHub and under nbval.

>>> Shown("hello").text
'hello'
"""
from __future__ import annotations

import email
import email.message
import email.policy
import html
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host
    from ..trace import Transcript

__all__ = ["Shown", "show_transcript", "wait_idle", "messages", "received_queue_id", "tree"]

_COLOURS = {"C": "#1f5fbf", "S": "#1d7a2e", "*": "#8a5a00"}


class Shown:
    """Text with an optional HTML face: ``repr`` is the text, Jupyter shows the HTML."""

    def __init__(self, text: str, html_text: Optional[str] = None) -> None:
        self.text = text
        self.html = html_text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def _repr_html_(self) -> Optional[str]:
        return self.html


def show_transcript(transcript: "Transcript", *, timestamps: bool = False) -> Shown:
    """A transcript coloured by speaker (client blue, server green, notes brown).

    The heading names the client's address but not its port: the OS picks a
    new port for every connection, and it tells nothing about SMTP.
    """
    peer = transcript.peer[0] if transcript.peer else "?"
    local = (f"{transcript.local[0]}:{transcript.local[1]}" if transcript.local else "?")
    head = f"{transcript.protocol.upper()} session: client {peer} -> server {local}"
    body = transcript.text(timestamps=timestamps)
    rows = []
    for line in transcript.lines:
        who = f"{line.who}:" if line.who != "*" else "*"
        stamp = f"{line.when:%H:%M:%S} " if timestamps else ""
        rows.append(f"<div style='color:{_COLOURS.get(line.who, '#000')}'>{stamp}"
                    f"<b>{who}</b> {html.escape(line.text)}</div>")
    markup = ("<div style='font-family:monospace;white-space:pre-wrap'>"
              f"<div style='font-weight:bold'>{html.escape(head)}</div>"
              + "".join(rows) + "</div>")
    return Shown(f"{head}\n{body}", markup)


def wait_idle(host: "Host", timeout: float = 3.0) -> bool:
    """Wait until every session of *host* has closed and its mail is delivered.

    A client's ``QUIT`` returns before the server has logged ``disconnect
    from``, and a ``250 ... queued as`` reply comes before the queue manager
    has delivered the message; call this before reading the maillog or a
    mailbox so the output is complete (uses ``host.settle()`` when present).
    Returns ``True`` when idle (``False`` if *timeout* passed).
    """
    deadline = time.monotonic() + timeout
    settled = True
    settle = getattr(host, "settle", None)     # the queue manager's deliveries
    for _ in range(3):
        # a session that ends may hand the queue one more message, so the two
        # waits alternate until both are quiet (bounded: three rounds)
        while time.monotonic() < deadline:
            busy = getattr(host, "_connections", ())
            if not busy and all(t.closed for t in host.transcripts()):
                break
            time.sleep(0.005)
        else:
            return False
        if callable(settle):
            settled = bool(settle(max(0.1, deadline - time.monotonic())))
        if not getattr(host, "_connections", ()):
            return settled
    return False


def messages(host: "Host", user: str, folder: str = "new", *,
             subject: Optional[str] = None,
             queue_id: Optional[str] = None) -> List[Tuple[Path, email.message.EmailMessage]]:
    """*user*'s messages in one Maildir folder, oldest delivery first.

    ``subject`` keeps only messages with exactly that ``Subject:``;
    ``queue_id`` only the copy whose newest ``Received:`` header names that
    queue id.  Maildir file names start with the delivery time, but the
    lab's clock can be frozen, so the files' modification times decide the
    order instead; those tick in steps of a few milliseconds, so when
    messages arrive close together, select by subject or queue id rather
    than trusting the order.
    """
    directory = host.maildir_path(user) / folder
    if not directory.is_dir():
        return []
    paths = sorted((p for p in directory.iterdir() if p.is_file()),
                   key=lambda p: (p.stat().st_mtime_ns, p.name))
    out = []
    for p in paths:
        msg = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        if subject is not None and str(msg.get("Subject", "")) != subject:
            continue
        if queue_id is not None and received_queue_id(msg) != queue_id:
            continue
        out.append((p, msg))
    return out


def received_queue_id(msg: email.message.Message) -> Optional[str]:
    """The queue id in a message's newest ``Received:`` header (``... id ABC123 ...``)."""
    received = " ".join(str(msg.get("Received", "")).split())
    m = re.search(r" id ([0-9A-Za-z]+)", received)
    return m.group(1) if m else None


def tree(root: Path, *, max_entries: int = 200) -> Shown:
    """The files under *root*, indented like the ``tree`` command."""
    root = Path(root)
    rows = [f"{root.name}/"]
    count = 0

    def walk(directory: Path, depth: int) -> None:
        nonlocal count
        for entry in sorted(directory.iterdir(), key=lambda p: (p.is_file(), p.name)):
            if count >= max_entries:
                return
            count += 1
            rows.append("    " * depth + entry.name + ("/" if entry.is_dir() else ""))
            if entry.is_dir():
                walk(entry, depth + 1)

    walk(root, 1)
    return Shown("\n".join(rows))
