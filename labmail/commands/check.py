"""``labmail check``: the lab's ``postfix check`` for a main.cf.

    $ labmail check -c /tmp/lab/mail.example.com/etc/postfix
    /tmp/lab/mail.example.com/etc/postfix/main.cf, line 12: bad network "10.0.0.300/8" in mynetworks: ...
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..mta.check import check_file, lab_path_map

NAME = "check"
HELP = "check main.cf like 'postfix check': 'file, line N: problem and fix' lines, exit 1 on errors"
DESCRIPTION = """\
Check a Postfix main.cf: syntax, $name expansion, numbers and times, mynetworks,
inet_protocols, mydestination, restriction names, table and TLS files.

Each problem is printed as 'file, line N: what is wrong and how to fix it'.
The exit status is 1 when there is an error (warnings alone give 0).

When DIR is a lab host's .../etc/postfix, absolute paths in main.cf
(/etc/aliases, /etc/ssl/...) are looked up under that host's state directory."""
ORDER = 41


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", dest="config_dir", metavar="DIR",
                        help="configuration directory (default: $MAIL_CONFIG or /etc/postfix)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only, not warnings")


def run(args: argparse.Namespace) -> int:
    config_dir = args.config_dir or os.environ.get("MAIL_CONFIG") or "/etc/postfix"
    main_cf = Path(config_dir) / "main.cf"
    result = check_file(main_cf, display_path=f"{config_dir.rstrip('/')}/main.cf",
                        path_map=lab_path_map(config_dir))
    for problem in result.problems:
        if args.quiet and problem.severity != "error":
            continue
        print(problem)
    return 0 if result.ok else 1
