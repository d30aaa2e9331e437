"""The lab's ``posttls-finger`` / ``openssl s_client``: a real handshake, reported.

:func:`inspect_tls` connects, optionally speaks the cleartext dialogue up to
STARTTLS (SMTP, RFC 3207), STLS (POP3, RFC 2595) or STARTTLS (IMAP, RFC 9051),
completes a real TLS handshake and reports protocol, cipher, the certificate
chain (subject, issuer, names, validity) and whether it verifies -- and if
not, OpenSSL's reason.  ``labmail tls-check`` prints the report.

>>> report = inspect_tls("127.0.0.2", 10025, starttls="smtp",
...                      cafile="ca/root.pem", server_name="mail.example.com")  # doctest: +SKIP
>>> print(report)                                                                # doctest: +SKIP
"""
from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, List, Optional

from cryptography import x509

from .certs import CertInfo, describe
from .tlsctx import _ENCODING_DER, PathLike, client_context, peer_chain

__all__ = ["inspect_tls", "TLSReport", "STARTTLS_DIALOGUES", "hostname_matches"]


# -- STARTTLS dialogues (client side), as data ----------------------------------------
# Each step: (line to send or None for the greeting, what a good reply starts with).
# RFC 3207 §4 (SMTP), RFC 2595 §4 (POP3 STLS), RFC 9051 §6.2.1 (IMAP STARTTLS).
STARTTLS_DIALOGUES = {
    "smtp": [(None, "220"), ("EHLO {ehlo}", "250"), ("STARTTLS", "220")],
    "pop3": [(None, "+OK"), ("STLS", "+OK")],
    "imap": [(None, "* OK"), ("a001 STARTTLS", "a001 OK")],
}
_QUIT = {"smtp": b"QUIT\r\n", "pop3": b"QUIT\r\n", "imap": b"a002 LOGOUT\r\n"}


def _read_reply(f: BinaryIO, proto: str, tag: str) -> List[str]:
    """Read one whole reply: SMTP multi-line (RFC 5321 §4.2.1), IMAP up to the tagged line."""
    lines: List[str] = []
    for _ in range(200):            # bound the dialogue
        raw = f.readline(4096)
        if not raw:
            raise ConnectionError("connection closed by server")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if proto == "smtp" and not (len(line) > 3 and line[3] == "-"):
            return lines
        if proto == "pop3":
            return lines
        if proto == "imap" and (tag == "*" or line.startswith(tag + " ")):
            return lines
    raise ConnectionError("reply too long")


def _starttls(sock: socket.socket, proto: str, ehlo: str, transcript: List[str]) -> None:
    f = sock.makefile("rb")
    try:
        for send, expect in STARTTLS_DIALOGUES[proto]:
            if send is not None:
                text = send.format(ehlo=ehlo)
                transcript.append("C: " + text)
                sock.sendall(text.encode() + b"\r\n")
            tag = send.split()[0] if send and proto == "imap" else "*"
            reply = _read_reply(f, proto, tag)
            transcript += ["S: " + r for r in reply]
            if not reply[-1].startswith(expect):
                raise ConnectionError(f"STARTTLS refused: {reply[-1]}")
            if proto == "smtp" and send and send.startswith("EHLO") and \
                    not any(r[4:].upper().startswith("STARTTLS") for r in reply):
                raise ConnectionError("server does not offer STARTTLS")
    finally:
        f.close()       # the socket stays open; the file object only wrapped it


