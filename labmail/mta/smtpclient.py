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

The conversation itself is the sans-IO state machine of
:mod:`labmail.mta.smtp_client_states`; this module is its asyncio shell
(not ``smtplib``, so it runs on the lab's loop without blocking it) plus
routing, connecting, timeouts and Postfix's wording of each outcome.

>>> t = SmtpTransport(myhostname="mail.example.com", mx=None, relayhost="[127.0.0.1]:2599")
>>> t.next_hop("bob@example.org")
('127.0.0.1', 2599, False)
>>> dsn_of(450, "450 4.2.0 Busy"), dsn_of(550, "550 Unknown user")
('4.2.0', '5.0.0')
"""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import re
import time
from typing import Any, Awaitable, Callable, List, Optional, Sequence, Tuple, Union

from ..net.tlsctx import peer_chain, peer_trust
from . import logfmt
from .queue import QueueFile, Recipient
from .schedule import Outcome
from .smtp_client_states import (ClientConnection, Closed, Delivered, Failed, Reply, Send,
                                 State, UpgradeTLS, WHILE, dot_stuff, dsn_of)

__all__ = ["SmtpTransport", "dsn_of", "parse_relayhost", "dot_stuff"]

logger = logging.getLogger("labmail.smtp")

MxLookup = Callable[[str], Awaitable[Sequence[Any]]]
ALookup = Callable[[str], Awaitable[Sequence[str]]]

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
                 source_ip: Optional[str] = None, tls_level: str = "may",
                 tls_cafile: Any = None,
                 network: Optional[Callable[[str, int, str], Optional[str]]] = None) -> None:
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
        # smtp_tls_security_level: none | may | encrypt | verify | secure
        self.tls_level = tls_level if tls_context is not None else "none"
        self.tls_cafile = tls_cafile
        #: (ip, port, source ip) -> "ACCEPT"/"DROP"/"REJECT"/None: the lab's
        #: firewalls, which act before the peer's daemon sees the connection
        self.network = network

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

    async def _open(self, ip: str, port: int) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to *ip*:*port* as the network lets us (a firewall may refuse or drop)."""
        verdict = self.network(ip, port, self.source_ip or "127.0.0.1") if self.network else None
        if verdict == "REJECT":
            raise ConnectionRefusedError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))
        if verdict == "DROP":             # the SYN is never answered: wait out the timeout
            await asyncio.sleep(self.connect_timeout + 1)
        kw = {"local_addr": (self.source_ip, 0)} if self.source_ip else {}
        return await asyncio.open_connection(ip, port, **kw)

    async def _session(self, qf: QueueFile, rcpt: Recipient, host: str, ip: str,
                       port: int, start: float) -> Outcome:
        relay = logfmt.relay_text(host, ip, port)
        peer = f"{host}[{ip}]"
        try:
            reader, writer = await asyncio.wait_for(self._open(ip, port), self.connect_timeout)
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


