"""DNS blocklists at the SMTP door: ``reject_rbl_client`` and the RHSBL family.

Registered into :mod:`labmail.mta.restrictions` (imported there), so these
names work in every ``smtpd_*_restrictions`` list:

- ``reject_rbl_client zone[=d.d.d.d]``: the client IP, octets reversed, under
  *zone* (RFC 5782 §2.1);
- ``reject_rhsbl_client``, ``reject_rhsbl_sender``, ``reject_rhsbl_helo``,
  ``reject_rhsbl_recipient``: a domain name under *zone* (RFC 5782 §2.2);
- ``permit_dnswl_client zone``: the allow-list counterpart.

A listing is refused with ``default_rbl_reply`` (or the template that
``rbl_reply_maps`` gives for the zone), which in Postfix 3.7 is
``$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using
$rbl_domain${rbl_reason?; $rbl_reason}``; smtpd adds the enhanced status code
5.7.1 when the template has none.

The lookups go through ``Context.dnsbl(name, zone) -> (listed, [A], [TXT])``
where *name* is an IP address or a domain; :func:`resolver_lookup` builds
it from a :class:`~labmail.net.resolver.LabResolver`.

>>> from labmail.mta.maincf import MainCf
>>> from labmail.mta.restrictions import Restrictions, Context, Stage
>>> cf = MainCf.from_text("smtpd_recipient_restrictions = reject_rbl_client bl.lab.test, "
...                       "reject_unauth_destination\\nmydestination = example.org\\n")
>>> listed = {"127.0.0.9": (True, ["127.0.0.2"], ["spam source"])}
>>> ctx = Context("127.0.0.9", sender="a@x.test", recipient="bob@example.org",
...               dnsbl=lambda name, zone: listed.get(name, (False, [], [])))
>>> Restrictions.from_config(cf).check(Stage.RCPT, ctx).reply
'554 5.7.1 Service unavailable; Client host [127.0.0.9] blocked using bl.lab.test; spam source'
"""
from __future__ import annotations

import ipaddress
import logging
import re
from typing import Callable, List, Optional, Sequence, Tuple

from ..errors import ConfigError
from .access_maps import open_table
from .maincf import split_list
from .restrictions import PERMIT, Evaluation, Outcome, Reply, register_restriction

__all__ = ["resolver_lookup", "rbl_reply", "filter_matches", "expand_template", "DnsblLookup"]

log = logging.getLogger(__name__)

DnsblLookup = Callable[[str, str], Tuple[bool, List[str], List[str]]]


def resolver_lookup(resolver) -> DnsblLookup:
    """A ``Context.dnsbl`` callable asking *resolver* (blocking: call it off the event loop).

    An IP address is looked up with its octets reversed, a domain as
    ``domain.zone``; returns (listed, A records, TXT reasons).
    """
    from ..net.resolver import DNSLookupError

    def lookup(name: str, zone: str) -> Tuple[bool, List[str], List[str]]:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            qname = f"{name.rstrip('.')}.{zone.rstrip('.')}."
            a = resolver.lookup(qname, "A")
            if a.status == "TRY_AGAIN":
                raise DNSLookupError(qname, "A", "Host not found, try again")
            if a.status != "OK":
                return (False, [], [])
            return (True, a.texts(), resolver.txt(qname))
        return resolver.dnsbl_lookup(name, zone)
    return lookup


_RANGE = re.compile(r"(\d+)(?:\.\.(\d+))?\Z")


def filter_matches(pattern: str, address: str) -> bool:
    """Does the A record *address* match Postfix's ``=d.d.d.d`` filter?

    Each ``d`` is a number or ``[n;n..m;...]`` (Postfix 2.8 and later).

    >>> filter_matches("127.0.0.2", "127.0.0.2"), filter_matches("127.0.0.[2..4;10]", "127.0.0.10")
    (True, True)
    >>> filter_matches("127.0.0.[2..4]", "127.0.0.5")
    False
    """
    octets = address.split(".")
    parts = re.findall(r"\[[^\]]*\]|[^.]+", pattern)
    if len(parts) != 4 or len(octets) != 4:
        return False
    for part, octet in zip(parts, octets):
        value = int(octet)
        choices = part[1:-1].split(";") if part.startswith("[") else [part]
        ok = False
        for choice in choices:
            m = _RANGE.match(choice.strip())
            if m and int(m.group(1)) <= value <= int(m.group(2) or m.group(1)):
                ok = True
        if not ok:
            return False
    return True


_ALLOWED = set(' \t!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`'
               'abcdefghijklmnopqrstuvwxyz{|}~')
_VAR = re.compile(r"\$(?:\{(\w+)(?:([?:])([^}]*))?\}|(\w+))")


def expand_template(template: str, values: dict) -> str:
    """One level of ``$name``, ``${name}``, ``${name?text}``, ``${name:text}`` (postconf(5) default_rbl_reply).

    >>> expand_template("x${r?; $r}", {"r": "why"}), expand_template("x${r?; $r}", {"r": ""})
    ('x; why', 'x')
    """
    def sub(m: "re.Match[str]") -> str:
        name = m.group(1) or m.group(4)
        value = values.get(name, "")
        if m.group(2) == "?":
            return _VAR.sub(sub, m.group(3)) if value else ""
        if m.group(2) == ":":
            return "" if value else _VAR.sub(sub, m.group(3))
        return value
    return _VAR.sub(sub, template)


