"""``labmail dig``: ask the lab's DNS server, printing what ``dig`` prints."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Tuple

NAME = "dig"
ORDER = 40
HELP = "query the lab's DNS server like dig (A, MX, PTR, TXT ...)"
DESCRIPTION = """\
Send one DNS query to the lab's name server and print the answer the way
dig(1) does.  The lab's server listens on port 10053 by default (53 needs root).

examples:
  labmail dig example.org MX
  labmail dig @127.0.0.1 -p 10053 mail.example.org
  labmail dig -x 127.0.0.3
  labmail dig +short example.org MX
  labmail dig +tcp _acme-challenge.mail.example.org TXT
  labmail dig axfr example.org          # the whole zone
"""

DEFAULT_SERVER = "127.0.0.1"
DEFAULT_PORT = 10053


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("words", nargs=argparse.REMAINDER, metavar="[@server] name [type] [+short|+tcp]",
                   help="as dig: @SERVER, the name, the record type, +options")
    p.add_argument("-p", dest="port", type=int, default=DEFAULT_PORT,
                   help="server port (default: %(default)s, the lab's DNS port)")
    p.add_argument("-x", dest="reverse", metavar="ADDR",
                   help="reverse lookup: ask PTR for ADDR's in-addr.arpa name")
    p.add_argument("-t", dest="rtype", metavar="TYPE", help="record type (default: A)")


def parse_words(words: List[str]) -> Tuple[Optional[str], Optional[str], Optional[str], List[str]]:
    """Split dig's free-form words into (server, name, type, +options).

    >>> parse_words(["@127.0.0.1", "example.org", "MX", "+short"])
    ('127.0.0.1', 'example.org', 'MX', ['short'])
    """
    server = name = rtype = None
    options: List[str] = []
    for w in words:
        if w.startswith("-"):
            raise ValueError(f"option {w!r} must come before the name here (or use -p/-x/-t)")
        if w.startswith("@"):
            server = w[1:]
        elif w.startswith("+"):
            options.append(w[1:].lower())
        elif rtype is None and _is_type(w):
            rtype = w.upper()             # like dig: a type name is a type, before or after
        elif name is None:
            name = w
        else:
            raise ValueError(f"unexpected argument {w!r}")
    return server, name, rtype, options


def _take_options(args: argparse.Namespace, words: List[str]) -> List[str]:
    """dig accepts -p/-x/-t anywhere; argparse stops at the first word, so finish here."""
    rest = []
    it = iter(words)
    for w in it:
        if w in ("-p", "-x", "-t"):
            value = next(it, None)
            if value is None:
                raise ValueError(f"option {w} needs a value")
            if w == "-p":
                if not value.isdigit():
                    raise ValueError(f"-p {value!r}: the port must be a number")
                args.port = int(value)
            elif w == "-x":
                args.reverse = value
            else:
                args.rtype = value
        else:
            rest.append(w)
    return rest


def _is_type(word: str) -> bool:
    import dns.rdatatype
    try:
        dns.rdatatype.from_text(word.upper())
        return True
    except Exception:  # noqa: BLE001 - not a type name: it is a domain name
        return False


def run(args: argparse.Namespace) -> int:
    import dns.exception
    import dns.reversename

    from ..net.query import format_dig, query_server

    try:
        server, name, rtype, options = parse_words(_take_options(args, list(args.words)))
    except ValueError as exc:
        print(f"labmail dig: {exc}", file=sys.stderr)
        return 1
    if args.reverse:
        try:
            name, rtype = dns.reversename.from_address(args.reverse).to_text(), rtype or "PTR"
        except (dns.exception.SyntaxError, ValueError):
            print(f"labmail dig: invalid IP address {args.reverse!r}", file=sys.stderr)
            return 1
    if name is None:
        print("labmail dig: no name to look up", file=sys.stderr)
        return 1
    rtype = (args.rtype or rtype or "A").upper()
    server = server or DEFAULT_SERVER
    tcp = "tcp" in options or "vc" in options or rtype == "AXFR"   # transfers need TCP
    try:
        result = query_server((server, args.port), name, rtype, tcp=tcp)
    except dns.exception.Timeout:
        print(f";; communications error to {server}#{args.port}: timed out\n"
              ";; no servers could be reached")
        return 9
    except OSError as exc:
        print(f";; communications error to {server}#{args.port}: {exc.strerror or exc}\n"
              ";; no servers could be reached")
        return 9
    if "short" in options:
        sys.stdout.write(result.short())
        return 0
    shown = " ".join(w for w in [f"@{server}"] + (["-p", str(args.port)])
                     + [name, rtype] + [f"+{o}" for o in options])
    sys.stdout.write(format_dig(result, command=shown))
    return 0
