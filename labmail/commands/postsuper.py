"""``labmail postsuper``: delete, hold and release queued mail."""
from __future__ import annotations

import argparse
import sys

from .mailq import add_state_argument, open_queue

NAME = "postsuper"
ORDER = 42
HELP = "delete (-d), hold (-h) or release (-H) queued messages"
DESCRIPTION = """\
Like Postfix's postsuper: each option takes a queue id, ALL, or - (read ids
from standard input, one per line).

examples:
  labmail postsuper -c /tmp/lab/mail.example.com -d 3F1A22C0E4B
  labmail postsuper -c /tmp/lab/mail.example.com -h ALL
  labmail postsuper -c /tmp/lab/mail.example.com -H ALL
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Postfix's -h means "hold": take it away from argparse's help (--help stays).
    for action in p._actions:
        if "-h" in action.option_strings and isinstance(action, argparse._HelpAction):
            action.option_strings.remove("-h")
            p._option_string_actions.pop("-h", None)
    add_state_argument(p)
    p.add_argument("-d", dest="delete", action="append", metavar="ID",
                   help="delete the message (ALL: every message)")
    p.add_argument("-h", dest="hold", action="append", metavar="ID",
                   help="put the message on hold")
    p.add_argument("-H", dest="release", action="append", metavar="ID",
                   help="release a held message")


def _ids(values):
    out = []
    for v in values:
        out += [ln.strip() for ln in sys.stdin if ln.strip()] if v == "-" else [v]
    return out


def run(args: argparse.Namespace) -> int:
    from ..mta.mailq import postsuper
    from ..clock import Clock, IdGenerator
    from ..log import MailLog
    q = open_queue(args.state)
    if q is None:
        return 1
    log = MailLog(q.root / "var" / "log" / "maillog", "localhost", Clock(), IdGenerator())
    did = False
    for action, values in (("-d", args.delete), ("-h", args.hold), ("-H", args.release)):
        if values:
            did = True
            for line in postsuper(q, action, _ids(values), maillog=log):
                print(f"postsuper: {line}", file=sys.stderr)
    if not did:
        print("postsuper: fatal: nothing to do: use -d, -h or -H", file=sys.stderr)
        return 1
    return 0
