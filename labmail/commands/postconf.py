"""``labmail postconf``: Postfix's postconf(1) for the lab's main.cf.

    $ labmail postconf -c /tmp/lab/mail.example.com/etc/postfix -n
    $ labmail postconf -x -h myorigin mydestination
"""
from __future__ import annotations

import argparse
import sys

from ..mta.postconf import edit_config_dir, postconf_dir

NAME = "postconf"
HELP = "print main.cf parameters like Postfix's postconf (-c DIR -n -d -x -h NAME...)"
DESCRIPTION = """\
Print Postfix configuration parameters as Postfix's postconf(1) does.

  -c DIR   read DIR/main.cf instead of $MAIL_CONFIG or /etc/postfix
  -n       only the parameters main.cf sets (postconf -n)
  -d       built-in default values
  -x       expand $name references
  -h       print values only, without "name = "
  -e       edit main.cf: set each "name=value" given (postconf -e)
  -X       edit main.cf: remove the parameters named
  -#       edit main.cf: comment out the parameters named

Output is sorted by name; warnings go to standard error."""
ORDER = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # postconf's -h means "hide names"; keep --help for argparse's help.
    parser.conflict_handler = "resolve"
    parser._optionals.conflict_handler = "resolve"
    parser.add_argument("-c", dest="config_dir", metavar="DIR", help="configuration directory")
    parser.add_argument("-n", dest="nondefault", action="store_true", help="show only parameters set in main.cf")
    parser.add_argument("-d", dest="defaults", action="store_true", help="show default values")
    parser.add_argument("-x", dest="expand", action="store_true", help="expand $name references")
    parser.add_argument("-h", dest="hide_names", action="store_true", help="show values only")
    parser.add_argument("-e", dest="edit", action="store_true", help='set "name=value" in main.cf')
    parser.add_argument("-X", dest="remove", action="store_true", help="remove parameters from main.cf")
    parser.add_argument("-#", dest="comment", action="store_true", help="comment out parameters in main.cf")
    parser.add_argument("names", nargs="*", metavar="name", help="parameter names (default: all)")


def run(args: argparse.Namespace) -> int:
    if args.edit or args.remove or args.comment:
        import os
        config_dir = args.config_dir or os.environ.get("MAIL_CONFIG") or "/etc/postfix"
        result = edit_config_dir(config_dir, assign=args.names if args.edit else (),
                                 remove=args.names if args.remove else (),
                                 comment=args.names if args.comment else ())
        sys.stderr.write(result.stderr)
        return result.status
    result = postconf_dir(args.config_dir, names=args.names, defaults=args.defaults,
                          nondefault=args.nondefault, expand=args.expand, hide_names=args.hide_names)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.status
