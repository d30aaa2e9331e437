"""``labmail spamc``: a spamc-compatible client for the lab's spamd."""
from __future__ import annotations

import argparse
import sys

NAME = "spamc"
ORDER = 62
HELP = "send a message (stdin) to spamd, as spamc does"
DESCRIPTION = """\
The same options as SpamAssassin's spamc: the message comes on standard
input, spamd's answer goes to standard output. A lab host's spamd listens on
port 10783 (783 needs root): pass -d and -p.

examples:
  labmail spamc -d 127.0.0.2 -p 10783 < message.eml
  labmail spamc -d 127.0.0.2 -p 10783 -c < message.eml     # prints 7.2/5.0
  labmail spamc -d 127.0.0.2 -p 10783 -L spam < junk.eml
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..spam.spamc import add_options
    add_options(p)


def run(args: argparse.Namespace) -> int:
    from ..spam.spamc import execute
    message = b"" if args.ping else sys.stdin.buffer.read()
    out, err, status = execute(args, message)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    if err:
        sys.stderr.write(err)
    return status
