"""Certificates for the lab: self-signed, a lab CA, dns-01 issuance, snakeoil.

Three ways a mail server gets a certificate, as the course teaches them:

1. **Self-signed**, as ``openssl req -x509 -newkey rsa:2048 -nodes -days 365
   -subj /CN=mail.example.com`` makes it (:func:`write_self_signed`).  Clients
   that verify refuse it: nobody vouches for it.
2. **From a CA that proves control of the name**, as Let's Encrypt does with
   the ACME dns-01 challenge (RFC 8555 §8.4): the host publishes a TXT record
   at ``_acme-challenge.<name>``, the CA looks it up with a real DNS query
   through the lab's server, then signs.  :class:`Certbot` lays the result out
   as certbot does (``live/DOMAIN/{cert,chain,fullchain,privkey}.pem``, links
   into ``archive/``) and renews before expiry by the lab clock.
3. **Snakeoil**, as Debian's ``ssl-cert`` package gives every new server
   (:func:`make_snakeoil`) -- here signed by the lab CA so lab clients can
   verify it.

The lab CA (:class:`LabCA`) has a root and an intermediate, both ECDSA P-256
keys (fast to make; Let's Encrypt has ECDSA roots and intermediates too).
Clients trust ``LabCA.root_path``.  Certificate dates follow the lab clock,
mapped onto real time (:meth:`LabCA.cert_time`), because real TLS stacks
check validity against the machine's clock: renewal lessons advance the lab
clock, and handshakes keep verifying on any day the course is run.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> ca = LabCA.load_or_create(d / "ca")
>>> issued = ca.issue(["mail.example.org", "localhost"], key=generate_key("ec"))
>>> describe(issued.cert).sans
('mail.example.org', 'localhost')
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import LabError

__all__ = ["generate_key", "key_pem", "cert_pem", "load_certs", "load_key", "CertInfo",
           "describe", "self_signed", "parse_subj", "write_self_signed", "openssl_req_command", "LabCA",
           "Issued", "Order", "Challenge", "IssuanceError", "make_snakeoil",
           "install_ca_bundle", "jwk_thumbprint", "make_csr", "SNAKEOIL_CERT", "SNAKEOIL_KEY", "CA_BUNDLE"]

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]
SNAKEOIL_CERT = "etc/ssl/certs/ssl-cert-snakeoil.pem"
SNAKEOIL_KEY = "etc/ssl/private/ssl-cert-snakeoil.key"
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
_UTC = _dt.timezone.utc


class IssuanceError(LabError):
    """The CA refused: the text is the problem detail, as Let's Encrypt words it."""


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


# -- the lab CA and its dns-01 orders ------------------------------------------------
@dataclass
class Challenge:
    """One dns-01 challenge: publish ``txt_value`` at ``record_name`` (RFC 8555 §8.4)."""

    name: str
    token: str
    txt_value: str
    status: str = "pending"
    error: Optional[str] = None

    @property
    def record_name(self) -> str:
        return f"_acme-challenge.{self.name.lstrip('*.')}"


@dataclass
class Order:
    """An ACME-style order: names, their challenges, and once valid, the certificate."""

    names: List[str]
    challenges: List[Challenge]
    status: str = "pending"
    issued: Optional["Issued"] = None


