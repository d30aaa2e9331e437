"""A lab host: one simulated mail server with its own address, files and services.

A :class:`Host` is what ``mail.example.com`` is on the internet: an address
(127.0.0.2, …), a ``main.cf``, accounts, mailboxes, a maillog and the
services that listen for clients.  Everything it keeps lives under its state
directory in the places a real server keeps it (``etc/postfix/main.cf``,
``home/alice/Maildir``, ``var/log/maillog``), so students can open the files.

Hosts are made by :meth:`labmail.Lab.add_host`, not directly::

    >>> lab = Lab(ports="auto")                                    # doctest: +SKIP
    >>> host = lab.add_host("mail.example.com", users={"alice": "secret"})
    >>> lab.start(); host.endpoints["smtp"]
    ('127.0.0.2', 41823)
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import mailbox
import ssl
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from .errors import LabError
from .firewall import Firewall
from .net.interfaces import dovecot_binding, postfix_binding
from .firewall.gate import release as release_held
from .log import MailLog
from .mda.agent import LocalAgent
from .mda.local import ensure_maildir
from .mta import cleanup, logfmt
from .mta.mailq import mailq as format_mailq
from .mta.mailq import postsuper
from .mta.maincf import MainCf
from .mta.qmgr import Outcome, QmgrSettings, QueueManager
from .mta.replies import reply
from .mta.check import CheckResult, check_host, load_checked
from .mta.postconf import host_postconf
from .mta import rbl
from .mta import trivial_rewrite
from .mta.restrictions import Context, Restrictions, Stage
from .mta.queue import Queue, QueueFile, Recipient
from .mta.smtpclient import SmtpTransport
from .mta.smtpd import settings_from, smtpd_services
from .trace import Transcript, TranscriptStore
from .access.auth import add_user as add_passwd_user
from .access.dovecotconf import DovecotConfig, default_dovecot_conf, mail_location_for
from .access.imap.server import start_imap_server
from .access.pop3.server import load_host_config, start_pop3_server, stop_pop3_server
from .net.certs import generate_key, install_ca_bundle, make_snakeoil
from .net.resolver import DNSLookupError
from .net.tlsctx import dovecot_server_context, postfix_client_context
from .spam.spamd import start_spamd_server
from .users import Accounts, account_name

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

__all__ = ["Host", "STANDARD_PORTS"]

logger = logging.getLogger("labmail.host")

#: The standard port of each service; the lab listens on port_base + this.
STANDARD_PORTS: Dict[str, int] = {
    "smtp": 25, "submission": 587, "smtps": 465, "pop3": 110, "pop3s": 995,
    "imap": 143, "imaps": 993, "spamd": 783,
}

DEFAULT_MAIN_CF = """\
# /etc/postfix/main.cf of {hostname}, written by labmail.
#
# Postfix reads this file (see postconf(5)).  Each line is "name = value";
# a value may refer to another parameter with $name.  Parameters not set
# here keep Postfix's defaults: see them with host.postconf() or
# 'labmail postconf -d'.  After editing, check and reload:
#     host.check(); host.reload()        (postfix check; postfix reload)

# Use the defaults of Postfix 3.6 and later (as Debian's main.cf does):
# among them, relaying only for mynetworks and authenticated clients.
compatibility_level = 3.6

# The server's own internet host name; mydomain is derived from it.
myhostname = {hostname}

# The domains this server delivers locally.
mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain

# Deliver into ~/Maildir/ (one file per message) rather than an mbox in
# mail_spool_directory.
home_mailbox = Maildir/

# This server is labmail, not Postfix: the banner and Received: headers say so.
mail_name = labmail

alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases

# TLS, as Debian's package sets it up: the "snakeoil" certificate made at
# installation (in the lab it is signed by the lab's CA), offered with
# STARTTLS to clients that want it ("may": not required).
smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level = may
# log each TLS session in the maillog (Postfix's default, 0, logs only failures)
smtpd_tls_loglevel = 1
smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt
smtp_tls_security_level = may
"""


class Host:
    """One simulated mail server of a :class:`~labmail.Lab`."""

    def __init__(self, lab: "Lab", hostname: str, state_dir: Path, *,
                 ip: Optional[str], index: int, main_cf: Optional[str] = None,
                 files: Optional[Dict[str, str]] = None) -> None:
        self.lab = lab
        self.hostname = hostname.lower().rstrip(".")
        self.state_dir = Path(state_dir)
        self.index = index
        self.requested_ip = ip
        self.ip: str = ip or f"127.0.0.{2 + index}"
        self.clock = lab.clock
        self.ids = lab.ids
        self.trace = TranscriptStore(self.clock)
        self.endpoints: Dict[str, Tuple[str, int]] = {}
        self._servers: Dict[str, asyncio.AbstractServer] = {}
        self._connections: Set[Any] = set()
        self._memos: Dict[Tuple[int, str], Tuple[Dict[str, Any],
                                                 Dict[str, "trivial_rewrite.Resolved"]]] = {}
        self._connect_times: Dict[str, List[float]] = {}     # anvil's rate windows
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.maillog = MailLog(self.path("/var/log/maillog"), self.hostname,
                               self.clock, self.ids)
        for virtual, text in (files or {}).items():        # e.g. /etc/mailname, /etc/aliases
            target = self.path(virtual)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        self.users = Accounts(self.state_dir)
        cf = self.path("/etc/postfix/main.cf")
        if main_cf is not None or not cf.exists():
            cf.parent.mkdir(parents=True, exist_ok=True)
            cf.write_text(main_cf if main_cf is not None
                          else DEFAULT_MAIN_CF.format(hostname=self.hostname), encoding="utf-8")
        self.path("/var/mail").mkdir(parents=True, exist_ok=True)   # the central spool, as installed
        self._tls_files()       # what Debian's ssl-cert package makes at installation
        self.config: MainCf = self._load_config()
        dovecot = self.path("/etc/dovecot/dovecot.conf")
        if not dovecot.exists():
            # Dovecot reads mail where Postfix's local(8) writes it
            dovecot.parent.mkdir(parents=True, exist_ok=True)
            dovecot.write_text(default_dovecot_conf(mail_location=mail_location_for(
                self.config.get("home_mailbox"), self.config.get("mail_spool_directory"))),
                encoding="utf-8")
        self.smtpd_settings: Dict[str, Any] = settings_from(self.config, self.hostname)
        self.queue = Queue(self.state_dir, self.clock, self.ids, group_commit=True)
        self.qmgr: Optional[QueueManager] = None
        self.local_agent = LocalAgent(self)
        self._smtp_port: Optional[int] = None
        # iptables/firewalld with the rules saved in the state dir; every listener obeys it
        self.firewall: Firewall = Firewall.load(self)
        #: standard port -> "local"/"none" for daemons not bound to every address
        self.bound_interfaces: Dict[int, str] = {}
        self._firewall_stale = False          # True after a stop: the next start boots it

    # -- files -------------------------------------------------------------
    def path(self, path: str) -> Path:
        """Where a real server's absolute *path* lives in this host's state dir.

        >>> host.path("/etc/postfix/main.cf")                  # doctest: +SKIP
        PosixPath('/tmp/labmail-xyz/mail.example.com/etc/postfix/main.cf')
        """
        parts = PurePosixPath("/" + str(path).lstrip("/")).parts[1:]
        if any(p in ("..", ".") for p in parts):
            raise ValueError(f"{path!r}: '..' is not allowed in lab paths")
        return self.state_dir.joinpath(*parts)

    def _config_overrides(self) -> Dict[str, str]:
        """Values a real Postfix derives from the machine (its name, addresses)."""
        nets = ["127.0.0.1/32"]
        if self.ip != "127.0.0.1":
            nets.append(f"{self.ip}/32")
        return {"myhostname": self.hostname, "mynetworks": " ".join(nets)}

    def _load_config(self) -> MainCf:
        # the same checks as `postfix check`: every error listed, nothing half-applied
        cf, _restrictions, self._check_result = load_checked(
            self.path("/etc/postfix/main.cf"), overrides=self._config_overrides(),
            path_map=self.path)
        return cf

    def check(self) -> CheckResult:
        """``postfix check``: every problem in ``main.cf`` as ``file, line N: ...``.

        >>> print("\n".join(host.check().lines()) or "no problems")    # doctest: +SKIP
        """
        return check_host(self)

    def postconf(self, *names: str, n: bool = False, d: bool = False, x: bool = False,
                 h: bool = False, e: Sequence[str] = (), X: Sequence[str] = ()) -> str:
        """``postconf`` on this host, with its flags (``n=True`` is ``-n`` ...).

        >>> host.postconf("myorigin", x=True)                        # doctest: +SKIP
        myorigin = mail.example.com
        """
        return host_postconf(self, *names, n=n, d=d, x=x, h=h, e=e, X=X)

    def reload(self) -> List[str]:
        """Read ``main.cf`` again, like ``postfix reload``; returns its warnings.

        A broken file raises :class:`~labmail.ConfigError` listing every error
        (as ``postfix check`` would) and the old settings stay in force.
        Sessions already open finish under the old settings.
        """
        new = self._read_main_cf()
        if self.qmgr is not None:
            self.qmgr.settings = QmgrSettings.from_config(new)
        self.maillog.write("postfix/master", "reload -- version labmail, configuration "
                           "/etc/postfix")
        return list(new.warnings)

    # -- users and mailboxes -------------------------------------------------
    def add_user(self, name: str, password: Optional[str] = None, *,
                 scheme: str = "SHA512-CRYPT") -> None:
        """Create an account *name* (with a Maildir) and its POP3/IMAP password.

        The password goes into Dovecot's passwd-file ``/etc/dovecot/users``
        hashed with *scheme* (``PLAIN`` keeps it readable, which APOP needs).
        """
        self.users.add(name)
        if password is not None:
            add_passwd_user(self.path("/etc/dovecot/users"), name, password, scheme,
                            home=self.users.home(name))
        if self.smtpd_settings["home_mailbox"].endswith("/"):
            ensure_maildir(self.maildir_path(name))

    def maildir_path(self, user: str) -> Path:
        """The directory of *user*'s Maildir (``~/Maildir``)."""
        home = self.path(self.users.home(user))
        box = self.smtpd_settings["home_mailbox"] or "Maildir/"
        return home / box.rstrip("/")

    def mailbox(self, user: str) -> "mailbox.Mailbox":
        """*user*'s mailbox where ``main.cf`` delivers it.

        A :class:`mailbox.Maildir` for ``home_mailbox = Maildir/``, else a
        :class:`mailbox.mbox` (``~/FILE`` or ``mail_spool_directory/user``).
        Mail in flight is delivered first (see :meth:`settle`).
        """
        if not self.users.exists(user):
            raise LabError(f"{self.hostname} has no account {user!r}; "
                           f"accounts: {', '.join(self.users.names())}")
        self.settle()
        box = self.smtpd_settings["home_mailbox"]
        if box.endswith("/"):
            return mailbox.Maildir(self.maildir_path(user), factory=None, create=True)
        if box:
            return mailbox.mbox(self.path(self.users.home(user)) / box, create=True)
        return mailbox.mbox(self.path(self.smtpd_settings["mail_spool_directory"]) / user,
                            create=True)

    def transcripts(self, protocol: Optional[str] = None) -> List[Transcript]:
        """Recorded sessions, oldest first (``protocol="smtp"`` for SMTP only)."""
        return self.trace.list(protocol)

    def last_transcript(self, protocol: str = "smtp") -> Transcript:
        """The most recent session of *protocol*."""
        items = self.trace.list(protocol)
        if not items:
            raise LabError(f"no {protocol} session on {self.hostname} yet")
        return items[-1]

    # -- networks ------------------------------------------------------------
    def in_mynetworks(self, ip: str) -> bool:
        """True when a client at *ip* is inside ``mynetworks`` (may relay):
        the answer ``permit_mynetworks`` gives, remembered per main.cf."""
        return self.smtpd_settings["restrictions"].in_mynetworks(ip)

    def _resolutions(self, settings: Dict[str, Any]) -> Dict[str, "trivial_rewrite.Resolved"]:
        """trivial-rewrite's answers for one ``main.cf`` (a reload makes a new
        settings dict, and so a new, empty table), asked at RCPT time and again
        at delivery.  Bounded: emptied when full."""
        key = (id(settings), self.ip)         # is_local_domain also knows our address
        memo = self._memos.get(key)
        if memo is None or memo[0] is not settings:
            if len(self._memos) > 8:
                self._memos.clear()
            memo = self._memos[key] = (settings, {})
        if len(memo[1]) > 4096:
            memo[1].clear()
        return memo[1]

    # -- mail in ---------------------------------------------------------------
    async def accept_message(self, *, sender: str, recipients: List[str], content: bytes,
                             queue_id: str, helo: Optional[str], client_ip: str,
                             client_name: str, protocol: str,
                             tls: Optional[str] = None) -> QueueFile:
        """cleanup(8): finish the message and queue it durably; qmgr takes over.

        Returns once the queue file is on disk (the smtpd then says ``250``);
        delivery follows within milliseconds when nothing is wrong.
        """
        settings = self.smtpd_settings
        now = self.clock.now()
        if self.in_mynetworks(client_ip):
            content = cleanup.add_missing_headers(content, queue_id=queue_id,
                                                  myhostname=settings["myhostname"],
                                                  sender=sender, when=now)
        received = cleanup.received_header(
            helo=helo, client_name=client_name, client_ip=client_ip,
            myhostname=settings["myhostname"], mail_name=settings["mail_name"],
            protocol=protocol, queue_id=queue_id, recipients=recipients, when=now, tls=tls)
        content = received + content
        # cleanup logs the message-id as it writes the file; qmgr may take the
        # file the moment it is in incoming/, so the line comes first
        self.maillog.write(logfmt.CLEANUP, logfmt.cleanup_message_id(
            queue_id, _header_value(content, b"message-id")))
        qf = await self.queue.enqueue_async(sender, recipients, content, queue_id=queue_id)
        if self.qmgr is not None:
            self.qmgr.submit(qf)
        return qf

    async def check_recipient(self, *, client_ip: str, client_name: str, helo: Optional[str],
                              sender: Optional[str], recipient: str, esmtp: bool = True,
                              sasl_username: Optional[str] = None,
                              queue_id: Optional[str] = None,
                              settings: Optional[Dict[str, Any]] = None
                              ) -> Optional[Tuple[str, str]]:
        """smtpd's verdict on ``RCPT TO``: None to accept, else (reply, log line).

        Postfix's order: the restriction lists of ``main.cf`` (client, helo,
        sender, relay, recipient — all at RCPT time with ``smtpd_delay_reject
        = yes``), then the local recipient table for our own domains.
        """
        settings = settings if settings is not None else self.smtpd_settings
        restrictions: Restrictions = settings["restrictions"]
        # trivial-rewrite first: a%b@ours, b!a@ours and "a@b"@ours are mail for
        # a@b, and the relay check must judge that, not our domain after the @
        resolved = self.resolve_address(recipient, settings)
        local = resolved.local
        resolver = self.lab.resolver
        # replies and log lines name the address in Postfix's internal (unquoted) form
        ctx = Context(client_ip, client_name, helo, sender,
                      trivial_rewrite.internalize(recipient), sasl_username, esmtp,
                      recipient_is_local=local or None, local_addresses=(self.ip,),
                      queue_id=queue_id, dns=self._domain_exists,
                      dnsbl=rbl.resolver_lookup(resolver) if resolver else None,
                      maillog=lambda text: self.maillog.write("postfix/smtpd", text),
                      recipient_resolved=trivial_rewrite.internalize(resolved.address),
                      recipient_routed=resolved.routed)
        if settings["needs_dns"]:
            # Restrictions that ask DNS run off the loop: the lab's DNS server
            # answers on this very loop, so a lookup here would wait forever.
            loop = asyncio.get_running_loop()
            decision = await loop.run_in_executor(None, restrictions.check, Stage.RCPT, ctx)
        else:
            decision = restrictions.check(Stage.RCPT, ctx)
        if decision is not None:
            return decision.reply, decision.log
        if local:
            mailbox = trivial_rewrite.internalize(resolved.address)
            if not self.users.known(account_name(mailbox, settings["recipient_delimiter"])):
                text = reply("user_unknown", rcpt=ctx.recipient)
                return text, restrictions.log_line(Stage.RCPT, ctx, text)
        return None

    def _domain_exists(self, domain: str) -> Optional[bool]:
        """True (MX or A), False (does not exist) or None (temporary failure).

        Blocking: called by the restriction evaluator in a worker thread.
        """
        resolver = self.lab.resolver
        if resolver is None:
            return None
        try:
            resolver.mx_hosts(domain)
            return True
        except DNSLookupError as exc:
            return False if exc.permanent else None

    def is_local_domain(self, domain: str, settings: Optional[Dict[str, Any]] = None) -> bool:
        """True when mail for *domain* is delivered here: listed in
        ``mydestination``, or ``[address]`` of this host's own address."""
        domain = domain.lower().rstrip(".")
        if domain.startswith("[") and domain.endswith("]"):
            return domain[1:-1] in (self.ip, "127.0.0.1")
        return domain in (settings or self.smtpd_settings)["mydestination"]

    def resolve_address(self, address: str,
                        settings: Optional[Dict[str, Any]] = None) -> "trivial_rewrite.Resolved":
        """Where *address* goes, as Postfix's trivial-rewrite resolves it.

        >>> host.resolve_address("bob%example.org@mail.example.com").address  # doctest: +SKIP
        'bob@example.org'
        """
        settings = settings if settings is not None else self.smtpd_settings
        cache = self._resolutions(settings)
        hit = cache.get(address)
        if hit is None:
            hit = cache[address] = trivial_rewrite.resolve(
                address, settings["rewrite"], lambda domain: self.is_local_domain(domain, settings))
        return hit

    async def _deliver(self, qf: QueueFile, rcpt: Recipient) -> Outcome:
        """qmgr's delivery agent: ``local`` for our domains, ``smtp`` for others.

        As qmgr(8) does, the recipient is resolved first and delivered as
        resolved (``a%b@ours`` is relayed to ``b`` as ``a@b``); the log line
        names both (``to=<a@b>, orig_to=<a%b@ours>``).
        """
        resolved = self.resolve_address(rcpt.address)
        if resolved.error:
            return Outcome("bounced", "5.1.3", "none", "bad address syntax")
        target = rcpt
        if resolved.address != rcpt.address:
            target = dataclasses.replace(rcpt, address=resolved.address,
                                         original=rcpt.original or rcpt.address)
        if resolved.local:
            out = await self.local_agent.deliver(qf, target)
        else:
            out = await self._smtp_transport().deliver(qf, target)
        if target is not rcpt and out.to is None:
            out = dataclasses.replace(out, to=resolved.address)
        return out

    def _smtp_transport(self) -> SmtpTransport:
        resolver = self.lab.resolver
        tls, level, cafile = postfix_client_context(self.config.get, path=self.path)
        return SmtpTransport(
            myhostname=self.smtpd_settings["myhostname"],
            mx=resolver.amx_hosts if resolver else None,
            addresses=resolver.aaddresses if resolver else None,
            relayhost=self.config.get("relayhost"), port=self.lab.smtp_port_for,
            my_addresses=[tuple(self.endpoints["smtp"])] if "smtp" in self.endpoints else [],
            maillog=self.maillog, clock=self.clock, source_ip=self.ip,
            trace=self.trace, tls_context=tls, tls_level=level, tls_cafile=cafile,
            connect_timeout=self.config.get_time("smtp_connect_timeout"),
            network=self.lab.connection_verdict)

    # -- the queue ---------------------------------------------------------------
    def settle(self, timeout: float = 10.0, *, sessions: bool = False) -> bool:
        """Wait until no delivery is in progress (deferred mail stays deferred).

        Lessons call this before looking into a mailbox, so a message that was
        just accepted has had its few milliseconds to be delivered.  With
        ``sessions=True`` it also waits for SMTP sessions to finish closing
        (so their ``disconnect`` log line is written).  False on timeout.
        """
        if self.qmgr is None or not self.lab.running:
            return True

        async def idle() -> bool:
            loop = asyncio.get_running_loop()
            end = loop.time() + timeout
            if sessions:
                while self._connections and loop.time() < end:
                    await asyncio.sleep(0.005)
            assert self.qmgr is not None
            return await self.qmgr.idle(max(0.0, end - loop.time())) and \
                not (sessions and self._connections)
        return self.lab.run(idle(), timeout=timeout + 5)

    def delivering(self) -> bool:
        """True while the queue manager has a delivery in progress (any thread)."""
        qmgr = self.qmgr
        return qmgr is not None and bool(qmgr._tasks or qmgr._inflight)

    def sessions(self) -> List[Transcript]:
        """Transcripts of the SMTP sessions open right now (with their ``state``)."""
        return [c.transcript for c in list(self._connections) if c.transcript is not None]

    def mailq(self) -> str:
        """The queue as Postfix's ``mailq`` prints it."""
        return format_mailq(self.queue, tz=self.clock.tz)

    def flush(self, wait: bool = True) -> int:
        """``postfix flush``: try every deferred message now.

        Waits for those deliveries to end (unless ``wait=False``); returns how
        many messages were taken from the queue.
        """
        if self.qmgr is None:
            raise LabError(f"{self.hostname} is not running; start it first")
        if not wait:
            self.qmgr.flush()
            return 0
        return self.lab.run(self.qmgr.run_queue(flush=True), timeout=60)

    def postsuper(self, action: str, *ids: str) -> str:
        """``postsuper -d|-h|-H ID...|ALL``: delete, hold or release queued mail.

        >>> print(host.postsuper("-h", "ALL"))                       # doctest: +SKIP
        postsuper: Placed on hold: 1 message
        """
        lines = postsuper(self.queue, action, ids or ("ALL",), maillog=self.maillog)
        if self.qmgr is not None:
            self.qmgr.wakeup()                # released mail is tried at once
        return "\n".join(f"postsuper: {line}" for line in lines)

    def run_queue(self) -> int:
        """Let qmgr look at the queue now (after ``lab.clock.advance(...)``) and
        wait for the deliveries that are due; returns how many it took."""
        if self.qmgr is None:
            raise LabError(f"{self.hostname} is not running; start it first")
        return self.lab.run(self.qmgr.run_queue(), timeout=60)

    # -- services ----------------------------------------------------------------
    def _port(self, service: str) -> int:
        if self.lab.auto_ports:
            return 0
        return self.lab.port_base + STANDARD_PORTS[service] + self.lab._port_offset(self)

    def _tls_files(self) -> None:
        """The snakeoil pair (signed by the lab CA) and the CA bundle, made once."""
        ca = self.lab.ca
        make_snakeoil(self.state_dir, self.hostname, ca, key=generate_key("ec"))
        install_ca_bundle(self.state_dir, ca)

    def _read_main_cf(self) -> MainCf:
        """Parse main.cf and put it in force (start and reload); returns it."""
        new = self._load_config()
        self.config, self.smtpd_settings = new, settings_from(new, self.hostname)
        return new

    def _dovecot_tls(self, conf: DovecotConfig) -> Optional[ssl.SSLContext]:
        if conf.ssl == "no":
            return None
        return dovecot_server_context(conf.ssl_cert, conf.ssl_key, path=self.path,
                                      ssl_min_protocol=conf.settings.get("ssl_min_protocol") or "TLSv1.2")

    def _bindings(self, ip: str, dovecot_conf: DovecotConfig) -> Dict[int, str]:
        """Standard port -> "all"/"local"/"none": which clients each daemon hears.

        From ``inet_interfaces``/``inet_protocols`` (Postfix, read at start
        only) and Dovecot's ``listen``; see :mod:`labmail.net.interfaces`.
        """
        postfix = postfix_binding(self.config.get("inet_interfaces"),
                                  self.config.get("inet_protocols"), ip, self.hostname)
        dovecot = dovecot_binding(dovecot_conf.listen, ip, self.hostname)
        ports = {STANDARD_PORTS[s]: postfix for s in ("smtp", "submission", "smtps")}
        ports.update({STANDARD_PORTS[s]: dovecot for s in ("pop3", "pop3s", "imap", "imaps")})
        return {port: mode for port, mode in ports.items() if mode != "all"}

    async def _start_services(self, ip: str) -> None:
        """Listen on every service; raises OSError if an address/port is taken."""
        if self._firewall_stale:              # a restart: runtime rules lost, saved ones loaded
            self.firewall.boot()
            self._firewall_stale = False
        self.firewall.own_ip = ip             # its own connections arrive on lo
        # `postfix start` reads main.cf: edits made while stopped take effect now
        self._read_main_cf()
        dovecot_conf = load_host_config(self)
        self.bound_interfaces = self._bindings(ip, dovecot_conf)
        dovecot_tls = self._dovecot_tls(dovecot_conf)
        services: Dict[str, Callable[[int], Any]] = dict(smtpd_services(self, ip))
        services.update({
            "pop3": lambda port: start_pop3_server(self, ip, port, ssl_context=dovecot_tls),
            "imap": lambda port: start_imap_server(self, ip, port, ssl_context=dovecot_tls),
            "spamd": lambda port: start_spamd_server(self, ip, port),
        })
        if dovecot_tls is not None:
            services["pop3s"] = lambda port: start_pop3_server(
                self, ip, port, ssl_context=dovecot_tls, implicit_tls=True)
            services["imaps"] = lambda port: start_imap_server(
                self, ip, port, ssl_context=dovecot_tls, implicit_tls=True)
        started: Dict[str, asyncio.AbstractServer] = {}
        try:
            for name in STANDARD_PORTS:
                if name in services:
                    started[name] = await services[name](self._port(name))
        except OSError:
            for server in started.values():
                server.close()
            raise
        self.ip = ip
        self._servers = started
        self.endpoints = {name: server.sockets[0].getsockname()[:2]
                          for name, server in started.items()}
        self._smtp_port = self.endpoints["smtp"][1]
        for name, (addr, port) in self.endpoints.items():
            logger.info("%s: %s listening on %s:%s", self.hostname, name, addr, port)

    async def _start_qmgr(self) -> None:
        """Start the queue manager (after the lab's DNS knows every host, so a
        queue recovered after a restart is routed, not bounced)."""
        if self.qmgr is None:
            self.qmgr = QueueManager(self.queue, self._deliver, clock=self.clock,
                                     maillog=self.maillog,
                                     settings=QmgrSettings.from_config(self.config))
            await self.qmgr.start()

    async def _stop_services(self) -> None:
        if self.qmgr is not None:
            await self.qmgr.stop()
            self.qmgr = None
        self._firewall_stale = True
        for name, server in self._servers.items():
            release_held(server)              # connections the firewall was silently holding
            if name.startswith("pop3"):
                await stop_pop3_server(server)
            server.close()
        for conn in list(self._connections):
            transport = getattr(conn, "transport", None)
            if transport is not None:
                transport.close()
        for server in self._servers.values():
            try:
                await asyncio.wait_for(server.wait_closed(), 5)
            except asyncio.TimeoutError:  # pragma: no cover - a stuck client
                logger.warning("%s: a connection did not close in time", self.hostname)
        self._servers = {}
        self.endpoints = {}
        self.maillog.close()

    @property
    def running(self) -> bool:
        """True while the host's services listen."""
        return bool(self._servers)

    def stop(self) -> None:
        """Stop this host only (its address stops answering; mail to it waits)."""
        if self.running:
            self.lab.run(self._stop_services())

    def start(self) -> None:
        """Start this host again (after :meth:`stop`); its queue is picked up."""
        if not self.lab.running:
            raise LabError("start the lab first: lab.start()")
        self.lab.run(self.lab._start_host(self))

    def port_table(self) -> str:
        """The service → address table, next to the standard ports (plain text)."""
        rows = [f"{'service':<11} {'standard port':>13}   lab address"]
        for name, (addr, port) in self.endpoints.items():
            rows.append(f"{name:<11} {STANDARD_PORTS[name]:>13}   {addr}:{port}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Host {self.hostname} {self.ip} {state}>"


def _header_value(content: bytes, name: bytes) -> str:
    for line in cleanup.header_lines(content):
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip().decode("utf-8", "replace")
    return ""

