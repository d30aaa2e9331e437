"""Certificates for the lab: keys, PEM files, self-signed, snakeoil.

Three ways a mail server gets a certificate, as the course teaches them:

1. **Self-signed**, as ``openssl req -x509 -newkey rsa:2048 -nodes -days 365
   -subj /CN=mail.example.com`` makes it (:func:`write_self_signed`).  Clients
   that verify refuse it: nobody vouches for it.
2. **From a CA that proves control of the name**, as Let's Encrypt does with
   the ACME dns-01 challenge: the lab CA (:mod:`labmail.net.ca`) and the
   certbot-like client (:mod:`labmail.net.certbot`), which lays the result
   out as ``live/DOMAIN/{cert,chain,fullchain,privkey}.pem`` and renews it.
3. **Snakeoil**, as Debian's ``ssl-cert`` package gives every new server
   (:func:`make_snakeoil`) -- here signed by the lab CA so lab clients can
   verify it.

>>> cert, key = self_signed("mail.example.com", key=generate_key("ec"))
>>> describe(cert).subject, describe(cert).self_signed
('CN=mail.example.com', True)
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

__all__ = ["generate_key", "key_pem", "cert_pem", "load_certs", "load_key", "CertInfo",
           "describe", "self_signed", "parse_subj", "write_self_signed", "openssl_req_command", "LabCA",
           "Issued", "Order", "Challenge", "IssuanceError", "make_snakeoil",
           "install_ca_bundle", "jwk_thumbprint", "make_csr", "SNAKEOIL_CERT", "SNAKEOIL_KEY", "CA_BUNDLE"]

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]
SNAKEOIL_CERT = "etc/ssl/certs/ssl-cert-snakeoil.pem"
SNAKEOIL_KEY = "etc/ssl/private/ssl-cert-snakeoil.key"
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
_UTC = _dt.timezone.utc


# -- keys and PEM --------------------------------------------------------------
def generate_key(kind: str = "rsa", bits: int = 2048) -> PrivateKey:
    """A new private key: ``"rsa"`` (``bits``) or ``"ec"`` (P-256, as ``-newkey ec``).

    >>> generate_key("ec").curve.name
    'secp256r1'
    """
    if kind in ("ec", "ecdsa"):
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    raise ValueError(f"unknown key type {kind!r} (use 'rsa' or 'ec')")


def key_pem(key: PrivateKey) -> bytes:
    """The key unencrypted as PKCS#8 ``BEGIN PRIVATE KEY`` (what ``-nodes`` writes)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(*certs: x509.Certificate) -> bytes:
    """Certificates as concatenated PEM blocks."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load_certs(source: Union[str, Path, bytes]) -> List[x509.Certificate]:
    """Every certificate in a PEM file (or PEM bytes), in order."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    return x509.load_pem_x509_certificates(data)


