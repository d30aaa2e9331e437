"""Python's own mail clients, pointed at a lab host *by name*.

TLS clients check that the server's certificate names the host they asked
for (RFC 6125).  A real client asks for ``mail.example.com``; the operating
system resolves that name to an address.  The lab's names live only in the
lab's DNS, so these thin subclasses of :mod:`smtplib`, :mod:`poplib` and
:mod:`imaplib` connect to the host's lab address while asking TLS for its
name — exactly what the real client does after its resolver answered.
Nothing else differs from the standard library classes.

>>> with SMTP(host) as s:                                       # doctest: +SKIP
...     s.starttls(context=lab.client_tls_context())            # verifies "mail.example.com"
"""
from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
from typing import TYPE_CHECKING, Any, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

__all__ = ["SMTP", "SMTP_SSL", "POP3", "POP3_SSL", "IMAP4", "IMAP4_SSL"]


def _endpoint(host: "Host", service: str) -> Tuple[str, int]:
    try:
        return host.endpoints[service]
    except KeyError:
        raise ValueError(f"{host.hostname} has no {service} service running; "
                         f"it has: {', '.join(host.endpoints) or 'none (is the lab started?)'}"
                         ) from None


class SMTP(smtplib.SMTP):
    """:class:`smtplib.SMTP` connected to *host*'s ``service`` (default ``smtp``)."""

    def __init__(self, host: "Host", service: str = "smtp", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connect(*_endpoint(host, service))
        self._host = host.hostname


class SMTP_SSL(smtplib.SMTP_SSL):
    """:class:`smtplib.SMTP_SSL` to *host*'s ``smtps`` port (implicit TLS, RFC 8314)."""

    def __init__(self, host: "Host", service: str = "smtps", **kwargs: Any) -> None:
        self._lab_name = host.hostname
        super().__init__(**kwargs)
        self.connect(*_endpoint(host, service))

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._lab_name)


class POP3(poplib.POP3):
    """:class:`poplib.POP3` connected to *host*'s ``pop3`` port."""

    def __init__(self, host: "Host", service: str = "pop3", **kwargs: Any) -> None:
        self._lab_addr = _endpoint(host, service)
        super().__init__(host.hostname, self._lab_addr[1], **kwargs)

    def _create_socket(self, timeout: float) -> socket.socket:
        return socket.create_connection(self._lab_addr, timeout)


class POP3_SSL(poplib.POP3_SSL):
    """:class:`poplib.POP3_SSL` to *host*'s ``pop3s`` port."""

    def __init__(self, host: "Host", service: str = "pop3s", **kwargs: Any) -> None:
        self._lab_addr = _endpoint(host, service)
        super().__init__(host.hostname, self._lab_addr[1], **kwargs)

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = socket.create_connection(self._lab_addr, timeout)
        return self.context.wrap_socket(sock, server_hostname=self.host)


class IMAP4(imaplib.IMAP4):
    """:class:`imaplib.IMAP4` connected to *host*'s ``imap`` port."""

    def __init__(self, host: "Host", service: str = "imap", **kwargs: Any) -> None:
        self._lab_addr = _endpoint(host, service)
        super().__init__(host.hostname, self._lab_addr[1], **kwargs)

    def _create_socket(self, timeout: Any = None) -> socket.socket:
        return socket.create_connection(self._lab_addr, timeout)


class IMAP4_SSL(imaplib.IMAP4_SSL):
    """:class:`imaplib.IMAP4_SSL` to *host*'s ``imaps`` port."""

    def __init__(self, host: "Host", service: str = "imaps", **kwargs: Any) -> None:
        self._lab_addr = _endpoint(host, service)
        super().__init__(host.hostname, self._lab_addr[1], **kwargs)

    def _create_socket(self, timeout: Any = None) -> socket.socket:
        sock = socket.create_connection(self._lab_addr, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
