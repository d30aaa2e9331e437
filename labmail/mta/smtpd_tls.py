"""TLS and SASL policy of the lab's smtpd: settings, services and Postfix's words.

* :func:`tls_settings` reads ``smtpd_tls_security_level`` (or the legacy
  ``smtpd_use_tls``/``smtpd_enforce_tls``), ``smtpd_tls_auth_only``,
  ``smtpd_tls_loglevel``, ``smtpd_tls_received_header``,
  ``smtpd_tls_wrappermode`` and ``smtpd_sasl_auth_enable``.
* :data:`SERVICES` are the ``-o`` overrides of the submission (587) and
  submissions/smtps (465) entries of Debian's ``master.cf``;
  :func:`service_config` applies them to ``main.cf``.
* :func:`tls_details` is the text Postfix puts in its log line and, with
  ``smtpd_tls_received_header = yes``, in the ``Received:`` header.

>>> protocol_name(esmtp=True, tls=True, auth=True)
'ESMTPSA'
>>> effective_level({"smtpd_use_tls": "yes"}.get("smtpd_tls_security_level", ""), True, False)
'may'
"""
from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .maincf import Entry, MainCf

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host

__all__ = ["SERVICES", "tls_settings", "service_config", "effective_level", "tls_details",
           "received_tls_text", "protocol_name", "server_signature"]

#: master.cf's ``-o`` lines for the mail submission services (RFC 6409, RFC 8314)
SERVICES: Dict[str, Dict[str, str]] = {
    "smtp": {},
    "submission": {
        "syslog_name": "postfix/submission",
        "smtpd_tls_security_level": "encrypt",
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_tls_auth_only": "yes",
        "smtpd_recipient_restrictions": "",
        "smtpd_relay_restrictions": "permit_sasl_authenticated,reject",
    },
    "smtps": {
        "syslog_name": "postfix/smtps",
        "smtpd_tls_wrappermode": "yes",
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_recipient_restrictions": "",
        "smtpd_relay_restrictions": "permit_sasl_authenticated,reject",
    },
}


def service_config(cfg: MainCf, service: str) -> MainCf:
    """``main.cf`` as the *service*'s smtpd sees it, its ``-o`` overrides applied."""
    overrides = SERVICES.get(service) or {}
    if not overrides:
        return cfg
    entries = cfg.entries()
    for name, value in overrides.items():
        entries[name] = Entry(name, value, 0)
    return MainCf(cfg.path, entries, overrides=cfg.overrides(),
                  path_map=getattr(cfg, "_path_map", None))


def effective_level(level: str, use_tls: bool, enforce_tls: bool) -> str:
    """``smtpd_tls_security_level``, or what the legacy booleans mean when it is empty."""
    if level in ("none", "may", "encrypt"):
        return level
    if enforce_tls:
        return "encrypt"
    return "may" if use_tls else "none"


def tls_settings(cfg: MainCf) -> Dict[str, Any]:
    """The TLS/SASL part of the smtpd settings (see :func:`labmail.mta.smtpd.settings_from`)."""
    level = effective_level(cfg.get("smtpd_tls_security_level"),
                            cfg.get_bool("smtpd_use_tls"), cfg.get_bool("smtpd_enforce_tls"))
    # Postfix's default loglevel 0 logs no TLS summary; the lab's main.cf leaves it
    # unset yet students should see the handshake in the maillog, so unset means 1.
    loglevel = cfg.get_int("smtpd_tls_loglevel") if "smtpd_tls_loglevel" in cfg.explicit() else 1
    return {
        "syslog_name": cfg.get("syslog_name") or "postfix",
        "smtpd_tls_security_level": level,
        # encrypt implies it: AUTH is neither offered nor accepted before TLS
        "smtpd_tls_auth_only": cfg.get_bool("smtpd_tls_auth_only") or level == "encrypt",
        "smtpd_tls_loglevel": loglevel,
        "smtpd_tls_received_header": cfg.get_bool("smtpd_tls_received_header"),
        "smtpd_tls_wrappermode": cfg.get_bool("smtpd_tls_wrappermode"),
        "smtpd_sasl_auth_enable": cfg.get_bool("smtpd_sasl_auth_enable"),
        "broken_sasl_auth_clients": cfg.get_bool("broken_sasl_auth_clients"),
        "smtpd_tls_cert_file": cfg.get("smtpd_tls_cert_file"),
        "smtpd_tls_key_file": cfg.get("smtpd_tls_key_file"),
    }


def server_signature(cert_file: Optional[Path]) -> str:
    """``ECDSA (prime256v1)`` or ``RSA-PSS (2048 bits)``, from the server certificate's key.

    Postfix prints OpenSSL's curve names (measured with posttls-finger).
    """
    from ..net.certs import load_certs
    try:
        key = load_certs(Path(cert_file))[0].public_key() if cert_file else None
    except (OSError, ValueError, IndexError):
        key = None
    if isinstance(key, ec.EllipticCurvePublicKey):
        names = {"secp256r1": "prime256v1"}
        return f"ECDSA ({names.get(key.curve.name, key.curve.name)})"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-PSS ({key.key_size} bits)"
    return ""


def tls_details(obj: Optional[ssl.SSLObject], signature: str = "") -> Tuple[str, str, str]:
    """(version, cipher, Postfix's summary) of an established TLS session.

    The summary reads ``TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
    key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256``.
    Python does not expose the key-exchange group; OpenSSL's first choice,
    X25519, is what every lab client negotiates.
    """
    if obj is None:
        return "", "", ""
    version = obj.version() or ""
    name, _proto, bits = obj.cipher() or ("", "", 0)
    text = f"{version} with cipher {name} ({bits}/{bits} bits)"
    if name.startswith("TLS_") or "ECDHE" in name:
        text += " key-exchange X25519"
    if signature:
        text += f" server-signature {signature} server-digest SHA256"
    return version, name, text


def received_tls_text(summary: str) -> str:
    """The ``tls=`` text for :func:`labmail.mta.cleanup.received_header`.

    cleanup writes ``\\t(<text>)``; Postfix folds the summary before
    ``key-exchange`` and adds ``(No client certificate requested)``.
    """
    first, sep, rest = summary.partition(" key-exchange ")
    text = "using " + first + (f"\r\n\t key-exchange {rest}" if sep else "")
    return text + ")\r\n\t(No client certificate requested"


def protocol_name(*, esmtp: bool, tls: bool, auth: bool) -> str:
    """RFC 3848's ``with`` keyword: ESMTP, ESMTPS, ESMTPA, ESMTPSA (or SMTP)."""
    if not esmtp:
        return "SMTP"
    return "ESMTP" + ("S" if tls else "") + ("A" if auth else "")


