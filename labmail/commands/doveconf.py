"""``labmail doveconf``: the lab's ``doveconf`` for a dovecot.conf.

    $ labmail doveconf -c /tmp/lab/mail.example.com/etc/dovecot/dovecot.conf -n
    # labmail: /tmp/lab/mail.example.com/etc/dovecot/dovecot.conf
    auth_mechanisms = plain login
    ...
    $ labmail doveconf -c .../dovecot.conf mail_location
    mail_location = maildir:~/Maildir
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import List

from ..access.dovecotconf import KNOWN_SETTINGS, DovecotConfig, load_dovecot_conf
from ..errors import ConfigError

NAME = "doveconf"
HELP = "read dovecot.conf like 'doveconf': -n for the settings that differ, NAME for one value"
DESCRIPTION = """\
Parse a Dovecot configuration as Dovecot would: an unknown setting or a bad
value is reported as 'Error in configuration file FILE line N: ...' and the
exit status is 89, as doveconf's.  With -n, print the settings the file sets
and its passdb/userdb/listener sections; with NAMEs, print 'name = value'."""
ORDER = 61


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", dest="config", metavar="FILE", default="/etc/dovecot/dovecot.conf",
                        help="configuration file (default: /etc/dovecot/dovecot.conf)")
    parser.add_argument("-n", dest="non_default", action="store_true",
                        help="print only settings that differ from the defaults")
    parser.add_argument("-p", dest="protocol", default="pop3",
                        help="apply 'protocol NAME { }' blocks for this protocol (default pop3)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="settings to print")


def _typed_defaults() -> dict:
    base = DovecotConfig(path="")
    out = {}
    for f in fields(DovecotConfig):
        v = getattr(base, f.name)
        if isinstance(v, bool):
            out[f.name] = "yes" if v else "no"
        elif isinstance(v, tuple) and all(isinstance(x, str) for x in v):
            out[f.name] = (", " if f.name == "listen" else " ").join(v)
        elif isinstance(v, float):
            out[f.name] = f"{v:g} secs"
        elif isinstance(v, str) or v is None:
            out[f.name] = v or ""
    return out


def render(conf: DovecotConfig, names: List[str], non_default: bool) -> List[str]:
    """The lines doveconf would print."""
    defaults = _typed_defaults()
    lines: List[str] = []
    if names:
        for name in names:
            if name not in KNOWN_SETTINGS:
                raise KeyError(name)
            lines.append(f"{name} = {conf.settings.get(name, defaults.get(name, ''))}")
        return lines
    lines.append(f"# labmail: {conf.path}")
    for name in sorted(conf.settings):
        lines.append(f"{name} = {conf.settings[name]}")
    for db in conf.passdbs + conf.userdbs:
        lines += [f"{db.kind} {{", f"  args = {db.args}", f"  driver = {db.driver}", "}"]
    for lst in conf.listeners:
        lines += [f"service {lst.service} {{", f"  inet_listener {lst.name} {{",
                  f"    port = {lst.port}"] + (["    ssl = yes"] if lst.ssl else []) + ["  }", "}"]
    if not non_default:
        set_names = set(conf.settings)
        lines.append("# defaults of the settings the lab acts on:")
        lines += [f"{k} = {v}" for k, v in sorted(defaults.items())
                  if k not in set_names and k in KNOWN_SETTINGS]
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        conf = load_dovecot_conf(args.config, args.protocol)
        for line in render(conf, args.names, args.non_default):
            print(line)
    except ConfigError as exc:
        where = f" line {exc.line}" if exc.line else ""
        print(f"doveconf: Fatal: Error in configuration file {exc.path}{where}: {exc.message}",
              file=sys.stderr)
        return 89
    except KeyError as exc:
        print(f"doveconf: Fatal: Unknown setting: {exc.args[0]}", file=sys.stderr)
        return 89
    return 0
