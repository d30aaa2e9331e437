"""Which clients a daemon can hear: Postfix's ``inet_interfaces``/``inet_protocols``
and Dovecot's ``listen``, mapped onto a lab host.

A real server has a loopback interface (127.0.0.1, ::1) and a network
interface (its public address).  A daemon bound to loopback only is reachable
from the machine itself and nobody else: a remote client's SYN is answered
with a reset ("Connection refused").  A lab host has one address, 127.0.0.N,
that plays its network interface; the machine itself is that address and
127.0.0.1 (the notebook, like a shell on the server).  So each listener gets a
*binding*:

* ``"all"``   — every client (``inet_interfaces = all``, Dovecot ``listen = *``);
* ``"local"`` — only the machine itself (``loopback-only``, ``localhost``,
  ``127.0.0.1``);
* ``"none"``  — nobody over IPv4 (``inet_protocols = ipv6``, ``listen = ::``:
  the lab's network is IPv4).

An address the host does not have is Postfix's fatal start-up error.

>>> postfix_binding("loopback-only", "all", "127.0.0.2", "mail.example.com")
'local'
>>> postfix_binding("all", "ipv6", "127.0.0.2", "mail.example.com")
'none'
>>> dovecot_binding(("*", "::"), "127.0.0.2", "mail.example.com")
'all'
"""
from __future__ import annotations

from typing import Iterable, Sequence

from ..errors import LabError

__all__ = ["postfix_binding", "dovecot_binding", "LOOPBACK"]

#: names and addresses of the loopback interface
LOOPBACK = frozenset({"127.0.0.1", "::1", "[::1]", "localhost", "loopback-only"})
_ANY_V4 = frozenset({"*", "0.0.0.0", "all"})


def _words(value: str) -> list:
    return [w for w in value.replace(",", " ").split() if w]


def _binding(words: Iterable[str], ip: str, names: Sequence[str], *, what: str) -> str:
    """The widest binding among *words* (each an address, a name or a keyword)."""
    result = "none"
    for word in words:
        w = word.lower()
        if w in _ANY_V4 or w == ip or w in names:
            return "all"
        if w in LOOPBACK:
            result = "local"
        elif w in ("::", "[::]"):
            continue                                # IPv6 only: the lab's network is IPv4
        else:
            raise LabError(f"fatal: parameter {what}: no local interface found for {word}")
    return result


def postfix_binding(inet_interfaces: str, inet_protocols: str, ip: str, hostname: str) -> str:
    """How Postfix's smtpd listeners are bound, from ``inet_interfaces`` and ``inet_protocols``.

    Postfix reads both only when it starts ("you need to stop and start
    Postfix when this parameter changes"), not on ``postfix reload``.
    """
    protocols = {w.lower() for w in _words(inet_protocols or "all")}
    if not protocols & {"all", "ipv4"}:
        return "none"
    words = _words(inet_interfaces or "all")
    return _binding(words, ip, (hostname.lower(),), what="inet_interfaces")


def dovecot_binding(listen: Sequence[str], ip: str, hostname: str) -> str:
    """How Dovecot's POP3/IMAP listeners are bound, from ``listen`` (default ``*, ::``)."""
    return _binding(listen or ("*",), ip, (hostname.lower(),), what="listen")
