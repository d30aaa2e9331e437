"""Postfix's SMTP access restrictions, sans-IO: settings + facts in, reply out.

The lists ``smtpd_client_restrictions``, ``smtpd_helo_restrictions``,
``smtpd_sender_restrictions``, ``smtpd_relay_restrictions`` and
``smtpd_recipient_restrictions`` are evaluated as Postfix 3.7 does: each list
left to right; a ``permit``-type result ends only that list; the first reject
or defer wins. With ``smtpd_delay_reject = yes`` (the default) every list is
evaluated at ``RCPT TO`` time; the relay list before the recipient list when
``smtpd_relay_before_recipient_restrictions`` is on (compatibility level 3.6).

Reply texts, codes and log lines were checked against a real Postfix 3.7:

>>> from labmail.mta.maincf import MainCf
>>> cf = MainCf.from_text("compatibility_level = 3.6\\nmyhostname = mail.example.com\\n"
...                       "mynetworks = 127.0.0.1/32\\n")
>>> r = Restrictions.from_config(cf)
>>> d = r.check(Stage.RCPT, Context("127.0.0.9", helo="c.example.net",
...             sender="a@example.net", recipient="bob@example.org"))
>>> d.reply
'454 4.7.1 <bob@example.org>: Relay access denied'
>>> d.log
'NOQUEUE: reject: RCPT from unknown[127.0.0.9]: 454 4.7.1 <bob@example.org>: Relay access denied; from=<a@example.net> to=<bob@example.org> proto=ESMTP helo=<c.example.net>'
>>> r.check(Stage.RCPT, Context("127.0.0.1", sender="a@example.net", recipient="bob@example.org")) is None
True

Restrictions not built in (``reject_rbl_client`` …) plug in with
:func:`register_restriction`.
"""
from __future__ import annotations

import enum
import ipaddress
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..errors import ConfigError
from .access_maps import open_table, parse_access_action
from .maincf import MainCf, in_networks, split_list

__all__ = ["Restrictions", "Context", "Decision", "Stage", "Reply", "PERMIT", "DeferIfPermit",
           "register_restriction", "RestrictionSpec", "Evaluation", "LIST_PARAMETERS",
           "destination_class", "valid_hostname", "CONFIG_ERROR_REPLY", "needs_dns"]

log = logging.getLogger(__name__)


class Stage(enum.Enum):
    """The SMTP command being answered."""
    CONNECT = "CONNECT"
    HELO = "HELO"
    MAIL = "MAIL"
    RCPT = "RCPT"


# parameter -> (stage when smtpd_delay_reject = no, what the reply names, its class)
LIST_PARAMETERS: Dict[str, Tuple[Stage, str]] = {
    "smtpd_client_restrictions": (Stage.CONNECT, "Client host"),
    "smtpd_helo_restrictions": (Stage.HELO, "Helo command"),
    "smtpd_sender_restrictions": (Stage.MAIL, "Sender address"),
    "smtpd_relay_restrictions": (Stage.RCPT, "Recipient address"),
    "smtpd_recipient_restrictions": (Stage.RCPT, "Recipient address"),
}
_WORKING_RELAY = ("reject_unauth_destination", "defer_unauth_destination", "reject", "defer",
                  "defer_if_permit", "check_relay_domains")
CONFIG_ERROR_REPLY = "451 4.3.5 Server configuration error"

