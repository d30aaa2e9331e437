"""``labmail flush``: try every deferred message again now (``postfix flush``)."""
from __future__ import annotations

import argparse

from .mailq import add_state_argument, open_queue

NAME = "flush"
ORDER = 41
HELP = "deliver deferred mail now (postfix flush / postqueue -f)"
DESCRIPTION = """\
Move every deferred message of a lab host back to the incoming queue, so the
queue manager (of the running lab, or at the next start) tries it at once.

example:
  labmail flush --state /tmp/lab/mail.example.com
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)


def run(args: argparse.Namespace) -> int:
    from ..mta.mailq import flush_files
    q = open_queue(args.state)
    if q is None:
        return 1
    flush_files(q)
    return 0