def load_key(source: Union[str, Path, bytes]) -> PrivateKey:
    """The private key in a PEM file (or bytes); skips certificates around it."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    start = data.find(b"-----BEGIN")
    while start >= 0 and b"PRIVATE KEY-----" not in data[start:data.find(b"\n", start)]:
        start = data.find(b"-----BEGIN", start + 1)
    if start < 0:
        raise ValueError("no private key in PEM data")
    return serialization.load_pem_private_key(data[start:], password=None)  # type: ignore


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write atomically (temp file + rename) with *mode*, creating directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# -- looking at certificates -----------------------------------------------------
@dataclass(frozen=True)
class CertInfo:
    """What ``openssl x509 -noout -text`` would tell a student, in short."""

    subject: str
    issuer: str
    sans: Tuple[str, ...]
    not_before: _dt.datetime
    not_after: _dt.datetime
    serial: str
    key: str
    is_ca: bool
    fingerprint_sha256: str

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def days_left(self, now: _dt.datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def __str__(self) -> str:
        return (f"subject: {self.subject}\nissuer: {self.issuer}\n"
                f"subjectAltName: {', '.join('DNS:' + s for s in self.sans) or '(none)'}\n"
                f"notBefore: {self.not_before:%b %d %H:%M:%S %Y} GMT\n"
                f"notAfter: {self.not_after:%b %d %H:%M:%S %Y} GMT\nkey: {self.key}")


def describe(cert: x509.Certificate) -> CertInfo:
    """A :class:`CertInfo` for *cert*."""
    try:
        sans = tuple(cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    pub = cert.public_key()
    key = (f"RSA {pub.key_size} bits" if isinstance(pub, rsa.RSAPublicKey)
           else f"EC {pub.curve.name}" if isinstance(pub, ec.EllipticCurvePublicKey) else "other")
    return CertInfo(cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), sans,
                    cert.not_valid_before_utc, cert.not_valid_after_utc,
                    f"{cert.serial_number:X}", key, is_ca,
                    cert.fingerprint(hashes.SHA256()).hex(":").upper())


# -- self-signed, like openssl req -x509 -------------------------------------------
def _now(now: Optional[_dt.datetime], clock: Any = None) -> _dt.datetime:
    if now is None:
        now = clock.now() if clock is not None else _dt.datetime.now(_UTC)
    return now.astimezone(_UTC).replace(microsecond=0)


def self_signed(common_name: str, *, sans: Optional[Sequence[str]] = None, days: int = 365,
                key: Optional[PrivateKey] = None, now: Optional[_dt.datetime] = None,
                subject: Optional[x509.Name] = None) -> Tuple[x509.Certificate, PrivateKey]:
    """A self-signed certificate as ``openssl req -x509 ... -subj /CN=NAME`` makes it.

    Like OpenSSL 3's default ``v3_ca`` section it is marked CA:TRUE and carries
    key identifiers; *sans* (default: the CN) become the subjectAltName.
    *subject* replaces the plain ``CN=common_name`` (see :func:`parse_subj`).

    >>> cert, key = self_signed("mail.example.com", key=generate_key("ec"))
    >>> describe(cert).self_signed
    True
    """
    key = key or generate_key("rsa")
    start = _now(now)
    name = subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + _dt.timedelta(days=days))
               .add_extension(ski, critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                              critical=False)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.SubjectAlternativeName(
                   [x509.DNSName(s) for s in (sans or [common_name])]), critical=False))
    return builder.sign(key, hashes.SHA256()), key


_SUBJ_OIDS = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME,
              "L": NameOID.LOCALITY_NAME, "O": NameOID.ORGANIZATION_NAME,
              "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME,
              "emailAddress": NameOID.EMAIL_ADDRESS}


def parse_subj(text: str) -> x509.Name:
    """``-subj`` syntax, ``/C=DE/O=Example/CN=mail.example.com``, as an x509 Name.

    >>> parse_subj("/O=Example/CN=mail.example.com").rfc4514_string()
    'CN=mail.example.com,O=Example'
    """
    if not text.startswith("/"):
        raise ValueError(f"subject {text!r} must start with '/' (like /CN=mail.example.com)")
    attrs = []
    for part in filter(None, text.split("/")):
        key, sep, value = part.partition("=")
        if not sep or key not in _SUBJ_OIDS:
            raise ValueError(f"unknown subject field {key!r} (use {', '.join(_SUBJ_OIDS)})")
        attrs.append(x509.NameAttribute(_SUBJ_OIDS[key], value))
    return x509.Name(attrs)


def write_self_signed(cert_path: Union[str, Path], key_path: Union[str, Path],
                      common_name: str, **kwargs: Any) -> CertInfo:
    """:func:`self_signed`, written as PEM (key mode 0600, as openssl does)."""
    cert, key = self_signed(common_name, **kwargs)
    _write(Path(key_path), key_pem(key), 0o600)
    _write(Path(cert_path), cert_pem(cert))
    return describe(cert)


def openssl_req_command(common_name: str, cert_path: str, key_path: str, *, days: int = 365,
                        sans: Optional[Sequence[str]] = None, bits: int = 2048) -> str:
    """The real command line that makes what :func:`write_self_signed` makes.

    >>> print(openssl_req_command("mail.example.com", "cert.pem", "key.pem"))
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout key.pem -out cert.pem -subj /CN=mail.example.com -addext subjectAltName=DNS:mail.example.com
    """
    alt = ",".join("DNS:" + s for s in (sans or [common_name]))
    return (f"openssl req -x509 -newkey rsa:{bits} -nodes -days {days} -keyout {key_path} "
            f"-out {cert_path} -subj /CN={common_name} -addext subjectAltName={alt}")


# -- what a new Debian server has ----------------------------------------------------
def make_snakeoil(state_dir: Union[str, Path], hostname: str, ca: "LabCA", *,
                  key: Optional[PrivateKey] = None, days: int = 3650) -> Tuple[Path, Path]:
    """Write the host's snakeoil pair, signed by the lab CA; returns (cert, key) paths.

    Paths as Debian's ``ssl-cert``: ``etc/ssl/certs/ssl-cert-snakeoil.pem`` (here
    the certificate followed by the intermediate, so servers send the chain)
    and ``etc/ssl/private/ssl-cert-snakeoil.key`` (mode 0640).  Names: the host
    name and ``localhost``; valid ten years, as ``make-ssl-cert`` makes it.
    Existing files are kept (the package does not overwrite them either).
    """
    root = Path(state_dir)
    cert_path, key_path = root / SNAKEOIL_CERT, root / SNAKEOIL_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    issued = ca.issue([hostname, "localhost"], key=key, days=days)
    assert issued.key is not None
    _write(key_path, key_pem(issued.key), 0o640)
    _write(cert_path, issued.fullchain_pem)
    return cert_path, key_path


def install_ca_bundle(state_dir: Union[str, Path], ca: "LabCA") -> Path:
    """Write the lab root as the host's ``etc/ssl/certs/ca-certificates.crt``.

    That is the file Debian's clients (and ``smtp_tls_CAfile`` in lessons)
    point at; in the lab, the lab root is the only CA on the "internet".
    """
    path = Path(state_dir) / CA_BUNDLE
    _write(path, cert_pem(ca.root))
    return path


# The CA lives in labmail.net.ca; its names stay importable from here.
from .ca import (Challenge, IssuanceError, Issued, LabCA, Order, jwk_thumbprint,  # noqa: E402
                 make_csr)
