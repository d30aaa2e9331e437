"""The lab's smtpd: aiosmtpd's SMTP engine, speaking and logging like Postfix.

aiosmtpd parses the dialogue; this module adds what a Postfix ``smtpd`` does
around it, through aiosmtpd's documented handler hooks plus three narrow
overrides of its protocol class:

* every reply goes through :func:`labmail.mta.replies.translate`, so students
  see Postfix's codes and wording (with RFC 3463 enhanced status codes);
* every line in and out is recorded in the host's transcript store;
* the session is logged in the maillog as Postfix logs it (``connect from``,
  ``client=``, ``NOQUEUE: reject:``, ``disconnect from ... commands=N``);
* STARTTLS follows ``smtpd_tls_security_level`` (RFC 3207: the session starts
  over after the handshake and commands pipelined behind STARTTLS are
  dropped), implicit TLS serves the submissions port (RFC 8314), and SMTP
  AUTH (RFC 4954, :mod:`labmail.mta.sasl`) checks Dovecot's passwd-file as
  Postfix with ``smtpd_sasl_type = dovecot`` does.

The handler decides: which recipients are accepted (``mydestination``, the
local recipient table, ``mynetworks`` for relaying) and what happens to the
message (cleanup, then local delivery, synced to disk before the ``250``).
"""
from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from aiosmtpd.smtp import SMTP, Envelope, Session

from . import smtpd_tls
from ..users import account_name
from .replies import reply, translate
from .sasl import MECHANISMS
from .smtpd_auth import TlsAuthMixin
from .restrictions import Restrictions, needs_dns
from .smtp_states import SessionState, State
from .trivial_rewrite import RewriteParams, internalize, is_one_address, quote_local

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host
    from ..trace import Transcript

__all__ = ["LabSMTP", "SmtpdHandler", "settings_from", "smtpd_services",
           "make_protocol_factory"]

logger = logging.getLogger("labmail.smtpd")

#: Postfix's names for the commands it counts in its ``disconnect`` log line
_COUNTED = {"HELO": "helo", "EHLO": "ehlo", "STARTTLS": "starttls", "AUTH": "auth",
            "MAIL": "mail", "RCPT": "rcpt", "DATA": "data", "BDAT": "bdat",
            "RSET": "rset", "NOOP": "noop", "VRFY": "vrfy", "ETRN": "etrn",
            "QUIT": "quit"}
_ORDER = ["helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat",
          "rset", "noop", "vrfy", "etrn", "quit", "unknown"]
#: what ``smtpd_tls_security_level = encrypt`` lets through before STARTTLS (measured)
_BEFORE_TLS = {"EHLO", "HELO", "NOOP", "STARTTLS", "QUIT",
               "HELP", "EXPN"}      # commands Postfix does not know: "not recognized" anyway


class _RecordingReader:
    """Wraps aiosmtpd's StreamReader so each line the client sends is recorded."""

    def __init__(self, reader: asyncio.StreamReader, proto: "LabSMTP") -> None:
        object.__setattr__(self, "_inner", reader)
        object.__setattr__(self, "_proto", proto)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        t = self._proto.transcript
        if t is not None and t._in_content:
            # Message content, most lines of a session: no command checks to
            # make, and past the lines a transcript shows it only counts them.
            lines = _buffered_lines(self._inner, separator, self._proto.line_length_limit)
            if lines is None:
                try:
                    line = await self._inner.readuntil(separator)
                except asyncio.LimitOverrunError as exc:
                    self._proto._client_line(f"<a line longer than {exc.consumed} octets>")
                    raise
                t.content_line(line)
                return line
            for line in lines:
                t.content_line(line)
            return lines[0] if len(lines) == 1 else b"".join(lines)
        while True:        # ends: a good line, EOF, or smtpd_hard_error_limit bad ones
            try:
                line = await self._inner.readuntil(separator)
            except asyncio.LimitOverrunError as exc:
                self._proto._client_line(f"<a line longer than {exc.consumed} octets>")
                raise
            if not await self._proto._refused_bad_utf8(line):
                break
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


