"""The lab's DNS: zone data and an authoritative name server on loopback.

Every lab host's names live here (A, PTR, MX, TXT, CNAME ...) and are served
by a real DNS server speaking the wire protocol over UDP and TCP (RFC 1035
§4.2), so ``dig``, ``host``, dnspython and the lab's own smtp client all see
the same answers.

>>> import asyncio
>>> lab_dns = LabDNS()
>>> lab_dns.add("example.org", "MX", "10 mail.example.org")
Record(name='example.org.', rtype='MX', value='10 mail.example.org.', ttl=300)
>>> async def demo():
...     ip, port = await lab_dns.start("127.0.0.1", 0)
...     try:
...         return (await lab_dns.aquery("example.org", "MX")).answer
...     finally:
...         await lab_dns.stop()
>>> asyncio.run(demo())
['10 mail.example.org.']

Zones (:mod:`labmail.net.zone`).  The server is authoritative for every zone it holds.  ``add()``
creates the zone of a name on first use, cut at the name's last two labels
(``mail.example.org`` goes into the zone ``example.org``); call
:meth:`LabDNS.zone` first for other cuts (``example.co.uk``).  Each zone has
an SOA and an NS record, and its serial grows with every change, as a
hand-edited zone file's would.

Answers follow RFC 1034 §4.3.2: a name with records but none of the asked
type is NODATA (``NOERROR`` with an empty answer); a name that does not exist
at all is ``NXDOMAIN``; both carry the zone's SOA for negative caching
(RFC 2308 §3).  The server is the whole DNS of the simulated internet, so a
name outside every zone does not exist: ``NXDOMAIN`` with the SOA of the
lab's root (a mail to ``gmail.com`` bounces with "Host not found", as for any
domain that is not registered).

Besides queries it takes zone transfers over TCP (``dig axfr example.org``)
and dynamic updates (RFC 2136, ``nsupdate``), so a dns-01 hook can publish its
TXT record over the wire as it would on a real name server.
"""
from __future__ import annotations

import logging
import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Tuple

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.reversename
import dns.rrset

from .dnsserver import DNSListener
from .query import QueryResult, aquery_server, query_server
from .zone import Record, Zone, _name, parse_zone_file

__all__ = ["Record", "Zone", "LabDNS", "QueryLogEntry", "register_host",
           "unregister_host", "dnsbl_list", "dnsbl_delist"]

log = logging.getLogger(__name__)

_MAX_CNAME_CHAIN = 8          # bound CNAME chasing (loops in lesson data)


@dataclass(frozen=True)
class QueryLogEntry:
    """One query the server answered (like BIND's query log)."""

    client: str
    transport: str
    qname: str
    qtype: str
    rcode: str


class _Answer:
    """What the authoritative logic decided; the server turns it into a message."""

    def __init__(self) -> None:
        self.rcode = dns.rcode.NOERROR
        self.answer: List[dns.rrset.RRset] = []
        self.authority: List[dns.rrset.RRset] = []
        self.additional: List[dns.rrset.RRset] = []
        self.authoritative = True


