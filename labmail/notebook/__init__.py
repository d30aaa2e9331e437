"""Helpers and tools the lessons use to show what the lab does.

* :mod:`~labmail.notebook.telnet` — :class:`Telnet`, SMTP by hand over a raw socket;
* :mod:`~labmail.notebook.smtp_diagram` — the SMTP state table as text and as
  a matplotlib drawing, and :func:`replay` of a recorded session through it;
* :mod:`~labmail.notebook.render` — transcripts, mailboxes and directory trees
  that display as HTML in Jupyter and as plain text elsewhere.

The tools (each prints as plain text, shows as HTML, and has an interactive
``.widget()``; ipywidgets and matplotlib are imported only when used):

* :class:`MailClient` — read over IMAP, send over submission with TLS;
* :class:`QueueMonitor` — live ``mailq`` with flush / hold / release / delete;
* :class:`LogView` — the maillog, filtered by program, queue id, status;
* :class:`TranscriptView` — sessions coloured by speaker, the TLS switch marked;
* :class:`MainCfEditor` — edit ``main.cf``, check, save, reload;
* :class:`SpamExplorer` — a ``required_score`` slider and the confusion matrix;
* :class:`SequenceDiagram` — an SMTP session as a sequence diagram.

>>> from labmail.notebook import Telnet, replay, state_table_text, show_transcript
"""
from .logview import LogView, filter_records
from .mailclient import MailClient, mime_tree
from .maincf_editor import MainCfEditor
from .queue_monitor import QueueMonitor, sparkline
from .render import Shown, messages, received_queue_id, show_transcript, tree, wait_idle
from .sequence import SequenceDiagram, draw_sequence, sequence_text
from .smtp_diagram import (command_pairs, draw_state_diagram, edges, path_text, replay, replay_lines,
                           state_table_text)
from .spam_explorer import SpamExplorer, score_corpus
from .telnet import Dialogue, Reply, Telnet
from .transcript_view import TranscriptView, transcript_html, transcript_text

__all__ = ["Shown", "messages", "received_queue_id", "show_transcript", "tree", "wait_idle",
           "command_pairs", "draw_state_diagram", "edges", "path_text", "replay", "replay_lines",
           "state_table_text", "Dialogue", "Reply", "Telnet",
           "MailClient", "mime_tree", "QueueMonitor", "sparkline", "LogView", "filter_records",
           "TranscriptView", "transcript_text", "transcript_html", "MainCfEditor",
           "SpamExplorer", "score_corpus", "SequenceDiagram", "sequence_text", "draw_sequence"]
