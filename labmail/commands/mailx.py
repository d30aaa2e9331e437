"""``labmail mailx``: send a message from the shell, as ``mailx -s SUBJ -r FROM -a FILE to...``."""
from __future__ import annotations

import argparse
import os
import sys

NAME = "mailx"
ORDER = 44
HELP = "send a message read on standard input (mailx -s subject -r from -a file to...)"
DESCRIPTION = """\
Compose a message like mailx: the body is read from standard input, -s sets
the subject, -r the sender ("Name <address>" or an address), -a attaches a
file (repeatable), -c and -b add copy and blind-copy recipients.  The
message is submitted over SMTP to a lab host (default: $LABMAIL_SMTP or
the first lab host's port 25: 127.0.0.2:10025, or $LABMAIL_PORT_BASE + 25).  Like mailx it
prints nothing on success; -v prints the server's final reply.

examples:
  echo "Hello Bob" | labmail mailx -s "Test 1" -r "Alice <alice@example.com>" bob@example.com
  echo "see attached" | labmail mailx -s Report -a report.pdf -c carol@example.org bob@example.org
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", dest="subject", default="", help="the subject")
    p.add_argument("-r", dest="sender", default=None, help='the sender: "Name <address>"')
    p.add_argument("-a", dest="attachments", action="append", default=[], metavar="FILE",
                   help="attach FILE (repeatable)")
    p.add_argument("-c", dest="cc", action="append", default=[], metavar="ADDR",
                   help="carbon copy to ADDR")
    p.add_argument("-b", dest="bcc", action="append", default=[], metavar="ADDR",
                   help="blind carbon copy to ADDR")
    p.add_argument("-v", dest="verbose", action="store_true", help="print the server's reply")
    base = int(os.environ.get("LABMAIL_PORT_BASE") or 10000)     # as labmail.Lab() does
    p.add_argument("--smtp", default=os.environ.get("LABMAIL_SMTP", f"127.0.0.2:{base + 25}"),
                   metavar="HOST:PORT", help="the lab host's SMTP address (default: %(default)s)")
    p.add_argument("recipients", nargs="+", help="recipient addresses")


def run(args: argparse.Namespace) -> int:
    import smtplib

    from ..mua import send
    host, sep, port = args.smtp.rpartition(":")
    if not sep or not port.isdigit():
        print(f"mailx: --smtp {args.smtp!r}: write HOST:PORT", file=sys.stderr)
        return 1
    for path in args.attachments:
        if not os.path.isfile(path):
            print(f"mailx: {path}: No such file or directory", file=sys.stderr)
            return 1
    body = sys.stdin.read() if not sys.stdin.isatty() else ""
    try:
        sent = send((host, int(port)), args.recipients, subject=args.subject, body=body,
                    sender=args.sender, cc=args.cc or None, bcc=args.bcc or None,
                    attachments=args.attachments)
    except smtplib.SMTPRecipientsRefused as exc:
        for rcpt, (code, text) in exc.recipients.items():
            print(f"mailx: {rcpt}: {code} {text.decode(errors='replace')}", file=sys.stderr)
        return 1
    except (smtplib.SMTPException, OSError) as exc:
        print(f"mailx: cannot send the message: {exc}", file=sys.stderr)
        return 1
    for rcpt, (code, text) in sent.refused.items():
        print(f"mailx: {rcpt}: {code} {text.decode(errors='replace')}", file=sys.stderr)
    if args.verbose:
        print(f"{sent.code} {sent.reply}")
    return 0
