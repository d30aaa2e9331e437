"""Helpers and checks for lesson 09, Securing connections (TLS).

The helpers put a passive listener (:class:`~labmail.net.wiretap.WireTap`)
in front of a lab host, decode what it overheard, and edit the two
configuration files the lesson changes.  The checks look at what a real
client sees (a real handshake, the server's replies, the delivered
message's ``Received:`` header) and return a :class:`~labmail.course.Passed`
note or raise :class:`~labmail.course.CheckFailed` with a hint.

>>> decode_auth_plain("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=")
('alice', 'wonderland')
"""
from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
from typing import TYPE_CHECKING, List, Optional, Tuple

from .course import CheckFailed, Passed
from .net.certs import load_certs
from .net.tlsctx import inspect_tls
from .net.wiretap import WireTap

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .lab import Lab

__all__ = ["tap", "tapped_smtp", "decode_auth_plain", "overheard_passwords", "set_main_cf",
           "set_dovecot_conf", "smtp_dialogue", "check_auth_only", "check_submitted",
           "check_served_certificate"]


# -- the eavesdropper ---------------------------------------------------------------
def tap(lab: "Lab", host: "Host", service: str = "smtp") -> WireTap:
    """A running :class:`WireTap` in front of *host*'s *service*; connect to ``tap.address``."""
    ip, port = host.endpoints[service]
    wire = WireTap((str(ip), int(port)))
    lab.run(wire.start())
    return wire


def tapped_smtp(wire: WireTap, host: "Host", **kwargs: object) -> smtplib.SMTP:
    """smtplib connected through *wire*, yet checking TLS against *host*'s name.

    A client that resolved ``mail.example.com`` would also end up at the
    attacker's relay; only the certificate check can tell.
    """
    assert wire.address is not None, "start the tap first"
    client = smtplib.SMTP(**kwargs)        # type: ignore[arg-type]
    client.connect(*wire.address)
    client._host = host.hostname  # type: ignore[attr-defined]  # STARTTLS verifies this name
    return client


def decode_auth_plain(line: str) -> Tuple[str, str]:
    """(user, password) from an overheard ``AUTH PLAIN <base64>`` line (RFC 4616)."""
    blob = line.split()[-1]
    _authzid, user, password = base64.b64decode(blob).decode("utf-8").split("\x00")
    return user, password


def overheard_passwords(wire: WireTap) -> List[Tuple[str, str]]:
    """Every (user, password) the tap read in clear text."""
    found = []
    for line in wire.transcript().splitlines():
        m = re.match(r"C: AUTH PLAIN (\S+)$", line)
        if m:
            try:
                found.append(decode_auth_plain(m.group(0)))
            except (ValueError, UnicodeDecodeError):
                continue
    return found


# -- configuration -------------------------------------------------------------------
def _set(path: "object", settings: dict, sep: str = " = ") -> str:
    from pathlib import Path
    p = Path(str(path))
    lines = p.read_text(encoding="utf-8").splitlines()
    for name, value in settings.items():
        pattern = re.compile(rf"^{re.escape(name)}\s*=")
        new = f"{name}{sep}{value}"
        for i, line in enumerate(lines):
            if pattern.match(line):
                lines[i] = new
                break
        else:
            lines.append(new)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "\n".join(f"{n}{sep}{v}" for n, v in settings.items())


def set_main_cf(host: "Host", **settings: str) -> str:
    """Set parameters in main.cf (replacing existing lines), as ``postconf -e`` does."""
    return _set(host.path("/etc/postfix/main.cf"), settings)


def set_dovecot_conf(host: "Host", **settings: str) -> str:
    """Set top-level settings in dovecot.conf (``ssl_cert = </path`` and the like)."""
    return _set(host.path("/etc/dovecot/dovecot.conf"), settings)


def smtp_dialogue(address: Tuple[str, int], commands: List[str], *,
                  context: Optional[ssl.SSLContext] = None, server_name: str = "") -> List[str]:
    """Speak *commands* one by one; ``"<TLS>"`` starts the handshake.  Returns
    the transcript as ``C:``/``S:`` lines."""
    sock: socket.socket = socket.create_connection(address, timeout=10)
    out: List[str] = []
    f = sock.makefile("rb")

    def read() -> None:
        for _ in range(50):
            line = f.readline(4096).decode("utf-8", "replace").rstrip("\r\n")
            out.append("S: " + line)
            if len(line) < 4 or line[3] != "-":
                return
    try:
        read()
        for command in commands:
            if command == "<TLS>":
                assert context is not None, "give a TLS context"
                f.close()
                sock = context.wrap_socket(sock, server_hostname=server_name or None)
                f = sock.makefile("rb")
                cipher = sock.cipher()  # type: ignore[attr-defined]
                out.append(f"   (TLS: {sock.version()}, {cipher[0] if cipher else '?'})")  # type: ignore[attr-defined]
                continue
            out.append("C: " + command)
            sock.sendall(command.encode() + b"\r\n")
            read()
    finally:
        f.close()
        sock.close()
    return out