def _buffered_lines(reader: asyncio.StreamReader, separator: bytes,
                    most: int) -> Optional[List[bytes]]:
    """Message content lines already in *reader*'s buffer, taken from it at once.

    The lines are those successive ``await reader.readuntil(separator)`` calls
    would return, and aiosmtpd's DATA loop may take them as one piece (a
    message arrives in a few segments of many lines): a line starting with
    ``.`` (dot-stuffed, or the end of the message) is taken alone and ends a
    run, since aiosmtpd un-stuffs and looks for the end only at the start of
    each piece, and a run stays within *most* octets (its line length check).
    None when readuntil itself must run: no whole line yet, a line over the
    reader's limit, an error pending.
    """
    buffer = getattr(reader, "_buffer", None)
    if buffer is None or reader._exception is not None or not separator:
        return None
    limit, size = reader._limit, len(separator)
    end = buffer.find(separator)
    if end < 0 or end > limit:
        return None
    end += size
    lines = [bytes(buffer[:end])]
    if buffer[0] != 0x2E:                            # b"."
        while end < len(buffer) and buffer[end] != 0x2E:
            stop = buffer.find(separator, end)
            if stop < 0 or stop - end > limit or stop + size > most:
                break
            lines.append(bytes(buffer[end:stop + size]))
            end = stop + size
    del buffer[:end]
    reader._maybe_resume_transport()
    return lines


_ARRIVALS = itertools.count(1)          # the order connections arrived in (for anvil)


