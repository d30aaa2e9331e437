"""LabSMTP's own copy of aiosmtpd's constructor builds the same connection object.

``labmail.mta.smtpd._fast_smtp_init`` replaces aiosmtpd's ``SMTP.__init__``
(which introspects the classes on every connection) for the aiosmtpd
version it mirrors; these tests build one connection each way and compare
every attribute, so an aiosmtpd upgrade that changes its constructor is
noticed (the fast path then steps aside by itself).
"""
from __future__ import annotations

import asyncio
import types

import aiosmtpd
import pytest

from labmail.mta import smtpd
from labmail.mta.smtpd import LabSMTP


def _build(host, fast: bool, service: str = "smtp", **extra):
    """One LabSMTP as the service's factory makes it, built the fast or aiosmtpd's way."""
    from labmail.mta.smtpd_services import make_protocol_factory
    factory = make_protocol_factory(host, service, **extra)
    real = smtpd._fast_smtp_init

    async def make():
        smtpd._fast_smtp_init = real if fast else (lambda *a: False)
        try:
            return factory()
        finally:
            smtpd._fast_smtp_init = real
    return asyncio.run_coroutine_threadsafe(make(), host.lab.loop).result(5)


def _comparable(value, owner):
    """A value with per-object identities replaced by what they stand for."""
    if isinstance(value, types.MethodType):
        who = value.__self__
        who = "self" if who is owner else "handler" if who is owner.event_handler else who
        return ("method", value.__func__, who)
    if isinstance(value, dict):
        return {k: _comparable(v, owner) for k, v in value.items()}
    if type(value).__name__ == "_AuthMechAttr":
        return ("auth", _comparable(value.method, owner), value.is_builtin)
    if isinstance(value, asyncio.StreamReader):
        return ("reader", value._limit, value._loop)
    if isinstance(value, asyncio.Future):
        return ("future", value.done())
    if callable(value) and getattr(value, "__qualname__", "").endswith("gated"):
        return ("gated", _comparable(value.__closure__[0].cell_contents, owner))
    if type(value).__name__ in ("weakref", "ReferenceType"):
        return ("weakref", type(value()).__name__)
    if value is owner.event_handler:
        return "handler"
    if isinstance(value, (list, tuple, set, str, int, float, bool, type(None))):
        return value
    return ("object", type(value).__name__)


def _attributes(proto):
    return {k: _comparable(v, proto) for k, v in vars(proto).items() if k != "_constructing"}


@pytest.mark.skipif(aiosmtpd.__version__ != smtpd._FAST_AIOSMTPD,
                    reason="the fast constructor mirrors another aiosmtpd version")
@pytest.mark.parametrize("service", ["smtp", "submission"])
def test_fast_constructor_sets_what_aiosmtpds_sets(host, service):
    fast, slow = _build(host, True, service), _build(host, False, service)
    assert "_constructing" not in vars(fast)          # it really took the fast way
    assert _attributes(fast) == _attributes(slow)
    assert list(fast._smtp_methods) == list(slow._smtp_methods)
    assert list(fast._auth_methods) == list(slow._auth_methods)


def test_other_arguments_take_aiosmtpds_constructor(host):
    handler = _build(host, True).event_handler

    async def make():
        return LabSMTP(handler, hostname="mx.example.com", loop=asyncio.get_running_loop(),
                       ident="Test ESMTP")
    proto = asyncio.run_coroutine_threadsafe(make(), host.lab.loop).result(5)
    assert proto.__ident__ == "Test ESMTP"
    assert "EHLO" in proto._handle_hooks and "DATA" in proto._smtp_methods


def test_encrypt_level_gates_commands_before_starttls(host):
    proto = _build(host, True, "submission")
    assert proto.settings["smtpd_tls_security_level"] == "encrypt"
    assert getattr(proto._smtp_methods["MAIL"], "__qualname__", "").endswith("gated")
    assert not getattr(proto._smtp_methods["EHLO"], "__qualname__", "").endswith("gated")
    plain = _build(host, True, "smtp")
    assert isinstance(plain._smtp_methods["MAIL"], types.MethodType)
