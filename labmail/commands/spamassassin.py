"""``labmail spamassassin``: filter one message (stdin -> stdout) as ``spamassassin`` does."""
from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

NAME = "spamassassin"
ORDER = 60
HELP = "score a message with the lab's SpamAssassin rules (stdin -> stdout)"
DESCRIPTION = """\
Read a message on standard input, run the rules on it and print the message
as SpamAssassin would hand it on (X-Spam-* headers; report_safe 0/1/2).

The rules come from the course rule set (labmail/spam/rules/*.cf, like
/usr/share/spamassassin), then --siteconfigpath (like /etc/mail/spamassassin),
then the user preferences (-p), then every --cf line.

examples:
  labmail spamassassin < message.eml
  labmail spamassassin -t < message.eml          # add the report at the end
  labmail spamassassin --cf 'report_safe 0' --cf 'required_score 3' < message.eml
  labmail spamassassin --lint --siteconfigpath state/etc/mail/spamassassin
  labmail spamassassin -d < filtered.eml            # the message before filtering
  labmail spamassassin --cf 'dns_server 127.0.0.1:10053' < msg.eml   # DNSBLs via the lab's DNS
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--test-mode", action="store_true", help="append the report to the output")
    p.add_argument("-L", "--local", action="store_true", help="local tests only (no DNS blocklists)")
    p.add_argument("-e", "--exit-code", "--error-code", dest="exit_code", nargs="?", type=int, const=5,
                   default=None, metavar="N", help="exit N (default 5, as spamassassin) when the message is spam")
    p.add_argument("-p", "--prefspath", "--prefs-file", dest="prefs", metavar="FILE",
                   help="user preferences file (default ~/.spamassassin/user_prefs)")
    p.add_argument("--cf", action="append", default=[], metavar="LINE", help="one more configuration line")
    p.add_argument("-C", "--configpath", metavar="DIR", help="rule directory (default: the course rules)")
    p.add_argument("--siteconfigpath", metavar="DIR", help="site configuration directory (local.cf)")
    p.add_argument("--lint", action="store_true", help="check the configuration, print problems, exit 1 if any")
    p.add_argument("-d", "--remove-markup", action="store_true",
                   help="undo an earlier run: print the message as it was before filtering")
    p.add_argument("--hostname", default=None, help="host name shown in the headers (default: this machine)")
    p.add_argument("--no-bayes", action="store_true", help="do not open a Bayes database")


def _load(args: argparse.Namespace, strict: bool):
    from ..spam.rules import RULES_DIR, load_config
    prefs = Path(args.prefs) if args.prefs else Path("~/.spamassassin/user_prefs").expanduser()
    return load_config(Path(args.siteconfigpath) if args.siteconfigpath else None, prefs, args.cf,
                       rules_dir=Path(args.configpath) if args.configpath else RULES_DIR, strict=strict)


def run(args: argparse.Namespace) -> int:
    from ..spam import Engine, ReportContext, report_text, rewrite
    from ..spam.bayes import BayesStore
    if args.remove_markup:
        from ..spam.report import remove_markup
        sys.stdout.buffer.write(remove_markup(sys.stdin.buffer.read()))
        sys.stdout.flush()
        return 0
    if args.lint:
        config, errors = _load(args, strict=False)
        for err in errors:
            print(f"config: {err}", file=sys.stderr)
        for note in config.notes:
            print(f"config: {note}", file=sys.stderr)
        if errors:
            print(f"lint: {len(errors)} issues detected, please rerun with debug enabled for more information",
                  file=sys.stderr)
            return 1
        return 0
    # Like spamassassin: a line it cannot parse is a warning, and the message
    # is still filtered with the rest of the configuration (--lint tells).
    config, errors = _load(args, strict=False)
    for err in errors:
        print(f"warn: config: {err}", file=sys.stderr)
    bayes = None
    if config.use_bayes and not args.no_bayes:
        bayes = BayesStore(Path(os.path.expanduser(config.bayes_path)).parent, autosave=True)
    resolver = None
    if config.dns_servers and not args.local:
        # dns_server in local.cf (or --cf) points at a name server, e.g. the lab's on port 10053
        from ..net.resolver import LabResolver
        resolver = LabResolver(*config.dns_servers[0], timeout=3.0).addresses
    message = sys.stdin.buffer.read()
    result = Engine(config, bayes=bayes, resolver=resolver).check(message)
    from ..clock import IdGenerator
    # unseeded ids: each run's MIME boundary has its own random part, as spamassassin's
    ctx = ReportContext(args.hostname or socket.gethostname(), ids=IdGenerator())
    out = rewrite(result, ctx)
    sys.stdout.buffer.write(out)
    if args.test_mode:
        sys.stdout.buffer.write(report_text(result, ctx).encode("utf-8"))
    sys.stdout.flush()
    return (args.exit_code or 5) if (args.exit_code is not None and result.is_spam) else 0
