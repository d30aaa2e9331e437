"""The ``smtp`` transport: find the next hop in DNS and speak ESMTP to it.

Postfix's ``smtp(8)`` delivers a recipient of another domain like this:

1. next hop: ``relayhost`` if set (``[host]:port`` means "this host, no MX
   lookup"), else the recipient's domain;
2. look up the domain's MX records and try the hosts by preference; a domain
   without MX stands for itself (its A record, RFC 5321 §5.1);
3. connect, read the greeting, ``EHLO`` (``HELO`` if refused), ``STARTTLS``
   when offered and a TLS context is given, ``MAIL FROM``, ``RCPT TO``,
   ``DATA``, the message with dot-stuffing (RFC 5321 §4.5.2), ``QUIT``;
4. turn what happened into an :class:`~labmail.mta.qmgr.Outcome` with
   Postfix's wording: ``connect to host[ip]:port: Connection refused`` and
   4xx replies defer, 5xx replies bounce, a domain that does not exist bounces
   with the DNS reason.

The client is a small asyncio state walk of its own (not ``smtplib``) so it
runs on the lab's loop without blocking it.

>>> t = SmtpTransport(myhostname="mail.example.com", mx=None, relayhost="[127.0.0.1]:2599")
>>> t.next_hop("bob@example.org")
('127.0.0.1', 2599, False)
>>> dsn_of(450, "450 4.2.0 Busy"), dsn_of(550, "550 Unknown user")
('4.2.0', '5.0.0')
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from typing import Any, Awaitable, Callable, List, Optional, Sequence, Tuple, Union

from . import logfmt
from .qmgr import Outcome
from .queue import QueueFile, Recipient

__all__ = ["SmtpTransport", "dsn_of", "parse_relayhost", "dot_stuff"]

logger = logging.getLogger("labmail.smtp")

MxLookup = Callable[[str], Awaitable[Sequence[Any]]]
ALookup = Callable[[str], Awaitable[Sequence[str]]]

_ENHANCED = re.compile(r"^[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b")


def dsn_of(code: int, text: str) -> str:
    """The enhanced status code of a reply, or ``X.0.0`` from its class."""
    m = _ENHANCED.match(text)
    if m and m.group(1)[0] == str(code)[0]:
        return m.group(1)
    return f"{str(code)[0]}.0.0"


def parse_relayhost(value: str, default_port: Optional[int]) -> Tuple[str, Optional[int], bool]:
    """``[host]:port`` -> (host, port, mx_lookup).  Brackets turn MX lookup off;
    without ``:port`` the port is *default_port* (None: "the SMTP port of
    whatever address the host resolves to", for labs with per-host ports).

    >>> parse_relayhost("[mail.isp.example]:587", 25)
    ('mail.isp.example', 587, False)
    >>> parse_relayhost("isp.example", 25)
    ('isp.example', 25, True)
    """
    value = value.strip()
    port = default_port
    m = re.match(r"^(\[[^\]]+\]|[^:]+)(?::(\d+))?$", value)
    if not m:
        raise ValueError(f"bad relayhost {value!r}; use host, [host] or [host]:port")
    host = m.group(1)
    if m.group(2):
        port = int(m.group(2))
    if host.startswith("["):
        return host[1:-1], port, False
    return host, port, True


def dot_stuff(content: bytes) -> bytes:
    """CRLF-terminated content with leading dots doubled (RFC 5321 §4.5.2).

    >>> dot_stuff(b".hidden\\r\\nok")
    b'..hidden\\r\\nok\\r\\n'
    """
    data = re.sub(rb"\r?\n", b"\r\n", content)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


class _Failure(Exception):
    """Ends a session attempt with an outcome; ``next_mx`` says try the next host."""

    def __init__(self, outcome: Outcome, next_mx: bool = False) -> None:
        super().__init__(outcome.text)
        self.outcome = outcome
        self.next_mx = next_mx


class SmtpTransport:
    """Deliver queue-file recipients to other hosts over ESMTP.

    *mx* is ``async def mx(domain) -> [(pref, host, ip), ...]`` (or objects
    with ``preference``, ``name``, ``addresses`` such as the lab resolver's
    ``MXHost``); it may raise an error whose ``str()`` is Postfix's DNS
    reason and whose ``permanent`` attribute says bounce (True) or defer.
    *addresses* resolves a ``[host]`` relayhost (IP literals need none).
    *port* is the SMTP port of every MX (an int, or a callable ``ip -> port``
    for labs whose hosts listen on different ports).

    Use ``transport.deliver`` as (part of) qmgr's ``deliver`` callable.
    """

    def __init__(self, *, myhostname: str, mx: Optional[MxLookup],
                 addresses: Optional[ALookup] = None, relayhost: str = "",
                 port: Union[int, Callable[[str], int]] = 25,
                 my_addresses: Sequence[Tuple[str, int]] = (), maillog: Any = None,
                 clock: Any = None, tls_context: Any = None, trace: Any = None,
                 connect_timeout: float = 30.0, command_timeout: float = 300.0,
                 source_ip: Optional[str] = None) -> None:
        self.myhostname = myhostname
        self.mx = mx
        self.addresses = addresses
        self.relayhost = relayhost
        self.port = port
        self.my_addresses = set(my_addresses)
        self.maillog = maillog
        self.clock = clock
        self.tls_context = tls_context
        self.trace = trace
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.source_ip = source_ip

    # -- routing ---------------------------------------------------------
    def _port_for(self, ip: str) -> int:
        return self.port(ip) if callable(self.port) else int(self.port)

    def next_hop(self, recipient: str) -> Tuple[str, Optional[int], bool]:
        """(destination, port or None, use MX) for *recipient*."""
        if self.relayhost:
            return parse_relayhost(self.relayhost, None if callable(self.port) else self.port)
        return recipient.rpartition("@")[2].lower(), None, True

    async def targets(self, recipient: str) -> List[Tuple[str, str, int]]:
        """The (host, ip, port) list to try, in order; raises _Failure."""
        dest, port, use_mx = self.next_hop(recipient)
        try:
            if use_mx:
                if self.mx is None:
                    raise LookupError("no MX resolver configured")
                answer = list(await self.mx(dest))
                hosts = sorted((_as_mx(x) for x in answer), key=lambda h: h[0])
                found = [(name, ip) for _, name, ips in hosts for ip in ips]
                if not found and hosts:
                    # No MX host has an address: report the best one's DNS error.
                    err = next((getattr(x, "error", None) for x in answer
                                if getattr(x, "error", None) is not None), None)
                    if err is not None:
                        raise err
                    raise _Failure(Outcome(
                        "bounced", "5.4.4", "none",
                        "Host or domain name not found. Name service error for "
                        f"name={hosts[0][1]} type=A: Host not found"))
            else:
                if _is_ip(dest):
                    found = [(dest, dest)]
                elif self.addresses is not None:
                    found = [(dest, ip) for ip in await self.addresses(dest)]
                else:
                    found = [(dest, dest)]
        except _Failure:
            raise
        except Exception as exc:
            permanent = getattr(exc, "permanent", True)
            dsn = getattr(exc, "dsn", None) or ("5.4.4" if permanent else "4.4.3")
            raise _Failure(Outcome("bounced" if permanent else "deferred", dsn, "none", str(exc)))
        if not found:
            raise _Failure(Outcome(
                "bounced", "5.4.4", "none",
                "Host or domain name not found. Name service error for "
                f"name={dest} type=A: Host not found"))
        out = []
        for name, ip in found:
            p = port if port is not None else self._port_for(ip)
            if (ip, p) in self.my_addresses:
                break                       # MX hosts at or below myself are not tried
            out.append((name, ip, p))
        if not out:
            raise _Failure(Outcome("bounced", "5.4.6", "none",
                                   f"mail for {dest} loops back to myself"))
        return out

    # -- delivery ----------------------------------------------------------
    def _now(self) -> float:
        return self.clock.timestamp() if self.clock is not None else time.monotonic()

    def _log(self, message: str) -> None:
        if self.maillog is not None:
            self.maillog.write(logfmt.SMTP, message)

    async def deliver(self, qf: QueueFile, rcpt: Recipient) -> Outcome:
        """Deliver one recipient of *qf*; never raises for network trouble."""
        start = self._now()
        try:
            targets = await self.targets(rcpt.address)
        except _Failure as f:
            return f.outcome
        last: Optional[Outcome] = None
        for host, ip, port in targets:
            try:
                return await self._session(qf, rcpt, host, ip, port, start)
            except _Failure as f:
                last = f.outcome
                if not f.next_mx:
                    return f.outcome
        assert last is not None
        return last

    async def _session(self, qf: QueueFile, rcpt: Recipient, host: str, ip: str,
                       port: int, start: float) -> Outcome:
        relay = logfmt.relay_text(host, ip, port)
        peer = f"{host}[{ip}]"
        try:
            kw = {"local_addr": (self.source_ip, 0)} if self.source_ip else {}
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(ip, port, **kw), self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            reason = ("Connection timed out" if isinstance(exc, asyncio.TimeoutError)
                      else _strerror(exc))
            text = logfmt.connect_failed(host, ip, port, reason)
            self._log(text)
            raise _Failure(Outcome("deferred", "4.4.1", "none", text), next_mx=True)
        session = _Session(self, reader, writer, peer, relay, host, (ip, port))
        try:
            return await session.run(qf, rcpt, start)
        finally:
            session.close()


def _strerror(exc: OSError) -> str:
    import os
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _as_mx(item: Any) -> Tuple[int, str, List[str]]:
    if isinstance(item, tuple):
        pref, name, ip = item
        ips = list(ip) if isinstance(ip, (list, tuple)) else ([ip] if ip else [])
        return int(pref), str(name), ips
    return int(item.preference), str(item.name), list(item.addresses)


_STAGE_LOST = {
    "greeting": "while receiving the initial server greeting",
    "EHLO": "while performing the EHLO handshake",
    "HELO": "while performing the HELO handshake",
    "STARTTLS": "while performing the STARTTLS handshake",
    "MAIL FROM": "while sending MAIL FROM",
    "RCPT TO": "while sending RCPT TO",
    "DATA": "while sending DATA command",
    "end of DATA": "while sending end of data -- message may be sent more than once",
}


class _Session:
    """One ESMTP conversation (client side)."""

    def __init__(self, transport: SmtpTransport, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, peer: str, relay: str, host: str,
                 address: Tuple[str, int]) -> None:
        self.t = transport
        self.reader, self.writer = reader, writer
        self.peer, self.relay, self.host = peer, relay, host
        self.stage = "greeting"
        self.transcript = None
        if transport.trace is not None:
            try:
                sock = writer.get_extra_info("sockname")
                local = tuple(sock[:2]) if sock else None
                self.transcript = transport.trace.open("smtp-client", address, local)
                self.transcript.note(f"smtp client connected to {peer}:{address[1]}")
            except Exception:       # a transcript is a nicety, never a failure
                self.transcript = None

    def close(self) -> None:
        if self.transcript is not None:
            self.transcript.close()
        self.writer.close()

    async def send(self, line: str) -> None:
        if self.transcript is not None:
            self.transcript.client(line)
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.writer.drain()

    async def reply(self) -> Tuple[int, str, List[str]]:
        lines: List[str] = []
        while True:
            try:
                raw = await asyncio.wait_for(self.reader.readline(), self.t.command_timeout)
            except asyncio.TimeoutError:
                raise _Failure(Outcome(
                    "deferred", "4.4.2", self.relay,
                    f"conversation with {self.peer} timed out "
                    f"{_STAGE_LOST.get(self.stage, 'while talking')}"), next_mx=True)
            except (ConnectionError, OSError):
                raw = b""
            if not raw:
                raise _Failure(Outcome("deferred", "4.4.2", self.relay,
                                       f"lost connection with {self.peer} "
                                       f"{_STAGE_LOST.get(self.stage, '')}".rstrip()),
                               next_mx=self.stage in ("greeting", "EHLO", "HELO"))
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if self.transcript is not None:
                self.transcript.server(text)
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                break
        try:
            code = int(lines[-1][:3])
        except ValueError:
            code = 451
        return code, " ".join(lines), lines

    def said(self, code: int, text: str, *, next_mx: bool = False) -> _Failure:
        status = "bounced" if code >= 500 else "deferred"
        return _Failure(Outcome(status, dsn_of(code, text), self.relay,
                                f"host {self.peer} said: {text} (in reply to {self.stage} command)",
                                diag=f"smtp; {text}", remote_mta=self.host), next_mx=next_mx)

    async def command(self, stage: str, line: str) -> Tuple[int, str, List[str]]:
        self.stage = stage
        try:
            await self.send(line)
        except (ConnectionError, OSError):
            pass                     # the reply read below reports the lost connection
        return await self.reply()

    async def ehlo(self) -> List[str]:
        code, text, lines = await self.command("EHLO", f"EHLO {self.t.myhostname}")
        if code == 250:
            return [ln[4:].upper() for ln in lines[1:]]
        code, text, _ = await self.command("HELO", f"HELO {self.t.myhostname}")
        if code != 250:
            raise self.said(code, text, next_mx=True)
        return []

    async def run(self, qf: QueueFile, rcpt: Recipient, start: float) -> Outcome:
        code, text, _ = await self.reply()
        if code != 220:
            raise _Failure(Outcome("bounced" if code >= 500 else "deferred", dsn_of(code, text),
                                   self.relay, f"host {self.peer} refused to talk to me: {text}",
                                   diag=f"smtp; {text}", remote_mta=self.host), next_mx=True)
        ext = await self.ehlo()
        if "STARTTLS" in ext and self.t.tls_context is not None:
            code, text, _ = await self.command("STARTTLS", "STARTTLS")
            if code == 220:
                await self.writer.start_tls(self.t.tls_context, server_hostname=self.host)
                ssl_obj = self.writer.get_extra_info("ssl_object")
                if ssl_obj is not None:
                    self.t._log(f"Anonymous TLS connection established to {self.relay}: "
                                f"{ssl_obj.version()} with cipher {ssl_obj.cipher()[0]} "
                                f"({ssl_obj.cipher()[2]}/{ssl_obj.cipher()[2]} bits)")
                if self.transcript is not None:
                    try:
                        self.transcript.start_tls(ssl_obj.version(), ssl_obj.cipher()[0])
                    except Exception:
                        pass
                ext = await self.ehlo()
        connected = self.t._now()
        size = len(qf.content)
        limit = next((ln.split()[1] for ln in ext if ln.startswith("SIZE ")
                      and len(ln.split()) > 1 and ln.split()[1].isdigit()), None)
        if limit is not None and int(limit) and size > int(limit):
            return Outcome("bounced", "5.3.4", self.relay,
                           f"message size {size} exceeds size limit {limit} of server {self.peer}")
        params = ""
        if any(ln.split()[0] == "SIZE" for ln in ext if ln):
            params += f" SIZE={size}"
        if "8BITMIME" in ext and any(b > 127 for b in qf.content):
            params += " BODY=8BITMIME"
        code, text, _ = await self.command("MAIL FROM", f"MAIL FROM:<{qf.sender}>{params}")
        if code != 250:
            raise self.said(code, text)
        code, text, _ = await self.command("RCPT TO", f"RCPT TO:<{rcpt.address}>")
        if code not in (250, 251):
            raise self.said(code, text)
        code, text, _ = await self.command("DATA", "DATA")
        if code != 354:
            raise self.said(code, text)
        self.stage = "end of DATA"
        data = dot_stuff(qf.content)
        if self.transcript is not None:
            self.transcript.begin_content()
            for line in data.decode("utf-8", "replace").split("\r\n")[:-1]:
                self.transcript.client(line)
            self.transcript.client(".")
        try:
            self.writer.write(data + b".\r\n")
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        code, text, _ = await self.reply()
        if code != 250:
            raise self.said(code, text)
        done = self.t._now()
        try:
            await self.command("QUIT", "QUIT")
        except _Failure:
            pass                         # the message is sent; a rude goodbye is fine
        return Outcome("sent", dsn_of(code, text), self.relay, text, program=logfmt.SMTP,
                       conn_time=max(0.0, connected - start),
                       xfer_time=max(0.0, done - connected))