# Valid Postfix restrictions the lab does not simulate: accepted, skipped, reported by check.
NOT_SIMULATED = frozenset({
    "reject_rbl_client", "reject_rhsbl_client", "reject_rhsbl_sender", "reject_rhsbl_helo",
    "reject_rhsbl_recipient", "reject_rhsbl_reverse_client", "permit_dnswl_client",
    "permit_rhswl_client", "reject_unverified_recipient", "reject_unverified_sender",
    "reject_unlisted_recipient", "reject_unlisted_sender", "reject_unknown_helo_hostname",
    "check_policy_service", "reject_multi_recipient_bounce", "reject_unauth_pipelining",
    "reject_sender_login_mismatch", "permit_tls_clientcerts", "permit_tls_all_clientcerts",
    "check_ccert_access", "check_sasl_access", "reject_known_sender_login_mismatch",
    "reject_authenticated_sender_login_mismatch", "reject_unauthenticated_sender_login_mismatch",
    "warn_if_reject", "reject_plaintext_session", "check_client_a_access", "check_client_mx_access",
    "check_client_ns_access", "check_sender_mx_access", "check_sender_ns_access",
    "check_sender_a_access", "check_recipient_mx_access", "check_recipient_ns_access",
    "check_recipient_a_access", "check_helo_mx_access", "check_helo_ns_access",
    "check_helo_a_access", "check_reverse_client_hostname_access", "permit_mx_backup",
    "sleep", "reject_unknown_hostname", "defer_if_permit", "defer_if_reject", "permit_inet_interfaces",
    "reject_unverified_recipient", "check_relay_domains", "permit_naked_ip_address",
})
_TAKES_ARGUMENT = {"reject_rbl_client", "reject_rhsbl_client", "reject_rhsbl_sender", "reject_rhsbl_helo",
                   "reject_rhsbl_recipient", "reject_rhsbl_reverse_client", "permit_dnswl_client",
                   "permit_rhswl_client", "check_policy_service", "check_ccert_access", "check_sasl_access",
                   "check_client_a_access", "check_client_mx_access", "check_client_ns_access",
                   "check_sender_mx_access", "check_sender_ns_access", "check_sender_a_access",
                   "check_recipient_mx_access", "check_recipient_ns_access", "check_recipient_a_access",
                   "check_helo_mx_access", "check_helo_ns_access", "check_helo_a_access",
                   "check_reverse_client_hostname_access", "sleep"}


@dataclass(frozen=True)
class Context:
    """What smtpd knows when it checks. ``sender=""`` is the null sender ``<>``;
    None means "not given yet". ``recipient_is_local`` overrides the lab's own
    mydestination test; ``local_addresses`` are the host's IPs (for ``user@[ip]``).
    ``dns(domain)`` answers True (has MX or A), False (does not exist) or None
    (temporary failure) for ``reject_unknown_*_domain``.
    """
    client_ip: str
    client_name: str = "unknown"
    helo: Optional[str] = None
    sender: Optional[str] = None
    recipient: Optional[str] = None
    sasl_username: Optional[str] = None
    esmtp: bool = True
    recipient_is_local: Optional[bool] = None
    local_addresses: Tuple[str, ...] = ()
    queue_id: Optional[str] = None
    dns: Optional[Callable[[str], Optional[bool]]] = None
    # keyword-only additions (positional construction elsewhere keeps working):
    # dnsbl(name, zone) -> (listed, A records, TXT reasons) for the RBL restrictions
    # (name is an IP address or a domain; see labmail.mta.rbl.resolver_lookup);
    # maillog(text) receives the ``reject_warning:`` lines warn_if_reject makes.
    dnsbl: Optional[Callable[[str, str], Tuple[bool, List[str], List[str]]]] = None
    maillog: Optional[Callable[[str], None]] = None
    # the recipient as trivial-rewrite resolved it (labmail.mta.trivial_rewrite):
    # ``a%b@ours`` is mail for ``a@b``; relay and domain checks judge this one.
    # ``recipient_routed``: routing operators (@ % !) left in its local part.
    recipient_resolved: Optional[str] = None
    recipient_routed: bool = False

    @property
    def client(self) -> str:
        return f"{self.client_name}[{self.client_ip}]"


@dataclass(frozen=True)
class Reply:
    """A reject/defer reply a restriction produced: ``code dsn text``."""
    code: int
    dsn: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.dsn} {self.text}"


PERMIT = "permit"          # a restriction's "OK, stop this list"


@dataclass(frozen=True)
class DeferIfPermit:
    """Postfix's ``defer_if_permit`` result: go on, but if the request would
    end up accepted, answer this (temporary) reply instead."""
    reply: Reply


Outcome = Union[None, str, Reply, DeferIfPermit]   # None = DUNNO (go on), PERMIT, a Reply


@dataclass(frozen=True)
class Decision:
    """The reject/defer smtpd sends, where it came from and the log line for it."""
    reply: str
    stage: Stage
    parameter: str
    restriction: str
    log: str
    warnings: Tuple[str, ...] = ()

    @property
    def code(self) -> int:
        return int(self.reply[:3])

    @property
    def temporary(self) -> bool:
        return self.reply.startswith("4")


@dataclass(frozen=True)
class RestrictionSpec:
    """A restriction name the evaluator knows; *func(evaluation, args)* returns an Outcome."""
    name: str
    func: Callable[["Evaluation", Tuple[str, ...]], Outcome]
    nargs: int = 0


RESTRICTIONS: Dict[str, RestrictionSpec] = {}


