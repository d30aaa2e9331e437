"""``labmail tls-check``: a real TLS handshake, reported like posttls-finger/s_client."""
from __future__ import annotations

import argparse
import sys
from typing import Tuple

NAME = "tls-check"
ORDER = 61
HELP = "connect with TLS (or STARTTLS) and show protocol, cipher, certificate chain, verification"
DESCRIPTION = """\
Connect to HOST:PORT, switch to TLS (directly, or after STARTTLS/STLS with
--starttls), and report the protocol, the cipher, the certificate chain
(subject, issuer, names, validity) and whether the chain verifies against
--cafile -- and if not, why.  The lab's posttls-finger / openssl s_client.

exit status: 0 TLS established (verified or not), 1 connection or handshake failed,
             2 not verified and --verify was given.

examples:
  labmail tls-check 127.0.0.2:10025 --starttls smtp
  labmail tls-check 127.0.0.2:10465 --cafile state/ca/root.pem --servername mail.example.com
  labmail tls-check 127.0.0.2:10143 --starttls imap --cafile root.pem --verify
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="HOST:PORT", help="server to connect to ([::1]:PORT for IPv6)")
    p.add_argument("--starttls", choices=["smtp", "pop3", "imap"],
                   help="begin in cleartext and switch with STARTTLS (smtp, imap) or STLS (pop3)")
    p.add_argument("--cafile", help="PEM file of trusted CAs (the lab root); default: system CAs")
    p.add_argument("--servername", help="name to send (SNI) and check the certificate against "
                                        "(default: HOST)")
    p.add_argument("--ehlo", default="tls-check.lab", help="EHLO name for --starttls smtp")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds (default: %(default)s)")
    p.add_argument("--verify", action="store_true", help="exit 2 unless the peer is Verified")


def parse_target(text: str) -> Tuple[str, int]:
    """``host:port`` or ``[v6addr]:port`` -> (host, port).

    >>> parse_target("127.0.0.2:10025"), parse_target("[::1]:993")
    (('127.0.0.2', 10025), ('::1', 993))
    """
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{text!r}: write HOST:PORT, e.g. 127.0.0.2:10025")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    import ssl

    from ..net.tlsinspect import inspect_tls

    try:
        host, port = parse_target(args.target)
    except ValueError as exc:
        print(f"labmail tls-check: {exc}", file=sys.stderr)
        return 1
    try:
        report = inspect_tls(host, port, starttls=args.starttls, cafile=args.cafile,
                             server_name=args.servername, ehlo=args.ehlo, timeout=args.timeout)
    except (OSError, ssl.SSLError) as exc:
        print(f"tls-check: {host}[{host}]:{port}: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 2 if args.verify and not report.verified else 0
