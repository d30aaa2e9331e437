"""certbot's role: get a certificate from the lab CA with dns-01, lay it out, renew it.

The layout is certbot's, under the host's ``/etc/letsencrypt``::

    accounts/lab/private_key.pem        the ACME account key (its thumbprint is
                                        part of every challenge answer)
    archive/DOMAIN/cert1.pem chain1.pem fullchain1.pem privkey1.pem   every version
    live/DOMAIN/cert.pem -> ../../archive/DOMAIN/cert1.pem   (and chain, fullchain,
                                        privkey): what main.cf and dovecot.conf name
    renewal/DOMAIN.conf                 what ``renew`` needs to do it again

>>> bot = Certbot(host.path("/etc/letsencrypt"), lab.ca, lab.dns,  # doctest: +SKIP
...               lab.resolver, clock=lab.clock, ids=lab.ids)
>>> lineage = bot.certonly(["mail.example.org"])                  # doctest: +SKIP
>>> lineage.fullchain                                             # doctest: +SKIP
PosixPath('.../etc/letsencrypt/live/mail.example.org/fullchain.pem')

Step by step, as a lesson shows it: :meth:`Certbot.begin` opens the order and
says which TXT record to publish; the student adds it with
``lab.dns.add(...)``; :meth:`Certbot.finish` asks the CA to check it (a real
DNS query) and installs the certificate.  :meth:`Certbot.certonly` does all
three, publishing and removing the TXT record itself (a manual-auth hook).
"""
from __future__ import annotations

import base64
import datetime as _dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import dns.asyncquery
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.update

from .ca import IssuanceError, LabCA, Order, make_csr
from .certs import (CertInfo, PrivateKey, _now, _write, cert_pem, describe, generate_key, key_pem,
                    load_certs, load_key)

__all__ = ["Certbot", "Lineage", "RenewResult", "DnsUpdatePublisher"]

log = logging.getLogger(__name__)
_FILES = ("cert", "chain", "fullchain", "privkey")


@dataclass(frozen=True)
class Lineage:
    """One certificate name (``live/DOMAIN``) and its current version's files."""

    name: str
    live_dir: Path
    version: int
    info: CertInfo

    @property
    def cert(self) -> Path:
        return self.live_dir / "cert.pem"

    @property
    def chain(self) -> Path:
        return self.live_dir / "chain.pem"

    @property
    def fullchain(self) -> Path:
        return self.live_dir / "fullchain.pem"

    @property
    def privkey(self) -> Path:
        return self.live_dir / "privkey.pem"


@dataclass(frozen=True)
class RenewResult:
    """What ``certbot renew`` decided for one lineage."""

    name: str
    renewed: bool
    not_after: _dt.datetime
    message: str