class LabDNS:
    """The lab's authoritative DNS data and its UDP+TCP server.

    >>> lab_dns = LabDNS()
    >>> register_host(lab_dns, "mail.example.org", "127.0.0.3")
    >>> [str(r) for r in lab_dns.records("example.org") if r.rtype == "MX"]
    ['example.org.\\t300\\tIN\\tMX\\t10 mail.example.org.']

    Thread-safe: lessons edit records from the notebook's thread while the
    server answers on the lab's loop.
    """

    def __init__(self, *, ttl: int = 300, nameserver: str = "ns.lab.",
                 query_log_size: int = 200, clock: Any = None, seed: int = 53) -> None:
        self.ttl = ttl
        self.clock = clock           # for the WHEN line of query()'s dig output
        # Query ids of query(): seeded, so lesson outputs repeat (a resolver on the
        # internet must use unpredictable ids; this one only talks to itself).
        self._qids = random.Random(seed)
        self.nameserver = nameserver
        self.zones: Dict[dns.name.Name, Zone] = {}
        # Only for negative answers about names outside every zone (not in self.zones,
        # so that add() still files each name under its own domain's zone).
        self._root = Zone(".", nameserver=nameserver, ttl=ttl)
        self.query_log: Deque[QueryLogEntry] = deque(maxlen=query_log_size)
        self._lock = threading.RLock()
        self._listener: Optional[DNSListener] = None
        self.address: Optional[Tuple[str, int]] = None

    # -- zone data -----------------------------------------------------------
    def zone(self, origin: str, *, create: bool = True) -> Zone:
        """The zone with this origin, created (empty but for SOA/NS) if needed."""
        key = _name(origin)
        with self._lock:
            if key not in self.zones:
                if not create:
                    raise KeyError(f"no zone {key}")
                self.zones[key] = Zone(key.to_text(), nameserver=self.nameserver, ttl=self.ttl)
            return self.zones[key]

    def find_zone(self, name: "str | dns.name.Name") -> Optional[Zone]:
        """The zone holding *name*: the one with the longest matching origin."""
        owner = _name(name)
        with self._lock:
            best = None
            for origin, zone in self.zones.items():
                if owner.is_subdomain(origin) and (best is None or len(origin) > len(best.origin)):
                    best = zone
            return best

    def add(self, name: str, rtype: str, value: str, ttl: Optional[int] = None) -> Record:
        """Add a record, creating its zone if needed.

        >>> LabDNS().add("example.org", "MX", "10 mail.example.org").value
        '10 mail.example.org.'
        """
        owner = _name(name)
        with self._lock:
            zone = self.find_zone(owner)
            if zone is None:
                labels = owner.labels[-3:] if len(owner.labels) > 2 else owner.labels
                zone = self.zone(dns.name.Name(labels).to_text())
            return zone.add(owner.to_text(), rtype, value, ttl)

    def set(self, name: str, rtype: str, value: str, ttl: Optional[int] = None) -> Record:
        """Replace every *rtype* record of *name* with this one (a "change")."""
        with self._lock:
            self.remove(name, rtype)
            return self.add(name, rtype, value, ttl)

    def remove(self, name: str, rtype: Optional[str] = None, value: Optional[str] = None) -> int:
        """Remove records; returns the number removed (0 if none matched).

        >>> d = LabDNS(); _ = d.add("www.example.org", "A", "127.0.0.9")
        >>> d.remove("www.example.org", "A")
        1
        """
        with self._lock:
            zone = self.find_zone(name)
            return zone.remove(name, rtype, value) if zone else 0

    def records(self, name: Optional[str] = None) -> List[Record]:
        """Every record of every zone, or only those owned by *name*."""
        with self._lock:
            return [r for z in sorted(self.zones.values(), key=lambda z: z.origin.to_text())
                    for r in z.records(name)]

    def load_zone(self, text: str, origin: str, *, path: str = "<zone file>",
                  replace: bool = True) -> Zone:
        """Read a BIND-style zone file into the zone *origin*; returns the zone.

        ``$ORIGIN``, ``$TTL``, ``@`` and names relative to the origin work as in
        ``/etc/bind/db.example.org``.  SOA records in the text are skipped (the
        zone keeps its own, whose serial counts edits).  With *replace* the
        zone's other records go first, as reloading a zone file does.
        Mistakes raise :class:`~labmail.errors.ConfigError` with the line.

        >>> z = LabDNS().load_zone("$TTL 300\\n"
        ...                        "@     IN MX 10 mail\\n"
        ...                        "mail  IN A  127.0.0.3\\n", "example.org")
        >>> [r.value for r in z.records() if r.rtype in ("MX", "A")]
        ['10 mail.example.org.', '127.0.0.3']
        """
        parsed = parse_zone_file(text, origin, default_ttl=self.ttl, path=path)
        apex = _name(origin)
        with self._lock:
            zone = self.zone(apex.to_text())
            if replace:
                for rec in zone.records():
                    managed = rec.rtype == "SOA" or (rec.rtype == "NS" and rec.value == self.nameserver
                                                     and rec.name == zone.origin.to_text())
                    if not managed:
                        zone.remove(rec.name, rec.rtype, rec.value)
            for owner, rds in parsed.iterate_rdatasets():
                if rds.rdtype == dns.rdatatype.SOA:
                    continue
                for rd in rds:
                    zone.add(owner.to_text(), dns.rdatatype.to_text(rds.rdtype), rd.to_text(),
                             rds.ttl)
        return zone

    # -- authoritative logic (RFC 1034 §4.3.2, simplified: no delegations) ------
    def resolve(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> _Answer:
        """Decide the answer to one question from the zone data (no I/O)."""
        ans = _Answer()
        with self._lock:
            zone = self.find_zone(qname)
            if zone is None:
                ans.rcode = dns.rcode.NXDOMAIN
                ans.authority.append(self._root.soa_for_negative())
                return ans
            name = qname.canonicalize()
            for _ in range(_MAX_CNAME_CHAIN):
                if rdtype == dns.rdatatype.ANY:
                    found = [zone.rrset(name, t) for t in zone.types_at(name)]
                    ans.answer += [r for r in found if r is not None]
                    break
                rrset = zone.rrset(name, rdtype)
                if rrset is not None:
                    ans.answer.append(rrset)
                    break
                cname = zone.rrset(name, dns.rdatatype.CNAME)
                if cname is None:
                    break
                ans.answer.append(cname)
                name = cname[0].target.canonicalize()
                nxt = self.find_zone(name)
                if nxt is None:
                    return ans           # the target is elsewhere: the client must chase it
                zone = nxt
            if not ans.answer or ans.answer[-1].rdtype == dns.rdatatype.CNAME:
                if not zone.name_exists(name):
                    ans.rcode = dns.rcode.NXDOMAIN
                ans.authority.append(zone.soa_for_negative())
                return ans
            self._add_additional(ans)
        return ans

    def _update(self, msg: dns.message.Message) -> dns.rcode.Rcode:
        """Apply a dynamic update (RFC 2136): prerequisites first, then all or nothing.

        What ``nsupdate`` and dns-01 hooks (certbot's rfc2136 plugin) send.  No
        TSIG: like ``allow-update { 127.0.0.1; }``, anyone who reaches the
        loopback server may update it -- fine in a lab, never on a network.
        """
        if len(msg.question) != 1 or msg.question[0].rdtype != dns.rdatatype.SOA:
            return dns.rcode.FORMERR                                 # RFC 2136 §3.1.1
        origin = msg.question[0].name.canonicalize()
        with self._lock:
            zone = self.zones.get(origin)
            if zone is None:
                return dns.rcode.NOTAUTH
            for rrset in list(msg.answer) + list(msg.authority):    # prerequisites, updates
                if not rrset.name.canonicalize().is_subdomain(origin):
                    return dns.rcode.NOTZONE                         # RFC 2136 §3.2.5/§3.4.1.3
            return zone.apply_update(msg.answer, msg.authority)

    def _transfer(self, origin: dns.name.Name, transport: str) -> _Answer:
        """A zone transfer (``dig axfr``): SOA, every record, SOA again (RFC 5936 §2.2).

        Only over TCP (RFC 5936 §4.2) and only for a zone's own origin; one
        message, which is plenty for lesson-sized zones.
        """
        ans = _Answer()
        with self._lock:
            zone = self.zones.get(origin.canonicalize())
            if transport != "TCP" or zone is None:
                ans.rcode = dns.rcode.NOTIMP if transport != "TCP" else dns.rcode.NOTAUTH
                ans.authoritative = False
                return ans
            ans.answer = zone.rrsets()      # begins with the SOA
            soa = ans.answer[0]
            ans.answer.append(soa)
        return ans

    def _add_additional(self, ans: _Answer) -> None:
        # Addresses of MX/NS targets, as BIND adds them to the additional section.
        for rrset in list(ans.answer):
            if rrset.rdtype not in (dns.rdatatype.MX, dns.rdatatype.NS):
                continue
            for rd in rrset:
                target = rd.exchange if rrset.rdtype == dns.rdatatype.MX else rd.target
                zone = self.find_zone(target)
                for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    extra = zone.rrset(target.canonicalize(), t) if zone else None
                    if extra is not None and extra not in ans.additional:
                        ans.additional.append(extra)

    def handle(self, wire: bytes, *, client: str = "-", transport: str = "UDP",
               max_size: int = 512) -> Optional[bytes]:
        """One query in wire format -> the response in wire format (sans-IO).

        Returns None for garbage that has no header to answer to.
        """
        try:
            query = dns.message.from_wire(wire)
        except dns.message.ShortHeader:
            return None
        except dns.exception.DNSException:
            return _formerr(wire)
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA          # authoritative-only, no recursion
        if query.edns >= 0:
            response.use_edns(0, payload=1232)   # the DNS flag day 2020 size, as BIND
        qtext, ttext = "-", "-"
        if query.opcode() == dns.opcode.UPDATE:
            qtext = query.question[0].name.to_text() if query.question else "-"
            ttext = "UPDATE"
            response.set_rcode(self._update(query))
        elif query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)           # RFC 6891 §6.1.3
        elif len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        else:
            q = query.question[0]
            qtext, ttext = q.name.to_text(), dns.rdatatype.to_text(q.rdtype)
            if q.rdtype == dns.rdatatype.AXFR:
                ans = self._transfer(q.name, transport)
            else:
                ans = self.resolve(q.name, q.rdtype)
            response.set_rcode(ans.rcode)
            if ans.authoritative:
                response.flags |= dns.flags.AA
            response.answer, response.authority, response.additional = (
                ans.answer, ans.authority, ans.additional)
        if transport == "UDP" and query.edns >= 0:
            max_size = max(512, min(query.payload, 4096))   # RFC 6891 §6.2.5
        self.query_log.append(QueryLogEntry(client, transport, qtext, ttext,
                                            dns.rcode.to_text(response.rcode())))
        try:
            # No shuffling: a fixed order keeps lesson outputs stable.
            return response.to_wire(max_size=max_size if transport == "UDP" else 65535,
                                    want_shuffle=False)
        except dns.exception.TooBig:
            # RFC 1035 §4.2.1 / RFC 2181 §9: set TC so the client retries over TCP.
            response.answer, response.authority, response.additional = [], [], []
            response.flags |= dns.flags.TC
            return response.to_wire()

    # -- server (the sockets are labmail.net.dnsserver's) ------------------------
    async def start(self, ip: str = "127.0.0.1", port: int = 0) -> Tuple[str, int]:
        """Listen on *ip*:*port* over UDP and TCP (same port); returns the address.

        With ``port=0`` a free port is picked that is free for both protocols.
        Runs on the calling (the lab's) event loop.
        """
        self._listener = await DNSListener.open(
            lambda wire, client, transport: self.handle(wire, client=client, transport=transport),
            ip, port)
        assert self._listener.address is not None
        self.address = address = self._listener.address
        log.info("lab DNS listening on %s port %d (UDP and TCP)", *address)
        return address

    async def stop(self) -> None:
        """Stop listening and close open TCP connections."""
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        self.address = None

    # -- asking it, like dig -------------------------------------------------
    def query(self, name: str, rtype: str = "A", *, tcp: bool = False,
              timeout: float = 2.0) -> QueryResult:
        """Ask the running server, over the network, like ``dig``; blocking.

        Call it from notebook cells, not from code on the lab's loop (use
        :meth:`aquery` there).  ``print()`` the result for dig's output;
        ``result.format(stats=False)`` leaves out the timing lines, for
        outputs that must not change between runs.

        >>> lab.dns.query("example.org", "MX").answer      # doctest: +SKIP
        ['10 mail.example.org.']
        """
        return query_server(self._require_address(), name, rtype, tcp=tcp, timeout=timeout,
                            qid=self._qids.randrange(1, 65536), clock=self.clock)

    async def aquery(self, name: str, rtype: str = "A", *, tcp: bool = False,
                     timeout: float = 2.0) -> QueryResult:
        """:meth:`query` for asyncio code."""
        return await aquery_server(self._require_address(), name, rtype, tcp=tcp,
                                   timeout=timeout, qid=self._qids.randrange(1, 65536),
                                   clock=self.clock)

    def _require_address(self) -> Tuple[str, int]:
        if self.address is None:
            raise RuntimeError("the lab DNS server is not running (await start() first)")
        return self.address

    def __repr__(self) -> str:
        where = "%s#%d" % self.address if self.address else "stopped"
        return f"<LabDNS {where} zones={len(self.zones)}>"


