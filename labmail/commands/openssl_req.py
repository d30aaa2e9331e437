"""``labmail openssl-req``: a self-signed certificate and key, as ``openssl req -x509``."""
from __future__ import annotations

import argparse
import sys

NAME = "openssl-req"
ORDER = 60
HELP = "make a self-signed certificate and key like 'openssl req -x509 -newkey rsa:2048 -nodes'"
DESCRIPTION = """\
Make a private key and a self-signed certificate, with the options of
'openssl req -x509' (the command the course uses), and write them as PEM.
The key is written unencrypted (as with -nodes) and readable by its owner only.

examples:
  labmail openssl-req -x509 -newkey rsa:2048 -nodes -days 365 \\
      -keyout /tmp/key.pem -out /tmp/cert.pem -subj /CN=mail.example.com
  labmail openssl-req -x509 -newkey ec -nodes -days 30 -keyout k.pem -out c.pem \\
      -subj /CN=mail.example.org -addext subjectAltName=DNS:mail.example.org,DNS:localhost
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-x509", dest="x509", action="store_true",
                   help="output a self-signed certificate (the only mode supported)")
    p.add_argument("-newkey", default="rsa:2048", metavar="rsa:BITS|ec",
                   help="key to generate (default: %(default)s)")
    p.add_argument("-nodes", "-noenc", dest="nodes", action="store_true",
                   help="do not encrypt the key (always so here)")
    p.add_argument("-days", type=int, default=30, help="validity in days (default: 30, as openssl)")
    p.add_argument("-subj", required=True, metavar="/CN=NAME", help="subject, e.g. /CN=mail.example.com")
    p.add_argument("-keyout", required=True, metavar="FILE", help="write the private key here")
    p.add_argument("-out", required=True, metavar="FILE", help="write the certificate here")
    p.add_argument("-addext", action="append", default=[], metavar="subjectAltName=DNS:...",
                   help="extension; only subjectAltName=DNS:a,DNS:b is understood")


def _key(spec: str):
    from ..net.certs import generate_key
    kind, _, bits = spec.partition(":")
    if kind == "rsa":
        return generate_key("rsa", int(bits or 2048))
    if kind == "ec":
        return generate_key("ec")
    raise ValueError(f"-newkey {spec!r}: use rsa:BITS or ec")


def run(args: argparse.Namespace) -> int:
    from cryptography.x509.oid import NameOID

    from ..net.certs import parse_subj, write_self_signed

    if not args.x509:
        print("labmail openssl-req: only -x509 (self-signed) is supported; "
              "for CA-signed certificates use the lab CA (labmail.net.certbot)", file=sys.stderr)
        return 1
    try:
        subject = parse_subj(args.subj)
        key = _key(args.newkey)
        sans = []
        for ext in args.addext:
            field, _, value = ext.partition("=")
            if field.strip() != "subjectAltName":
                raise ValueError(f"-addext {ext!r}: only subjectAltName is supported")
            for item in value.split(","):
                kind, _, name = item.strip().partition(":")
                if kind != "DNS":
                    raise ValueError(f"subjectAltName {item!r}: only DNS: names are supported")
                sans.append(name)
    except ValueError as exc:
        print(f"labmail openssl-req: {exc}", file=sys.stderr)
        return 1
    from pathlib import Path
    for target in (args.keyout, args.out):
        if not Path(target).parent.is_dir():      # openssl does not create directories
            print(f"Can't open \"{target}\" for writing, No such file or directory",
                  file=sys.stderr)
            return 1
    cns = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    print("-----", file=sys.stderr)     # where openssl ends its key-generation progress dots
    try:
        write_self_signed(args.out, args.keyout, cn, sans=sans or None, days=args.days,
                          key=key, subject=subject)
    except OSError as exc:
        print(f"labmail openssl-req: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
