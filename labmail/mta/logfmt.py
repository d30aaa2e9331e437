"""The maillog lines of the Postfix programs, in one place.

Every lab program (smtpd, cleanup, qmgr, local, smtp, bounce, postsuper)
formats its log messages with these functions, so all of them write exactly
the shapes Postfix 3.7 writes and :mod:`labmail.logread` can parse them back.
Each function returns the *message* part; ``MailLog.write(program, message)``
adds the syslog prefix (``Nov 28 00:01:32 mail postfix/qmgr[9895]: ``).

>>> delivery("02C68220412", "bob@example.org", relay="none", delay=0.02,
...          delays=(0.01, 0.01, 0, 0), dsn="4.4.1", status="deferred",
...          text="connect to 127.0.0.1[127.0.0.1]:2599: Connection refused")
'02C68220412: to=<bob@example.org>, relay=none, delay=0.02, delays=0.01/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)'
>>> queue_active("02C68220412", "", 330, 1)
'02C68220412: from=<>, size=330, nrcpt=1 (queue active)'
"""
from __future__ import annotations

from typing import Optional, Sequence

__all__ = [
    "SMTPD", "CLEANUP", "QMGR", "LOCAL", "SMTP", "BOUNCE", "POSTSUPER", "PICKUP",
    "delay_text", "delays_text", "delivery", "queue_active", "removed", "expired",
    "bounce_notification", "smtpd_connect", "smtpd_client", "smtpd_disconnect",
    "cleanup_message_id", "noqueue_reject", "connect_failed", "postsuper_done",
    "postsuper_summary", "relay_text",
]

SMTPD = "postfix/smtpd"
CLEANUP = "postfix/cleanup"
QMGR = "postfix/qmgr"
LOCAL = "postfix/local"
SMTP = "postfix/smtp"
BOUNCE = "postfix/bounce"
POSTSUPER = "postfix/postsuper"
PICKUP = "postfix/pickup"


def delay_text(seconds: float) -> str:
    """A delay as Postfix logs it: ``0.05``, ``1.2``, ``17``, ``0``.

    >>> [delay_text(x) for x in (0, 0.004, 0.02, 0.1, 1.25, 59.4, 162)]
    ['0', '0', '0.02', '0.1', '1.2', '59', '162']
    """
    seconds = max(0.0, seconds)
    if seconds >= 10:
        return f"{seconds:.0f}"
    # Postfix truncates to the shown precision rather than rounding up.
    if seconds >= 1:
        text = f"{int(seconds * 10) / 10:.1f}"
    else:
        text = f"{int(seconds * 100) / 100:.2f}"
    text = text.rstrip("0").rstrip(".")
    return text or "0"


def delays_text(delays: Sequence[float]) -> str:
    """``a/b/c/d``: before queue manager, in queue manager, connection setup,
    transmission (Postfix's ``delays=`` field).

    >>> delays_text((41, 0, 18, 0.004))
    '41/0/18/0'
    """
    return "/".join(delay_text(d) for d in delays)


def relay_text(host: Optional[str], ip: Optional[str] = None,
               port: Optional[int] = None) -> str:
    """The ``relay=`` value: ``none``, ``local`` or ``host[ip]:port``.

    >>> relay_text("mail.example.org", "127.0.0.3", 25)
    'mail.example.org[127.0.0.3]:25'
    """
    if not host:
        return "none"
    if ip is None:
        return host
    text = f"{host}[{ip}]"
    return f"{text}:{port}" if port is not None else text


def delivery(queue_id: str, to: str, *, relay: str, delay: float,
             delays: Sequence[float], dsn: str, status: str, text: str,
             orig_to: Optional[str] = None) -> str:
    """One delivery attempt of one recipient (local, smtp, virtual ...).

    *status* is ``sent``, ``deferred`` or ``bounced``; *text* goes into the
    parentheses (the remote reply or Postfix's reason).
    """
    orig = f", orig_to=<{orig_to}>" if orig_to and orig_to != to else ""
    return (f"{queue_id}: to=<{to}>{orig}, relay={relay}, delay={delay_text(delay)}, "
            f"delays={delays_text(delays)}, dsn={dsn}, status={status} ({text})")


