"""TLS contexts for the lab's servers and clients, and a handshake inspector.

* :func:`server_context` builds what ``smtpd_tls_cert_file``/``_key_file``/
  ``_chain_files``, ``smtpd_tls_protocols`` and ``smtpd_tls_ciphers`` (or
  Dovecot's ``ssl_cert``/``ssl_key``/``ssl_min_protocol``) describe.
* :func:`client_context` is a client that trusts the lab CA (or does not verify).
* :func:`inspect_tls` connects for real, optionally after STARTTLS/STLS, and
  reports protocol, cipher, the certificate chain and whether it verifies and
  why not -- the lab's ``posttls-finger`` / ``openssl s_client``.

>>> ctx = client_context(verify=False)
>>> ctx.verify_mode == ssl.CERT_NONE
True
>>> parse_protocols(">=TLSv1.2")
(<TLSVersion.TLSv1_2: 771>, None)
"""
from __future__ import annotations

import os
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
import datetime as _dt
from typing import Any, BinaryIO, Callable, Iterable, List, Optional, Sequence, Tuple, Union

from cryptography import x509

from .certs import CertInfo, describe

__all__ = ["server_context", "client_context", "parse_protocols", "cipher_list",
           "postfix_server_context", "postfix_client_context", "dovecot_server_context", "peer_chain", "peer_trust",
           "tls_summary", "inspect_tls", "TLSReport", "STARTTLS_DIALOGUES", "hostname_matches"]

PathLike = Union[str, Path]
_ENCODING_DER = 2      # _ssl.ENCODING_DER, for the private chain getters of Python < 3.13