def _formerr(wire: bytes) -> Optional[bytes]:
    """A FORMERR reply echoing the query id (RFC 1035 §4.1.1)."""
    if len(wire) < 12:
        return None
    flags = dns.flags.QR | (int.from_bytes(wire[2:4], "big") & dns.flags.RD)
    return wire[:2] + (flags | dns.rcode.FORMERR).to_bytes(2, "big") + bytes(8)


def register_host(lab_dns: LabDNS, hostname: str, ip: str, *, mx: bool = True,
                  preference: int = 10) -> None:
    """Publish a mail host: its A and PTR records and an MX for its domain.

    ``mail.example.org`` at 127.0.0.3 gives ``mail.example.org A 127.0.0.3``,
    ``3.0.0.127.in-addr.arpa PTR mail.example.org`` and
    ``example.org MX 10 mail.example.org``.

    >>> d = LabDNS(); register_host(d, "mail.example.org", "127.0.0.3")
    >>> sorted(r.rtype for r in d.records() if r.rtype not in ("SOA", "NS"))
    ['A', 'MX', 'PTR']
    """
    host = _name(hostname)
    with lab_dns._lock:
        lab_dns.set(host.to_text(), "A", ip)
        lab_dns.set(dns.reversename.from_address(ip).to_text(), "PTR", host.to_text())
        if mx and len(host.labels) > 3:     # a domain of two labels or more
            domain = host.parent().to_text()
            value = f"{preference} {host.to_text()}"
            if not any(r.rtype == "MX" and r.value == value for r in lab_dns.records(domain)):
                lab_dns.add(domain, "MX", value)


