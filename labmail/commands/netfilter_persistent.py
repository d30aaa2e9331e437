"""``labmail netfilter-persistent``: save or reload a lab host's iptables rules."""
from __future__ import annotations

import argparse

NAME = "netfilter-persistent"
ORDER = 63
HELP = "save the running iptables rules to /etc/iptables/rules.v4 (or reload them)"
DESCRIPTION = """\
As Debian's iptables-persistent: 'save' writes the running rules to
/etc/iptables/rules.v4 in the host's state directory, which every
(re)start of the host loads; 'reload' loads that file now.

examples:
  labmail netfilter-persistent --state /tmp/lab/mail.example.com save
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.prefix_chars = "\0"
    p.set_defaults(_help=p.print_help)
    p.add_argument("words", nargs=argparse.REMAINDER, help="[--state DIR] save|reload")


def run(args: argparse.Namespace) -> int:
    from ..firewall.shared import cli
    return cli(NAME, args.words, help=args._help)
