"""Checks for lesson 03 (configuring the MTA): raise a hint, or return :class:`Passed`.

>>> check_relay_closed(host)          # doctest: +SKIP
Correct: the stranger now gets '454 4.7.1 <victim@example.org>: Relay access denied'; Alice and you are unaffected.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .course import CheckFailed, Passed

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

__all__ = ["check_relay_closed", "check_config_repaired"]


def check_relay_closed(host: "Host") -> Passed:
    """Connect as the stranger (127.0.0.9) and as you (127.0.0.1), as a relay tester would.

    Raises :class:`CheckFailed` while 127.0.0.9 may relay, or when the fix
    also blocks mail to Alice or your own outgoing mail.
    """
    from .notebook import Telnet

    with Telnet(host.endpoints["smtp"], source=("127.0.0.9", 0)) as t:
        t.talk("EHLO friendly.example.net", "MAIL FROM:<offers@example.net>")
        outside = t.send("RCPT TO:<victim@example.org>")
        local = t.send("RCPT TO:<alice@example.com>")
        t.send("QUIT")
    with Telnet(host.endpoints["smtp"]) as t:                 # from 127.0.0.1
        t.talk("EHLO laptop", "MAIL FROM:<bob@example.com>")
        inside = t.send("RCPT TO:<friend@example.org>")
        t.send("QUIT")                                         # no DATA: nothing is sent
    if outside.code == 250:
        raise CheckFailed("Not yet: 127.0.0.9 may still relay to example.org. Is it inside mynetworks? "
                          "Did `postfix check` pass and did the host reload?")
    if local.code != 250:
        raise CheckFailed(f"Too strict: strangers can no longer write to Alice ({local.last}).")
    if inside.code != 250:
        raise CheckFailed(f"Too strict: you at 127.0.0.1 can no longer send mail out ({inside.last}).")
    return Passed(f"Correct: the stranger now gets '{outside.last}'; Alice and you are unaffected.")


def check_config_repaired(host: "Host") -> Passed:
    """``postfix check`` is clean, the intent of the broken lines is kept, and the host reloaded.

    The intent: IPv4 only, a message size limit of 20 MB (20000000 to
    20971520 bytes, however one counts a megabyte), and
    ``reject_unauth_destination`` in ``smtpd_recipient_restrictions``.
    """
    result = host.check()
    if not result.ok:
        first = result.lines()[0] if result.lines() else "a problem"
        raise CheckFailed(f"`postfix check` still complains: {first}. Fix that line with "
                          "host.postconf(e=[\"name = value\"]).")

    def value(name: str) -> str:
        # the line "name = value" (postconf also prints its warnings)
        for line in str(host.postconf(name, x=True)).splitlines():
            if line.startswith(name + " ="):
                return line.partition("=")[2].strip()
        return ""

    if value("inet_protocols") != "ipv4":
        raise CheckFailed("The colleague wanted IPv4 only: inet_protocols takes ipv4, ipv6 or all.")
    size = value("message_size_limit")
    if not size.isdigit() or not 20_000_000 <= int(size) <= 20_971_520:
        raise CheckFailed(f"message_size_limit is a number of bytes without a unit: 20 MB is about "
                          f"20000000 (it is now {size or 'unset'}).")
    if "reject_unauth_destination" not in value("smtpd_recipient_restrictions").replace(",", " ").split():
        raise CheckFailed("smtpd_recipient_restrictions should still end with the relay protection, "
                          "spelled reject_unauth_destination.")
    running = host.config
    if running.get("message_size_limit").strip() != size or \
            running.get("inet_protocols").strip() != "ipv4":
        raise CheckFailed("main.cf is right, but the server still runs the old settings: reload it "
                          "(host.reload(), `postfix reload`).")
    return Passed("Correct: `postfix check` is silent and the server runs the repaired settings.")
