"""The SMTP-family listeners of a host, as ``master.cf`` would define them.

``smtp`` (25), ``submission`` (587, STARTTLS required, AUTH) and ``smtps``
(465, implicit TLS: RFC 8314's "submissions", Postfix's
``smtpd_tls_wrappermode = yes``), each with the ``-o`` overrides of
:data:`labmail.mta.smtpd_tls.SERVICES`.  ``Host._start_services`` starts
whatever :func:`smtpd_services` returns.

>>> sorted(smtpd_tls.SERVICES)
['smtp', 'smtps', 'submission']
"""
from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..firewall.gate import listen
from . import smtpd_tls
from .smtpd import LabSMTP, SmtpdHandler, settings_from

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host

__all__ = ["make_protocol_factory", "smtpd_services"]


class _ServiceState:
    """A service's handler and TLS context, rebuilt when the host reloads.

    Postfix starts a new smtpd process per client, and each reads its
    certificate files anew; here the context is rebuilt on every reload
    (``host.reload()`` after pointing main.cf at another certificate).
    """

    def __init__(self, host: "Host", service: str) -> None:
        self.host, self.service = host, service
        self.settings: Optional[Dict[str, Any]] = None
        self.handler: Optional[SmtpdHandler] = None
        self.tls: Optional[ssl.SSLContext] = None

    def current(self) -> "tuple[SmtpdHandler, Optional[ssl.SSLContext]]":
        host = self.host
        if self.handler is None or host.smtpd_settings is not self.settings:
            self.settings = settings = host.smtpd_settings
            cfg = host.config
            if smtpd_tls.SERVICES.get(self.service):
                cfg = smtpd_tls.service_config(cfg, self.service)
                settings = settings_from(cfg, host.hostname, host.path)
            self.tls = None
            if settings["smtpd_tls_security_level"] != "none":
                self.tls = _server_tls(cfg, host, settings)
            self.handler = SmtpdHandler(host, settings, service=self.service)
        return self.handler, self.tls


def _server_tls(cfg: Any, host: "Host", settings: Dict[str, Any]) -> Optional[ssl.SSLContext]:
    """The server context main.cf (with the service's overrides) describes."""
    from ..net.tlsctx import postfix_server_context
    mandatory = settings["smtpd_tls_security_level"] == "encrypt"
    chain = [c for c in cfg.get("smtpd_tls_chain_files").replace(",", " ").split() if c]
    try:
        if not chain:
            return postfix_server_context(cfg.get, path=host.path, mandatory=mandatory)
        # Postfix reads smtpd_tls_chain_files as one stream: a key, then its certificate
        # chain, possibly across files (privkey.pem, fullchain.pem): join them for OpenSSL.
        with tempfile.TemporaryDirectory() as tmp:
            joined = Path(tmp) / "chain.pem"
            joined.write_bytes(b"".join(host.path(c).read_bytes().rstrip(b"\n") + b"\n"
                                        for c in chain))
            params = lambda name: str(joined) if name == "smtpd_tls_chain_files" else cfg.get(name)  # noqa: E731
            return postfix_server_context(
                params, mandatory=mandatory,
                path=lambda p: Path(p) if p == str(joined) else host.path(p))
    except (OSError, ValueError, ssl.SSLError) as exc:
        program = f"{settings['syslog_name']}/smtpd"
        host.maillog.write(program, f"warning: TLS library problem: {exc}")
        host.maillog.write(program, "warning: TLS library problem: disabling TLS support")
        return None


def make_protocol_factory(host: "Host", service: str = "smtp", *,
                          implicit_tls: bool = False) -> Any:
    """A factory for :meth:`asyncio.loop.create_server`.

    Each connection takes the host's settings as they are when it opens, so
    after a reload sessions already open finish under the old settings and new
    ones get the new ones (as ``postfix reload`` behaves).  On the implicit-TLS
    port the connection is already encrypted, so there is no STARTTLS to offer.
    """
    state = _ServiceState(host, service)

    def factory() -> LabSMTP:
        handler, tls = state.current()
        settings = handler.settings
        limit = settings["message_size_limit"] or None
        return LabSMTP(handler, hostname=settings["myhostname"],
                       data_size_limit=limit, enable_SMTPUTF8=True, decode_data=False,
                       loop=host.lab.loop, timeout=settings["smtpd_timeout"],
                       tls_context=None if implicit_tls else tls,
                       auth_require_tls=False, implicit_tls=implicit_tls)
    factory.service_state = state  # type: ignore[attr-defined]
    return factory


def smtpd_services(host: "Host", ip: str) -> Dict[str, Any]:
    """The SMTP-family listeners of a host, as master.cf would define them.

    Returns ``{service name: async function(port) -> asyncio.Server}``; the
    host picks the ports (``port_base + standard port``) and starts them:
    ``smtp`` (25), ``submission`` (587, STARTTLS required, AUTH) and, when a
    certificate is configured, ``smtps`` (465, implicit TLS — RFC 8314's
    "submissions", Postfix's ``smtpd_tls_wrappermode = yes``).
    """
    # each listener is judged by the host's firewall at its standard port (25, 587, 465)
    async def smtp(port: int) -> Any:
        return await listen(host, 25, make_protocol_factory(host), ip, port)

    async def submission(port: int) -> Any:
        return await listen(host, 587, make_protocol_factory(host, "submission"), ip, port)

    smtps_factory = make_protocol_factory(host, "smtps", implicit_tls=True)
    state: _ServiceState = smtps_factory.service_state
    listening = state.current()[1]

    async def smtps(port: int) -> Any:
        assert listening is not None

        def switch(obj: ssl.SSLObject, _name: Optional[str], _ctx: ssl.SSLContext) -> None:
            # the listener's context is fixed; each handshake takes the current one
            current = state.current()[1]
            if current is not None and current is not listening:
                obj.context = current
        listening.sni_callback = switch
        return await listen(host, 465, smtps_factory, ip, port, ssl_context=listening,
                            ssl_handshake_timeout=30)

    services = {"smtp": smtp, "submission": submission}
    if listening is not None:         # no usable certificate: no implicit-TLS port
        services["smtps"] = smtps
    return services
