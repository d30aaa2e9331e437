"""What an IMAP session needs from a lab host: dovecot.conf, passwords, mail stores.

:class:`HostServices` reads the host's ``/etc/dovecot/dovecot.conf`` (else lab
defaults), checks passwords against the passwd-file it names (else the
host's own accounts) and opens each user's store from ``mail_location`` --
one store per mailbox for every session of the process, with the lock its
sessions take turns on (:func:`labmail.store.workers.mailbox_lock`).

>>> # services = HostServices(host); services.authenticate("alice", "secret")
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ...store.workers import mailbox_lock
from .backend import Mailboxes
from .protocol import ImapConfig

__all__ = ["HostServices"]

logger = logging.getLogger(__name__)

_STORES: Dict[Tuple[str, str, str], Any] = {}
_STORES_LOCK = threading.Lock()
_MAILBOX_BLOCK = re.compile(r"^[ \t]*mailbox[ \t]+(\"[^\"]+\"|\S+)[ \t]*\{([^{}]*)\}", re.M)


class HostServices:
    """What an IMAP session needs from a lab host, read from its files.

    Reads ``/etc/dovecot/dovecot.conf`` when present (else lab defaults),
    checks passwords against the passwd-file it names (else the host's own
    accounts), and opens each user's store from ``mail_location``.
    """

    def __init__(self, host: Any) -> None:
        self.host = host
        self.dovecot = self._load_conf()
        self.homes: Dict[str, str] = {}

    def _load_conf(self) -> Any:
        try:
            from ..dovecotconf import load_dovecot_conf
        except ImportError:  # pragma: no cover - access layer not present
            return None
        path = self.host.path("/etc/dovecot/dovecot.conf")
        if not Path(path).exists():
            return None
        try:
            return load_dovecot_conf(path, "imap")
        except Exception as exc:  # a broken file: log it, serve with defaults
            logger.warning("%s: %s", path, exc)
            return None

    def config(self, tls_available: bool) -> ImapConfig:
        cfg = ImapConfig(tls_available=tls_available)
        d = self.dovecot
        if d is not None:
            cfg.greeting = d.login_greeting
            cfg.auth_failure_delay = d.auth_failure_delay
            # ssl = required refuses plaintext logins whatever disable_plaintext_auth says
            cfg.disable_plaintext_auth = d.disable_plaintext_auth or d.ssl == "required"
            if d.ssl == "no":
                cfg.tls_available = False
            mechs = tuple(m.upper() for m in d.auth_mechanisms if m.upper() in ("PLAIN", "LOGIN"))
            cfg.mechanisms = mechs or ("PLAIN",)
        else:
            cfg.disable_plaintext_auth = False
        special = self._special_use()
        if special is not None:
            cfg.special_use, cfg.autocreate, cfg.autosubscribe = special
        # lessons and tests may shorten timers: host.imap_overrides = {"idle_timeout": 2}
        for key, value in (getattr(self.host, "imap_overrides", None) or {}).items():
            if hasattr(cfg, key):
                setattr(cfg, key, value)
        return cfg

    def _special_use(self) -> Optional[Tuple[Dict[str, str], Tuple[str, ...], Tuple[str, ...]]]:
        """``mailbox NAME { special_use = \\X  auto = create|subscribe }`` blocks.

        The access layer's DovecotConfig does not keep namespace blocks, so
        they are read here from the checked file; None when there are none.
        """
        if self.dovecot is None:
            return None
        try:
            text = Path(self.host.path("/etc/dovecot/dovecot.conf")).read_text(encoding="utf-8")
        except OSError:
            return None
        special: Dict[str, str] = {}
        auto: list = []
        subscribed: list = []
        for m in _MAILBOX_BLOCK.finditer(text):
            name, body = m.group(1).strip('"'), m.group(2)
            use = re.search(r"^\s*special_use\s*=\s*(\\\w+)", body, re.M)
            if use:
                special[name] = use.group(1)
            how = re.search(r"^\s*auto\s*=\s*(\w+)", body, re.M)
            if how and how.group(1) in ("create", "subscribe"):
                auto.append(name)
                if how.group(1) == "subscribe":
                    subscribed.append(name)
        if not special and not auto:
            return None
        return special, tuple(auto), tuple(subscribed)

    def is_secured(self, peer_ip: str, local_ip: str) -> bool:
        if self.dovecot is not None:
            return self.dovecot.is_secured(peer_ip, local_ip)
        return peer_ip == local_ip

    def authenticate(self, user: str, password: str) -> Optional[str]:
        """The account name when *password* is right, else None."""
        d = self.dovecot
        path = d.passwd_file() if d is not None else None
        if path:
            real = self.host.path(path)
            if Path(real).exists():
                from ..auth import PasswdFile
                pf = PasswdFile(real)
                entry = pf.lookup(user)
                if entry is not None:
                    if not pf.verify(user, password):
                        return None
                    if entry.home:          # a virtual user's home from the passwd-file
                        self.homes[user] = entry.home
                    return user
        check = getattr(self.host, "check_password", None)
        if callable(check):
            return user if check(user, password) else None
        known = getattr(self.host, "_passwords", {})
        return user if user in known and known[user] == password else None

    def mailboxes(self, user: str) -> Mailboxes:
        from ...store import open_store
        location = (self.dovecot.mail_location if self.dovecot is not None else "") \
            or "maildir:~/Maildir"
        home = self.homes.get(user)
        if home is None:
            try:
                home = self.host.users.home(user)
            except KeyError:
                home = f"/home/{user}"
        key = (str(self.host.path(home)), location, user)
        with _STORES_LOCK:      # logins of several sessions run in worker threads
            store = _STORES.get(key)
            if store is None:
                # one store per mailbox for all sessions: its folders keep their file index
                store = open_store(location, user=user, home=home, map_path=self.host.path,
                                   now=self.host.clock.timestamp, hostname=self.host.hostname)
                _STORES[key] = store
        boxes = Mailboxes(store)
        boxes.lock = mailbox_lock("\0".join(key))
        return boxes