@dataclass
class Issued:
    """A signed certificate with its chain (intermediate) and, if known, its key."""

    cert: x509.Certificate
    chain: List[x509.Certificate]
    key: Optional[PrivateKey] = None

    @property
    def fullchain_pem(self) -> bytes:
        return cert_pem(self.cert, *self.chain)


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_thumbprint(key: PrivateKey) -> str:
    """The account key's JWK thumbprint (RFC 7638 §3), used in key authorizations."""
    pub = key.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        n = pub.public_numbers()
        jwk = {"crv": "P-256", "kty": "EC", "x": _b64u(n.x.to_bytes(32, "big")),
               "y": _b64u(n.y.to_bytes(32, "big"))}
    elif isinstance(pub, rsa.RSAPublicKey):
        r = pub.public_numbers()
        jwk = {"e": _b64u(r.e.to_bytes((r.e.bit_length() + 7) // 8, "big")), "kty": "RSA",
               "n": _b64u(r.n.to_bytes((r.n.bit_length() + 7) // 8, "big"))}
    else:
        raise ValueError("account keys are RSA or ECDSA P-256")
    canon = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    return _b64u(hashlib.sha256(canon).digest())


class LabCA:
    """The lab's certificate authority: a root, an intermediate, and ACME-style orders.

    >>> import tempfile, pathlib
    >>> ca = LabCA.load_or_create(pathlib.Path(tempfile.mkdtemp()))
    >>> describe(ca.root).subject
    'CN=Lab Root X1,O=Lab Encrypt'
    """

    ROOT_NAME = "Lab Root X1"
    INTERMEDIATE_NAME = "Lab E1"

    def __init__(self, directory: Path, root: x509.Certificate, root_key: PrivateKey,
                 intermediate: x509.Certificate, intermediate_key: PrivateKey,
                 clock: Any = None, *, real_time: bool = True) -> None:
        self.directory = Path(directory)
        self.root, self._root_key = root, root_key
        self.intermediate, self._key = intermediate, intermediate_key
        self.clock = clock
        self.real_time = real_time
        # The one deliberate look at the machine's clock: TLS libraries check
        # certificates against real time, so dates must be anchored to it.
        self._anchor = (_dt.datetime.now(_UTC).replace(microsecond=0), _now(None, clock))

    def cert_time(self, lab_time: Optional[_dt.datetime] = None) -> _dt.datetime:
        """The instant written into certificates for lab time *lab_time* (default: now).

        Real TLS stacks (OpenSSL, so Python, curl, Postfix) check validity
        against the machine's real time, not the lab clock.  With
        ``real_time=True`` (the default) the CA maps lab time onto real time:
        the moment the CA was loaded is "now" for both, and lab time that
        passes or is advanced moves certificate dates by as much.  A lesson on
        a fixed clock thus still gets certificates valid today, and advancing
        the clock 61 days still makes a 90-day certificate due for renewal.
        With ``real_time=False`` certificates carry lab time unchanged
        (deterministic dates, for tests that print them).
        """
        lab_time = _now(lab_time, self.clock)
        if not self.real_time:
            return lab_time
        real0, lab0 = self._anchor
        return real0 + (lab_time - lab0)

    @property
    def root_path(self) -> Path:
        """The PEM file clients trust (``--cafile``, ``smtp_tls_CAfile``, ``curl --cacert``)."""
        return self.directory / "root.pem"

    @classmethod
    def load_or_create(cls, directory: Union[str, Path], *, clock: Any = None,
                       real_time: bool = True) -> "LabCA":
        """Load the CA kept in *directory*, or create it there (root valid 20 years).

        See :meth:`cert_time` for *real_time*.
        """
        d = Path(directory)
        files = [d / n for n in ("root.pem", "root.key", "intermediate.pem", "intermediate.key")]
        if all(f.exists() for f in files):
            return cls(d, load_certs(files[0])[0], load_key(files[1]),
                       load_certs(files[2])[0], load_key(files[3]), clock, real_time=real_time)
        # Start well before both lab and real time, so the chain never looks "not yet valid".
        now = min(_now(None, clock), _dt.datetime.now(_UTC)).replace(microsecond=0) \
            - _dt.timedelta(days=30)
        root_key, int_key = generate_key("ec"), generate_key("ec")
        root = _ca_cert(cls.ROOT_NAME, root_key, None, None, now, 20 * 365)
        inter = _ca_cert(cls.INTERMEDIATE_NAME, int_key, root, root_key, now, 10 * 365)
        _write(files[1], key_pem(root_key), 0o600)
        _write(files[3], key_pem(int_key), 0o600)
        _write(files[0], cert_pem(root))
        _write(files[2], cert_pem(inter))
        return cls(d, root, root_key, inter, int_key, clock, real_time=real_time)

    def sign(self, public_key: Any, names: Sequence[str], *, days: int = 90,
             now: Optional[_dt.datetime] = None) -> x509.Certificate:
        """A server certificate for *names* (first one is the CN), signed by the intermediate.

        Back-dated one hour, as Let's Encrypt does, to absorb clock skew; *now*
        is lab time (see :meth:`cert_time`).  In real-time mode notBefore is
        never later than the real now, so a certificate issued after the lab
        clock was advanced still works in real handshakes.
        """
        start = self.cert_time(now) - _dt.timedelta(hours=1)
        not_before = start
        if self.real_time:
            not_before = min(start, _dt.datetime.now(_UTC).replace(microsecond=0)
                             - _dt.timedelta(hours=1))
        usage = x509.KeyUsage(digital_signature=True, key_encipherment=isinstance(
            public_key, rsa.RSAPublicKey), content_commitment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False,
            decipher_only=False)
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key())
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                   .issuer_name(self.intermediate.subject).public_key(public_key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before)
                   .not_valid_after(start + _dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                   .add_extension(usage, True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH]), False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
                   .add_extension(aki, False)
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.DNSName(n) for n in names]), False))
        return builder.sign(self._key, hashes.SHA256())

    def issue(self, names: Sequence[str], *, key: Optional[PrivateKey] = None, days: int = 90,
              now: Optional[_dt.datetime] = None) -> Issued:
        """Sign directly, without a challenge (the lab's own snakeoil certificates)."""
        key = key or generate_key("rsa")
        return Issued(self.sign(key.public_key(), list(names), days=days, now=now),
                      [self.intermediate], key)

    # ACME dns-01, as data: the DNS lookups happen outside (blocking or async).
    def new_order(self, names: Sequence[str], account_key: PrivateKey,
                  token: Optional[Callable[[], str]] = None) -> Order:
        """Open an order; each name gets a token and the TXT value that proves control."""
        thumb = jwk_thumbprint(account_key)
        challenges = []
        for name in names:
            tok = token() if token else _b64u(secrets.token_bytes(32))
            keyauth = f"{tok}.{thumb}"       # RFC 8555 §8.1
            txt = _b64u(hashlib.sha256(keyauth.encode()).digest())    # RFC 8555 §8.4
            challenges.append(Challenge(name.lower().rstrip("."), tok, txt))
        return Order([c.name for c in challenges], challenges)

    def validate(self, order: Order, lookup: Callable[[str], Any]) -> Order:
        """Check each challenge with *lookup(record_name)* -> resolver Outcome (TXT)."""
        for ch in order.challenges:
            out = lookup(ch.record_name)
            found = [b"".join(rd.strings).decode() for rd in out.values] if out.status == "OK" else []
            if ch.txt_value in found:
                ch.status, ch.error = "valid", None
            elif out.status == "NXDOMAIN":
                ch.status, ch.error = "invalid", (
                    f"DNS problem: NXDOMAIN looking up TXT for {ch.record_name} - "
                    "check that a DNS record exists for this domain")
            elif out.status == "TRY_AGAIN":
                ch.status, ch.error = "invalid", (
                    f"DNS problem: SERVFAIL looking up TXT for {ch.record_name} - "
                    "the domain's nameservers may be malfunctioning")
            elif not found:
                ch.status, ch.error = "invalid", f"No TXT record found at {ch.record_name}"
            else:
                ch.status, ch.error = "invalid", (
                    f'Incorrect TXT record "{found[0]}" found at {ch.record_name}')
        order.status = "ready" if all(c.status == "valid" for c in order.challenges) else "invalid"
        return order

    def finalize(self, order: Order, csr: x509.CertificateSigningRequest, *,
                 days: int = 90, now: Optional[_dt.datetime] = None) -> Issued:
        """Sign the CSR if the order is ready and the CSR asks for exactly its names."""
        if order.status != "ready":
            errors = "; ".join(c.error or c.status for c in order.challenges if c.status != "valid")
            raise IssuanceError(f"Order is not ready: {errors}")
        if not csr.is_signature_valid:
            raise IssuanceError("Error finalizing order :: CSR signature is invalid")
        try:
            asked = csr.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            asked = []
        if sorted(n.lower() for n in asked) != sorted(order.names):
            raise IssuanceError("Error finalizing order :: CSR does not specify same "
                                "identifiers as Order")
        order.issued = Issued(self.sign(csr.public_key(), order.names, days=days, now=now),
                              [self.intermediate])
        order.status = "valid"
        return order.issued

    def __repr__(self) -> str:
        return f"<LabCA {self.directory}>"


