"""spamc: the small client that hands a message to spamd (Debian's spamc, in Python).

:func:`request` sends one request and returns the parsed response;
:func:`run` behaves like the ``spamc`` command line (same options, output and
exit codes), which is what procmail's ``| /usr/bin/spamc`` recipe runs::

    out, err, status = run(["-d", "127.0.0.2", "-p", "10783", "-c"], message)

Like the real client it *falls back safely*: when spamd cannot be reached,
the message comes out unchanged and the exit status is 0 (``-x`` turns
that off).
"""
from __future__ import annotations

import argparse
import getpass
import os
import socket
import time
from typing import List, Optional, Sequence, Tuple

from .protocol import ClientConnection, Method, RemoteProtocolError, Request, Response, encode_request

__all__ = ["request", "run", "build_parser", "SpamcError", "DEFAULT_PORT"]

DEFAULT_PORT = 783
EX_UNAVAILABLE, EX_TEMPFAIL, EX_TOOBIG = 69, 75, 98


class SpamcError(Exception):
    """spamd could not be reached (*connect* is True) or answered nonsense."""

    def __init__(self, text: str, *, connect: bool = False, reason: str = "") -> None:
        super().__init__(text)
        self.connect = connect
        self.reason = reason


def request(host: str, port: int, method: Method, message: bytes = b"", *, user: Optional[str] = None,
            headers: Sequence[Tuple[str, str]] = (), timeout: float = 30.0,
            compress: bool = False, version: str = "1.5") -> Response:
    """Send one request to spamd at *host*:*port* and return its :class:`Response`.

    >>> request("127.0.0.1", 1, Method.PING)        # doctest: +SKIP
    Response(code=0, message='PONG', headers=(), body=b'', version='1.5')
    """
    hdrs = list(headers)
    if user:
        hdrs.insert(0, ("User", user))
    data = encode_request(Request(method, version, tuple(hdrs), message), compress=compress)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpamcError(f"connect to spamd on {host} failed: {reason}", connect=True, reason=reason) from exc
    try:
        with sock:
            sock.sendall(data)
            conn = ClientConnection()
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return conn.receive_eof()
                resp = conn.receive_data(chunk)
                if resp is not None:
                    return resp
    except OSError as exc:
        raise SpamcError(f"connect to spamd on {host} failed: {exc.strerror or exc}") from exc
    except RemoteProtocolError as exc:
        raise SpamcError(exc.text) from exc


def build_parser(prog: str = "spamc") -> argparse.ArgumentParser:
    """spamc's options (the subset the lab implements)."""
    p = argparse.ArgumentParser(prog=prog, add_help=True,
                                description="Send a message (stdin) to spamd and print the result.")
    add_options(p)
    return p


class _AfterX(argparse.Action):
    """``-X``: takes effect only when ``-x`` was already given (as the real spamc parses it)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        setattr(namespace, self.dest, bool(getattr(namespace, "no_safe_fallback", False)))


def _connect_with_retries(a: argparse.Namespace, send) -> Tuple[Optional[Response], str]:
    """Try *send* up to ``--connect-retries`` times; log lines as spamc -l prints them."""
    tries = a.connect_retries if a.connect_retries and a.connect_retries > 0 else 3
    log = ""
    for n in range(1, tries + 1):
        try:
            return send(), log
        except SpamcError as exc:
            if not exc.connect:
                raise
            log += f"spamc: connect to spamd on {a.dest} failed, retrying (#{n} of {tries}): {exc.reason}\n"
            if n < tries and a.retry_sleep > 0:
                time.sleep(a.retry_sleep)
    log += f"spamc: connection attempt to spamd aborted after {tries} retries\n"
    return None, log


def add_options(p: argparse.ArgumentParser) -> None:
    """Add spamc's options to *p* (``labmail spamc`` uses the same ones)."""
    p.add_argument("-d", "--dest", default=None, help="spamd host [localhost]")
    p.add_argument("-p", "--port", type=int, default=None, help="spamd port [783]")
    p.add_argument("-u", "--username", help="user whose preferences and Bayes database to use")
    p.add_argument("-t", "--timeout", type=float, default=600.0)
    p.add_argument("-s", "--max-size", type=int, default=500 * 1024)
    p.add_argument("-c", "--check", action="store_true", help="print score/threshold, exit 1 if spam")
    p.add_argument("-y", "--tests", action="store_true", help="print the names of the tests hit")
    p.add_argument("-r", "--full-spam", action="store_true", help="print the report if spam")
    p.add_argument("-R", "--full", action="store_true", help="print the report")
    p.add_argument("--headers", action="store_true", help="rewrite only the headers")
    p.add_argument("-E", "--exitcode", action="store_true", help="filter, and exit 1 if spam")
    p.add_argument("-x", "--no-safe-fallback", action="store_true")
    # Debian's spamc honours -X only when -x came before it on the command line
    p.add_argument("-X", "--unavailable-tempfail", action=_AfterX, nargs=0, default=False)
    p.add_argument("--connect-retries", type=int, default=3, help="connection attempts [3]")
    p.add_argument("--retry-sleep", type=float, default=1.0, help="seconds between attempts [1]")
    p.add_argument("-l", "--log-to-stderr", action="store_true")
    p.add_argument("-K", dest="ping", action="store_true", help="ping spamd")
    p.add_argument("-L", "--learntype", choices=("spam", "ham", "forget"))
    p.add_argument("-z", dest="compress", action="store_true", help="compress the message (zlib)")


