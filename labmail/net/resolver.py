"""Asking the lab's DNS server: MX with fallback, PTR, TXT, DNSBL, and dig.

:class:`LabResolver` is a stub resolver pointed at the lab server only (no
``/etc/resolv.conf``, no cache, so a record changed in a lesson is seen at
once).  Every lookup exists twice: blocking (``mx_hosts``) for notebook
cells and commands, and ``async`` (``amx_hosts``) for servers on the lab's
loop.  Both drive one shared decision procedure (a generator that yields the
questions it needs answered), so they cannot disagree.

>>> r = LabResolver("127.0.0.1", 10053)                 # doctest: +SKIP
>>> [(m.preference, m.name) for m in r.mx_hosts("example.org")]   # doctest: +SKIP
[(10, 'mail.example.org'), (20, 'backup.example.org')]
>>> r.dnsbl_lookup("127.0.0.2", "zen.spamhaus.lab")     # doctest: +SKIP
(True, ['127.0.0.2'], ['listed for the lesson'])
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Generator, List, Optional, Tuple

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver
import dns.reversename

from ..errors import LabError

__all__ = ["LabResolver", "MXHost", "DNSLookupError", "Outcome", "QueryResult",
           "dnsbl_lookup", "dnsbl_name", "query_server", "aquery_server", "format_dig"]

# h_errno texts, as Postfix prints them in "Name service error for ..." reasons.
HOST_NOT_FOUND = "Host not found"
TRY_AGAIN = "Host not found, try again"
NO_RECOVERY = "Non-recoverable error"
NO_DATA = "Host found but no data record of requested type"


class DNSLookupError(LabError):
    """A lookup failed; ``str()`` is Postfix's wording of the reason.

    ``dsn`` is the enhanced status code Postfix's smtp client gives it
    (``5.4.4`` not found, ``4.4.3`` try again, ``5.4.3`` failure, ``5.1.0``
    null MX); ``permanent`` says whether to bounce rather than defer.

    >>> str(DNSLookupError("example.invalid", "A", HOST_NOT_FOUND))
    'Host or domain name not found. Name service error for name=example.invalid type=A: Host not found'
    >>> err = DNSLookupError("example.org", "MX", TRY_AGAIN)
    >>> err.permanent, err.dsn
    (False, '4.4.3')
    """

    _DSN = {HOST_NOT_FOUND: "5.4.4", NO_DATA: "5.4.4", TRY_AGAIN: "4.4.3", NO_RECOVERY: "5.4.3"}

    def __init__(self, name: str, rtype: str, reason: str, text: Optional[str] = None,
                 dsn: Optional[str] = None) -> None:
        self.name, self.rtype, self.reason = name.rstrip("."), rtype, reason
        self.text = text or ("Host or domain name not found. Name service error for "
                             f"name={self.name} type={rtype}: {reason}")
        self.dsn = dsn or self._DSN.get(reason, "5.4.3")
        super().__init__(self.text)

    @property
    def permanent(self) -> bool:
        """True when retrying cannot help (bounce), False for "try again" (defer)."""
        return self.dsn.startswith("5")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class MXHost:
    """One mail exchanger: preference, host name (no trailing dot), its addresses.

    ``implicit`` is True when the domain had no MX and its own A record stands
    in for it (RFC 5321 §5.1); ``error`` says why a host has no addresses.
    """

    preference: int
    name: str
    addresses: Tuple[str, ...] = ()
    implicit: bool = False
    error: Optional[DNSLookupError] = None     # why it has no addresses


@dataclass(frozen=True)
class Outcome:
    """The result of one question: ``status`` is OK, NXDOMAIN, NODATA or TRY_AGAIN."""

    name: str
    rtype: str
    status: str
    values: Tuple[Any, ...] = ()      # dnspython rdata objects

    def texts(self) -> List[str]:
        return [rd.to_text() for rd in self.values]


_Flow = Generator[Tuple[str, str], Outcome, Any]


def _address_error(name: str, status: str) -> DNSLookupError:
    reason = {"NXDOMAIN": HOST_NOT_FOUND, "NODATA": NO_DATA}.get(status, TRY_AGAIN)
    return DNSLookupError(name, "A", reason)


def _mx_flow(domain: str) -> _Flow:
    """Postfix's smtp_domain_addr(): MX by preference, else the domain's A record.

    As in Postfix, an MX lookup that finds nothing (NXDOMAIN or NODATA) falls
    back to the address lookup, so the reason given names ``type=A``; only a
    temporary MX failure is reported as ``type=MX``.
    """
    domain = domain.rstrip(".")
    mx = yield (domain, "MX")
    if mx.status == "TRY_AGAIN":
        raise DNSLookupError(domain, "MX", TRY_AGAIN)
    if mx.status in ("NXDOMAIN", "NODATA"):
        # No MX: the domain's own address is an implicit MX of preference 0 (RFC 5321 §5.1).
        a = yield (domain, "A")
        if a.status != "OK":
            raise _address_error(domain, a.status)
        return [MXHost(0, domain, tuple(a.texts()), implicit=True)]
    rds = sorted(mx.values, key=lambda rd: (rd.preference, rd.exchange.to_text().lower()))
    if len(rds) == 1 and rds[0].exchange == dns.name.root:
        # RFC 7505 §3: "0 ." says the domain accepts no mail at all.
        raise DNSLookupError(domain, "MX", NO_RECOVERY,
                             f"Domain {domain} does not accept mail (nullMX)", dsn="5.1.0")
    hosts = []
    for rd in rds:
        exchange = rd.exchange.to_text().rstrip(".")
        a = yield (exchange, "A")
        error = None if a.status == "OK" else _address_error(exchange, a.status)
        hosts.append(MXHost(rd.preference, exchange, tuple(a.texts()), error=error))
    if not any(h.addresses for h in hosts):
        # Postfix: "no MX host for %s has a valid address record"; the reason is the
        # last lookup's, deferred if any of them was temporary.
        last = hosts[-1].error
        assert last is not None
        soft = any(h.error is not None and not h.error.permanent for h in hosts)
        raise DNSLookupError(last.name, "A", last.reason, dsn="4.4.3" if soft else last.dsn)
    return hosts


def dnsbl_name(ip: str, zone: str) -> str:
    """The DNSBL query name: reversed octets (or nibbles for IPv6) + zone (RFC 5782 §2.1).

    >>> dnsbl_name("192.0.2.99", "zen.spamhaus.lab")
    '99.2.0.192.zen.spamhaus.lab.'
    """
    addr = ipaddress.ip_address(ip)
    rev = dns.reversename.from_address(str(addr))
    labels = rev.labels[:-3]          # drop in-addr.arpa. / ip6.arpa.
    return dns.name.Name(labels + dns.name.from_text(zone).labels).to_text()


def _dnsbl_flow(ip: str, zone: str) -> _Flow:
    name = dnsbl_name(ip, zone)
    a = yield (name, "A")
    if a.status == "TRY_AGAIN":
        raise DNSLookupError(name, "A", TRY_AGAIN)
    if a.status != "OK":
        return (False, [], [])
    txt = yield (name, "TXT")
    texts = [b"".join(rd.strings).decode("utf-8", "replace") for rd in txt.values]
    return (True, a.texts(), texts)


def _simple_flow(name: str, rtype: str) -> _Flow:
    out = yield (name, rtype)
    if out.status == "TRY_AGAIN":
        raise DNSLookupError(name, rtype, TRY_AGAIN)
    if rtype == "TXT":
        return [b"".join(rd.strings).decode("utf-8", "replace") for rd in out.values]
    return [t.rstrip(".") if rtype in ("PTR", "CNAME", "NS") else t for t in out.texts()]


class LabResolver:
    """A stub resolver that asks only the lab's DNS server.

    >>> r = LabResolver("127.0.0.1", 10053, timeout=2.0)
    >>> r.nameserver
    ('127.0.0.1', 10053)
    """

    def __init__(self, ip: str, port: int = 53, *, timeout: float = 3.0) -> None:
        self.nameserver = (ip, port)
        self._sync = dns.resolver.Resolver(configure=False)
        self._async = dns.asyncresolver.Resolver(configure=False)
        for r in (self._sync, self._async):
            r.nameservers = [ip]
            r.port = port
            r.lifetime = timeout
            r.timeout = timeout / 2 if timeout > 1 else timeout
            r.cache = None                   # lessons change records and expect to see it

    # -- one question ----------------------------------------------------------
    def lookup(self, name: str, rtype: str = "A") -> Outcome:
        """Ask one question; never raises for NXDOMAIN/NODATA/timeouts."""
        try:
            ans = self._sync.resolve(_absolute(name), rtype, raise_on_no_answer=False)
        except Exception as exc:  # noqa: BLE001 - mapped to a status just below
            return _failed(name, rtype, exc)
        return _outcome(name, rtype, ans)

    async def alookup(self, name: str, rtype: str = "A") -> Outcome:
        """:meth:`lookup` for asyncio code."""
        try:
            ans = await self._async.resolve(_absolute(name), rtype, raise_on_no_answer=False)
        except Exception as exc:  # noqa: BLE001
            return _failed(name, rtype, exc)
        return _outcome(name, rtype, ans)

    def _run(self, flow: _Flow) -> Any:
        try:
            question = next(flow)
            while True:
                question = flow.send(self.lookup(*question))
        except StopIteration as stop:
            return stop.value

    async def _arun(self, flow: _Flow) -> Any:
        try:
            question = next(flow)
            while True:
                question = flow.send(await self.alookup(*question))
        except StopIteration as stop:
            return stop.value

    # -- what mail software asks --------------------------------------------------
    def mx_hosts(self, domain: str) -> List[MXHost]:
        """Mail exchangers of *domain*, lowest preference first, with addresses.

        Falls back to the domain's A record when it has no MX (RFC 5321 §5.1);
        raises :class:`DNSLookupError` (``.permanent`` tells bounce from defer,
        ``.dsn`` gives Postfix's status code) when there is nowhere to send to.
        Equal preferences are ordered by name (Postfix shuffles them; the lab
        stays deterministic).
        """
        return self._run(_mx_flow(domain))

    async def amx_hosts(self, domain: str) -> List[MXHost]:
        """:meth:`mx_hosts` for asyncio code."""
        return await self._arun(_mx_flow(domain))

    def addresses(self, name: str) -> List[str]:
        """A records of *name* ([] if none)."""
        return self._run(_simple_flow(name, "A"))

    async def aaddresses(self, name: str) -> List[str]:
        return await self._arun(_simple_flow(name, "A"))

    def ptr(self, ip: str) -> List[str]:
        """Names of *ip* by its PTR records, without trailing dots ([] if none)."""
        return self._run(_simple_flow(dns.reversename.from_address(ip).to_text(), "PTR"))

    async def aptr(self, ip: str) -> List[str]:
        return await self._arun(_simple_flow(dns.reversename.from_address(ip).to_text(), "PTR"))

    def txt(self, name: str) -> List[str]:
        """TXT strings of *name*, each record's strings joined ([] if none)."""
        return self._run(_simple_flow(name, "TXT"))

    async def atxt(self, name: str) -> List[str]:
        return await self._arun(_simple_flow(name, "TXT"))

    def dnsbl_lookup(self, ip: str, zone: str) -> Tuple[bool, List[str], List[str]]:
        """Is *ip* listed in DNSBL *zone*? -> (listed, A records, TXT reasons).

        Raises :class:`DNSLookupError` only for temporary failures (a mail
        server then skips the list, as Postfix's reject_rbl_client does).
        """
        return self._run(_dnsbl_flow(ip, zone))

    async def adnsbl_lookup(self, ip: str, zone: str) -> Tuple[bool, List[str], List[str]]:
        return await self._arun(_dnsbl_flow(ip, zone))

    def __repr__(self) -> str:
        return "<LabResolver %s#%d>" % self.nameserver


def dnsbl_lookup(ip: str, zone: str, *, resolver: LabResolver) -> Tuple[bool, List[str], List[str]]:
    """Module-level form of :meth:`LabResolver.dnsbl_lookup`."""
    return resolver.dnsbl_lookup(ip, zone)


def _absolute(name: str) -> dns.name.Name:
    return dns.name.from_text(name)


def _outcome(name: str, rtype: str, ans: dns.resolver.Answer) -> Outcome:
    if ans.rrset is None:
        return Outcome(name, rtype, "NODATA")
    return Outcome(name, rtype, "OK", tuple(ans.rrset))


def _failed(name: str, rtype: str, exc: Exception) -> Outcome:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return Outcome(name, rtype, "NXDOMAIN")
    if isinstance(exc, dns.resolver.NoAnswer):
        return Outcome(name, rtype, "NODATA")
    if isinstance(exc, (dns.exception.DNSException, OSError)):
        return Outcome(name, rtype, "TRY_AGAIN")    # SERVFAIL, REFUSED, timeout, refused port
    raise exc


# Single queries and dig's output live in labmail.net.query; importable from here too.
from .query import QueryResult, aquery_server, format_dig, query_server  # noqa: E402