def queue_active(queue_id: str, sender: str, size: int, nrcpt: int) -> str:
    """qmgr picked the message up: ``ID: from=<s>, size=N, nrcpt=N (queue active)``."""
    return f"{queue_id}: from=<{sender}>, size={size}, nrcpt={nrcpt} (queue active)"


def removed(queue_id: str) -> str:
    """The queue file is gone (all recipients done, or ``postsuper -d``)."""
    return f"{queue_id}: removed"


def expired(queue_id: str, sender: str) -> str:
    """The message outlived ``maximal_queue_lifetime`` and is returned."""
    return f"{queue_id}: from=<{sender}>, status=expired, returned to sender"


def bounce_notification(queue_id: str, bounce_id: str) -> str:
    """bounce queued a DSN for the sender: ``ID: sender non-delivery notification: BID``."""
    return f"{queue_id}: sender non-delivery notification: {bounce_id}"


def smtpd_connect(name: str, ip: str) -> str:
    """``connect from localhost[127.0.0.1]``."""
    return f"connect from {name}[{ip}]"


def smtpd_client(queue_id: str, name: str, ip: str, *,
                 sasl_method: Optional[str] = None,
                 sasl_username: Optional[str] = None) -> str:
    """``ID: client=localhost[127.0.0.1]`` (with SASL fields when authenticated)."""
    text = f"{queue_id}: client={name}[{ip}]"
    if sasl_method:
        text += f", sasl_method={sasl_method}, sasl_username={sasl_username or ''}"
    return text


def smtpd_disconnect(name: str, ip: str, counts: Sequence[tuple]) -> str:
    """``disconnect from name[ip] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5``.

    *counts* is a sequence of ``(command, ok, total)``; Postfix writes
    ``rcpt=1/2`` when some attempts failed.
    """
    parts = []
    ok_sum = tot_sum = 0
    for cmd, ok, total in counts:
        parts.append(f"{cmd}={ok}" if ok == total else f"{cmd}={ok}/{total}")
        ok_sum += ok
        tot_sum += total
    cmds = f"commands={ok_sum}" if ok_sum == tot_sum else f"commands={ok_sum}/{tot_sum}"
    return " ".join([f"disconnect from {name}[{ip}]", *parts, cmds])


def cleanup_message_id(queue_id: str, message_id: str) -> str:
    """``ID: message-id=<...>`` (the header's value as it is)."""
    return f"{queue_id}: message-id={message_id}"


def noqueue_reject(stage: str, name: str, ip: str, reply: str, *, sender: str,
                   recipient: Optional[str] = None, proto: str = "ESMTP",
                   helo: Optional[str] = None) -> str:
    """A refusal before a queue file exists.

    >>> noqueue_reject("RCPT", "localhost", "127.0.0.1",
    ...     "554 5.7.1 <x@example.net>: Relay access denied",
    ...     sender="a@example.com", recipient="x@example.net", helo="client")
    'NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <x@example.net>: Relay access denied; from=<a@example.com> to=<x@example.net> proto=ESMTP helo=<client>'
    """
    text = f"NOQUEUE: reject: {stage} from {name}[{ip}]: {reply}; from=<{sender}>"
    if recipient is not None:
        text += f" to=<{recipient}>"
    text += f" proto={proto}"
    if helo is not None:
        text += f" helo=<{helo}>"
    return text


def connect_failed(host: str, ip: str, port: int, reason: str) -> str:
    """smtp could not connect: ``connect to host[ip]:port: Connection refused``."""
    return f"connect to {host}[{ip}]:{port}: {reason}"


def postsuper_done(queue_id: str, action: str) -> str:
    """``ID: removed`` / ``ID: placed on hold`` / ``ID: released from hold``."""
    return f"{queue_id}: {action}"


def postsuper_summary(verb: str, count: int) -> str:
    """``Deleted: 2 messages`` / ``Placed on hold: 1 message``."""
    return f"{verb}: {count} message{'' if count == 1 else 's'}"