def rbl_reply(ev: Evaluation, zone_arg: str, what: str, rbl_class: str, reasons: Sequence[str]) -> Reply:
    """The reply for a listing: rbl_reply_maps entry for the zone, else default_rbl_reply."""
    zone = zone_arg.split("=", 1)[0]
    template = None
    maps = ev.cf.get("rbl_reply_maps").strip()
    if maps:
        for spec in split_list(maps):
            try:
                table = open_table(spec, ev.cf.map_path)
            except ConfigError as exc:
                ev.warnings.append(f"{spec} is unavailable. {exc.message}")
                continue
            # the key is the argument as written, "=d.d.d.d" included, with no
            # fallback to the bare zone (measured on Postfix 3.7.11)
            template = table.get(zone_arg)
            if template:
                break
    if not template:
        template = ev.cf.get("default_rbl_reply")
    # The TXT text comes from a stranger's DNS: several records are joined
    # with " / ", and every byte outside smtpd_expansion_filter becomes a
    # space (so "é", two bytes in UTF-8, becomes two) -- measured on Postfix 3.7.11.
    reason = "".join(c if c in _ALLOWED else " " * len(c.encode("utf-8", "replace"))
                     for c in " / ".join(reasons))
    ctx = ev.ctx
    sender = ctx.sender or ""
    rcpt = ctx.recipient or ""
    values = {
        "rbl_code": str(ev.code("maps_rbl_reject_code")), "rbl_class": rbl_class, "rbl_what": what,
        "rbl_domain": zone, "rbl_reason": reason, "client": ctx.client,
        "client_address": ctx.client_ip, "client_name": ctx.client_name,
        "reverse_client_name": ctx.client_name, "helo_name": ctx.helo or "",
        "sender": sender or "<>", "sender_name": sender.rpartition("@")[0] if "@" in sender else (sender or "<>"),
        "sender_domain": sender.rpartition("@")[2] if "@" in sender else "",
        "recipient": rcpt or "<>", "recipient_name": rcpt.rpartition("@")[0] if "@" in rcpt else (rcpt or "<>"),
        "recipient_domain": rcpt.rpartition("@")[2] if "@" in rcpt else "",
    }
    text = expand_template(template, values)
    m = re.match(r"([245]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?\s*(.*)\Z", text, re.S)
    if not m:
        ev.warnings.append(f"RBL reply template for {zone} does not start with a reply code: {text!r}")
        return Reply(451, "4.3.5", "Server configuration error")
    code = int(m.group(1))
    dsn = m.group(2) or f"{m.group(1)[0]}.7.1"
    return Reply(code, dsn, m.group(3))


def _listed(ev: Evaluation, name: str, zone_arg: str) -> Optional[List[str]]:
    """The TXT reasons when *name* is listed under the zone (and the filter matches), else None."""
    lookup = ev.ctx.dnsbl
    if lookup is None:
        # Interim, until Host passes dnsbl=: ctx.dns is the host's bound method,
        # and its lab has the resolver.
        lab = getattr(getattr(ev.ctx.dns, "__self__", None), "lab", None)
        resolver = getattr(lab, "resolver", None)
        if resolver is not None:
            lookup = resolver_lookup(resolver)
    if lookup is None:
        ev.warnings.append("no DNS for RBL lookups in this context; skipped")
        return None
    zone, _, pattern = zone_arg.partition("=")
    try:
        listed, addresses, reasons = lookup(name, zone)
    except Exception as exc:          # a temporary DNS failure: Postfix skips the list
        ev.warnings.append(f"{name}: RBL lookup error: {exc}")
        return None
    if not listed:
        return None
    if pattern and not any(filter_matches(pattern, a) for a in addresses):
        return None
    return list(reasons)


def _rbl_client(ev: Evaluation, args) -> Outcome:
    reasons = _listed(ev, ev.ctx.client_ip, args[0])
    if reasons is None:
        return None
    return rbl_reply(ev, args[0], ev.ctx.client_ip, "Client host", reasons)


def _dnswl_client(ev: Evaluation, args) -> Outcome:
    return PERMIT if _listed(ev, ev.ctx.client_ip, args[0]) is not None else None


def _rhsbl(which: str) -> Callable[[Evaluation, tuple], Outcome]:
    def check(ev: Evaluation, args) -> Outcome:
        ctx = ev.ctx
        if which == "client":
            if ctx.client_name == "unknown":
                return None
            what = domain = ctx.client_name
            cls = "Client host"
        elif which == "helo":
            if not ctx.helo:
                return None
            what = domain = ctx.helo
            cls = "Helo command"
        else:
            address = ctx.sender if which == "sender" else ctx.recipient
            if not address or "@" not in address:
                return None
            what, domain = address, address.rpartition("@")[2]
            cls = "Sender address" if which == "sender" else "Recipient address"
        domain = domain.rstrip(".").lower()
        if not domain or domain.startswith("["):
            return None
        reasons = _listed(ev, domain, args[0])
        if reasons is None:
            return None
        return rbl_reply(ev, args[0], what, cls, reasons)
    return check


for _name, _func in [("reject_rbl_client", _rbl_client), ("permit_dnswl_client", _dnswl_client),
                     ("reject_rhsbl_client", _rhsbl("client")), ("reject_rhsbl_helo", _rhsbl("helo")),
                     ("reject_rhsbl_sender", _rhsbl("sender")),
                     ("reject_rhsbl_recipient", _rhsbl("recipient"))]:
    register_restriction(_name, _func, 1)