def register_restriction(name: str, func: Callable[["Evaluation", Tuple[str, ...]], Outcome],
                         nargs: int = 0) -> None:
    """Make *name* usable in the smtpd_*_restrictions lists (e.g. ``reject_rbl_client``, nargs=1).

    >>> register_restriction("reject_everything_lab", lambda ev, args: ev.reply(554, "5.7.1", "No"))
    >>> "reject_everything_lab" in RESTRICTIONS
    True
    """
    RESTRICTIONS[name.lower()] = RestrictionSpec(name.lower(), func, nargs)


# ---------------------------------------------------------------------------
# Names and domains


_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")


def valid_hostname(name: str) -> bool:
    """Postfix's valid_hostname(): labels of letters, digits, '-' and '_', not all-numeric.

    >>> valid_hostname("host_name.example.com."), valid_hostname("a..b"), valid_hostname("1.2.3")
    (True, False, False)
    """
    name = name[:-1] if name.endswith(".") else name
    if not name or len(name) > 255:
        return False
    if all(c.isdigit() or c == "." for c in name):
        return False
    return all(_LABEL.match(label) for label in name.split("."))


def _valid_literal(text: str) -> bool:
    inner = text[1:-1]
    if inner.lower().startswith("ipv6:"):
        inner = inner[5:]
        version = 6
    else:
        version = 4
    try:
        return ipaddress.ip_address(inner).version == version
    except ValueError:
        return False


def _domain(address: str) -> str:
    return address.rpartition("@")[2].rstrip(".").lower() if "@" in address else ""


def _domain_in(domain: str, items: Sequence[str], subdomains: bool,
               path_map: Optional[Callable[[str], Path]] = None) -> bool:
    for item in items:
        item = item.lower().rstrip(".")
        if ":" in item and not item.startswith("["):
            # a lookup table (hash:/etc/postfix/relay_domains): the domain (or,
            # with parent matching, a parent domain) is a key
            try:
                table = open_table(item, path_map)
            except ConfigError:
                continue            # postfix check reports tables it cannot open
            labels = domain.split(".")
            keys = [domain] + ([".".join(labels[n:]) for n in range(1, len(labels))] if subdomains else [])
            if any(table.get(k) is not None for k in keys):
                return True
            continue
        if domain == item or (subdomains and domain.endswith("." + item.lstrip("."))):
            return True
    return False


def destination_class(cf: MainCf, domain: str, local_addresses: Sequence[str] = ()) -> str:
    """``local``, ``virtual``, ``relay`` or ``remote`` for a recipient domain, as trivial-rewrite decides.

    An empty domain (an unqualified address) is local.

    >>> cf = MainCf.from_text("myhostname = mail.example.com\\nrelay_domains = example.org")
    >>> [destination_class(cf, d) for d in ("mail.example.com", "sub.example.org", "example.net", "")]
    ['local', 'relay', 'remote', 'local']
    """
    domain = domain.rstrip(".").lower()
    if not domain:
        return "local"
    if domain.startswith("[") and domain.endswith("]"):
        inner = domain[1:-1]
        inner = inner[5:] if inner.startswith("ipv6:") else inner
        interfaces = [a for a in split_list(cf.get("inet_interfaces")) if a not in ("all", "loopback-only")]
        return "local" if inner in set(local_addresses) | set(interfaces) else "remote"
    if _domain_in(domain, cf.get_list("mydestination"), False, cf.map_path):
        return "local"
    if _domain_in(domain, cf.get_list("virtual_alias_domains"), False, cf.map_path) or \
            _domain_in(domain, cf.get_list("virtual_mailbox_domains"), False, cf.map_path):
        return "virtual"
    parents = "relay_domains" in cf.get("parent_domain_matches_subdomains")
    if _domain_in(domain, cf.get_list("relay_domains"), parents, cf.map_path):
        return "relay"
    return "remote"


# ---------------------------------------------------------------------------


