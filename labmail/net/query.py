"""One DNS query to one server, and ``dig``'s way of printing it.

:func:`query_server` (blocking) and :func:`aquery_server` (asyncio) send a
single query over UDP or TCP and return a :class:`QueryResult`, whose
``str()`` is what ``dig`` prints.  ``lab.dns.query()`` and ``labmail dig``
use them.

>>> result = query_server(("127.0.0.1", 10053), "example.org", "MX")   # doctest: +SKIP
>>> print(result.format(stats=False))                                   # doctest: +SKIP
"""
from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

import dns.asyncquery
import dns.flags as _flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

__all__ = ["QueryResult", "query_server", "aquery_server", "format_dig"]


def _absolute(name: str) -> dns.name.Name:
    return dns.name.from_text(name)


@dataclass
class QueryResult:
    """One query and its response, printed the way ``dig`` prints it.

    ``answer`` holds the answer section's values as text; ``status`` the
    rcode (NOERROR, NXDOMAIN ...); ``message`` the dnspython message.
    """

    name: str
    rtype: str
    server: Tuple[str, int]
    transport: str
    message: dns.message.Message
    elapsed_ms: int
    when: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))
    size: int = 0

    @property
    def status(self) -> str:
        return dns.rcode.to_text(self.message.rcode())

    @property
    def answer(self) -> List[str]:
        return [rd.to_text() for rrset in self.message.answer for rd in rrset]

    def format(self, *, stats: bool = True) -> str:
        """dig's output; ``stats=False`` drops query time, server, date and size (``+nostats``)."""
        return format_dig(self, stats=stats)

    def short(self) -> str:
        """``dig +short``: one value a line."""
        return "".join(v + "\n" for v in self.answer)

    def __str__(self) -> str:
        return format_dig(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # A notebook cell ending in a query shows dig's output without the timing
        # lines, so stored lesson outputs stay valid; print() shows them all.
        p.text(self.format(stats=False))

    def __repr__(self) -> str:
        return f"<QueryResult {self.name} {self.rtype} {self.status}: {self.answer}>"


def _make_query(name: str, rtype: str, qid: Optional[int]) -> dns.message.Message:
    q = dns.message.make_query(_absolute(name), rtype, use_edns=0, payload=1232)
    if qid is not None:
        q.id = qid
    return q


def _when(clock: Any) -> _dt.datetime:
    return clock.now() if clock is not None else _dt.datetime.now(_dt.timezone.utc)


def query_server(server: Tuple[str, int], name: str, rtype: str = "A", *, tcp: bool = False,
                 timeout: float = 2.0, qid: Optional[int] = None,
                 clock: Any = None) -> QueryResult:
    """Send one query to *server* over UDP (or TCP) and return the result; blocking.

    *qid* fixes the query id (random otherwise); *clock* dates the result.
    """
    q = _make_query(name, rtype, qid)
    start = time.monotonic()
    if tcp:
        resp = dns.query.tcp(q, server[0], timeout=timeout, port=server[1])
    else:
        resp = dns.query.udp(q, server[0], timeout=timeout, port=server[1])
    ms = int((time.monotonic() - start) * 1000)
    return QueryResult(_absolute(name).to_text(), rtype.upper(), server, "TCP" if tcp else "UDP",
                       resp, ms, when=_when(clock), size=len(resp.to_wire()))


async def aquery_server(server: Tuple[str, int], name: str, rtype: str = "A", *,
                        tcp: bool = False, timeout: float = 2.0, qid: Optional[int] = None,
                        clock: Any = None) -> QueryResult:
    """:func:`query_server` for asyncio code."""
    q = _make_query(name, rtype, qid)
    start = time.monotonic()
    if tcp:
        resp = await dns.asyncquery.tcp(q, server[0], timeout=timeout, port=server[1])
    else:
        resp = await dns.asyncquery.udp(q, server[0], timeout=timeout, port=server[1])
    ms = int((time.monotonic() - start) * 1000)
    return QueryResult(_absolute(name).to_text(), rtype.upper(), server, "TCP" if tcp else "UDP",
                       resp, ms, when=_when(clock), size=len(resp.to_wire()))


def _section(title: str, rrsets: List[Any]) -> List[str]:
    if not rrsets:
        return []
    lines = [f";; {title} SECTION:"]
    for rrset in rrsets:
        for rd in rrset:
            owner = rrset.name.to_text()
            lines.append(f"{owner}{_tabs(owner, 24)}{rrset.ttl}\tIN\t"
                         f"{dns.rdatatype.to_text(rrset.rdtype)}\t{rd.to_text()}")
    return lines + [""]


def _tabs(text: str, width: int) -> str:
    """dig pads the owner name with tabs to column *width* (at least one tab)."""
    n = max(1, (width - len(text) + 7) // 8)
    return "\t" * n


def format_dig(result: QueryResult, *, command: Optional[str] = None, stats: bool = True) -> str:
    """The text ``dig`` prints for *result* (header, sections, statistics)."""
    m = result.message
    if result.rtype == "AXFR" and m.rcode() == dns.rcode.NOERROR:
        return _format_axfr(result, command, stats)
    flags = " ".join(f.lower() for f in _flags.to_text(m.flags).split())
    ip, port = result.server
    cmd = command or f"@{ip} -p {port} {result.name.rstrip('.')} {result.rtype}"
    counts = (len(m.question), sum(len(r) for r in m.answer),
              sum(len(r) for r in m.authority),
              sum(len(r) for r in m.additional) + (1 if m.edns >= 0 else 0))
    lines = ["", f"; <<>> labmail dig <<>> {cmd}", "; (1 server found)", ";; global options: +cmd", ";; Got answer:",
             f";; ->>HEADER<<- opcode: QUERY, status: {result.status}, id: {m.id}",
             f";; flags: {flags}; QUERY: {counts[0]}, ANSWER: {counts[1]}, "
             f"AUTHORITY: {counts[2]}, ADDITIONAL: {counts[3]}"]
    if not m.flags & _flags.RA:
        lines.append(";; WARNING: recursion requested but not available")
    lines.append("")
    if m.edns >= 0:
        lines += [";; OPT PSEUDOSECTION:", f"; EDNS: version: {m.edns}, flags:; udp: {m.payload}"]
    lines.append(";; QUESTION SECTION:")
    for q in m.question:
        owner = ";" + q.name.to_text()
        lines.append(f"{owner}{_tabs(owner, 32)}IN\t{dns.rdatatype.to_text(q.rdtype)}")
    lines.append("")
    lines += _section("ANSWER", m.answer)
    lines += _section("AUTHORITY", m.authority)
    lines += _section("ADDITIONAL", m.additional)
    if stats:
        when = result.when.strftime("%a %b %d %H:%M:%S %Z %Y")
        lines += [f";; Query time: {result.elapsed_ms} msec",
                  f";; SERVER: {ip}#{port}({ip}) ({result.transport})",
                  f";; WHEN: {when}", f";; MSG SIZE  rcvd: {result.size}", ""]
    return "\n".join(lines) + "\n"


def _format_axfr(result: QueryResult, command: Optional[str], stats: bool) -> str:
    """dig's zone-transfer listing: the records, then the transfer's size."""
    ip, port = result.server
    cmd = command or f"@{ip} -p {port} axfr {result.name.rstrip('.')}"
    lines = ["", f"; <<>> labmail dig <<>> {cmd}", "; (1 server found)",
             ";; global options: +cmd"]
    records = _section("ANSWER", result.message.answer)[1:-1]
    if records and "\tSOA\t" in records[0] and "\tSOA\t" not in records[-1]:
        records.append(records[0])      # the closing SOA, merged into the first by the parser
    lines += records
    if stats:
        when = result.when.strftime("%a %b %d %H:%M:%S %Z %Y")
        lines += [f";; Query time: {result.elapsed_ms} msec",
                  f";; SERVER: {ip}#{port}({ip}) (TCP)", f";; WHEN: {when}",
                  f";; XFR size: {len(records)} records (messages 1, bytes {result.size})", ""]
    return "\n".join(lines) + "\n"
