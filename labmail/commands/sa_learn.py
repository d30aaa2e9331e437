"""``labmail sa-learn``: train the Bayes database on mail you have sorted."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

NAME = "sa-learn"
ORDER = 61
HELP = "train Bayes: sa-learn --spam|--ham|--forget FILE|DIR..."
DESCRIPTION = """\
Teach the Bayes classifier what your spam and your ham look like. Each file
is one message; a directory (a Maildir folder, say) is read recursively.
The database is two JSON files, bayes_toks.json and bayes_seen.json, in --dbpath
(default: the directory of bayes_path, ~/.spamassassin).

examples:
  labmail sa-learn --spam ~/Maildir/.Junk/cur
  labmail sa-learn --ham --dbpath state/home/bob/.spamassassin labmail/data/corpus/ham
  labmail sa-learn --dump magic --dbpath state/home/bob/.spamassassin
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--spam", action="store_true", help="learn the messages as spam")
    g.add_argument("--ham", action="store_true", help="learn the messages as ham (not spam)")
    g.add_argument("--forget", action="store_true", help="forget the messages")
    g.add_argument("--dump", choices=("magic",), help="print the database's counters")
    p.add_argument("--dbpath", metavar="DIR", help="directory of the Bayes database")
    p.add_argument("--showdots", action="store_true", help="print a dot per message")
    p.add_argument("--no-sync", action="store_true", help="accepted for compatibility")
    p.add_argument("paths", nargs="*", metavar="FILE|DIR")


def run(args: argparse.Namespace) -> int:
    from ..spam.bayes import BayesStore, learn_paths
    from ..spam.corpus import progress_text
    from ..spam.rules import load_config
    if args.dbpath:
        db_dir = Path(args.dbpath).expanduser()
    else:
        db_dir = Path(os.path.expanduser(load_config()[0].bayes_path)).parent
    store = BayesStore(db_dir)
    if args.dump:
        sys.stdout.write(store.dump_magic())
        return 0
    if not (args.spam or args.ham or args.forget) or not args.paths:
        print("sa-learn: give --spam, --ham or --forget and at least one FILE or DIR", file=sys.stderr)
        return 64
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if args.showdots:
            sys.stderr.write(".")
        elif tty:
            sys.stderr.write("\r" + progress_text(done, total))
        sys.stderr.flush()

    spam = None if args.forget else bool(args.spam)
    learned, examined = learn_paths(store, args.paths, spam=spam, progress=progress)
    if args.showdots or tty:
        sys.stderr.write("\n")
    store.save()
    print(f"{'Forgot' if args.forget else 'Learned'} tokens from {learned} message(s) ({examined} message(s) examined)")
    return 0
