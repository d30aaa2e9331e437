"""The lab's smtpd: aiosmtpd's SMTP engine, speaking and logging like Postfix.

aiosmtpd parses the dialogue; this module adds what a Postfix ``smtpd`` does
around it, through aiosmtpd's documented handler hooks plus three narrow
overrides of its protocol class:

* every reply goes through :func:`labmail.mta.replies.translate`, so students
  see Postfix's codes and wording (with RFC 3463 enhanced status codes);
* every line in and out is recorded in the host's transcript store;
* the session is logged in the maillog as Postfix logs it (``connect from``,
  ``client=``, ``NOQUEUE: reject:``, ``disconnect from ... commands=N``).

The handler decides: which recipients are accepted (``mydestination``, the
local recipient table, ``mynetworks`` for relaying) and what happens to the
message (cleanup, then local delivery, synced to disk before the ``250``).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from aiosmtpd.smtp import SMTP, Envelope, Session

from .replies import reply, translate
from .restrictions import LIST_PARAMETERS, Restrictions
from .smtp_states import SessionState, State

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host
    from ..trace import Transcript

__all__ = ["LabSMTP", "SmtpdHandler"]

logger = logging.getLogger("labmail.smtpd")

#: Postfix's names for the commands it counts in its ``disconnect`` log line
_COUNTED = {"HELO": "helo", "EHLO": "ehlo", "STARTTLS": "starttls", "AUTH": "auth",
            "MAIL": "mail", "RCPT": "rcpt", "DATA": "data", "BDAT": "bdat",
            "RSET": "rset", "NOOP": "noop", "VRFY": "vrfy", "ETRN": "etrn",
            "QUIT": "quit"}
_ORDER = ["helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat",
          "rset", "noop", "vrfy", "etrn", "quit", "unknown"]


class _RecordingReader:
    """Wraps aiosmtpd's StreamReader so each line the client sends is recorded."""

    def __init__(self, reader: asyncio.StreamReader, proto: "LabSMTP") -> None:
        object.__setattr__(self, "_inner", reader)
        object.__setattr__(self, "_proto", proto)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        try:
            line = await self._inner.readuntil(separator)
        except asyncio.LimitOverrunError as exc:
            self._proto._client_line(f"<a line longer than {exc.consumed} octets>")
            raise
        self._proto._client_line(line.rstrip(b"\r\n").decode("utf-8", "replace"))
        return line

    async def readline(self) -> bytes:
        line = await self._inner.readline()
        self._proto._client_line(line.rstrip(b"\r\n").decode("utf-8", "replace"))
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)