class LabSMTP(TlsAuthMixin, SMTP):
    """One SMTP connection of a lab host (aiosmtpd protocol, Postfix manners)."""

    #: Message lines longer than RFC 5322's 998 octets are accepted and kept
    #: whole, as Postfix does (it splits them at line_length_limit = 2048 in its
    #: queue file and joins them again on delivery); the lab refuses only lines
    #: over 64 KiB, to bound what one line can hold in memory.  Command lines
    #: stay limited to 512 octets (RFC 5321 §4.5.3.1.4) by aiosmtpd.
    line_length_limit = 65536

    def __dir__(self) -> List[str]:
        if self.__dict__.get("_constructing"):
            return _hook_names(type(self), ("smtp_", "auth_"))
        return list(super().__dir__())

    def _getaddr(self, arg: str) -> Tuple[Optional[str], Optional[str]]:
        """The address of ``MAIL FROM:``/``RCPT TO:`` as Postfix reads it (RFC 5321 §4.1.2).

        ``<path>`` or a bare address, quoted local parts kept, a source route
        (``<@relay:user@host>``) dropped as RFC 5321 §C allows, ``<>`` kept as
        the null path; returns (None, None) when the brackets do not close.
        """
        return parse_path(arg)

    def __init__(self, handler: "SmtpdHandler", *, implicit_tls: bool = False,
                 **kwargs: Any) -> None:
        # aiosmtpd's constructor finds its hooks with dir()/inspect.getmembers()
        # on the protocol and the handler, and inspects handle_EHLO's signature:
        # a quarter of a millisecond per connection.  The names depend only on
        # the classes, so both answer dir() from a per-class list meanwhile.
        self._constructing = True
        handler._constructing = True
        try:
            super().__init__(handler, **kwargs)
        finally:
            self._constructing = handler._constructing = False
        if "EHLO" not in self._handle_hooks and hasattr(handler, "handle_EHLO"):  # left out above
            self._handle_hooks["EHLO"] = handler.handle_EHLO
            self._ehlo_hook_ver = "new"
        self._held: List[str] = []                     # lines of a multi-line reply
        self.lab_host: "Host" = handler.host
        self.settings = handler.settings
        self.program = handler.program
        self.implicit_tls = implicit_tls
        self.tls_summary = ""                         # Postfix's "TLSv1.3 with cipher ..."
        self._in_auth = False                         # reading AUTH continuation lines
        # A connection keeps the settings it opened with (a reload replaces the
        # dict, never changes it), so only "encrypt" ever needs the gate.
        if self.settings["smtpd_tls_security_level"] == "encrypt":
            for verb, method in list(self._smtp_methods.items()):
                if verb not in _BEFORE_TLS:
                    self._smtp_methods[verb] = self._tls_gate(method)
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
        self._where = "CONNECT"

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
            self.arrival = next(_ARRIVALS)
        # RFC 3207 §4.2: what the client pipelined behind STARTTLS came in clear
        # text and is dropped (aiosmtpd clears the buffer); the transcript says so.
        pending = getattr(self._reader, "_buffer", b"") if not first else b""
        dropped = bytes(pending) if pending else b""
        super().connection_made(transport)
        if first and self.implicit_tls:
            self._tls_established(transport, log=False)   # logged after "connect from"
        elif not first and self.session is not None and self.session.ssl is not None:
            if dropped and self.transcript is not None:
                self.transcript.note(f"discarded {len(dropped)} bytes sent before the TLS "
                                     f"handshake (RFC 3207 §4.2): {dropped[:60]!r}")
            self._tls_established(transport)

    async def _handle_client(self) -> None:
        # Postfix looks the client up in DNS before it greets (smtpd_peername_lookup)
        self.client_name = await self.lab_host.lab.areverse_name(self.client_ip)
        self.lab_host.maillog.write(
            self.program, f"connect from {self.client_name}[{self.client_ip}]")
        refusal = self._anvil()
        if refusal is not None:
            await self.push(refusal)
            if self.transport is not None:
                self.transport.close()
            return
        if self.implicit_tls and self.tls_active:
            self._log_tls()
        await super()._handle_client()

    def _anvil(self) -> Optional[str]:
        """Postfix's anvil(8) limits per client address, for clients outside
        ``mynetworks``: open connections and connections per time unit."""
        host, ip, settings = self.lab_host, self.client_ip, self.settings
        if host.in_mynetworks(ip):
            return None
        count_limit = settings["smtpd_client_connection_count_limit"]
        rate_limit = settings["smtpd_client_connection_rate_limit"]
        what, n = "", 0
        if count_limit:
            # the connections from this address that arrived before this one, and it
            n = sum(1 for c in host._connections if getattr(c, "client_ip", None) == ip
                    and getattr(c, "arrival", 0) <= self.arrival)
            if n > count_limit:
                what = "concurrency"
        if not what and rate_limit:
            now = self.loop.time()
            times = host._connect_times.setdefault(ip, [])
            window = settings["anvil_rate_time_unit"]
            times[:] = [t for t in times if now - t < window] + [now]
            n = len(times)
            if n > rate_limit:
                what = "rate"
        if not what:
            return None
        host.maillog.write(self.program, f"warning: Connection {what} limit exceeded: {n} from "
                                         f"{self.client_name}[{ip}] for service {self.event_handler.service}")
        return reply("too_many_connections", hostname=settings["myhostname"], ip=ip)

    def connection_lost(self, error: Optional[Exception]) -> None:
        if self.transcript is not None and not self.transcript.closed:
            self.transcript.close()
            self.lab_host.maillog.write(
                self.program,
                f"disconnect from {self.client_name}[{self.client_ip}]{self._command_stats()}")
        self.lab_host._connections.discard(self)
        super().connection_lost(error)
        task = self._handler_coroutine
        if task is not None:
            if task.done():
                self._forget()
            else:
                task.add_done_callback(lambda _task: self._forget())

    def _forget(self) -> None:
        """The session is over (connection lost, command loop ended): let go of
        what refers back to this object, so it is freed at once instead of
        waiting for the cycle collector (bound methods of the command table,
        the stream wrappers, the ended task and its traceback)."""
        self._smtp_methods = {}
        self._auth_methods = {}
        self._handler_coroutine = None
        self._reader = self._writer = None
        self._client_connected_cb = None
        if self.session is not None:
            self.session.__dict__.pop("_lab_conn", None)

    def _cb_client_connected(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        super()._cb_client_connected(_RecordingReader(reader, self), writer)  # type: ignore[arg-type]

    async def _refused_bad_utf8(self, line: bytes) -> bool:
        """A command line that is not UTF-8: Postfix 3.7 (``smtputf8_enable =
        yes``) answers ``500 5.5.2 Error: bad UTF-8 syntax`` before parsing it,
        counts it as an error and not as a command.  Message content and AUTH
        responses are not commands.  True when *line* was refused."""
        t = self.transcript
        if t is None or t._in_content or self._in_auth or not self.settings["rewrite"].smtputf8_enable:
            return False
        try:
            line.decode("utf-8")
            return False
        except UnicodeDecodeError:
            pass
        t.client(line.rstrip(b"\r\n").decode("utf-8", "replace"))
        self._errors += 1
        texts = [reply("bad_utf8")]
        if self._errors >= self.settings["smtpd_hard_error_limit"]:
            texts.append(reply("too_many_errors", hostname=self.settings["myhostname"]))
        for text in texts:
            t.server(text)
            await SMTP.push(self, text)          # not counted as a command
        if len(texts) > 1:
            self.lab_host.maillog.write(self.program, f"too many errors after {self._where} "
                                                      f"from {self.client_name}[{self.client_ip}]")
            if self.transport is not None:
                self.transport.close()
            raise asyncio.CancelledError        # aiosmtpd's way out of its command loop
        return True

    # -- recording -----------------------------------------------------------
    def _client_line(self, text: str) -> None:
        t = self.transcript
        if t is None:
            return
        if not t._in_content and not self._in_auth:
            verb = text.split(" ", 1)[0].split(":", 1)[0].upper()
            self._current = _COUNTED.get(verb, "unknown") if text else "unknown"
            self._verb = verb
            self._where = verb if verb in _COUNTED else "UNKNOWN"     # Postfix's "after X"
        t.client(text)

    def _count(self, status: str) -> None:
        if status[3:4] == "-" or not status[:3].isdigit():
            return
        code = int(status[:3])
        if code == 334:            # an AUTH challenge: the command is still going on
            return
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
            status = _translate(status)
        t = self.transcript
        if t is not None:
            if t._in_content:
                t.end_content()
            t.server(status)
            if status.startswith("354"):
                t.begin_content()
        self._count(status)
        if status[3:4] == "-":
            # A multi-line reply (EHLO) leaves in one segment, as Postfix's
            # buffered stream sends it: one write instead of one per line.
            self._held.append(status)
            return
        if self._held:
            self._held.append(status)
            status = "\r\n".join(self._held)
            self._held.clear()
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

    async def smtp_DATA(self, arg: str) -> None:
        """DATA in a transaction whose recipients were all refused: Postfix's 554."""
        if self.envelope is not None and self.envelope.mail_from and not self.envelope.rcpt_tos:
            await self.push(reply("no_valid_rcpt"))
            return
        await super().smtp_DATA(arg)

    def _reset_timeout(self, duration: Optional[float] = None) -> None:
        """aiosmtpd's idle timer, restarted by every command: the deadline moves
        and one timer per connection follows it (instead of a new timer and a
        cancelled one per command); it fires when the last deadline passes."""
        deadline = self.loop.time() + (duration or self._timeout_duration)
        self._deadline = deadline
        handle = self._timeout_handle
        if handle is not None and self._timer_armed and not handle.cancelled() \
                and handle.when() <= deadline:
            return                      # it fires first and moves itself on
        if handle is not None:
            handle.cancel()
        self._timeout_handle = self.loop.call_at(deadline, self._timeout_due)
        self._timer_armed = True

    _timer_armed = False                # a _timeout_due is waiting (unless cancelled)

    def _timeout_due(self) -> None:
        if self.loop.time() < self._deadline:
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_due)
        else:
            self._timer_armed = False
            self._timeout_cb()

    def _timeout_cb(self) -> None:
        """``smtpd_timeout`` passed: say so as Postfix does, then hang up."""
        if self.transport is not None and not self.transport.is_closing():
            line = reply("timeout", hostname=self.settings["myhostname"])
            try:
                self.transport.write(line.encode() + b"\r\n")
            except Exception:           # pragma: no cover - the peer went away
                pass
            if self.transcript is not None:
                self.transcript.server(line)
        super()._timeout_cb()

    async def smtp_VRFY(self, arg: Optional[str]) -> None:
        """VRFY as Postfix answers it (RFC 5321 §3.5.3: 252 when not verifying)."""
        if self.settings["disable_vrfy_command"]:
            await self.push(reply("vrfy_disabled"))
            return
        if not arg:
            await self.push(reply("vrfy_syntax"))
            return
        # Postfix checks the address as it would a RCPT TO (resolved, restrictions,
        # local recipient table) and echoes the argument as given
        given = arg.strip()
        addr = given[1:-1] if given.startswith("<") and given.endswith(">") else given
        handler: SmtpdHandler = self.event_handler
        envelope = self.envelope if self.envelope is not None else Envelope()
        if not addr or handler.bad_address(self, envelope, addr, "VRFY"):
            await self.push(reply("bad_recipient"))
            return
        sasl = _sasl(self.session) if self.session is not None else None
        verdict = await handler.host.check_recipient(
            client_ip=self.client_ip, client_name=self.client_name,
            helo=self.session.host_name if self.session is not None else None,
            sender=_sender(envelope) if envelope.mail_from else None, recipient=addr,
            esmtp=bool(self.session and self.session.extended_smtp),
            sasl_username=sasl[1] if sasl else None, settings=handler.settings)
        if verdict is not None:
            status, logline = verdict
            handler.host.maillog.write(self.program, logline.replace(": RCPT from ", ": VRFY from ", 1))
            await self.push(status)
            return
        await self.push(reply("vrfy_ok", user=given))