class Evaluation:
    """One check in progress: the config, the facts and the list being walked.

    Restriction functions use :meth:`reply`, :meth:`reject_with` and the properties.
    """

    def __init__(self, owner: "Restrictions", ctx: Context, parameter: str,
                 stage: Stage = Stage.RCPT) -> None:
        self.owner = owner
        self.cf = owner.cf
        self.ctx = ctx
        self.parameter = parameter
        self.stage = stage
        self.warnings: List[str] = []
        self.reject_warnings: List[str] = []    # log lines made by warn_if_reject
        self.deferred: Optional[Reply] = None     # a postponed defer_if_permit reply
        self.deferred_by = ""

    # what a generic reply in this list names: <client>, <helo>, <sender> or <recipient>
    @property
    def subject(self) -> str:
        if self.parameter == "smtpd_client_restrictions":
            return self.ctx.client
        if self.parameter == "smtpd_helo_restrictions":
            return self.ctx.helo or ""
        if self.parameter == "smtpd_sender_restrictions":
            return self.ctx.sender or ""
        return self.ctx.recipient or ""

    @property
    def subject_class(self) -> str:
        return LIST_PARAMETERS.get(self.parameter, (None, "Recipient address"))[1]

    def reply(self, code: int, dsn: str, text: str) -> Reply:
        return Reply(code, dsn, text)

    def reject_with(self, code: int, dsn: str, reason: str, subject: Optional[str] = None,
                    subject_class: Optional[str] = None) -> Reply:
        """``<subject>: Class rejected: reason``, the usual Postfix wording."""
        subj = self.subject if subject is None else subject
        cls = subject_class or self.subject_class
        return Reply(code, dsn, f"<{subj}>: {cls} rejected: {reason}")

    def code(self, parameter: str) -> int:
        return self.cf.get_int(parameter)

    @property
    def resolved_recipient(self) -> str:
        """The recipient after trivial-rewrite (as sent when not resolved)."""
        return self.ctx.recipient_resolved or self.ctx.recipient or ""

    def is_local_recipient(self) -> bool:
        if self.ctx.recipient_is_local is not None:
            return self.ctx.recipient_is_local
        rcpt = self.resolved_recipient
        return destination_class(self.cf, _domain(rcpt), self.ctx.local_addresses) in ("local", "virtual")

    def recipient_class(self) -> str:
        if self.ctx.recipient_is_local:
            return "local"
        return destination_class(self.cf, _domain(self.resolved_recipient), self.ctx.local_addresses)

    def authorized_destination(self) -> bool:
        """Postfix's permit_auth_destination test: ours, virtual or relay_domains,
        and no sender-specified routing left (``user%other@relay.domain`` is not)."""
        if self.ctx.recipient is None or self.ctx.recipient_routed:
            return False
        return self.recipient_class() in ("local", "virtual", "relay")

    def run(self, items: Sequence[Tuple[str, Tuple[str, ...]]]) -> Tuple[Outcome, str]:
        """Walk a compiled list; (outcome, name of the deciding restriction)."""
        warn_next = False
        for name, args in items:
            if name == "warn_if_reject":
                # changes the meaning of the NEXT restriction: log instead of reject
                warn_next = True
                continue
            outcome = self.run_one(name, args)
            if warn_next:
                warn_next = False
                if isinstance(outcome, (Reply, DeferIfPermit)):
                    reply = outcome.reply if isinstance(outcome, DeferIfPermit) else outcome
                    self.reject_warnings.append(
                        Restrictions.log_line(self.stage, self.ctx, str(reply), action="reject_warning"))
                    continue
            if isinstance(outcome, DeferIfPermit):
                self.deferred = self.deferred or outcome.reply
                self.deferred_by = self.deferred_by or name
                continue
            if outcome is not None:
                return outcome, name
        return None, ""

    def run_one(self, name: str, args: Tuple[str, ...]) -> Outcome:
        spec = RESTRICTIONS.get(name)
        if spec is not None:
            return spec.func(self, args)
        classes = self.owner.classes
        if name in classes:
            outcome, _ = self.run(classes[name])
            return outcome
        if name in NOT_SIMULATED:
            self.warnings.append(f"restriction {name} is not simulated by the lab; skipped")
            return None
        self.warnings.append(f'unknown smtpd restriction: "{name}"')
        return Reply(451, "4.3.5", "Server configuration error")


# ---------------------------------------------------------------------------


Compiled = Tuple[Tuple[str, Tuple[str, ...]], ...]


