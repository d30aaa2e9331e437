"""How LabSMTP builds a connection: the STARTTLS gate wraps commands only
where it can refuse them (``smtpd_tls_security_level = encrypt``)."""
from __future__ import annotations

import asyncio
import types


def _build(host, service: str = "smtp", **extra):
    """One LabSMTP as the service's factory makes it."""
    from labmail.mta.smtpd_services import make_protocol_factory
    factory = make_protocol_factory(host, service, **extra)

    async def make():
        return factory()
    return asyncio.run_coroutine_threadsafe(make(), host.lab.loop).result(5)


def test_encrypt_level_gates_commands_before_starttls(host):
    proto = _build(host, "submission")
    assert proto.settings["smtpd_tls_security_level"] == "encrypt"
    assert getattr(proto._smtp_methods["MAIL"], "__qualname__", "").endswith("gated")
    assert not getattr(proto._smtp_methods["EHLO"], "__qualname__", "").endswith("gated")
    plain = _build(host, "smtp")
    assert isinstance(plain._smtp_methods["MAIL"], types.MethodType)