class SmtpdHandler:
    """aiosmtpd handler hooks: recipient checks and local delivery for one host."""

    _constructing = False       # True while a LabSMTP is being built on this handler

    def __dir__(self) -> List[str]:
        if self._constructing:
            # handle_EHLO is left out so aiosmtpd does not inspect its
            # signature for every connection; LabSMTP registers it itself
            return [n for n in _hook_names(type(self), ("handle_", "auth_"))
                    if n != "handle_EHLO"]
        return list(super().__dir__())

    def __init__(self, host: "Host", settings: Dict[str, Any], *, service: str = "smtp") -> None:
        self.host = host
        self.settings = settings
        self.service = service
        self.program = f"{settings.get('syslog_name') or 'postfix'}/smtpd"

    # -- helpers -------------------------------------------------------------
    def is_local_domain(self, domain: str) -> bool:
        """True when mail for *domain* is delivered here (the host decides)."""
        return self.host.is_local_domain(domain, self.settings)

    def bad_address(self, server: "LabSMTP", envelope: Envelope, address: str,
                    command: str) -> bool:
        """True (and a warning in the maillog) when Postfix's smtpd would answer
        ``Bad ... address syntax``: a malformed path, an address trivial-rewrite
        cannot resolve to a valid domain, or a non-ASCII domain without
        SMTPUTF8 on MAIL FROM (RFC 6531 §3.2; 8-bit local parts pass, as
        Postfix has always let them)."""
        # an empty recipient (<"">) is no address (measured: 501)
        bad = not _valid_address(address) or internalize(address) == ""
        if not bad:
            resolved = self.host.resolve_address(address, self.settings)
            bad = resolved.error or (not envelope.smtp_utf8 and not resolved.domain.isascii())
        if bad:
            self.host.maillog.write(self.program, f"warning: Illegal address syntax from "
                                    f"{server.client_name}[{server.client_ip}] in {command} "
                                    f"command: <{address}>")
        return bad

    def local_part(self, local: str) -> str:
        """The local part without an address extension (``recipient_delimiter``)."""
        return account_name(local, self.settings["recipient_delimiter"])

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
        if self.settings["smtpd_tls_security_level"] != "none":   # reload may turn TLS off
            keywords += [r[4:] for r in responses if r[4:].startswith("STARTTLS")]
        if server.auth_offered():
            keywords.append("AUTH " + " ".join(MECHANISMS))
            if self.settings["broken_sasl_auth_clients"]:
                keywords.append("AUTH=" + " ".join(MECHANISMS))
        keywords += ["ENHANCEDSTATUSCODES", "8BITMIME"]
        if self.settings["rewrite"].smtputf8_enable:
            keywords.append("SMTPUTF8")
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
        # The null sender of bounces (RFC 5321 §4.5.5) stays "<>" in the envelope
        # while the session runs (aiosmtpd tests the sender for truth) and
        # becomes "" when the message is queued.
        if envelope.smtp_utf8 and not self.settings["rewrite"].smtputf8_enable:
            envelope.smtp_utf8 = False    # smtputf8_enable = no: not offered, not taken
            return reply("smtputf8_unsupported")
        if internalize(address) == "":
            address = "<>"                # <""> is the null sender too (measured)
        if address != "<>" and self.bad_address(server, envelope, address, "MAIL"):
            return reply("bad_sender")
        envelope.mail_from = address      # as sent: restrictions judge it so
        envelope.mail_options.extend(mail_options)
        return reply("mail_ok")

    async def handle_RCPT(self, server: LabSMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: List[str]) -> str:
        session._lab_conn = server  # type: ignore[attr-defined]
        if self.bad_address(server, envelope, address, "RCPT"):
            return reply("bad_recipient")
        sasl = _sasl(session)
        args: Dict[str, Any] = dict(client_ip=server.client_ip, client_name=server.client_name,
                    helo=session.host_name, sender=_sender(envelope), recipient=address,
                    esmtp=bool(session.extended_smtp),
                    sasl_username=sasl[1] if sasl else None,
                    queue_id=getattr(envelope, "queue_id", None))
        # restrictions see the address as sent (reject_non_fqdn_recipient needs that);
        # each service brings its own lists (master.cf -o overrides)
        verdict = await self.host.check_recipient(settings=self.settings, **args)
        if verdict is not None:
            status, logline = verdict
            self.host.maillog.write(self.program, logline)
            return status
        # queued as Postfix logs it: quotes only where the local part needs them
        # ("victim@example.org"@ours); qmgr resolves it again at delivery
        address = quote_local(internalize(address))
        if "@" not in address:
            address = f"{address}@{self.settings['myorigin']}"
        if getattr(envelope, "queue_id", None) is None:
            envelope.queue_id = self.host.ids.queue_id()  # type: ignore[attr-defined]
            who = f"{envelope.queue_id}: client={server.client_name}[{server.client_ip}]"  # type: ignore[attr-defined]
            if sasl:
                who += f", sasl_method={sasl[0]}, sasl_username={sasl[1]}"
            self.host.maillog.write(self.program, who)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return reply("rcpt_ok")

    def _qualified_sender(self, envelope: Envelope) -> str:
        """The sender as queued: a bare name completed with ``myorigin`` (trivial-rewrite)."""
        sender = _sender(envelope) or ""
        if sender and "@" not in sender:
            sender = f"{sender}@{self.settings['myorigin']}"
        return sender

    async def handle_DATA(self, server: LabSMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        queue_id: str = envelope.queue_id  # type: ignore[attr-defined]
        protocol = smtpd_tls.protocol_name(esmtp=bool(session.extended_smtp),
                                           tls=server.tls_active, auth=bool(_sasl(session)))
        extra: Dict[str, Any] = {}
        if server.tls_active and self.settings["smtpd_tls_received_header"]:
            extra["tls"] = smtpd_tls.received_tls_text(server.tls_summary)
        try:
            await self.host.accept_message(
                sender=self._qualified_sender(envelope), recipients=list(envelope.rcpt_tos),
                content=content, queue_id=queue_id, helo=session.host_name,
                client_ip=server.client_ip, client_name=server.client_name,
                protocol=protocol, **extra)
        except OSError as exc:
            logger.exception("writing message %s failed", queue_id)
            self.host.maillog.write("postfix/cleanup", f"{queue_id}: warning: write error: {exc}")
            return reply("write_failed")
        finally:
            envelope.queue_id = None  # type: ignore[attr-defined]
        return reply("queued", queue_id=queue_id)


_HOOK_NAMES: Dict[Tuple[type, Tuple[str, ...]], List[str]] = {}

#: what aiosmtpd's SMTP.__init__ takes from LabSMTP's factory, with its defaults


def _hook_names(cls: type, prefixes: Tuple[str, ...]) -> List[str]:
    """The attribute names of *cls* starting with one of *prefixes* (cached per class)."""
    key = (cls, prefixes)
    names = _HOOK_NAMES.get(key)
    if names is None:
        names = _HOOK_NAMES[key] = [n for n in dir(cls) if n.startswith(prefixes)]
    return names


#: aiosmtpd's reply texts recur on every session: their Postfix wording is cached
_translate = functools.lru_cache(maxsize=512)(translate)


def parse_path(arg: str) -> Tuple[Optional[str], Optional[str]]:
    """Split ``<address> PARAMS`` into (address, params).

    >>> parse_path("<alice@example.com> SIZE=100")
    ('alice@example.com', ' SIZE=100')
    >>> parse_path('<"a b"@example.com>'), parse_path("<>"), parse_path("<@r.example:u@x.example>")
    (('"a b"@example.com', ''), ('<>', ''), ('u@x.example', ''))
    """
    if not arg:
        return "", ""
    text = arg.lstrip()
    if not text.startswith("<"):
        addr, _, rest = text.partition(" ")
        return addr, (" " + rest if rest else "")
    quoted = False
    for i, ch in enumerate(text[1:], 1):
        if ch == '"' and text[i - 1] != "\\":
            quoted = not quoted
        elif ch == ">" and not quoted:
            inner, rest = text[1:i], text[i + 1:]
            if inner == "":
                return "<>", rest
            if inner.startswith("@") and ":" in inner:       # source route
                inner = inner.split(":", 1)[1]
            return (inner, rest) if inner else (None, None)
    return None, None


def _sender(envelope: Envelope) -> Optional[str]:
    """The envelope sender as Postfix records it: "" for the null sender ``<>``."""
    return "" if envelope.mail_from == "<>" else envelope.mail_from


def _sasl(session: Session) -> Optional[tuple]:
    """(method, username) of an authenticated session; STARTTLS forgets it (new session)."""
    return getattr(session, "sasl", None)


_SHAPES: Dict[str, bool] = {}     # _valid_address's answers (clients repeat addresses)


def _valid_address(address: str) -> bool:
    """:func:`_address_shape`, remembered per address (bounded)."""
    known = _SHAPES.get(address)
    if known is None:
        if len(_SHAPES) >= 4096:
            _SHAPES.clear()
        known = _SHAPES[address] = _address_shape(address)
    return known


def _address_shape(address: str) -> bool:
    """The shape of an RFC 5321 §4.1.2 path as Postfix's smtpd accepts it.

    Only what is seen before resolving: no NUL, CR or LF; outside quoted
    strings no white space and none of ``<>(),;\\``; one address, not a
    phrase of several words.  Several ``@`` are fine (``user@other@ours``
    resolves to ``user@other``); whether the domain is valid is
    trivial-rewrite's verdict (:meth:`SmtpdHandler.bad_address`).

    >>> _address_shape("victim@example.org@mail.example.com"), _address_shape('"a b"@x')
    (True, True)
    >>> _address_shape("a b@x"), _address_shape("a@[1.2.3.4]"), _address_shape("a[1]@x")
    (False, True, False)
    """
    if not address or any(c in address for c in "\r\n\x00"):
        return False
    bare, quoted, escaped = [], False, False
    for ch in address:               # the address with quoted strings blanked out
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        else:
            bare.append(ch)
    if quoted or any(c in bare for c in " \t<>(),;\\"):
        return False
    return is_one_address(address)


def settings_from(cfg: Any, hostname: str, path: Optional[Callable[[str], Any]] = None
                  ) -> Dict[str, Any]:
    """The smtpd settings, read once per reload from the parsed ``main.cf``.

    *path* maps a configured file name into the lab host's files (for the
    certificate's key type, shown in the TLS log line).
    """
    dest = {d.lower().rstrip(".") for d in cfg.get_list("mydestination")}
    tls = smtpd_tls.tls_settings(cfg)
    cert = tls["smtpd_tls_cert_file"]
    mapper = path or getattr(cfg, "map_path", None)
    tls["tls_signature"] = smtpd_tls.server_signature(mapper(cert) if cert and mapper else None)
    return {
        **tls,
        "myhostname": cfg.get("myhostname"),
        "myorigin": cfg.myorigin() if hasattr(cfg, "myorigin") else cfg.get("myorigin"),
        "smtpd_timeout": cfg.get_time("smtpd_timeout") or 300,
        "smtpd_client_connection_count_limit": cfg.get_int("smtpd_client_connection_count_limit"),
        "smtpd_client_connection_rate_limit": cfg.get_int("smtpd_client_connection_rate_limit"),
        "anvil_rate_time_unit": cfg.get_time("anvil_rate_time_unit") or 60,
        "smtpd_hard_error_limit": cfg.get_int("smtpd_hard_error_limit") or 20,
        # a "raw" parameter: Postfix expands $name in it per delivery, not here
        "mailbox_command": cfg.raw("mailbox_command").strip(),
        "mydestination": dest,
        "smtpd_banner": cfg.get("smtpd_banner"),
        "mail_name": cfg.get("mail_name"),
        "message_size_limit": cfg.get_int("message_size_limit"),
        "smtpd_helo_required": cfg.get_bool("smtpd_helo_required"),
        "disable_vrfy_command": cfg.get_bool("disable_vrfy_command"),
        "recipient_delimiter": cfg.get("recipient_delimiter"),
        "home_mailbox": cfg.get("home_mailbox"),
        "mail_spool_directory": cfg.get("mail_spool_directory"),
        "restrictions": Restrictions.from_config(cfg),
        "needs_dns": needs_dns(cfg),
        "rewrite": RewriteParams.from_config(cfg),
    }


# The listeners (master.cf's role) live in their own module; host.py imports them from here.
from .smtpd_services import make_protocol_factory, smtpd_services  # noqa: E402
