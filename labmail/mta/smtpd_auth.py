"""STARTTLS and SMTP AUTH for the lab's smtpd, as a mixin of :class:`~labmail.mta.smtpd.LabSMTP`.

aiosmtpd does the TLS handshake; this module decides *whether* (Postfix's
``smtpd_tls_security_level``), logs it as Postfix does, and replaces
aiosmtpd's AUTH with :mod:`labmail.mta.sasl` checked against Dovecot's
passwd-file (Postfix with ``smtpd_sasl_type = dovecot`` asks Dovecot, which
reads that file).  It also knows when a connection is encrypted on the
implicit-TLS port, where aiosmtpd leaves ``session.ssl`` unset
(aio-libs/aiosmtpd#274).

>>> TlsAuthMixin.auth_offered.__doc__.split("(")[0]
'Whether EHLO lists AUTH now '
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable, Optional

from . import smtpd_tls
from .replies import reply
from .sasl import Challenge, SaslExchange, Success

__all__ = ["TlsAuthMixin"]

logger = logging.getLogger("labmail.smtpd")

_AUTH_PARAM = re.compile(r"\s+AUTH=\S*", re.IGNORECASE)


class TlsAuthMixin:
    """TLS state and the STARTTLS/AUTH commands of one smtpd connection.

    Expects of the class it is mixed into (``LabSMTP``): ``settings``,
    ``transcript``, ``lab_host``, ``program``, ``client_name``/``client_ip``,
    ``tls_info`` and aiosmtpd's ``push``, ``session``, ``envelope``,
    ``_reader`` and ``tls_context``.
    """

    settings: Any
    transcript: Any
    lab_host: Any
    program: str
    client_name: str
    client_ip: str
    tls_info: Optional[tuple]
    tls_summary: str
    _in_auth: bool
    # aiosmtpd's SMTP, which LabSMTP also derives from
    push: Any
    session: Any
    envelope: Any
    tls_context: Any
    _reader: Any

    @property
    def tls_active(self) -> bool:
        """True once the connection is encrypted (STARTTLS done, or implicit TLS)."""
        return self.tls_info is not None

    def _tls_established(self, transport: asyncio.BaseTransport, log: bool = True) -> None:
        obj = transport.get_extra_info("ssl_object")
        version, cipher, summary = smtpd_tls.tls_details(obj, self.settings["tls_signature"])
        self.tls_info = (version, cipher)
        self.tls_summary = summary
        if self.transcript is not None:
            self.transcript.start_tls(version, cipher)
        if log:
            self._log_tls()

    def _log_tls(self) -> None:
        if self.settings["smtpd_tls_loglevel"] >= 1:
            self.lab_host.maillog.write(
                self.program, f"Anonymous TLS connection established from "
                f"{self.client_name}[{self.client_ip}]: {self.tls_summary}")

    def _tls_gate(self, method: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        """RFC 3207 §4: with ``smtpd_tls_security_level = encrypt`` only a few
        commands are answered before STARTTLS."""
        async def gated(arg: Any) -> None:
            if self.settings["smtpd_tls_security_level"] == "encrypt" and not self.tls_active:
                await self.push(reply("starttls_first"))
                return
            await method(arg)
        return gated

    async def smtp_STARTTLS(self, arg: str) -> None:
        """STARTTLS as Postfix answers it; the handshake itself is aiosmtpd's."""
        if self.tls_active:
            await self.push(reply("tls_active"))
        elif self.tls_context is None or self.settings["smtpd_tls_security_level"] == "none":
            await self.push(reply("not_implemented"))
        elif arg:
            await self.push("501 5.5.4 Syntax: STARTTLS")
        else:
            await super().smtp_STARTTLS(arg)  # type: ignore[misc]

    def auth_offered(self) -> bool:
        """Whether EHLO lists AUTH now (``smtpd_tls_auth_only`` hides it before TLS)."""
        return bool(self.settings["smtpd_sasl_auth_enable"]) and (
            self.tls_active or not self.settings["smtpd_tls_auth_only"])

    async def smtp_AUTH(self, arg: Optional[str]) -> None:
        """SMTP AUTH (RFC 4954) with Postfix's replies and log lines."""
        session = self.session
        assert session is not None
        if not self.auth_offered():
            await self.push(reply("auth_not_enabled"))
            return
        # Postfix's order (measured): a transaction, then a second AUTH, then syntax
        if self.envelope is not None and self.envelope.mail_from is not None:
            await self.push(reply("auth_in_transaction"))
            return
        if getattr(session, "sasl", None):
            await self.push(reply("auth_again"))
            return
        if not arg:
            await self.push(reply("auth_syntax"))
            return
        mechanism, _, initial = arg.partition(" ")
        exchange = SaslExchange(self._verify_password)
        step = exchange.start(mechanism, initial.strip() or None)
        while isinstance(step, Challenge):
            await self.push(step.reply)
            self._in_auth = True
            try:
                line = await self._reader.readline()
            finally:
                self._in_auth = False
            if not line:
                return
            step = exchange.respond(line.decode("ascii", "replace"))
        client = f"{self.client_name}[{self.client_ip}]"
        if isinstance(step, Success):
            session.sasl = (step.method, step.username)  # type: ignore[attr-defined]
        else:
            self.lab_host.maillog.write(self.program, step.log(client))
        await self.push(step.reply)

    async def smtp_MAIL(self, arg: Optional[str]) -> None:
        """MAIL, accepting RFC 4954 §5's ``AUTH=`` parameter (Postfix does, SASL on or off)."""
        if arg:
            arg = _AUTH_PARAM.sub("", arg)
        await super().smtp_MAIL(arg)  # type: ignore[misc]

    def _verify_password(self, user: str, password: str) -> bool:
        """Dovecot's passwd-file, where Postfix's Dovecot SASL looks too."""
        from ..access.auth import verify
        path = self.lab_host.path("/etc/dovecot/users")
        try:
            return verify(path, user, password)
        except OSError:
            logger.warning("cannot read %s; AUTH fails", path)
            return False