class Restrictions:
    """The compiled restriction lists of one main.cf (immutable; rebuild on reload).

    :meth:`from_config` refuses what Postfix refuses (unknown names, no working
    relay restriction) with a :class:`ConfigError` naming the main.cf line.
    """

    def __init__(self, cf: MainCf, lists: Dict[str, Compiled], classes: Dict[str, Compiled],
                 warnings: Sequence[str]) -> None:
        self.cf = cf
        self.lists = lists
        self.classes = classes
        self.warnings = tuple(warnings)
        # answers that depend only on this (immutable) main.cf, asked at every RCPT
        self._orders: Dict[Stage, Tuple[str, ...]] = {}
        self._mynetworks: Dict[str, bool] = {}

    # -- compilation ----------------------------------------------------------

    @classmethod
    def from_config(cls, cf: MainCf) -> "Restrictions":
        warnings: List[str] = []
        class_names = [c.lower() for c in cf.get_list("smtpd_restriction_classes")]
        classes: Dict[str, Compiled] = {}
        for name in class_names:
            try:
                classes[name] = cls._compile(cf, name, class_names, warnings)
            except LookupError:
                raise ConfigError(cf.path, None, f"restriction class `{name}' needs a definition: "
                                                 f"add '{name} = <restrictions>' to main.cf") from None
        lists = {p: cls._compile(cf, p, class_names, warnings) for p in LIST_PARAMETERS}
        working = any(name in _WORKING_RELAY
                      for p in ("smtpd_relay_restrictions", "smtpd_recipient_restrictions")
                      for name, _ in lists[p])
        if not working:
            line = cf.entries().get("smtpd_relay_restrictions") or cf.entries().get("smtpd_recipient_restrictions")
            raise ConfigError(cf.path, line.line if line else None,
                              "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, "
                              "specify at least one working instance of: reject_unauth_destination, "
                              "defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains")
        return cls(cf, lists, classes, warnings)

    @staticmethod
    def _compile(cf: MainCf, parameter: str, class_names: Sequence[str], warnings: List[str]) -> Compiled:
        words = cf.get_list(parameter)
        entry = cf.entries().get(parameter)
        line = entry.line if entry else None
        out: List[Tuple[str, Tuple[str, ...]]] = []
        after_permit = False
        i = 0
        while i < len(words):
            name = words[i].lower()
            i += 1
            if name in RESTRICTIONS:
                nargs = RESTRICTIONS[name].nargs
            elif name in class_names:
                nargs = 0
            elif name in NOT_SIMULATED:
                nargs = 1 if name in _TAKES_ARGUMENT else 0
            else:
                raise ConfigError(cf.path, line, f'unknown smtpd restriction: "{words[i - 1]}" in {parameter} '
                                                 f"(see postconf(5) for the valid names)")
            args = tuple(words[i:i + nargs])
            if len(args) < nargs:
                raise ConfigError(cf.path, line, f"restriction {name} in {parameter} needs an argument "
                                                 f"(for example: {name} hash:/etc/postfix/access)")
            i += nargs
            if after_permit:
                warnings.append(f"restriction `{name}' after `permit' is ignored")
                continue
            out.append((name, args))
            if name == "permit":
                after_permit = True
        return tuple(out)

    # -- evaluation ------------------------------------------------------------

    def order(self, stage: Stage) -> List[str]:
        """The lists smtpd evaluates when answering *stage*."""
        known = self._orders.get(stage)
        if known is None:
            known = self._orders[stage] = tuple(self._order(stage))
        return list(known)

    def in_mynetworks(self, ip: str) -> bool:
        """``permit_mynetworks``: whether *ip* matches this main.cf's ``mynetworks``
        (remembered per address; bounded)."""
        known = self._mynetworks.get(ip)
        if known is None:
            if len(self._mynetworks) >= 4096:
                self._mynetworks.clear()
            known = self._mynetworks[ip] = in_networks(ip, self.cf.get_list("mynetworks"))
        return known

    def _order(self, stage: Stage) -> List[str]:
        delay = self.cf.get_bool("smtpd_delay_reject")
        relay_first = self.cf.get("smtpd_relay_before_recipient_restrictions").strip().lower() == "yes"
        rcpt_lists = (["smtpd_relay_restrictions", "smtpd_recipient_restrictions"] if relay_first
                      else ["smtpd_recipient_restrictions", "smtpd_relay_restrictions"])
        if delay:
            if stage is not Stage.RCPT:
                return []
            return ["smtpd_client_restrictions", "smtpd_helo_restrictions",
                    "smtpd_sender_restrictions"] + rcpt_lists
        return {Stage.CONNECT: ["smtpd_client_restrictions"], Stage.HELO: ["smtpd_helo_restrictions"],
                Stage.MAIL: ["smtpd_sender_restrictions"], Stage.RCPT: rcpt_lists}[stage]

    def check(self, stage: Stage, ctx: Context) -> Optional[Decision]:
        """None when smtpd accepts the command, else the Decision (reply + log line).

        ``reject_warning:`` lines (warn_if_reject) go to ``ctx.maillog`` when given.
        """
        decision, lines = self.check_verbose(stage, ctx)
        sink = ctx.maillog
        # Interim, until Host passes maillog=: ctx.dns is the host's bound method.
        maillog = getattr(getattr(ctx.dns, "__self__", None), "maillog", None)
        if sink is None and maillog is not None:
            sink = lambda text: maillog.write("postfix/smtpd", text)  # noqa: E731
        for line in lines:
            log.info(line)
            if sink is not None:
                sink(line)
        return decision

    def check_verbose(self, stage: Stage, ctx: Context) -> Tuple[Optional[Decision], Tuple[str, ...]]:
        """:meth:`check`, also returning the ``reject_warning:`` log lines of warn_if_reject."""
        lines: List[str] = []
        decision = self._check(stage, ctx, lines)
        return decision, tuple(lines)

    def _check(self, stage: Stage, ctx: Context, lines: List[str]) -> Optional[Decision]:
        warnings: List[str] = []
        deferred: Optional[Tuple[Reply, str, str]] = None
        known = self._orders.get(stage)
        for parameter in (known if known is not None else self.order(stage)):
            ev = Evaluation(self, ctx, parameter, stage)
            outcome, name = ev.run(self.lists[parameter])
            warnings.extend(ev.warnings)
            lines.extend(ev.reject_warnings)
            if ev.deferred is not None and deferred is None:
                deferred = (ev.deferred, parameter, ev.deferred_by)
            if isinstance(outcome, Reply):
                return Decision(str(outcome), stage, parameter, name,
                                self.log_line(stage, ctx, str(outcome)), tuple(warnings))
        for w in warnings:
            log.warning(w)
        if deferred is not None:
            # defer_if_permit: nothing rejected, so the postponed deferral applies
            reply, parameter, name = deferred
            return Decision(str(reply), stage, parameter, name, self.log_line(stage, ctx, str(reply)),
                            tuple(warnings))
        return None

    @staticmethod
    def log_line(stage: Stage, ctx: Context, reply: str, action: str = "reject") -> str:
        """The smtpd log text, e.g. ``NOQUEUE: reject: RCPT from name[ip]: reply; from=<..> ...``."""
        fields = []
        if ctx.sender is not None and stage in (Stage.MAIL, Stage.RCPT):
            fields.append(f"from=<{ctx.sender}>")
        if ctx.recipient is not None and stage is Stage.RCPT:
            # the log quotes a local part that needs it ("a b"@x), the reply does not
            from .trivial_rewrite import quote_local     # (it imports this module)
            fields.append(f"to=<{quote_local(ctx.recipient)}>")
        # before HELO/EHLO the session is plain SMTP (Postfix logs proto=SMTP at CONNECT)
        fields.append(f"proto={'ESMTP' if ctx.esmtp and stage is not Stage.CONNECT else 'SMTP'}")
        if ctx.helo is not None:
            fields.append(f"helo=<{ctx.helo}>")
        return (f"{ctx.queue_id or 'NOQUEUE'}: {action}: {stage.value} from {ctx.client}: {reply}; "
                + " ".join(fields))


