"""``labmail serve``: run one lab host without Jupyter (instructors, real clients)."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

NAME = "serve"
ORDER = 1
HELP = "run a lab mail host (SMTP, POP3, IMAP and their TLS ports) until interrupted"
DESCRIPTION = """\
Run one lab mail host in the foreground, for real mail clients (swaks, mutt,
Thunderbird, curl) and live demos.  Prints one line per service, then 'ready',
and serves until SIGINT (Ctrl-C) or SIGTERM, then exits 0.

examples:
  labmail serve --user alice:secret
  labmail serve --hostname mail.example.org --port-base 20000 --state /tmp/lab
  labmail serve --ports auto --config-dir ./postfix     # reads ./postfix/main.cf
  labmail serve --demo        # example.com and example.org for Thunderbird/mutt demos

--demo runs two hosts (mail.example.com and mail.example.org) with two users
each, TLS certificates from the lab CA, submission with STARTTLS and AUTH, and
spam filtering (procmail -> spamc -> the host's spamd, spam into Junk); it
prints the account settings for Thunderbird or mutt and the lab CA to trust.
"""


def _user(text: str) -> tuple:
    name, sep, password = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write --user NAME:PASSWORD")
    return name, password


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hostname", default="mail.example.com",
                   help="the host's name (default: %(default)s); it serves its domain")
    p.add_argument("--ip", default=None,
                   help="loopback address to listen on (default: 127.0.0.2, or the next free one)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--port-base", type=int, default=None,
                       help="listen on PORT_BASE + standard port (default: $LABMAIL_PORT_BASE "
                            "or 10000: SMTP 10025)")
    group.add_argument("--ports", choices=["auto"], default=None,
                       help="'auto': take free ephemeral ports")
    p.add_argument("--state", type=Path, default=None,
                   help="state directory (default: a temporary one)")
    p.add_argument("--user", type=_user, action="append", default=[], metavar="NAME:PASSWORD",
                   help="add an account (repeatable)")
    p.add_argument("--config-dir", type=Path, default=None,
                   help="read main.cf from this directory (like postfix -c DIR)")
    p.add_argument("--demo", action="store_true",
                   help="two hosts (example.com, example.org) with users, TLS, spam filtering; "
                        "prints the account settings for mail clients")
    p.add_argument("--profile", default=None, metavar="TYPE",
                   help="write the main.cf Debian's installer writes for TYPE: "
                        "internet-site, internet-with-smarthost, satellite, local-only")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError, LabError
    from ..lab import Lab

    if args.demo:
        return _run_demo(args)
    main_cf = None
    if args.config_dir is not None and args.profile is not None:
        print("labmail serve: give --config-dir or --profile, not both", file=sys.stderr)
        return 2
    if args.config_dir is not None:
        cf = args.config_dir / "main.cf"
        try:
            main_cf = cf.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"labmail serve: cannot read {cf}: {exc.strerror}", file=sys.stderr)
            return 1
    lab = Lab(port_base=args.port_base, ports=args.ports, state_dir=args.state)
    try:
        host = lab.add_host(args.hostname, users=dict(args.user), ip=args.ip, main_cf=main_cf,
                            profile=args.profile)
        lab.start()
    except (ConfigError, LabError, ValueError) as exc:
        print(f"labmail serve: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"labmail serve: cannot listen: {exc}", file=sys.stderr)
        return 1
    for service, (addr, port) in host.endpoints.items():
        print(f"{service} {addr}:{port}")
    print(f"state {host.state_dir}")
    print(f"ca {lab.ca.root_path}")
    return _serve_until_interrupted(lab)


def _serve_until_interrupted(lab) -> int:
    """Say 'ready', serve until SIGINT/SIGTERM, stop the lab; returns 0."""
    stop = threading.Event()

    def _handler(signum, frame):  # noqa: ARG001 - signal API
        stop.set()
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    print("ready", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        lab.stop()
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from ..errors import ConfigError, LabError
    from ._demo import account_settings, build_demo_lab

    if args.user or args.config_dir or args.profile or args.ip or args.hostname != "mail.example.com":
        print("labmail serve: --demo makes its own hosts and users; leave out --hostname, "
              "--ip, --user, --config-dir and --profile", file=sys.stderr)
        return 2
    try:
        lab = build_demo_lab(port_base=args.port_base, ports=args.ports, state_dir=args.state)
    except (ConfigError, LabError, ValueError) as exc:
        print(f"labmail serve: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"labmail serve: cannot listen: {exc}", file=sys.stderr)
        return 1
    print(account_settings(lab))
    print("\nserving until Ctrl-C", flush=True)
    return _serve_until_interrupted(lab)