def _method(a: argparse.Namespace) -> Method:
    if a.ping:
        return Method.PING
    if a.learntype:
        return Method.TELL
    if a.check:
        return Method.CHECK
    if a.tests:
        return Method.SYMBOLS
    if a.full:
        return Method.REPORT
    if a.full_spam:
        return Method.REPORT_IFSPAM
    if a.headers:
        return Method.HEADERS
    return Method.PROCESS


def run(argv: Sequence[str], message: bytes, *, default_dest: Optional[str] = None,
        default_port: Optional[int] = None) -> Tuple[bytes, str, int]:
    """Run spamc with *argv* on *message*; returns (stdout, stderr, exit status).

    *default_dest*/*default_port* replace spamc's built-in localhost:783 when
    the arguments do not say (the lab maps ``/usr/bin/spamc`` to its host's spamd).
    """
    return execute(build_parser().parse_args(list(argv)), message,
                   default_dest=default_dest, default_port=default_port)


def execute(a: argparse.Namespace, message: bytes, *, default_dest: Optional[str] = None,
            default_port: Optional[int] = None) -> Tuple[bytes, str, int]:
    """:func:`run` with the options already parsed (see :func:`add_options`)."""
    a.dest = a.dest or default_dest or "localhost"
    a.port = a.port or default_port or DEFAULT_PORT
    method = _method(a)
    user = a.username or os.environ.get("USER") or os.environ.get("LOGNAME") or getpass.getuser()
    if len(message) > a.max_size and method is not Method.PING:
        # too big to check: spamc does not even connect (as Debian's spamc 4.0 answers)
        err = f"spamc: skipped message, greater than max message size ({a.max_size} bytes)\n" \
            if a.log_to_stderr else ""
        if method is Method.TELL:
            return b"", err, EX_TOOBIG
        if method in (Method.CHECK, Method.REPORT, Method.REPORT_IFSPAM):
            return b"0/0\n", err, 0
        return (b"\n" if method is Method.SYMBOLS else message), err, 0
    headers: List[Tuple[str, str]] = []
    if method is Method.TELL:
        headers = [("Message-class", a.learntype), ("Set", "local")] if a.learntype != "forget" \
            else [("Remove", "local")]
    try:
        resp, log = _connect_with_retries(a, lambda: request(
            a.dest, a.port, method, b"" if method is Method.PING else message, user=user,
            headers=headers, timeout=a.timeout, compress=a.compress))
    except SpamcError as exc:
        resp, log = None, f"spamc: {exc}\n"
    if resp is None:
        # spamd unreachable. Safe fallback: the message passes unchanged and the
        # exit status is 0 -- except for -K and -L, which have nothing to fall back to
        err = log if a.log_to_stderr else ""
        if method in (Method.PING, Method.TELL):
            return b"", err, EX_UNAVAILABLE
        status = (EX_TEMPFAIL if a.unavailable_tempfail else EX_UNAVAILABLE) if a.no_safe_fallback else 0
        if method in (Method.CHECK, Method.REPORT, Method.REPORT_IFSPAM):
            return b"0/0\n", err, status
        if method is Method.SYMBOLS:
            return b"\n", err, status
        return (b"" if a.no_safe_fallback else message), err, status
    if resp.code != 0:
        err = f"spamc: spamd said: {resp.code} {resp.message}\n" if a.log_to_stderr else ""
        return (b"" if a.no_safe_fallback else message), err, resp.code if a.no_safe_fallback else 0
    spam = resp.spam
    is_spam = bool(spam and spam[0])
    summary = f"{spam[1]:.1f}/{spam[2]:.1f}\n".encode() if spam else b"0/0\n"
    if method is Method.PING:
        return f"SPAMD/{resp.version} {resp.code}\n".encode(), "", 0
    if method is Method.TELL:
        return b"Message successfully un/learned\n", "", 0
    if method is Method.CHECK:
        return summary, "", 1 if is_spam else 0
    if method is Method.SYMBOLS:
        return resp.body, "", 0
    if method is Method.REPORT_IFSPAM and not is_spam:
        return b"", "", 0                       # spamc -r prints nothing for ham
    if method is Method.REPORT_IFSPAM:
        return resp.body, "", 0                 # -r: the report alone, no score line
    if method is Method.REPORT:
        return summary + resp.body, "", 0
    out = resp.body
    if method is Method.HEADERS:
        sep = b"\r\n\r\n" if b"\r\n\r\n" in message[:65536] else b"\n\n"
        body = message.split(sep, 1)[1] if sep in message else b""
        out = resp.body + body
    return out, "", (1 if is_spam else 0) if a.exitcode else 0
