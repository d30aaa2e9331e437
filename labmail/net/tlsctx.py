"""TLS contexts for the lab's servers and clients, and the verdict on a peer.

* :func:`server_context` builds what ``smtpd_tls_cert_file``/``_key_file``/
  ``_chain_files``, ``smtpd_tls_protocols`` and ``smtpd_tls_ciphers`` (or
  Dovecot's ``ssl_cert``/``ssl_key``/``ssl_min_protocol``) describe.
* :func:`client_context` is a client that trusts the lab CA (or does not verify).
* :func:`peer_trust` judges a peer's chain as Postfix logs it (Verified,
  Trusted, Untrusted) without failing an opportunistic handshake.
* :func:`inspect_tls` (in :mod:`labmail.net.tlsinspect`, importable from here)
  connects for real, optionally after STARTTLS/STLS, and reports protocol,
  cipher, the chain and whether it verifies and why not.

>>> ctx = client_context(verify=False)
>>> ctx.verify_mode == ssl.CERT_NONE
True
>>> parse_protocols(">=TLSv1.2")
(<TLSVersion.TLSv1_2: 771>, None)
"""
from __future__ import annotations

import datetime as _dt
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from cryptography import x509

from .certs import describe

__all__ = ["server_context", "client_context", "parse_protocols", "cipher_list",
           "postfix_server_context", "postfix_client_context", "dovecot_server_context",
           "peer_chain", "peer_trust", "tls_summary",
           "inspect_tls", "TLSReport", "STARTTLS_DIALOGUES", "hostname_matches"]

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


# The inspector lives in its own module; its names stay importable from here.
from .tlsinspect import (STARTTLS_DIALOGUES, TLSReport, hostname_matches,  # noqa: E402
                         inspect_tls)
