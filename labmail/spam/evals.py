"""The ``eval:`` tests: what SpamAssassin's plugins compute in Perl, the lab computes here.

A rule such as ``header RCVD_IN_LAB_BL eval:check_rbl_sub('labbl', '127.0.0.2')``
names a function of :data:`EVAL_FUNCTIONS` and its arguments; the function
gets the message (through a per-message :class:`_Context`) and answers
hit or miss.

>>> sorted(EVAL_FUNCTIONS)[:3]
['check_bayes', 'check_body_length', 'check_for_attachment_ext']
"""
from __future__ import annotations

import fnmatch
import ipaddress
import logging
import re
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

from .render import MessageView

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine

__all__ = ["EVAL_FUNCTIONS", "Resolver"]

log = logging.getLogger(__name__)

#: Looks a DNS name up and returns its A records (empty list when NXDOMAIN).
Resolver = Callable[[str], List[str]]
_RCVD_IP = re.compile(r"\[(?:IPv6:)?([0-9a-fA-F.:]+)\]")


class _Context:
    """Per-message scratch space shared by eval functions."""

    def __init__(self, engine: "Engine", view: MessageView) -> None:
        self.engine, self.view = engine, view
        self.bayes: Optional[float] = None
        self.rbl: Dict[str, List[str]] = {}

    def relay_ips(self) -> List[str]:
        """Client addresses from Received headers, minus trusted_networks."""
        out = []
        for value in self.view.header("Received", raw=True).split("\n"):
            for ip in _RCVD_IP.findall(value):
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    continue
                if not any(addr in net for net in self.engine.config.trusted_networks):
                    out.append(ip)
        return out


def _glob_any(address: str, patterns: Sequence[str]) -> bool:
    return bool(address) and any(fnmatch.fnmatchcase(address, p) for p in patterns)


def _ev_rbl(ctx: _Context, args: Tuple[str, ...]) -> bool:
    if len(args) < 2 or ctx.engine.resolver is None:
        return False
    rset, zone = args[0], args[1].rstrip(".")
    answers: List[str] = []
    for ip in ctx.relay_ips():
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if addr.version != 4:
            continue
        name = ".".join(reversed(ip.split("."))) + "." + zone
        try:
            answers.extend(ctx.engine.resolver(name))
        except Exception as exc:  # a DNS failure must not fail the whole check
            log.info("DNSBL lookup %s failed: %s", name, exc)
    ctx.rbl[rset] = ctx.rbl.get(rset, []) + answers
    if len(args) > 2:
        return any(re.fullmatch(args[2], a) for a in answers)
    return bool(answers)


def _ev_rbl_sub(ctx: _Context, args: Tuple[str, ...]) -> bool:
    return any(re.fullmatch(args[1], a) for a in ctx.rbl.get(args[0], [])) if len(args) > 1 else False


def _ev_bayes(ctx: _Context, args: Tuple[str, ...]) -> bool:
    p = ctx.bayes
    if p is None:
        return False
    lo, hi = float(args[0]), float(args[1])
    return lo <= p <= hi if hi >= 1.0 else lo <= p < hi


def _ev_html_image_text(ctx: _Context, args: Tuple[str, ...]) -> bool:
    limit = int(args[0]) if args else 400
    return ctx.view.html_tags.get("img", 0) > 0 and len(" ".join(ctx.view.body_paragraphs[1:])) < limit


def _ev_subject_shouting(ctx: _Context, args: Tuple[str, ...]) -> bool:
    letters = [c for c in ctx.view.header("Subject") if c.isalpha()]
    return len(letters) >= 10 and sum(c.isupper() for c in letters) / len(letters) > 0.8


#: eval:NAME(...) tests the lab implements (SpamAssassin's plugins provide these).
EVAL_FUNCTIONS: Dict[str, Callable[[_Context, Tuple[str, ...]], bool]] = {
    "check_rbl": _ev_rbl, "check_rbl_txt": _ev_rbl, "check_rbl_sub": _ev_rbl_sub,
    "check_bayes": _ev_bayes,
    "check_from_in_welcomelist": lambda c, a: _glob_any(c.view.from_address(), c.engine.config.welcomelist_from),
    "check_from_in_whitelist": lambda c, a: _glob_any(c.view.from_address(), c.engine.config.welcomelist_from),
    "check_from_in_blocklist": lambda c, a: _glob_any(c.view.from_address(), c.engine.config.blocklist_from),
    "check_from_in_blacklist": lambda c, a: _glob_any(c.view.from_address(), c.engine.config.blocklist_from),
    "check_for_mime_html": lambda c, a: "text/html" in c.view.content_types,
    "check_for_mime_html_only": lambda c, a: "text/html" in c.view.content_types and "text/plain" not in c.view.content_types,
    "check_for_attachment_ext": lambda c, a: any(n.lower().rsplit(".", 1)[-1] in a for n in c.view.attachments if "." in n),
    # SpamAssassin's BodyEval: the raw body's length in bytes (as it came, CRLF
    # counted) is at most the argument
    "check_body_length": lambda c, a: c.view.pristine_body_length <= int(a[0] if a else 100),
    "check_no_relays": lambda c, a: not c.view.has_header("Received"),
    "check_html_image_text": _ev_html_image_text,
    "check_subject_shouting": _ev_subject_shouting,
}