# -- checks -------------------------------------------------------------------------
def check_auth_only(lab: "Lab", host: "Host") -> Passed:
    """Port 25 must offer AUTH, but only after STARTTLS."""
    addr = host.endpoints["smtp"]
    before = smtp_dialogue(addr, ["EHLO laptop", "QUIT"])
    after = smtp_dialogue(addr, ["EHLO laptop", "STARTTLS", "<TLS>", "EHLO laptop", "QUIT"],
                          context=lab.client_tls_context(), server_name=host.hostname)
    if not any(line.startswith("S: 250-AUTH") for line in after):
        raise CheckFailed("After STARTTLS the server still does not list AUTH in its EHLO "
                          "reply: turn SMTP AUTH on with smtpd_sasl_auth_enable = yes in "
                          "main.cf, then host.reload().")
    if any(line.startswith("S: 250-AUTH") for line in before):
        raise CheckFailed("The server offers AUTH before STARTTLS, so a client may send its "
                          "password in clear text. Set smtpd_tls_auth_only = yes and "
                          "host.reload().")
    return Passed("Correct: AUTH is offered only inside TLS "
                  "(smtpd_sasl_auth_enable = yes, smtpd_tls_auth_only = yes).")


def check_submitted(host: "Host", user: str, subject: str) -> Passed:
    """*user* must have a message *subject* that came in with TLS and AUTH (ESMTPSA)."""
    host.settle()
    found = [m for m in host.mailbox(user) if m.get("Subject") == subject]
    if not found:
        raise CheckFailed(f"{user} has no message with Subject: {subject}. Did sendmail() "
                          "run? Look at host.last_transcript() for the server's replies.")
    words = []
    for msg in found:
        received = " ".join(str(msg.get("Received", "")).split())
        proto = re.search(r" with (\S+) id ", received)
        words.append(proto.group(1) if proto else "?")
    if "ESMTPSA" not in words:
        word = words[-1]
        missing = {"ESMTP": "neither STARTTLS nor login", "ESMTPS": "no login",
                   "ESMTPA": "no STARTTLS"}.get(word, "not both STARTTLS and login")
        raise CheckFailed(f"The message arrived 'with {word}': {missing}. Use the submission "
                          "port, call starttls(context=lab.client_tls_context()) and then "
                          "login(user, password) before sendmail().")
    return Passed("Correct: the Received: header says 'with ESMTPSA' — encrypted (S) "
                  "and authenticated (A).")


def check_served_certificate(lab: "Lab", host: "Host", service: str, live: str) -> Passed:
    """*service* must serve the certificate in *live* (a ``live/DOMAIN`` directory)
    and verify against the lab CA."""
    starttls = {"smtp": "smtp", "submission": "smtp", "pop3": "pop3", "imap": "imap"}.get(service)
    report = inspect_tls(*host.endpoints[service], starttls=starttls, cafile=lab.ca.root_path,
                         server_name=host.hostname)
    wanted = load_certs(host.path(live.rstrip("/") + "/cert.pem"))[0]
    from .net.certs import describe
    if not report.chain or report.chain[0].fingerprint_sha256 != describe(wanted).fingerprint_sha256:
        raise CheckFailed(f"{service} serves another certificate (subject "
                          f"{report.chain[0].subject if report.chain else '?'}, issuer "
                          f"{report.chain[0].issuer if report.chain else '?'}). Point the "
                          f"configuration at {live}/fullchain.pem and privkey.pem, then "
                          "reload Postfix or restart Dovecot (host.stop(); host.start()).")
    if not report.verified:
        raise CheckFailed(f"{service} serves the new certificate but it does not verify: "
                          f"{report.reason}. Serve fullchain.pem (certificate and "
                          "intermediate), not cert.pem alone.")
    return Passed(f"Correct: {service} serves {live}/fullchain.pem and it verifies "
                  f"against the lab CA ({report.protocol}).")