def _ca_cert(cn: str, key: PrivateKey, issuer: Optional[x509.Certificate],
             issuer_key: Optional[PrivateKey], start: _dt.datetime, days: int) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab Encrypt"),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer = issuer_key or key
    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False)
    return (x509.CertificateBuilder().subject_name(subject)
            .issuer_name(issuer.subject if issuer else subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + _dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None
                                                 else 0), True)
            .add_extension(usage, True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                signer.public_key()), False)
            .sign(signer, hashes.SHA256()))


# -- what a new Debian server has ----------------------------------------------------
def make_snakeoil(state_dir: Union[str, Path], hostname: str, ca: LabCA, *,
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


def install_ca_bundle(state_dir: Union[str, Path], ca: LabCA) -> Path:
    """Write the lab root as the host's ``etc/ssl/certs/ca-certificates.crt``.

    That is the file Debian's clients (and ``smtp_tls_CAfile`` in lessons)
    point at; in the lab, the lab root is the only CA on the "internet".
    """
    path = Path(state_dir) / CA_BUNDLE
    _write(path, cert_pem(ca.root))
    return path


def make_csr(key: PrivateKey, names: Sequence[str]) -> x509.CertificateSigningRequest:
    """A CSR for *names* (CN = first name, all names in subjectAltName)."""
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .sign(key, hashes.SHA256()))

