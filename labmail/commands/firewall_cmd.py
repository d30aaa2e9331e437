"""``labmail firewall-cmd``: firewalld on a lab host (start it with ``labmail systemctl``)."""
from __future__ import annotations

import argparse

NAME = "firewall-cmd"
ORDER = 61
HELP = "firewalld's command line for a lab host's firewall"
DESCRIPTION = """\
Runs one firewall-cmd command line against the lab host whose state
directory is given with --state (or $LABMAIL_STATE, or the current
directory).  firewalld must run first: labmail systemctl --state DIR enable
--now firewalld.  A lab running on that state directory obeys at once.

examples:
  labmail systemctl --state /tmp/lab/mail.example.com enable --now firewalld
  labmail firewall-cmd --state /tmp/lab/mail.example.com --list-all
  labmail firewall-cmd --state /tmp/lab/mail.example.com --permanent --add-service=imaps
  labmail firewall-cmd --state /tmp/lab/mail.example.com --reload
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.prefix_chars = "\0"             # --add-service=... and the rest go to firewall-cmd
    p.set_defaults(_help=p.print_help)
    p.add_argument("words", nargs=argparse.REMAINDER,
                   help="[--state DIR] then firewall-cmd's own arguments")


def run(args: argparse.Namespace) -> int:
    from ..firewall.shared import cli
    return cli(NAME, args.words, help=args._help)