# -- inspection ------------------------------------------------------------------------
@dataclass
class TLSReport:
    """What one real handshake showed.

    ``level`` uses Postfix's words: *Verified* (chain trusted and name
    matches), *Trusted* (chain trusted, name does not match), *Untrusted*.
    """

    host: str
    port: int
    starttls: Optional[str]
    server_name: str
    protocol: str = ""
    cipher: str = ""
    bits: int = 0
    chain: List[CertInfo] = field(default_factory=list)
    chain_trusted: bool = False
    name_matches: bool = False
    verify_error: Optional[str] = None
    verify_code: int = 0
    dialogue: List[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.chain_trusted and self.name_matches

    @property
    def level(self) -> str:
        return "Verified" if self.verified else "Trusted" if self.chain_trusted else "Untrusted"

    @property
    def reason(self) -> Optional[str]:
        """Why it does not verify (None if it does)."""
        if self.verify_error:
            return self.verify_error
        if self.chain and not self.name_matches:
            return f"hostname mismatch: certificate is not valid for {self.server_name!r}"
        return None

    def __str__(self) -> str:
        """posttls-finger's summary lines, then the chain as ``openssl s_client`` lists it."""
        where = f"{self.host}[{self.host}]:{self.port}"
        out = [f"tls-check: Connected to {where}"]
        out += [f"tls-check: {'>' if line.startswith('C') else '<'} {line[3:]}"
                for line in self.dialogue]
        if self.chain_trusted and self.name_matches:
            out.append(f"tls-check: {where}: matched peername: {self.server_name}")
        if self.chain:
            leaf = self.chain[0]
            out.append(f"tls-check: {where}: subject_CN={_cn(leaf.subject)}, "
                       f"issuer_CN={_cn(leaf.issuer)}, fingerprint={leaf.fingerprint_sha256}")
        if self.reason:
            out.append(f"tls-check: certificate verification failed for {where}: {self.reason}")
        out.append(f"tls-check: {self.level} TLS connection established to {where}: "
                   f"{self.protocol} with cipher {self.cipher} ({self.bits}/{self.bits} bits)")
        out += ["---", "Certificate chain"]
        for depth, info in enumerate(self.chain):
            out += [f"{depth:2d} s:{info.subject}", f"   i:{info.issuer}"]
            if info.sans:
                out.append("   subjectAltName: " + ", ".join("DNS:" + n for n in info.sans))
            out.append(f"   v:NotBefore: {info.not_before:%b %d %H:%M:%S %Y} GMT; "
                       f"NotAfter: {info.not_after:%b %d %H:%M:%S %Y} GMT")
        out += ["---", f"Verify return code: {self.verify_code} ({self.reason or 'ok'})"]
        return "\n".join(out)


def _cn(dn: str) -> str:
    for part in dn.split(","):
        if part.startswith("CN="):
            return part[3:]
    return dn


def hostname_matches(name: str, sans: Iterable[str]) -> bool:
    """RFC 6125 §6.4 matching: exact, or a wildcard for the leftmost label only."""
    name = name.lower().rstrip(".")
    for pattern in sans:
        pattern = pattern.lower().rstrip(".")
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _handshake(host: str, port: int, ctx: ssl.SSLContext, starttls: Optional[str],
               server_name: str, ehlo: str, timeout: float,
               transcript: List[str]) -> ssl.SSLSocket:
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        if starttls:
            _starttls(sock, starttls, ehlo, transcript)
        sni = None if _is_ip(server_name) else server_name
        return ctx.wrap_socket(sock, server_hostname=sni)
    except BaseException:
        sock.close()
        raise


def _is_ip(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
        return True
    except OSError:
        return False


def _chain(tls: ssl.SSLSocket, verified: bool) -> List[CertInfo]:
    getter = getattr(tls, "get_verified_chain", None) or getattr(
        getattr(tls, "_sslobj", None), "get_verified_chain", None)
    if verified and getter is not None:
        ders = [c if isinstance(c, bytes) else c.public_bytes(_ENCODING_DER)
                for c in getter() or []]
        return [describe(x509.load_der_x509_certificate(d)) for d in ders]
    return [describe(c) for c in peer_chain(tls)]


def inspect_tls(host: str, port: int, *, starttls: Optional[str] = None,
                cafile: Optional[PathLike] = None, server_name: Optional[str] = None,
                ehlo: str = "tls-check.lab", timeout: float = 5.0) -> TLSReport:
    """Handshake with *host*:*port* and report what a careful client would see.

    First a verifying handshake (trusting *cafile*, or the system's CAs);
    if verification fails, OpenSSL's reason is kept and a second,
    non-verifying handshake collects the details.  *starttls* is ``"smtp"``,
    ``"pop3"`` or ``"imap"`` for servers that start in cleartext.

    >>> report = inspect_tls("127.0.0.2", 10025, starttls="smtp",
    ...                      cafile=ca.root_path, server_name="mail.example.org")  # doctest: +SKIP
    >>> report.level, report.protocol                                               # doctest: +SKIP
    ('Verified', 'TLSv1.3')
    """
    if starttls is not None and starttls not in STARTTLS_DIALOGUES:
        raise ValueError(f"--starttls must be one of {', '.join(STARTTLS_DIALOGUES)}")
    name = server_name or host
    report = TLSReport(host, port, starttls, name)
    verifying = client_context(cafile, check_hostname=False)
    try:
        tls = _handshake(host, port, verifying, starttls, name, ehlo, timeout, report.dialogue)
        report.chain_trusted = True
        trusted_chain = True
    except ssl.SSLCertVerificationError as exc:
        report.verify_error = exc.verify_message or str(exc)
        report.verify_code = exc.verify_code or 0
        report.dialogue.clear()
        tls = _handshake(host, port, client_context(verify=False), starttls, name, ehlo,
                         timeout, report.dialogue)
        trusted_chain = False
    with tls:
        report.protocol = tls.version() or ""
        cipher = tls.cipher()
        if cipher:
            report.cipher, report.bits = cipher[0], cipher[2]
        report.chain = _chain(tls, trusted_chain)
        if report.chain:
            leaf_sans = report.chain[0].sans
            report.name_matches = hostname_matches(name, leaf_sans)
            if report.chain_trusted and not report.name_matches:
                report.verify_code = 62      # X509_V_ERR_HOSTNAME_MISMATCH
        try:
            if starttls:
                tls.sendall(_QUIT[starttls])
        except OSError:
            pass
    return report