class LabSMTP(SMTP):
    """One SMTP connection of a lab host (aiosmtpd protocol, Postfix manners)."""

    def __init__(self, handler: "SmtpdHandler", **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.lab_host: "Host" = handler.host
        self.settings = handler.settings
        self.transcript: Optional["Transcript"] = None
        self.client_ip = "unknown"
        self.client_name = "unknown"
        self._greeted = False
        self._current: Optional[str] = None          # command awaiting its reply
        self._verb = ""                               # its verb, as sent
        self.state = SessionState()
        self.tls_info: Optional[tuple] = None
        self._counts: Dict[str, List[int]] = {}      # name -> [ok, total]
        self._errors = 0

    # -- connection life cycle ---------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transcript is None
        if first:
            peer = transport.get_extra_info("peername")
            local = transport.get_extra_info("sockname")
            self.client_ip = peer[0] if peer else "unknown"
            self.transcript = self.lab_host.trace.open(
                "smtp", peer[:2] if peer else None, local[:2] if local else None)
            self.transcript.state = self.state
            self.lab_host._connections.add(self)
        super().connection_made(transport)
        if not first and self.session is not None and self.session.ssl is not None:
            obj = transport.get_extra_info("ssl_object")
            version = obj.version() if obj else ""
            cipher = (obj.cipher() or ("",))[0] if obj else ""
            self.transcript.start_tls(version or "", cipher or "")
            self.tls_info = (version, cipher)
            self.lab_host.maillog.write(
                "postfix/smtpd", f"Anonymous TLS connection established from "
                f"{self.client_name}[{self.client_ip}]: {version} with cipher {cipher}")

    async def _handle_client(self) -> None:
        # Postfix looks the client up in DNS before it greets (smtpd_peername_lookup)
        self.client_name = await self.lab_host.lab.areverse_name(self.client_ip)
        self.lab_host.maillog.write(
            "postfix/smtpd", f"connect from {self.client_name}[{self.client_ip}]")
        await super()._handle_client()

    def connection_lost(self, error: Optional[Exception]) -> None:
        if self.transcript is not None and not self.transcript.closed:
            self.transcript.close()
            self.lab_host.maillog.write(
                "postfix/smtpd",
                f"disconnect from {self.client_name}[{self.client_ip}]{self._command_stats()}")
        self.lab_host._connections.discard(self)
        super().connection_lost(error)

    def _cb_client_connected(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        super()._cb_client_connected(_RecordingReader(reader, self), writer)  # type: ignore[arg-type]

    # -- recording -----------------------------------------------------------
    def _client_line(self, text: str) -> None:
        t = self.transcript
        if t is None:
            return
        if not t._in_content:
            verb = text.split(" ", 1)[0].split(":", 1)[0].upper()
            self._current = _COUNTED.get(verb, "unknown") if text else "unknown"
            self._verb = verb
        t.client(text)

    def _count(self, status: str) -> None:
        if status[3:4] == "-" or not status[:3].isdigit():
            return
        code = int(status[:3])
        if self.state.state is State.DATA:
            self.state.advance("CONTENT", code)
        elif self._verb:
            self.state.advance(self._verb, code)
            self._verb = ""
        name = self._current
        if name is None or status.startswith("354"):
            return
        ok, total = self._counts.setdefault(name, [0, 0])
        self._counts[name] = [ok + (status[:1] in "23"), total + 1]
        self._current = None

    def _command_stats(self) -> str:
        parts, ok_all, total_all = [], 0, 0
        for name in _ORDER:
            if name not in self._counts:
                continue
            ok, total = self._counts[name]
            ok_all, total_all = ok_all + ok, total_all + total
            parts.append(f"{name}={ok}" if ok == total else f"{name}={ok}/{total}")
        if total_all:
            parts.append(f"commands={ok_all}" if ok_all == total_all
                         else f"commands={ok_all}/{total_all}")
        else:
            parts.append("commands=0")
        return " " + " ".join(parts)

    async def push(self, status: Any) -> None:
        """Send one reply line, in Postfix's words, and record it."""
        if isinstance(status, bytes):
            status = status.decode("utf-8", "replace")
        if not self._greeted and status.startswith("220 "):
            status = f"220 {self.settings['smtpd_banner']}"
            self._greeted = True
        elif status.startswith("502 5.5.1 Too many unrecognized commands"):
            status = reply("too_many_errors", hostname=self.settings["myhostname"])
        else:
            status = translate(status)
        t = self.transcript
        if t is not None:
            if t._in_content:
                t.end_content()
            t.server(status)
            if status.startswith("354"):
                t.begin_content()
        self._count(status)
        await super().push(status)

    # -- Postfix behaviour that aiosmtpd does differently -------------------
    async def check_helo_needed(self, helo: str = "HELO") -> bool:
        """Postfix accepts MAIL without HELO unless ``smtpd_helo_required = yes``."""
        if not self.settings["smtpd_helo_required"]:
            return False
        return await super().check_helo_needed(helo)

    async def smtp_HELP(self, arg: str) -> None:
        """Postfix has no HELP command."""
        await self.push(reply("not_recognized"))

    async def smtp_VRFY(self, arg: Optional[str]) -> None:
        """VRFY as Postfix answers it (RFC 5321 §3.5.3: 252 when not verifying)."""
        if self.settings["disable_vrfy_command"]:
            await self.push(reply("vrfy_disabled"))
            return
        if not arg:
            await self.push("501 5.5.4 Syntax: VRFY address")
            return
        addr = arg.strip().strip("<>")
        local, _, domain = addr.rpartition("@") if "@" in addr else (addr, "", "")
        handler: SmtpdHandler = self.event_handler
        if domain and not handler.is_local_domain(domain):
            await self.push(f"252 2.0.0 {addr}")
        elif handler.host.users.known(handler.local_part(local)):
            await self.push(f"252 2.0.0 {addr}")
        else:
            shown = addr if "@" in addr else addr
            await self.push(reply("user_unknown", rcpt=shown))


class SmtpdHandler:
    """aiosmtpd handler hooks: recipient checks and local delivery for one host."""

    def __init__(self, host: "Host", settings: Dict[str, Any]) -> None:
        self.host = host
        self.settings = settings

    # -- helpers -------------------------------------------------------------
    def is_local_domain(self, domain: str) -> bool:
        """True when *domain* is listed in ``mydestination``."""
        return domain.lower().rstrip(".") in self.settings["mydestination"]

    def local_part(self, local: str) -> str:
        """The local part without an address extension (``recipient_delimiter``)."""
        delim = self.settings["recipient_delimiter"]
        if delim:
            for ch in delim:
                if ch in local:
                    local = local.split(ch, 1)[0]
                    break
        return local.lower()

    # -- hooks -----------------------------------------------------------------
    async def handle_EHLO(self, server: LabSMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: List[str]) -> List[str]:
        """EHLO keywords in the order Postfix lists them (RFC 5321 §4.1.1.1)."""
        session.host_name = hostname
        session._lab_conn = server  # type: ignore[attr-defined]
        limit = self.settings["message_size_limit"]
        keywords = ["PIPELINING", f"SIZE {limit}" if limit else "SIZE"]
        if not self.settings["disable_vrfy_command"]:
            keywords.append("VRFY")
        keywords += [r[4:] for r in responses if r[4:].startswith(("STARTTLS", "AUTH"))]
        keywords += ["ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"]
        lines = [f"250-{self.settings['myhostname']}"]
        lines += [f"250-{k}" for k in keywords[:-1]] + [f"250 {keywords[-1]}"]
        return lines

    async def handle_HELO(self, server: LabSMTP, session: Session, envelope: Envelope,
                          hostname: str) -> str:
        session.host_name = hostname
        session._lab_conn = server  # type: ignore[attr-defined]
        return f"250 {self.settings['myhostname']}"

    async def handle_MAIL(self, server: LabSMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: List[str]) -> str:
        session._lab_conn = server  # type: ignore[attr-defined]
        if address and not _valid_address(address):
            return reply("bad_sender")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return reply("mail_ok")

    async def handle_RCPT(self, server: LabSMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: List[str]) -> str:
        session._lab_conn = server  # type: ignore[attr-defined]
        if not _valid_address(address):
            return reply("bad_recipient")
        if "@" not in address:
            address = f"{address}@{self.settings['myorigin']}"
        verdict = await self.host.check_recipient(
            client_ip=server.client_ip, client_name=server.client_name,
            helo=session.host_name, sender=envelope.mail_from, recipient=address,
            esmtp=bool(session.extended_smtp),
            sasl_username=getattr(session, "login_data", None) and _login(session),
            queue_id=getattr(envelope, "queue_id", None))
        if verdict is not None:
            status, logline = verdict
            self.host.maillog.write("postfix/smtpd", logline)
            return status
        if getattr(envelope, "queue_id", None) is None:
            envelope.queue_id = self.host.ids.queue_id()  # type: ignore[attr-defined]
            self.host.maillog.write(
                "postfix/smtpd",
                f"{envelope.queue_id}: client={server.client_name}[{server.client_ip}]")  # type: ignore[attr-defined]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return reply("rcpt_ok")

    async def handle_DATA(self, server: LabSMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        queue_id: str = envelope.queue_id  # type: ignore[attr-defined]
        protocol = "ESMTP" if session.extended_smtp else "SMTP"
        try:
            await self.host.accept_message(
                sender=envelope.mail_from or "", recipients=list(envelope.rcpt_tos),
                content=content, queue_id=queue_id, helo=session.host_name,
                client_ip=server.client_ip, client_name=server.client_name,
                protocol=protocol)
        except OSError as exc:
            logger.exception("writing message %s failed", queue_id)
            self.host.maillog.write("postfix/cleanup", f"{queue_id}: warning: write error: {exc}")
            return reply("write_failed")
        finally:
            envelope.queue_id = None  # type: ignore[attr-defined]
        return reply("queued", queue_id=queue_id)


def _login(session: Session) -> Optional[str]:
    """The SASL login name of an authenticated session, if any."""
    data = getattr(session, "login_data", None)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data) if data else None


def _valid_address(address: str) -> bool:
    """A conservative RFC 5321 §4.1.2 mailbox check (empty local parts refused)."""
    if not address or any(c in address for c in " \t\r\n<>()[]\\,;\x00"):
        return False
    if address.count("@") > 1 and not address.startswith('"'):
        return False
    local, at, domain = address.rpartition("@")
    if at and (not local or not domain or ".." in domain or domain.startswith(".")):
        return False
    return True


def settings_from(cfg: Any, hostname: str) -> Dict[str, Any]:
    """The smtpd settings, read once per reload from the parsed ``main.cf``."""
    dest = {d.lower().rstrip(".") for d in cfg.get_list("mydestination")}
    return {
        "myhostname": cfg.get("myhostname"),
        "myorigin": cfg.get("myorigin"),
        "mydestination": dest,
        "smtpd_banner": cfg.get("smtpd_banner"),
        "mail_name": cfg.get("mail_name"),
        "message_size_limit": cfg.get_int("message_size_limit"),
        "smtpd_helo_required": cfg.get_bool("smtpd_helo_required"),
        "disable_vrfy_command": cfg.get_bool("disable_vrfy_command"),
        "recipient_delimiter": cfg.get("recipient_delimiter"),
        "home_mailbox": cfg.get("home_mailbox"),
        "mail_spool_directory": cfg.get("mail_spool_directory"),
        "mynetworks": _networks(cfg.get_list("mynetworks")),
        "restrictions": Restrictions.from_config(cfg),
        "needs_dns": any("reject_unknown_" in cfg.get(p) for p in LIST_PARAMETERS),
    }


def _networks(items: List[str]) -> List[Any]:
    """``mynetworks`` entries as ip_network objects (bad entries are check's job)."""
    import ipaddress
    nets = []
    for item in items:
        try:
            nets.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            logger.warning("mynetworks: ignoring %r, not a network", item)
    return nets


def make_protocol_factory(host: "Host") -> Any:
    """A factory for :meth:`asyncio.loop.create_server`.

    Each connection takes the host's settings as they are when it opens, so
    after a reload sessions already open finish under the old settings and new
    ones get the new ones (as ``postfix reload`` behaves).
    """
    cache: Dict[int, SmtpdHandler] = {}

    def factory() -> LabSMTP:
        settings = host.smtpd_settings
        handler = cache.get(id(settings))
        if handler is None or handler.settings is not settings:
            cache.clear()
            handler = cache[id(settings)] = SmtpdHandler(host, settings)
        limit = settings["message_size_limit"] or None
        return LabSMTP(handler, hostname=settings["myhostname"],
                       data_size_limit=limit, enable_SMTPUTF8=True, decode_data=False,
                       loop=host.lab.loop, timeout=300, tls_context=host.smtpd_tls,
                       auth_require_tls=True)
    return factory


def smtpd_services(host: "Host", ip: str) -> Dict[str, Any]:
    """The SMTP-family listeners of a host, as master.cf would define them.

    Returns ``{service name: async function(port) -> asyncio.Server}``; the
    host picks the ports (``port_base + standard port``) and starts them.
    """
    loop = host.lab.loop

    async def smtp(port: int) -> Any:
        return await loop.create_server(make_protocol_factory(host), host=ip, port=port,
                                        reuse_address=True)
    return {"smtp": smtp}
