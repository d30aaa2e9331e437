"""``labmail mailq``: list the queue of a lab host, as Postfix's ``mailq``."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

NAME = "mailq"
ORDER = 40
HELP = "list the mail queue (Postfix's mailq / postqueue -p)"
DESCRIPTION = """\
Print the queue of a lab host in Postfix's format: queue id ('*' active,
'!' on hold), size, arrival time, sender, the deferral reason in parentheses,
then the recipients.

examples:
  labmail mailq --state /tmp/lab/mail.example.com
  labmail mailq -c /tmp/lab/mail.example.com --json
"""


def add_state_argument(p: argparse.ArgumentParser) -> None:
    """The host state directory option shared by the queue commands."""
    p.add_argument("--state", "-c", metavar="DIR",
                   default=os.environ.get("LABMAIL_STATE", "."),
                   help="the host's state directory (holds var/spool/postfix; "
                        "default: $LABMAIL_STATE or the current directory)")


def open_queue(state: str):
    """A Queue on the state directory *state*, or None (error printed)."""
    from ..clock import Clock, IdGenerator
    from ..mta.queue import Queue
    import sys
    try:
        return Queue(Path(state), Clock(), IdGenerator(), create=False)
    except FileNotFoundError as exc:
        print(f"labmail: fatal: {exc}", file=sys.stderr)
        return None


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON object per message, like postqueue -j")


def run(args: argparse.Namespace) -> int:
    import json
    from ..mta.mailq import mailq
    q = open_queue(args.state)
    if q is None:
        return 1
    if args.json:
        for qf in q.entries():
            rcpts = []
            for r in qf.pending():
                item = {"address": r.address}
                if r.reason and qf.queue != "active":
                    item["delay_reason"] = r.reason
                rcpts.append(item)
            print(json.dumps({"queue_name": qf.queue, "queue_id": qf.queue_id,
                              "arrival_time": int(qf.arrival), "message_size": qf.size,
                              "forced_expire": False, "sender": qf.sender or "MAILER-DAEMON",
                              "recipients": rcpts}))
        return 0
    print(mailq(q))
    return 0