class _Session:
    """Drives one :class:`ClientConnection` over a socket (the I/O half)."""

    def __init__(self, transport: SmtpTransport, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, peer: str, relay: str, host: str,
                 address: Tuple[str, int]) -> None:
        self.t = transport
        self.reader, self.writer = reader, writer
        self.peer, self.relay, self.host = peer, relay, host
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

    def _outcome(self, f: Failed, conv: ClientConnection) -> _Failure:
        """Postfix's wording for each way a conversation can fail."""
        r = f.reply
        stage = f.state.value
        if f.kind == "size":
            return _Failure(Outcome("bounced", "5.3.4", self.relay,
                                    f"message size {len(conv.content)} exceeds size limit "
                                    f"{f.limit} of server {self.peer}"))
        if f.kind == "tls_required":
            return _Failure(Outcome("deferred", "4.7.4", self.relay,
                                    f"TLS is required, but was not offered by host {self.peer}"),
                            next_mx=f.next_mx)
        if f.kind == "lost" or r is None:
            return _Failure(Outcome("deferred", "4.4.2", self.relay,
                                    f"lost connection with {self.peer} while "
                                    f"{WHILE.get(f.state, 'talking')}"), next_mx=f.next_mx)
        status = "bounced" if r.code >= 500 else "deferred"
        if f.kind == "refused":
            text = f"host {self.peer} refused to talk to me: {r.text}"
        else:
            text = f"host {self.peer} said: {r.text} (in reply to {stage} command)"
        return _Failure(Outcome(status, dsn_of(r.code, r.text), self.relay, text,
                                diag=f"smtp; {r.text}", remote_mta=self.host), next_mx=f.next_mx)

    async def _write(self, action: Send) -> None:
        if self.transcript is not None:
            if action.content:
                self.transcript.begin_content()
            for line in action.lines:
                self.transcript.client(line)
        try:
            self.writer.write(action.data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass                     # the next read reports the lost connection

    async def _start_tls(self, conv: ClientConnection) -> List[object]:
        await self.writer.start_tls(self.t.tls_context, server_hostname=self.host)
        ssl_obj = self.writer.get_extra_info("ssl_object")
        if ssl_obj is not None:
            version, (cipher, _, bits) = ssl_obj.version(), ssl_obj.cipher()
            # Postfix judges the peer after the handshake: Verified (chain and
            # name), Trusted (chain only) or Untrusted; "verify"/"secure" give up
            # on anything less than Verified.
            verdict, _why = peer_trust(peer_chain(ssl_obj), self.t.tls_cafile, [self.host])
            self.t._log(f"{verdict} TLS connection established to {self.relay}: "
                        f"{version} with cipher {cipher} ({bits}/{bits} bits)")
            if self.transcript is not None:
                self.transcript.start_tls(version or "", cipher)
            if self.t.tls_level in ("verify", "secure") and verdict != "Verified":
                raise _Failure(Outcome("deferred", "4.7.5", self.relay,
                                       "Server certificate not verified"), next_mx=True)
        return conv.tls_started()

    async def run(self, qf: QueueFile, rcpt: Recipient, start: float) -> Outcome:
        conv = ClientConnection(helo_name=self.t.myhostname, sender=qf.sender,
                                recipient=rcpt.address, content=qf.content,
                                use_tls=self.t.tls_context is not None,
                                require_tls=self.t.tls_level in ("encrypt", "verify", "secure"))
        connected = done = start
        delivered: Optional[Delivered] = None
        failure: Optional[_Failure] = None
        for _ in range(100):                         # a conversation is a dozen steps
            try:
                data = await asyncio.wait_for(self.reader.read(65536), self.t.command_timeout)
            except asyncio.TimeoutError:
                raise _Failure(Outcome("deferred", "4.4.2", self.relay,
                                       f"conversation with {self.peer} timed out while "
                                       f"{WHILE.get(conv.state, 'talking')}"), next_mx=True)
            except (ConnectionError, OSError):
                data = b""
            actions = conv.receive_data(data) if data else conv.connection_lost()
            while actions:
                action, actions = actions[0], actions[1:]
                if isinstance(action, Reply):
                    if self.transcript is not None:
                        for line in action.lines:
                            self.transcript.server(line)
                elif isinstance(action, Send):
                    if action.content:
                        connected = self.t._now()
                    await self._write(action)
                elif isinstance(action, UpgradeTLS):
                    actions = await self._start_tls(conv) + actions
                elif isinstance(action, Delivered):
                    delivered, done = action, self.t._now()
                elif isinstance(action, Failed):
                    failure = self._outcome(action, conv)
                elif isinstance(action, Closed):
                    break
            if failure is not None and delivered is None:
                raise failure
            if delivered is not None or conv.state is State.DONE:
                break
        if delivered is None:
            raise _Failure(Outcome("deferred", "4.4.2", self.relay,
                                   f"lost connection with {self.peer} while talking"))
        if conv.state is not State.DONE:
            # wait (briefly) for the 221 to our QUIT, as Postfix does: a server
            # that sees the connection close first never reads the QUIT
            try:
                data = await asyncio.wait_for(self.reader.read(65536), 5.0)
                for action in (conv.receive_data(data) if data else []):
                    if isinstance(action, Reply) and self.transcript is not None:
                        for line in action.lines:
                            self.transcript.server(line)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                pass
        r = delivered.reply
        return Outcome("sent", dsn_of(r.code, r.text), self.relay, r.text, program=logfmt.SMTP,
                       conn_time=max(0.0, connected - start), xfer_time=max(0.0, done - connected))
