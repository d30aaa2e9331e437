"""``labmail postcat -q ID``: show a queued message's envelope and contents."""
from __future__ import annotations

import argparse
import sys

from .mailq import add_state_argument, open_queue

NAME = "postcat"
ORDER = 43
HELP = "print a queued message (postcat -q ID)"
DESCRIPTION = """\
Print the envelope records and the contents of a queued message, in the
shape of Postfix's postcat.

example:
  labmail postcat -c /tmp/lab/mail.example.com -q 3F1A22C0E4B
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("-q", dest="queue_id", required=True, metavar="ID",
                   help="the queue id (see labmail mailq)")


def run(args: argparse.Namespace) -> int:
    from ..mta.mailq import postcat
    from ..mta.queue import QueueFileError
    q = open_queue(args.state)
    if q is None:
        return 1
    try:
        qf = q.load(args.queue_id)
    except (KeyError, QueueFileError):
        print(f"postcat: fatal: open queue file {args.queue_id}: No such file or directory",
              file=sys.stderr)
        return 1
    print(postcat(qf))
    return 0