def unregister_host(lab_dns: LabDNS, hostname: str, ip: str) -> None:
    """Withdraw what :func:`register_host` published."""
    host = _name(hostname)
    with lab_dns._lock:
        lab_dns.remove(host.to_text(), "A", ip)
        lab_dns.remove(dns.reversename.from_address(ip).to_text(), "PTR", host.to_text())
        for r in lab_dns.records(host.parent().to_text()):
            if r.rtype == "MX" and r.value.split()[-1] == host.to_text():
                lab_dns.remove(r.name, "MX", r.value)


def dnsbl_list(lab_dns: LabDNS, zone: str, ip: str, *, code: str = "127.0.0.2",
               reason: Optional[str] = None) -> str:
    """List *ip* in the DNS blocklist *zone* (RFC 5782 §2); returns the record's name.

    An A record (the return code, 127.0.0.2 by convention) and, with
    *reason*, the TXT record that mail servers quote when they reject.

    >>> d = LabDNS()
    >>> dnsbl_list(d, "zen.spamhaus.lab", "127.0.0.9", reason="listed for the lesson")
    '9.0.0.127.zen.spamhaus.lab.'
    >>> d.zone("zen.spamhaus.lab") is not None
    True
    """
    from .resolver import dnsbl_name
    name = dnsbl_name(ip, zone)
    with lab_dns._lock:
        # The list is a zone of its own, as on the internet (not a part of "spamhaus.lab").
        lab_dns.zone(dns.name.from_text(zone).canonicalize().to_text())
        lab_dns.set(name, "A", code)
        if reason is not None:
            lab_dns.set(name, "TXT", reason)
    return name


def dnsbl_delist(lab_dns: LabDNS, zone: str, ip: str) -> int:
    """Remove *ip* from DNSBL *zone*; returns the number of records removed."""
    from .resolver import dnsbl_name
    return lab_dns.remove(dnsbl_name(ip, zone))