class Certbot:
    """An ACME client for the lab CA (``certbot certonly --manual --preferred-challenges dns``).

    *dns* needs ``add(name, "TXT", value, ttl)`` and ``remove(name, "TXT", value)``
    (a :class:`~labmail.net.dns.LabDNS`); *resolver* is the
    :class:`~labmail.net.resolver.LabResolver` the CA checks challenges with.
    New keys are ECDSA P-256, certbot 2's default (``key_type="rsa"`` for RSA 2048).
    With the lab's seeded *ids* the account key and the challenge tokens, hence
    the TXT values a lesson prints, are the same on every run.
    """

    def __init__(self, config_dir: Path, ca: LabCA, dns: Any, resolver: Any, *,
                 clock: Any = None, ids: Any = None, key_type: str = "ecdsa",
                 renew_before_days: int = 30, days: int = 90) -> None:
        self.config_dir = Path(config_dir)
        self.ids = ids            # seeded ids make tokens and the account key repeatable
        self.ca, self.dns, self.resolver, self.clock = ca, dns, resolver, clock
        self.key_type, self.renew_before_days, self.days = key_type, renew_before_days, days

    # -- one issuance, in steps ----------------------------------------------------
    def account_key(self) -> PrivateKey:
        path = self.config_dir / "accounts" / "lab" / "private_key.pem"
        if path.exists():
            return load_key(path)
        if self.ids is not None:
            # Derived from the lab's seeded ids, so challenge values repeat in lessons
            # (a real ACME account key must of course be random).
            from cryptography.hazmat.primitives.asymmetric import ec
            secret = int(self.ids.token(32), 16) % (2 ** 255 - 19) + 1
            key: PrivateKey = ec.derive_private_key(secret, ec.SECP256R1())
        else:
            key = generate_key("ec")
        _write(path, key_pem(key), 0o600)
        return key

    def begin(self, domains: Sequence[str]) -> Order:
        """Open an order; each challenge says which TXT record proves control."""
        token = None
        if self.ids is not None:
            ids = self.ids
            token = lambda: base64.urlsafe_b64encode(bytes.fromhex(ids.token(32))).rstrip(  # noqa: E731
                b"=").decode()
        order = self.ca.new_order(list(domains), self.account_key(), token=token)
        for ch in order.challenges:
            log.info("dns-01: publish TXT %s at %s", ch.txt_value, ch.record_name)
        return order

    def publish(self, order: Order) -> None:
        """Put each challenge's TXT record into DNS (the manual-auth hook's job)."""
        for ch in order.challenges:
            self.dns.add(ch.record_name, "TXT", f'"{ch.txt_value}"', 60)

    def cleanup(self, order: Order) -> None:
        """Take the TXT records away again (the manual-cleanup hook)."""
        for ch in order.challenges:
            self.dns.remove(ch.record_name, "TXT", f'"{ch.txt_value}"')

    async def apublish(self, order: Order) -> None:
        """:meth:`publish` for asyncio code (awaits a publisher's ``aadd`` if it has one)."""
        for ch in order.challenges:
            if hasattr(self.dns, "aadd"):
                await self.dns.aadd(ch.record_name, "TXT", f'"{ch.txt_value}"', 60)
            else:
                self.dns.add(ch.record_name, "TXT", f'"{ch.txt_value}"', 60)

    async def acleanup(self, order: Order) -> None:
        for ch in order.challenges:
            if hasattr(self.dns, "aremove"):
                await self.dns.aremove(ch.record_name, "TXT", f'"{ch.txt_value}"')
            else:
                self.dns.remove(ch.record_name, "TXT", f'"{ch.txt_value}"')

    def finish(self, order: Order, *, key: Optional[PrivateKey] = None,
               name: Optional[str] = None) -> Lineage:
        """The CA checks the TXT records with real DNS queries, then the files are written."""
        outcomes = {ch.record_name: self.resolver.lookup(ch.record_name, "TXT")
                    for ch in order.challenges}
        return self._complete(order, outcomes, key, name)

    async def afinish(self, order: Order, *, key: Optional[PrivateKey] = None,
                      name: Optional[str] = None) -> Lineage:
        """:meth:`finish` for asyncio code (the lookups use the async resolver)."""
        outcomes = {ch.record_name: await self.resolver.alookup(ch.record_name, "TXT")
                    for ch in order.challenges}
        return self._complete(order, outcomes, key, name)

    def certonly(self, domains: Sequence[str], *, key: Optional[PrivateKey] = None,
                 name: Optional[str] = None) -> Lineage:
        """Begin, publish the TXT records, finish, remove the records."""
        order = self.begin(domains)
        self.publish(order)
        try:
            return self.finish(order, key=key, name=name)
        finally:
            self.cleanup(order)

    async def acertonly(self, domains: Sequence[str], *, key: Optional[PrivateKey] = None,
                        name: Optional[str] = None) -> Lineage:
        """:meth:`certonly` for asyncio code."""
        order = self.begin(domains)
        await self.apublish(order)
        try:
            return await self.afinish(order, key=key, name=name)
        finally:
            await self.acleanup(order)

    def _complete(self, order: Order, outcomes: Dict[str, Any], key: Optional[PrivateKey],
                  name: Optional[str]) -> Lineage:
        self.ca.validate(order, outcomes.__getitem__)
        if order.status != "ready":
            raise IssuanceError("Some challenges have failed.\n" + "".join(
                f"  Domain: {c.name}\n  Type:   dns\n  Detail: {c.error}\n"
                for c in order.challenges if c.status != "valid"))
        key = key or generate_key("rsa" if self.key_type == "rsa" else "ec")
        issued = self.ca.finalize(order, make_csr(key, order.names), days=self.days,
                                  now=_now(None, self.clock))
        issued.key = key
        return self._install(name or order.names[0], issued.cert, issued.chain, key)

    # -- files ------------------------------------------------------------------------
    def _install(self, name: str, cert: Any, chain: List[Any], key: PrivateKey) -> Lineage:
        archive = self.config_dir / "archive" / name
        live = self.config_dir / "live" / name
        version = 1 + max((int(p.stem[4:]) for p in archive.glob("cert*.pem")
                           if p.stem[4:].isdigit()), default=0)
        data = {"cert": cert_pem(cert), "chain": cert_pem(*chain),
                "fullchain": cert_pem(cert, *chain), "privkey": key_pem(key)}
        for kind in _FILES:
            _write(archive / f"{kind}{version}.pem", data[kind],
                   0o600 if kind == "privkey" else 0o644)
        live.mkdir(parents=True, exist_ok=True)
        for kind in _FILES:
            link, tmp = live / f"{kind}.pem", live / f".{kind}.pem.new"
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(f"../../archive/{name}/{kind}{version}.pem", tmp)
            os.replace(tmp, link)            # the switch to the new version is atomic
        (live / "README").write_text(
            "This directory contains your keys and certificates.\n\n"
            "`privkey.pem`  : the private key for your certificate.\n"
            "`fullchain.pem`: the certificate file used in most server software.\n"
            "`chain.pem`    : used for OCSP stapling in Nginx >=1.3.7.\n"
            "`cert.pem`     : will break many server configurations, and should not be used\n"
            "                 without reading further documentation.\n")
        conf = self.config_dir / "renewal" / f"{name}.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"# renew_before_expiry = {self.renew_before_days} days\n"
            f"archive_dir = {archive}\n" + "".join(f"{k} = {live / (k + '.pem')}\n" for k in _FILES)
            + "\n[renewalparams]\nauthenticator = manual\npref_challs = dns-01,\n"
            f"server = lab-ca\nkey_type = {self.key_type}\n"
            f"domains = {', '.join(describe(cert).sans)}\n")
        log.info("certificate for %s saved at %s (version %d)", name, live, version)
        return Lineage(name, live, version, describe(cert))

    def certificates(self) -> List[Lineage]:
        """Every lineage under ``live/`` (``certbot certificates``)."""
        out = []
        for live in sorted((self.config_dir / "live").glob("*/cert.pem")):
            target = os.readlink(live)
            version = int("".join(ch for ch in Path(target).stem if ch.isdigit()) or 0)
            out.append(Lineage(live.parent.name, live.parent, version,
                               describe(load_certs(live)[0])))
        return out

    # -- renewal ----------------------------------------------------------------------
    def due(self, lineage: Lineage) -> bool:
        """True when fewer than ``renew_before_days`` days are left, by the lab clock."""
        now = self.ca.cert_time(_now(None, self.clock))     # lab time, as certificates carry it
        return lineage.info.days_left(now) < self.renew_before_days

    def renew(self, *, force: bool = False) -> List[RenewResult]:
        """``certbot renew``: reissue every lineage that is due (or all with *force*)."""
        results = []
        for lineage in self.certificates():
            if not (force or self.due(lineage)):
                results.append(self._skip(lineage))
                continue
            new = self.certonly(list(lineage.info.sans), name=lineage.name)
            results.append(self._renewed(new))
        return results

    async def arenew(self, *, force: bool = False) -> List[RenewResult]:
        """:meth:`renew` for asyncio code."""
        results = []
        for lineage in self.certificates():
            if not (force or self.due(lineage)):
                results.append(self._skip(lineage))
                continue
            new = await self.acertonly(list(lineage.info.sans), name=lineage.name)
            results.append(self._renewed(new))
        return results

    @staticmethod
    def _skip(lineage: Lineage) -> RenewResult:
        return RenewResult(lineage.name, False, lineage.info.not_after,
                           f"Certificate not yet due for renewal ({lineage.name}, expires "
                           f"{lineage.info.not_after:%Y-%m-%d})")

    @staticmethod
    def _renewed(lineage: Lineage) -> RenewResult:
        return RenewResult(lineage.name, True, lineage.info.not_after,
                           f"Renewing an existing certificate for {lineage.name}: "
                           f"now version {lineage.version}, expires "
                           f"{lineage.info.not_after:%Y-%m-%d}")