# ---------------------------------------------------------------------------
# The built-in restrictions


def _permit(ev: Evaluation, args) -> Outcome:
    return PERMIT


def _reject(ev: Evaluation, args) -> Outcome:
    code = ev.code("reject_code")
    return ev.reject_with(code, f"{str(code)[0]}.7.1", "Access denied")


def _defer(ev: Evaluation, args) -> Outcome:
    code = ev.code("defer_code")
    return ev.reject_with(code, f"{str(code)[0]}.3.2", "Try again later")


def _permit_mynetworks(ev: Evaluation, args) -> Outcome:
    if ev.cf is ev.owner.cf:
        return PERMIT if ev.owner.in_mynetworks(ev.ctx.client_ip) else None
    return PERMIT if in_networks(ev.ctx.client_ip, ev.cf.get_list("mynetworks")) else None


def _permit_sasl(ev: Evaluation, args) -> Outcome:
    return PERMIT if ev.ctx.sasl_username else None


def _unauth_destination(defer: bool) -> Callable[[Evaluation, tuple], Outcome]:
    def check(ev: Evaluation, args) -> Outcome:
        if ev.ctx.recipient is None or ev.authorized_destination():
            return None
        code = 454 if defer else ev.code("relay_domains_reject_code")
        dsn = "4.7.1" if defer else f"{str(code)[0]}.7.1"
        return Reply(code, dsn, f"<{ev.ctx.recipient}>: Relay access denied")
    return check


def _permit_auth_destination(ev: Evaluation, args) -> Outcome:
    return PERMIT if ev.authorized_destination() else None