_VERSIONS = {"SSLv3": ssl.TLSVersion.SSLv3, "TLSv1": ssl.TLSVersion.TLSv1,
             "TLSv1.1": ssl.TLSVersion.TLSv1_1, "TLSv1.2": ssl.TLSVersion.TLSv1_2,
             "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_ORDER = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

# Postfix 3.7's tls_*_cipherlist defaults (``postconf -d``); they govern TLS <= 1.2,
# TLS 1.3 suites are always on in OpenSSL.
POSTFIX_CIPHERLISTS = {
    "high": "aNULL:-aNULL:HIGH:@STRENGTH",
    "medium": "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH",
    "low": "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH",
    "export": "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH",
    "null": "eNULL:!aNULL",
}


def parse_protocols(text: str) -> Tuple[Optional[ssl.TLSVersion], Optional[ssl.TLSVersion]]:
    """(minimum, maximum) from Postfix's or Dovecot's protocol syntax.

    Accepts ``>=TLSv1.2``, ``<=TLSv1.2``, ``!SSLv2, !SSLv3, !TLSv1`` (exclusions,
    as Postfix before 3.6), ``TLSv1.2 TLSv1.3`` (inclusions) and Dovecot's bare
    ``TLSv1.2`` for ``ssl_min_protocol`` (pass ``">=" + value``).

    >>> parse_protocols("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1")
    (<TLSVersion.TLSv1_2: 771>, None)
    >>> parse_protocols("<=TLSv1.2")
    (None, <TLSVersion.TLSv1_2: 771>)
    >>> parse_protocols(">=TLSv1")          # TLS 1.0 and 1.1: left to OpenSSL's floor
    (None, None)
    >>> parse_protocols("TLSv1.3")
    (<TLSVersion.TLSv1_3: 772>, None)
    """
    words = [w for w in text.replace(",", " ").replace(":", " ").split() if w]
    lo, hi = None, None
    allowed = set(_ORDER)
    included = set()
    for w in words:
        name = w.lstrip("!<>=")
        if name not in _ORDER:
            raise ValueError(f"unknown TLS protocol {name!r} (known: {', '.join(_ORDER)})")
        if w.startswith(">="):
            lo = name
        elif w.startswith("<="):
            hi = name
        elif w.startswith("!"):
            allowed.discard(name)
        else:
            included.add(name)
    if included:
        allowed &= included
    span = [p for p in _ORDER if p in allowed
            and (lo is None or _ORDER.index(p) >= _ORDER.index(lo))
            and (hi is None or _ORDER.index(p) <= _ORDER.index(hi))]
    if not span:
        raise ValueError(f"no TLS protocol left in {text!r}")
    # Below TLS 1.2 is left to OpenSSL's policy (Debian's floor is TLS 1.2, and
    # Python warns when a context is lowered to TLSv1/1.1): None means "no setting".
    low = span[0] if _ORDER.index(span[0]) >= _ORDER.index("TLSv1.2") else None
    high = None if span[-1] == "TLSv1.3" else span[-1]
    if high in ("SSLv2", "SSLv3"):
        raise ValueError(f"{text!r} leaves only SSLv2/SSLv3, which OpenSSL 3 no longer speaks")
    return (None if low is None else _VERSIONS[low],
            None if high is None else _VERSIONS[high])


def cipher_list(grade_or_list: str) -> str:
    """An OpenSSL cipher string from a Postfix grade (high/medium/...) or a raw list."""
    return POSTFIX_CIPHERLISTS.get(grade_or_list.strip().lower(), grade_or_list)


def _apply_versions(ctx: ssl.SSLContext, protocols: Optional[str],
                    min_version: Optional[str]) -> None:
    if protocols:
        lo, hi = parse_protocols(protocols)
        if lo is not None:
            ctx.minimum_version = lo
        if hi is not None:
            ctx.maximum_version = hi
    if min_version:
        lo, _ = parse_protocols(">=" + min_version)
        if lo is not None:
            ctx.minimum_version = lo


def server_context(cert_file: Optional[PathLike] = None, key_file: Optional[PathLike] = None,
                   chain_files: Sequence[PathLike] = (), *, chain_file: Optional[PathLike] = None,
                   protocols: Optional[str] = None, min_version: Optional[str] = None,
                   ciphers: Optional[str] = None) -> ssl.SSLContext:
    """A server-side context from PEM files, as Postfix's or Dovecot's settings name them.

    *cert_file* may hold the certificate followed by its chain (``fullchain.pem``,
    the snakeoil file); a separate *chain_file* (``chain.pem``) is appended.
    *chain_files* is ``smtpd_tls_chain_files``: each file holds a key and its
    certificate chain, and wins over cert/key files.  *protocols* uses
    Postfix's syntax (``>=TLSv1.2``); *min_version* Dovecot's (``TLSv1.2``);
    *ciphers* a Postfix grade (``medium``) or an OpenSSL cipher string.

    >>> ctx = server_context("/etc/letsencrypt/live/mail.example.org/fullchain.pem",
    ...                      "/etc/letsencrypt/live/mail.example.org/privkey.pem",
    ...                      protocols=">=TLSv1.2")          # doctest: +SKIP
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _apply_versions(ctx, protocols, min_version)
    if ciphers:
        ctx.set_ciphers(cipher_list(ciphers))
    if chain_files:
        for name in chain_files:
            ctx.load_cert_chain(str(name), str(name))
        return ctx
    if cert_file is None:
        raise ValueError("a server context needs a certificate (cert_file or chain_files)")
    if chain_file is None:
        ctx.load_cert_chain(str(cert_file), None if key_file is None else str(key_file))
        return ctx
    # OpenSSL reads the leaf and its chain from one file: join them in a private temp file.
    fd, tmp = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(Path(cert_file).read_bytes().rstrip(b"\n") + b"\n"
                    + Path(chain_file).read_bytes())
        ctx.load_cert_chain(tmp, None if key_file is None else str(key_file))
    finally:
        os.unlink(tmp)
    return ctx


def client_context(cafile: Optional[PathLike] = None, *, verify: bool = True,
                   check_hostname: bool = True, protocols: Optional[str] = None,
                   min_version: Optional[str] = None) -> ssl.SSLContext:
    """A client context that trusts *cafile* (the lab root), or does not verify.

    >>> ctx = client_context(ca.root_path)                # doctest: +SKIP
    >>> smtplib.SMTP("127.0.0.2", 10025).starttls(context=ctx)   # doctest: +SKIP
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _apply_versions(ctx, protocols, min_version)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cafile is not None:
        ctx.load_verify_locations(cafile=str(cafile))
    else:
        ctx.load_default_certs()
    return ctx


def _param(params: Any, name: str) -> str:
    try:
        value = params(name) if callable(params) else params.get(name)
    except LookupError:          # MainCf.get() raises for names it does not know
        return ""
    return "" if value is None else str(value).strip()


def postfix_server_context(params: Any, *, path: Callable[[str], Path] = Path,
                           prefix: str = "smtpd", mandatory: bool = False
                           ) -> Optional[ssl.SSLContext]:
    """The context Postfix's smtpd builds from main.cf, or None if no certificate is set.

    *params* is a mapping (or a function) from parameter name to its expanded
    value; *path* maps a configured absolute path into the host's state dir
    (``host.path``).  As Postfix: ``smtpd_tls_chain_files`` wins over
    ``smtpd_tls_cert_file``/``smtpd_tls_key_file``; the key file defaults to
    the cert file; ``*_mandatory_protocols``/``*_mandatory_ciphers`` apply
    when *mandatory* (``smtpd_tls_security_level = encrypt``); a cipher grade
    (``medium``) means ``tls_medium_cipherlist``; ``smtpd_tls_exclude_ciphers``
    are removed.

    >>> ctx = postfix_server_context(host.config, path=host.path)   # doctest: +SKIP
    """
    chain = [c for c in _param(params, f"{prefix}_tls_chain_files").replace(",", " ").split()]
    cert = _param(params, f"{prefix}_tls_cert_file")
    if not chain and not cert:
        return None
    key = _param(params, f"{prefix}_tls_key_file") or cert
    kind = "mandatory_" if mandatory else ""
    protocols = _param(params, f"{prefix}_tls_{kind}protocols") or None
    grade = _param(params, f"{prefix}_tls_{kind}ciphers") or "medium"
    ciphers = _param(params, f"tls_{grade.lower()}_cipherlist") or cipher_list(grade)
    exclude = _param(params, f"{prefix}_tls_exclude_ciphers").replace(",", " ").split()
    if mandatory:
        exclude += _param(params, f"{prefix}_tls_mandatory_exclude_ciphers").replace(
            ",", " ").split()
    if exclude:
        ciphers += ":" + ":".join("!" + c for c in exclude)
    ctx = server_context(None if chain else path(cert), None if chain else path(key),
                         [path(c) for c in chain], protocols=protocols, ciphers=ciphers)
    eccert = _param(params, f"{prefix}_tls_eccert_file")
    if eccert and not chain:
        # The legacy second (ECDSA) certificate: OpenSSL keeps one per key type.
        ctx.load_cert_chain(str(path(eccert)),
                            str(path(_param(params, f"{prefix}_tls_eckey_file") or eccert)))
    return ctx


def postfix_client_context(params: Any, *, path: Callable[[str], Path] = Path,
                           prefix: str = "smtp") -> Tuple[Optional[ssl.SSLContext], str,
                                                          Optional[Path]]:
    """(context, level, CA file) for Postfix's smtp client from main.cf values.

    ``level`` is ``smtp_tls_security_level`` (``none``/``may``/``encrypt``/
    ``verify``/``secure``; empty means ``none``, or ``may`` with the legacy
    ``smtp_use_tls = yes``).  The context never fails a handshake over the
    certificate: as Postfix, the client completes TLS, then judges the peer
    with :func:`peer_trust` against the CA file and, for ``verify``/``secure``,
    gives up on an unverified peer itself ("Server certificate not
    verified").  The context is None for ``none``.

    >>> ctx, level, cafile = postfix_client_context(host.config, path=host.path)  # doctest: +SKIP
    """
    level = _param(params, f"{prefix}_tls_security_level").lower()
    if not level:
        level = "may" if _param(params, f"{prefix}_use_tls").lower() == "yes" else "none"
    if level == "none":
        return None, level, None
    mandatory = level in ("encrypt", "verify", "secure", "dane", "fingerprint")
    kind = "mandatory_" if mandatory else ""
    ctx = client_context(verify=False, protocols=_param(params, f"{prefix}_tls_{kind}protocols")
                         or None)
    grade = _param(params, f"{prefix}_tls_{kind}ciphers") or "medium"
    ctx.set_ciphers(_param(params, f"tls_{grade.lower()}_cipherlist") or cipher_list(grade))
    cafile = _param(params, f"{prefix}_tls_CAfile")
    return ctx, level, path(cafile) if cafile else None


def dovecot_server_context(ssl_cert: str, ssl_key: str, *, ssl_min_protocol: str = "TLSv1.2",
                           ssl_cipher_list: Optional[str] = None,
                           path: Callable[[str], Path] = Path) -> ssl.SSLContext:
    """The context Dovecot builds from ``ssl_cert = </path`` (the ``<`` reads a file).

    >>> ctx = dovecot_server_context("</etc/ssl/certs/ssl-cert-snakeoil.pem",
    ...     "</etc/ssl/private/ssl-cert-snakeoil.key", path=host.path)   # doctest: +SKIP
    """
    return server_context(path(ssl_cert.lstrip("<").strip()), path(ssl_key.lstrip("<").strip()),
                          min_version=ssl_min_protocol, ciphers=ssl_cipher_list)


# -- the peer's certificate, judged without aborting the handshake ---------------------
def peer_chain(tls: Union[ssl.SSLSocket, ssl.SSLObject]) -> List[x509.Certificate]:
    """The chain the peer sent (leaf first); works for sockets and asyncio's SSLObject.

    asyncio code: ``peer_chain(writer.get_extra_info("ssl_object"))``.
    """
    obj = getattr(tls, "_sslobj", None)
    # Python 3.13 made this public; 3.10-3.12 have it on the private object.
    getter = getattr(tls, "get_unverified_chain", None) or getattr(obj, "get_unverified_chain",
                                                                     None)
    ders: List[bytes] = []
    if getter is not None:
        for c in getter() or []:
            ders.append(c if isinstance(c, bytes) else c.public_bytes(_ENCODING_DER))
    if not ders:
        leaf = tls.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    return [x509.load_der_x509_certificate(d) for d in ders]


def peer_trust(chain: Sequence[x509.Certificate], cafile: Optional[PathLike],
               names: Sequence[str], *, at: Optional[_dt.datetime] = None
               ) -> Tuple[str, Optional[str]]:
    """Postfix's verdict on a peer: ("Verified" | "Trusted" | "Untrusted", reason).

    For opportunistic TLS (``smtp_tls_security_level = may``) the handshake
    must not fail on a bad certificate, yet Postfix logs whether it would
    have verified.  This checks the chain against *cafile* with the
    ``cryptography`` verifier: *Verified* if it chains to the CA and a name in
    *names* matches, *Trusted* if only the chain is good, else *Untrusted*.
    """
    if not chain:
        return "Untrusted", "no certificate"
    if cafile is None:
        return "Untrusted", "no trusted CA configured"
    from cryptography.x509 import verification as v
    store = v.Store(x509.load_pem_x509_certificates(Path(cafile).read_bytes()))
    builder = v.PolicyBuilder().store(store).time(at or _dt.datetime.now(_dt.timezone.utc))
    leaf, rest = chain[0], list(chain[1:])

    def ok(name: str) -> Optional[str]:
        try:
            builder.build_server_verifier(v.DNSName(name)).verify(leaf, rest)
            return None
        except (v.VerificationError, ValueError) as exc:
            return str(exc)

    for name in names:
        if ok(name) is None:
            return "Verified", None
    sans = describe(leaf).sans
    errors = [ok(n) for n in sans[:1]] if sans else ["certificate has no DNS names"]
    if errors[0] is None:
        return "Trusted", f"hostname mismatch: {', '.join(names)} not in {', '.join(sans)}"
    return "Untrusted", errors[0]


def tls_summary(tls: Union[ssl.SSLSocket, ssl.SSLObject]) -> str:
    """``TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)``, as Postfix logs it.

    Postfix's Received: header says ``(using <this>)``; its log says
    ``Verified TLS connection established to host[ip]:port: <this>``.
    """
    name, _proto, bits = tls.cipher() or ("NONE", "", 0)
    return f"{tls.version()} with cipher {name} ({bits}/{bits} bits)"


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
