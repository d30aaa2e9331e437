"""``labmail iptables``: the firewall of a lab host, as root types it on the server."""
from __future__ import annotations

import argparse

NAME = "iptables"
ORDER = 60
HELP = "change or list a lab host's firewall (iptables' filter table)"
DESCRIPTION = """\
Runs one iptables command line against the firewall of the lab host whose
state directory is given with --state (or $LABMAIL_STATE, or the current
directory).  It changes the running firewall: a lab running on that state
directory (labmail serve, a notebook) obeys it at once.  Rules name the
standard ports (25, 993, ...), not the lab's.

examples:
  labmail iptables --state /tmp/lab/mail.example.com -L -n
  labmail iptables --state /tmp/lab/mail.example.com -A INPUT -p tcp --dport 993 -j ACCEPT
  labmail iptables --state /tmp/lab/mail.example.com -P INPUT DROP
  labmail netfilter-persistent --state /tmp/lab/mail.example.com save
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    # every word belongs to iptables (its -A, -L, -h ...): nothing is an option here
    p.prefix_chars = "\0"
    p.set_defaults(_help=p.print_help)
    p.add_argument("words", nargs=argparse.REMAINDER,
                   help="[--state DIR] then iptables' own arguments")


def run(args: argparse.Namespace) -> int:
    from ..firewall.shared import cli
    return cli(NAME, args.words, help=args._help)
