"""The ``local`` delivery agent of a lab host (Postfix's local(8)).

qmgr hands it one recipient of a queued message.  It expands aliases
(``/etc/aliases``), drops the address extension (``recipient_delimiter``),
and for each account writes the message — with ``Return-Path:`` and
``Delivered-To:`` prepended — where ``main.cf`` says: ``home_mailbox =
Maildir/`` (a file in ``~/Maildir/new``) or an mbox (``home_mailbox =
Mailbox`` or ``mail_spool_directory``).  The outcome is what qmgr logs:
``status=sent (delivered to maildir)``, ``status=bounced (unknown user:
"carol")`` or a deferral when the disk refuses.

Concurrent Maildir deliveries share their fsyncs through a group commit, and
each is acknowledged only when its own file is durable.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Tuple

from ..mta import logfmt
from ..mta.groupcommit import GroupCommit
from ..mta.qmgr import Outcome
from ..mta.queue import QueueFile, Recipient
from ..store import notify_delivery
from ..users import account_name
from .command import run_mailbox_command
from .local import already_delivered, deliver_mbox, ensure_maildir, maildir_name, prepend_headers

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host

__all__ = ["LocalAgent"]


class LocalAgent:
    """Delivers to the accounts of one host.

    >>> outcome = await LocalAgent(host).deliver(qf, qf.recipients[0])     # doctest: +SKIP
    >>> outcome.status, outcome.text
    ('sent', 'delivered to maildir')
    """

    def __init__(self, host: "Host") -> None:
        self.host = host
        self._maildir_commit = GroupCommit()
        # (user, home, home_mailbox) -> the Maildir's paths, made once per user
        self._maildirs: Dict[Tuple[str, str, str], Tuple[Path, str, str, str]] = {}

    def account_of(self, address: str) -> str:
        """The local part without its extension, lower-cased (``alice+news`` -> ``alice``)."""
        return account_name(address, self.host.smtpd_settings["recipient_delimiter"])

    async def deliver(self, qf: QueueFile, rcpt: Recipient) -> Outcome:
        """Deliver *rcpt*'s copy of *qf*; never raises for a full disk (defers)."""
        host = self.host
        key = self.account_of(rcpt.address)
        targets = [t for t in host.users.resolve(key) if host.users.exists(t)]
        if not targets:
            return Outcome("bounced", "5.1.1", "local", f'unknown user: "{key}"',
                           program=logfmt.LOCAL)
        how = ""
        final = rcpt.address
        command = host.smtpd_settings.get("mailbox_command", "")
        for user in targets:
            final = rcpt.address if user == key else f"{user}@{host.smtpd_settings['myhostname']}"
            if command:
                # local(8)'s order: mailbox_command wins over home_mailbox and the spool
                extension = ""
                local_part = rcpt.address.rpartition("@")[0] or rcpt.address
                for ch in host.smtpd_settings["recipient_delimiter"] or "":
                    if ch in local_part:
                        extension = local_part.split(ch, 1)[1]
                        break
                status, dsn, text = await run_mailbox_command(
                    host, command, user=user, home=host.users.home(user), data=qf.content,
                    sender=qf.sender, recipient=final, original_recipient=rcpt.original or rcpt.address,
                    extension=extension)
                if status != "sent":
                    return Outcome(status, dsn, "local", text, program=logfmt.LOCAL)
                how = text
                continue
            data = prepend_headers(qf.content, qf.sender, final)
            try:
                how = await self.store(user, data, qf.sender, qf.delivery_key(rcpt), qf.recovered)
            except OSError as exc:
                return Outcome("deferred", "4.2.0", "local",
                               f"cannot update mailbox for user {user}. {exc.strerror}",
                               program=logfmt.LOCAL)
        return Outcome("sent", "2.0.0", "local", how, program=logfmt.LOCAL,
                       to=final if final != rcpt.address else None)

    async def store(self, user: str, data: bytes, sender: str, key: str = "",
                    recovered: bool = False) -> str:
        """Store one message for *user*; returns what local(8) logs.

        After a crash (*recovered*), a Maildir copy tagged with *key* means the
        delivery happened just before the crash: it is not made twice.
        """
        host = self.host
        box = host.smtpd_settings["home_mailbox"]
        if box.endswith("/"):
            where = (user, host.users.home(user), box)
            dirs = self._maildirs.get(where)
            if dirs is None:
                root = host.maildir_path(user)
                ensure_maildir(root)
                dirs = self._maildirs[where] = (root, f"{root}/new/", f"{root}/tmp/", str(root))
            root, new, tmp, key_path = dirs
            if recovered and already_delivered(root, key):
                return "delivered to maildir"
            name = maildir_name(host.clock.timestamp(), host.hostname,
                                host.maillog.pid(logfmt.LOCAL), host.ids.counter(), key)
            try:
                await self._maildir_commit.commit(new + name, data, tmp=tmp + name)
            except FileNotFoundError:
                # the Maildir went away since the last delivery: local(8) makes it again
                ensure_maildir(root)
                await self._maildir_commit.commit(new + name, data, tmp=tmp + name)
            notify_delivery(key_path)               # wakes IMAP IDLE sessions at once
            return "delivered to maildir"
        if box:
            target = host.path(host.users.home(user)) / box
        else:
            target = host.path(host.smtpd_settings["mail_spool_directory"]) / user
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, lambda: deliver_mbox(
            target, data, sender=sender, when=host.clock.now()))
        notify_delivery(str(target))
        return result.how