def _non_fqdn_address(which: str) -> Callable[[Evaluation, tuple], Outcome]:
    def check(ev: Evaluation, args) -> Outcome:
        address = ev.ctx.sender if which == "sender" else ev.ctx.recipient
        if not address or (which == "recipient" and address.lower() == "postmaster"):
            return None
        domain = address.rpartition("@")[2].rstrip(".") if "@" in address else ""
        if domain.startswith("[") and domain.endswith("]"):
            return None
        if domain and "." in domain and valid_hostname(domain):
            return None
        code = ev.code("non_fqdn_reject_code")
        cls = "Sender address" if which == "sender" else "Recipient address"
        return ev.reject_with(code, f"{str(code)[0]}.5.2", "need fully-qualified address", address, cls)
    return check


def _non_fqdn_helo(ev: Evaluation, args) -> Outcome:
    helo = ev.ctx.helo
    if helo is None or (helo.startswith("[") and helo.endswith("]")):
        return None
    if "." in helo.rstrip(".") and valid_hostname(helo):
        return None
    code = ev.code("non_fqdn_reject_code")
    return ev.reject_with(code, f"{str(code)[0]}.5.2", "need fully-qualified hostname", helo, "Helo command")


def _invalid_helo(ev: Evaluation, args) -> Outcome:
    helo = ev.ctx.helo
    if helo is None:
        return None
    code = ev.code("invalid_hostname_reject_code")
    if helo.startswith("[") and helo.endswith("]"):
        if _valid_literal(helo):
            return None
        return ev.reject_with(code, f"{str(code)[0]}.5.2", "invalid ip address", helo, "Helo command")
    if valid_hostname(helo):
        return None
    try:
        ipaddress.ip_address(helo)
        return None
    except ValueError:
        return ev.reject_with(code, f"{str(code)[0]}.5.2", "Invalid name", helo, "Helo command")


def _unknown_domain(which: str) -> Callable[[Evaluation, tuple], Outcome]:
    def check(ev: Evaluation, args) -> Outcome:
        address = ev.ctx.sender if which == "sender" else ev.ctx.recipient
        if not address or "@" not in address:
            return None
        # the recipient's domain is the one it resolves to (a%b@ours: b)
        domain = _domain(address if which == "sender" else ev.resolved_recipient)
        if not domain or domain.startswith("["):
            return None
        local = (destination_class(ev.cf, domain, ev.ctx.local_addresses) in ("local", "virtual")
                 if which == "sender" else ev.is_local_recipient())
        if local or ev.ctx.dns is None:
            return None
        found = ev.ctx.dns(domain)
        if found:
            return None
        cls = "Sender address" if which == "sender" else "Recipient address"
        detail = "1.8" if which == "sender" else "1.2"
        if found is None:
            # a temporary DNS failure: unknown_address_tempfail_action (defer_if_permit)
            reply = ev.reject_with(450, f"4.{detail}", "Domain not found", address, cls)
            if ev.cf.get("unknown_address_tempfail_action").strip() == "defer_if_permit":
                return DeferIfPermit(reply)
            return reply
        code = ev.code("unknown_address_reject_code")
        return ev.reject_with(code, f"{str(code)[0]}.{detail}", "Domain not found", address, cls)
    return check


def _unknown_client(reverse: bool) -> Callable[[Evaluation, tuple], Outcome]:
    def check(ev: Evaluation, args) -> Outcome:
        if ev.ctx.client_name != "unknown":
            return None
        code = ev.code("unknown_client_reject_code")
        if reverse:
            return Reply(code, f"{str(code)[0]}.7.1",
                         f"Client host rejected: cannot find your reverse hostname, [{ev.ctx.client_ip}]")
        return Reply(code, f"{str(code)[0]}.7.25",
                     f"Client host rejected: cannot find your hostname, [{ev.ctx.client_ip}]")
    return check


def _client_keys(ev: Evaluation) -> List[str]:
    keys = []
    name = ev.ctx.client_name.lower()
    keys.extend(_domain_keys(ev, name))
    ip = ev.ctx.client_ip
    keys.append(ip)
    sep = ":" if ":" in ip else "."
    parts = ip.split(sep)
    for n in range(len(parts) - 1, 0, -1):
        keys.append(sep.join(parts[:n]))
    return keys


def _domain_keys(ev: Evaluation, domain: str) -> List[str]:
    keys = [domain]
    parents = "smtpd_access_maps" in ev.cf.get("parent_domain_matches_subdomains")
    labels = domain.split(".")
    for n in range(1, len(labels)):
        rest = ".".join(labels[n:])
        keys.append(rest if parents else "." + rest)
    return keys


