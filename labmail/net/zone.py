"""DNS zone data for the lab: records as text, one zone with its SOA, zone files.

A :class:`Zone` holds the records of one domain (``example.org`` and the
names below it) with the SOA and NS records every zone has; its serial grows
with each edit, as a hand-edited zone file's would.  :func:`parse_zone_file`
reads BIND's zone-file syntax.  :class:`~labmail.net.dns.LabDNS` keeps the
zones and serves them.

>>> z = Zone("example.org")
>>> z.add("example.org", "MX", "10 mail.example.org").value
'10 mail.example.org.'
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import dns.exception
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset
import dns.zone

from ..errors import ConfigError

__all__ = ["Record", "Zone", "parse_zone_file"]

_IN = dns.rdataclass.IN


def _name(text: "str | dns.name.Name") -> dns.name.Name:
    """An absolute, lower-case name from user text ("Example.ORG" -> example.org.)."""
    if isinstance(text, dns.name.Name):
        return text.canonicalize()
    return dns.name.from_text(text.strip()).canonicalize()


def _rdtype(rtype: "str | int") -> dns.rdatatype.RdataType:
    return dns.rdatatype.RdataType.make(rtype.upper() if isinstance(rtype, str) else rtype)


def _rdata(rdtype: dns.rdatatype.RdataType, value: str) -> dns.rdata.Rdata:
    """Parse zone-file text; names are absolute ("mail.example.org" == "mail.example.org.").

    A TXT value written without quotes is one string, as a lesson means it
    (``v=spf1 mx -all``), cut into 255-byte pieces (RFC 1035 §3.3.14) the way
    long DKIM keys are published.
    """
    if rdtype == dns.rdatatype.TXT and not value.lstrip().startswith('"'):
        raw = value.encode()
        pieces = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(_IN, rdtype, pieces)
    return dns.rdata.from_text(_IN, rdtype, value, origin=dns.name.root, relativize=False)


@dataclass(frozen=True)
class Record:
    """One resource record as text: ``example.org. 300 IN MX 10 mail.example.org.``"""

    name: str
    rtype: str
    value: str
    ttl: int = 300

    def __str__(self) -> str:
        return f"{self.name}\t{self.ttl}\tIN\t{self.rtype}\t{self.value}"


class Zone:
    """The records of one zone, with its SOA and NS records.

    Not thread-safe by itself; :class:`LabDNS` guards its zones with a lock.

    >>> z = Zone("example.org")
    >>> z.add("mail.example.org", "A", "127.0.0.3").value
    '127.0.0.3'
    >>> [r.rtype for r in z.records()]
    ['SOA', 'NS', 'A']
    """

    def __init__(self, origin: str, *, nameserver: str = "ns.lab.",
                 admin: str = "hostmaster.lab.", ttl: int = 300) -> None:
        self.origin = _name(origin)
        self.ttl = ttl
        self.serial = 1
        self._nameserver = nameserver
        self._admin = admin
        self._data: Dict[Tuple[dns.name.Name, dns.rdatatype.RdataType], dns.rdataset.Rdataset] = {}
        self._put(self.origin, dns.rdatatype.NS, nameserver, ttl)
        self._set_soa()

    # -- editing -------------------------------------------------------------
    def _set_soa(self) -> None:
        # refresh retry expire minimum; minimum is the negative-caching TTL (RFC 2308 §4)
        text = f"{self._nameserver} {self._admin} {self.serial} 3600 600 86400 {self.ttl}"
        self._data.pop((self.origin, dns.rdatatype.SOA), None)
        self._put(self.origin, dns.rdatatype.SOA, text, self.ttl)

    def _put(self, owner: dns.name.Name, rdtype: dns.rdatatype.RdataType, value: str,
             ttl: int) -> Record:
        rd = _rdata(rdtype, value)
        rds = self._data.get((owner, rdtype))
        if rds is None:
            rds = self._data[(owner, rdtype)] = dns.rdataset.Rdataset(_IN, rdtype)
        rds.add(rd, ttl)
        rds.ttl = ttl        # an RRset has one TTL (RFC 2181 §5.2): the latest add sets it
        return Record(owner.to_text(), dns.rdatatype.to_text(rdtype), rd.to_text(), ttl)

    def add(self, name: str, rtype: str, value: str, ttl: Optional[int] = None) -> Record:
        """Add one record; *value* is in zone-file syntax ("10 mail.example.org")."""
        owner = _name(name)
        if not owner.is_subdomain(self.origin):
            raise ValueError(f"{owner} is not in zone {self.origin}")
        rdtype = _rdtype(rtype)
        if rdtype == dns.rdatatype.SOA:
            raise ValueError("the SOA record is managed by the zone; it changes with each edit")
        cname = (owner, dns.rdatatype.CNAME)
        if rdtype == dns.rdatatype.CNAME and any(k[0] == owner for k in self._data if k != cname):
            raise ValueError(f"{owner} has other records: a CNAME must stand alone (RFC 1034 §3.6.2)")
        if rdtype != dns.rdatatype.CNAME and cname in self._data:
            raise ValueError(f"{owner} is a CNAME: it cannot have other records (RFC 1034 §3.6.2)")
        record = self._put(owner, rdtype, value, self.ttl if ttl is None else int(ttl))
        self._bump()
        return record

    def remove(self, name: str, rtype: Optional[str] = None, value: Optional[str] = None) -> int:
        """Remove records of *name* (all, all of *rtype*, or the one *value*); returns how many."""
        owner = _name(name)
        removed = 0
        for key in [k for k in self._data if k[0] == owner]:
            if key[1] == dns.rdatatype.SOA or (rtype is not None and key[1] != _rdtype(rtype)):
                continue
            rds = self._data[key]
            if value is None:
                removed += len(rds)
                del self._data[key]
                continue
            rd = _rdata(key[1], value)
            if rd in rds:
                rds.discard(rd)
                removed += 1
                if not rds:
                    del self._data[key]
        if removed:
            self._bump()
        return removed

    def _bump(self) -> None:
        self.serial += 1
        self._set_soa()

    # -- reading -------------------------------------------------------------
    def records(self, name: Optional[str] = None) -> List[Record]:
        """All records (SOA and NS first, then in insertion order), or those of *name*."""
        owner = None if name is None else _name(name)
        order = {dns.rdatatype.SOA: 0, dns.rdatatype.NS: 1}
        keys = sorted(self._data, key=lambda k: (k[0] != self.origin, order.get(k[1], 2)))
        out = []
        for key in keys:
            if owner is not None and key[0] != owner:
                continue
            rds = self._data[key]
            out += [Record(key[0].to_text(), dns.rdatatype.to_text(key[1]), rd.to_text(), rds.ttl)
                    for rd in rds]
        return out

    def rrset(self, owner: dns.name.Name, rdtype: dns.rdatatype.RdataType
              ) -> Optional[dns.rrset.RRset]:
        """The RRset of *owner*/*rdtype* as dnspython holds it, or None."""
        rds = self._data.get((owner, rdtype))
        if rds is None:
            return None
        rrset = dns.rrset.RRset(owner, _IN, rdtype)
        # A fixed order keeps lesson outputs stable (real servers rotate RRsets).
        # Canonical DNSSEC order (RFC 4034 §6.3) sorts MX by preference, A numerically.
        for rd in sorted(rds):
            rrset.add(rd, rds.ttl)
        return rrset

    def rrsets(self) -> List[dns.rrset.RRset]:
        """Every RRset of the zone, SOA first, then by owner and type (a zone transfer's order)."""
        keys = sorted(self._data, key=lambda k: (k[1] != dns.rdatatype.SOA, k[0], k[1]))
        return [r for r in (self.rrset(*k) for k in keys) if r is not None]

    def name_exists(self, owner: dns.name.Name) -> bool:
        """True if *owner* has records or is an empty non-terminal (RFC 8020)."""
        return any(k[0] == owner or k[0].is_subdomain(owner) for k in self._data)

    def types_at(self, owner: dns.name.Name) -> List[dns.rdatatype.RdataType]:
        return [k[1] for k in self._data if k[0] == owner]

    def soa_for_negative(self) -> dns.rrset.RRset:
        """The SOA for a negative answer, TTL = min(SOA TTL, MINIMUM) (RFC 2308 §3)."""
        rrset = self.rrset(self.origin, dns.rdatatype.SOA)
        assert rrset is not None
        rrset.ttl = min(rrset.ttl, rrset[0].minimum)
        return rrset

    def apply_update(self, prerequisites: Sequence[dns.rrset.RRset],
                     updates: Sequence[dns.rrset.RRset]) -> dns.rcode.Rcode:
        """Apply an RFC 2136 update: every prerequisite (§2.4) must hold, then all updates.

        Owner names must already be known to lie in this zone.  Returns the
        rcode for the reply; on any failed prerequisite nothing changes.
        """
        for pre in prerequisites:                                    # RFC 2136 §3.2
            rcode = _prerequisite(self, pre)
            if rcode != dns.rcode.NOERROR:
                return rcode
        for upd in updates:                                          # RFC 2136 §3.4.2
            owner = upd.name.canonicalize().to_text()
            rtype = None if upd.rdtype == dns.rdatatype.ANY else dns.rdatatype.to_text(upd.rdtype)
            if upd.deleting is None:
                for rd in upd:
                    try:
                        self.add(owner, dns.rdatatype.to_text(upd.rdtype), rd.to_text(), upd.ttl)
                    except ValueError:           # SOA, or CNAME clashes: ignored (§3.4.2.2)
                        pass
            elif upd.deleting == dns.rdataclass.ANY:
                self.remove(owner, rtype)
            else:
                for rd in upd:
                    self.remove(owner, rtype, rd.to_text())
        return dns.rcode.NOERROR

    def to_text(self) -> str:
        """The zone as a zone file (``$ORIGIN`` plus one record a line)."""
        lines = [f"$ORIGIN {self.origin}", f"$TTL {self.ttl}"]
        return "\n".join(lines + [str(r) for r in self.records()]) + "\n"

    def __repr__(self) -> str:
        return f"<Zone {self.origin} serial={self.serial} records={len(self.records())}>"


def _prerequisite(zone: Zone, pre: dns.rrset.RRset) -> dns.rcode.Rcode:
    """Check one RFC 2136 §2.4 prerequisite against *zone*; NOERROR if it holds."""
    owner = pre.name.canonicalize()
    if pre.deleting == dns.rdataclass.ANY:
        if pre.rdtype == dns.rdatatype.ANY:                       # name is in use
            return dns.rcode.NOERROR if zone.types_at(owner) else dns.rcode.NXDOMAIN
        exists = zone.rrset(owner, pre.rdtype) is not None         # RRset exists
        return dns.rcode.NOERROR if exists else dns.rcode.NXRRSET
    if pre.deleting == dns.rdataclass.NONE:
        if pre.rdtype == dns.rdatatype.ANY:                       # name is not in use
            return dns.rcode.YXDOMAIN if zone.types_at(owner) else dns.rcode.NOERROR
        exists = zone.rrset(owner, pre.rdtype) is not None         # RRset does not exist
        return dns.rcode.YXRRSET if exists else dns.rcode.NOERROR
    have = zone.rrset(owner, pre.rdtype)                           # RRset exists, with values
    wanted = {rd.to_text() for rd in pre}
    if have is None or {rd.to_text() for rd in have} != wanted:
        return dns.rcode.NXRRSET
    return dns.rcode.NOERROR


def parse_zone_file(text: str, origin: str, *, default_ttl: int = 300,
                    path: str = "<zone file>") -> dns.zone.Zone:
    """Parse BIND zone-file text (``$ORIGIN``, ``$TTL``, ``@``, relative names).

    Errors raise :class:`~labmail.errors.ConfigError` naming *path* and the line.

    >>> z = parse_zone_file("@ IN MX 10 mail\\nmail IN A 127.0.0.3\\n", "example.org")
    >>> sorted(n.to_text() for n in z.nodes)
    ['example.org.', 'mail.example.org.']
    """
    apex = _name(origin)
    # Without $TTL, BIND takes the SOA minimum; here the lab's default TTL.
    shift = 0 if "$TTL" in text.upper() else 1
    full = text if not shift else f"$TTL {default_ttl}\n{text}"
    try:
        return dns.zone.from_text(full, origin=apex, relativize=False, check_origin=False)
    except dns.exception.DNSException as exc:
        line = _zone_error_line(full, apex, str(exc))
        raise ConfigError(path, None if line is None else max(1, line - shift),
                          str(exc).split(": ", 1)[-1]) from None


def _zone_error_line(text: str, origin: dns.name.Name, message: str) -> Optional[int]:
    """The line at fault: dnspython sometimes names the next one (it has read the EOL)."""
    m = re.match(r"<string>:(\d+):", message)
    if not m:
        return None
    line = int(m.group(1))
    head = "\n".join(text.splitlines()[:line - 1])
    try:
        dns.zone.from_text(head, origin=origin, relativize=False, check_origin=False)
    except dns.exception.DNSException:
        return max(1, line - 1)
    return line
