"""``labmail systemctl``: start, stop, enable firewalld on a lab host."""
from __future__ import annotations

import argparse

NAME = "systemctl"
ORDER = 62
HELP = "start/stop/enable/disable firewalld on a lab host"
DESCRIPTION = """\
The lab's systemctl knows one unit, firewalld.  'enable' makes it start at
every (re)start of the host; '--now' starts or stops it at once.

examples:
  labmail systemctl --state /tmp/lab/mail.example.com enable --now firewalld
  labmail systemctl --state /tmp/lab/mail.example.com is-active firewalld
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.prefix_chars = "\0"
    p.set_defaults(_help=p.print_help)
    p.add_argument("words", nargs=argparse.REMAINDER, help="[--state DIR] VERB firewalld")


def run(args: argparse.Namespace) -> int:
    from ..firewall.shared import cli
    return cli(NAME, args.words, help=args._help)