def _address_keys(ev: Evaluation, address: str) -> List[str]:
    if address == "":
        return [ev.cf.get("smtpd_null_access_lookup_key")]
    address = address.lower()
    if "@" not in address:
        return [address]
    local, _, domain = address.rpartition("@")
    return [address] + _domain_keys(ev, domain.rstrip(".")) + [local + "@"]


def _check_access(what: str) -> Callable[[Evaluation, tuple], Outcome]:
    def check(ev: Evaluation, args) -> Outcome:
        value = {"client": ev.ctx.client, "helo": ev.ctx.helo, "sender": ev.ctx.sender,
                 "recipient": ev.ctx.recipient}[what]
        if value is None:
            return None
        if what == "client":
            keys, subject, cls = _client_keys(ev), ev.ctx.client, "Client host"
        elif what == "helo":
            keys, subject, cls = _domain_keys(ev, value.lower().rstrip(".")), value, "Helo command"
        else:
            # Postfix looks up the recipient as resolved (a bare name gets its
            # domain, a%b@ours is a@b); replies still name it as sent
            keys = _address_keys(ev, value if what == "sender" else ev.resolved_recipient)
            subject, cls = value, ("Sender address" if what == "sender" else "Recipient address")
        try:
            table = open_table(args[0], ev.cf.map_path)
        except ConfigError as exc:
            ev.warnings.append(f"{args[0]} is unavailable. {exc.message}")
            return Reply(451, "4.3.5", "Server configuration error")
        for key in keys:
            found = table.get(key)
            if found is None:
                continue
            action = parse_access_action(found, ev.cf)
            if action.kind == "permit":
                return PERMIT
            if action.kind == "dunno":
                return None
            if action.kind == "reply":
                return ev.reject_with(action.code, action.dsn, action.text, subject, cls)
            if action.kind == "restriction":
                return ev.run_one(action.text, ())
            ev.warnings.append(f"access table {args[0]}: action {found} is not simulated by the lab")
            return None
        return None
    return check


for _name, _func, _nargs in [
    ("permit", _permit, 0), ("reject", _reject, 0), ("defer", _defer, 0),
    ("permit_mynetworks", _permit_mynetworks, 0), ("permit_sasl_authenticated", _permit_sasl, 0),
    ("reject_unauth_destination", _unauth_destination(False), 0),
    ("defer_unauth_destination", _unauth_destination(True), 0),
    ("permit_auth_destination", _permit_auth_destination, 0),
    ("reject_non_fqdn_sender", _non_fqdn_address("sender"), 0),
    ("reject_non_fqdn_recipient", _non_fqdn_address("recipient"), 0),
    ("reject_non_fqdn_helo_hostname", _non_fqdn_helo, 0),
    ("reject_invalid_helo_hostname", _invalid_helo, 0),
    ("reject_invalid_hostname", _invalid_helo, 0),          # the pre-2.3 names, still accepted
    ("reject_non_fqdn_hostname", _non_fqdn_helo, 0),
    ("reject_unknown_sender_domain", _unknown_domain("sender"), 0),
    ("reject_unknown_recipient_domain", _unknown_domain("recipient"), 0),
    ("reject_unknown_client_hostname", _unknown_client(False), 0),
    ("reject_unknown_reverse_client_hostname", _unknown_client(True), 0),
    ("check_client_access", _check_access("client"), 1),
    ("check_helo_access", _check_access("helo"), 1),
    ("check_sender_access", _check_access("sender"), 1),
    ("check_recipient_access", _check_access("recipient"), 1),
]:
    register_restriction(_name, _func, _nargs)


_DNS_WORDS = ("reject_unknown_", "rbl_client", "rhsbl_", "dnswl_", "rhswl_")


def needs_dns(cf: MainCf) -> bool:
    """Does any restriction list (or restriction class) of *cf* ask DNS?

    smtpd then runs the check in a worker thread (the lab's DNS answers on the
    event loop).

    >>> needs_dns(MainCf.from_text("smtpd_recipient_restrictions = reject_rbl_client bl.lab.test"))
    True
    >>> needs_dns(MainCf.from_text("smtpd_recipient_restrictions = reject_unauth_destination"))
    False
    """
    params = list(LIST_PARAMETERS) + [c.lower() for c in cf.get_list("smtpd_restriction_classes")]
    for p in params:
        try:
            value = cf.get(p).lower()
        except (KeyError, LookupError):
            continue
        if any(w in value for w in _DNS_WORDS):
            return True
    return False


# the DNS blocklist restrictions register themselves (reject_rbl_client, reject_rhsbl_*)
from . import rbl  # noqa: E402,F401  (imported for its registrations)

__all__ += ["rbl"]