class DnsUpdatePublisher:
    """Publish challenge records over the wire with DNS UPDATE (RFC 2136).

    What certbot's ``dns-rfc2136`` plugin does: instead of editing the lab's
    zone data in-process, the host sends an UPDATE to the name server, which
    must accept it (the lab's does, from loopback).  Pass it to
    :class:`Certbot` as *dns*.

    >>> bot = Certbot(host.path("/etc/letsencrypt"), lab.ca,                 # doctest: +SKIP
    ...               DnsUpdatePublisher(lab.dns.address), lab.resolver, clock=lab.clock)
    """

    def __init__(self, server: Tuple[str, int], *, zone: Optional[str] = None,
                 timeout: float = 3.0) -> None:
        self.server: Tuple[str, int] = (str(server[0]), int(server[1]))
        self.zone, self.timeout = zone, timeout

    def _zone_of(self, name: str, soa: Any) -> str:
        if self.zone:
            return self.zone
        # The zone is the owner of the SOA that answers for the name (as nsupdate finds it).
        for rrset in list(soa.answer) + list(soa.authority):
            if rrset.rdtype == dns.rdatatype.SOA:
                return str(rrset.name.to_text())
        raise IssuanceError(f"no zone found for {name} on {self.server[0]}#{self.server[1]}")

    def _message(self, zone: str, name: str, rtype: str, value: Optional[str],
                 ttl: int, adding: bool) -> Any:
        update = dns.update.UpdateMessage(zone)
        owner = dns.name.from_text(name)
        if adding:
            update.add(owner, ttl, rtype, value)
        elif value is None:
            update.delete(owner, rtype)
        else:
            update.delete(owner, rtype, value)
        return update

    @staticmethod
    def _check(reply: Any, name: str) -> None:
        if reply.rcode() != dns.rcode.NOERROR:
            raise IssuanceError(f"DNS update of {name} refused: {dns.rcode.to_text(reply.rcode())}")

    def add(self, name: str, rtype: str, value: str, ttl: int = 60) -> None:
        soa = dns.query.udp(dns.message.make_query(name, "SOA"), self.server[0],
                            port=self.server[1], timeout=self.timeout)
        msg = self._message(self._zone_of(name, soa), name, rtype, value, ttl, True)
        self._check(dns.query.udp(msg, self.server[0], port=self.server[1],
                                  timeout=self.timeout), name)

    def remove(self, name: str, rtype: Optional[str] = None, value: Optional[str] = None) -> None:
        soa = dns.query.udp(dns.message.make_query(name, "SOA"), self.server[0],
                            port=self.server[1], timeout=self.timeout)
        msg = self._message(self._zone_of(name, soa), name, rtype or "ANY", value, 0, False)
        self._check(dns.query.udp(msg, self.server[0], port=self.server[1],
                                  timeout=self.timeout), name)

    async def aadd(self, name: str, rtype: str, value: str, ttl: int = 60) -> None:
        soa = await dns.asyncquery.udp(dns.message.make_query(name, "SOA"), self.server[0],
                                       port=self.server[1], timeout=self.timeout)
        msg = self._message(self._zone_of(name, soa), name, rtype, value, ttl, True)
        self._check(await dns.asyncquery.udp(msg, self.server[0], port=self.server[1],
                                             timeout=self.timeout), name)

    async def aremove(self, name: str, rtype: Optional[str] = None,
                      value: Optional[str] = None) -> None:
        soa = await dns.asyncquery.udp(dns.message.make_query(name, "SOA"), self.server[0],
                                       port=self.server[1], timeout=self.timeout)
        msg = self._message(self._zone_of(name, soa), name, rtype or "ANY", value, 0, False)
        self._check(await dns.asyncquery.udp(msg, self.server[0], port=self.server[1],
                                             timeout=self.timeout), name)
