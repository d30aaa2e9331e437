"""The lab's certificate authority, standing in for Let's Encrypt.

:class:`LabCA` keeps a root and an intermediate (ECDSA P-256 keys: fast to
make, and Let's Encrypt has ECDSA roots and intermediates too) in a
directory; clients trust ``LabCA.root_path``.  It signs directly
(:meth:`LabCA.issue`, for the hosts' snakeoil certificates) or after an
ACME-style dns-01 order (RFC 8555 §8.4): :meth:`LabCA.new_order` gives each
name a token and the TXT value that proves control, :meth:`LabCA.validate`
judges what a real DNS query found at ``_acme-challenge.<name>``, and
:meth:`LabCA.finalize` signs the CSR.  The DNS lookups happen outside this
module (:class:`~labmail.net.certbot.Certbot` does them, blocking or async).

Certificate dates follow the lab clock mapped onto real time
(:meth:`LabCA.cert_time`), because real TLS stacks check validity against
the machine's clock.

>>> import tempfile, pathlib
>>> from labmail.net.certs import describe
>>> ca = LabCA.load_or_create(pathlib.Path(tempfile.mkdtemp()))
>>> issued = ca.issue(["mail.example.org", "localhost"], key=generate_key("ec"))
>>> describe(issued.cert).sans
('mail.example.org', 'localhost')
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import LabError
from .certs import (PrivateKey, _now, _write, cert_pem, generate_key, key_pem, load_certs,
                    load_key)

__all__ = ["LabCA", "Order", "Challenge", "Issued", "IssuanceError", "jwk_thumbprint",
           "make_csr"]

_UTC = _dt.timezone.utc


class IssuanceError(LabError):
    """The CA refused: the text is the problem detail, as Let's Encrypt words it."""


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
    >>> ca.root.subject.rfc4514_string()
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


def make_csr(key: PrivateKey, names: Sequence[str]) -> x509.CertificateSigningRequest:
    """A CSR for *names* (CN = first name, all names in subjectAltName)."""
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .sign(key, hashes.SHA256()))

