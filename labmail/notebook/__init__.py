"""Helpers the lessons use to show what the lab does.

* :mod:`~labmail.notebook.telnet` — :class:`Telnet`, SMTP by hand over a raw socket;
* :mod:`~labmail.notebook.smtp_diagram` — the SMTP state table as text and as
  a matplotlib drawing, and :func:`replay` of a recorded session through it;
* :mod:`~labmail.notebook.render` — transcripts, mailboxes and directory trees
  that display as HTML in Jupyter and as plain text elsewhere.

>>> from labmail.notebook import Telnet, replay, state_table_text, show_transcript
"""
from .render import Shown, messages, received_queue_id, show_transcript, tree, wait_idle
from .smtp_diagram import (command_pairs, draw_state_diagram, edges, path_text, replay, replay_lines,
                           state_table_text)
from .telnet import Dialogue, Reply, Telnet

__all__ = ["Shown", "messages", "received_queue_id", "show_transcript", "tree", "wait_idle",
           "command_pairs", "draw_state_diagram", "edges", "path_text", "replay", "replay_lines",
           "state_table_text", "Dialogue", "Reply", "Telnet"]
