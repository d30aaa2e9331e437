"""TRANSACTION-state commands (RFC 1939 sections 5-6) and the UPDATE at QUIT.

STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, RSET and QUIT, with Dovecot's
message-number parsing and error texts: a mixin of
:class:`~.protocol.POP3Connection`.
"""
from __future__ import annotations

import logging
from typing import List, Optional, Tuple

from ...store import StoreError
from .session import Session
from .actions import Action, Close, Event, Send
from .replies import line


__all__ = ["TransactionCommands"]

logger = logging.getLogger(__name__)


class TransactionCommands(Session):
    """The commands a logged-in client may give."""

    def _number(self, args: str, allow_rest: bool = False) -> Tuple[Optional[int], str, Optional[Send]]:
        """Dovecot's message-number parser: (number, rest, error reply)."""
        s = args.lstrip(" ")
        digits = len(s) - len(s.lstrip("0123456789"))
        if digits == 0:
            return None, "", self._send("invalid_number", arg=s)
        value = int(s[:digits])
        if value >= 2 ** 64:
            return None, "", self._send("number_too_large", arg=s)
        if value >= 2 ** 32:
            return None, "", self._send("number_too_large", arg="")
        rest = s[digits:]
        if rest and not allow_rest:
            return None, "", self._send("noise_after_number", rest=rest)
        return value, rest, None

    def _message(self, args: str, allow_rest: bool = False) -> Tuple[Optional[int], str, Optional[Send]]:
        n, rest, err = self._number(args, allow_rest)
        if err is not None or n is None:
            return None, "", err
        assert self.maildrop is not None
        if not self.maildrop.exists(n):
            return None, "", self._send("no_message", n=n)
        if n in self.maildrop.deleted:
            return None, "", self._send("deleted")
        return n, rest, None

    def _tx_capa(self, args: str) -> List[Action]:
        return self._capa(args)

    def _tx_stat(self, args: str) -> List[Action]:
        assert self.maildrop is not None
        return [self._send("stat", count=self.maildrop.count, size=self.maildrop.size)]

    def _tx_list(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        if not args:
            body = "".join(f"{n} {d.info(n).vsize}\r\n" for n in d.numbers()).encode()
            return [self._multi(line("list_all", count=d.count), body)]
        n, _, err = self._message(args)
        if err is not None or n is None:
            return [err] if err else []
        return [self._send("list_one", n=n, size=d.info(n).vsize)]

    def _tx_uidl(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        if not args:
            body = "".join(f"{n} {d.uidl(n)}\r\n" for n in d.numbers()).encode()
            return [self._multi("+OK", body)]
        n, _, err = self._message(args)
        if err is not None or n is None:
            return [err] if err else []
        return [self._send("uidl_one", n=n, uid=d.uidl(n))]

    def _tx_retr(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        n, _, err = self._message(args)
        if err is not None or n is None:
            return [err] if err else []
        body = d.wire_bytes(n)
        first = line("retr", size=d.info(n).vsize)
        d.retr_count += 1
        d.retr_bytes += len(first) + 2 + len(body)
        d.retrieved.add(n)
        return [self._multi(first, body, f"{first} (message {n}: {len(body)} bytes follow, then '.')")]

    def _tx_top(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        n, rest, err = self._message(args, allow_rest=True)
        if err is not None or n is None:
            return [err] if err else []
        if not rest.startswith(" "):
            return [self._send("noise_after_number", rest=rest)]
        s = rest.lstrip(" ")
        digits = len(s) - len(s.lstrip("0123456789"))
        if digits == 0:
            return [self._send("invalid_size", arg=s)]
        if int(s[:digits]) >= 2 ** 64:
            return [self._send("size_too_large", arg=s)]
        if s[digits:]:
            return [self._send("noise_after_size", rest=s[digits:])]
        body = d.top_bytes_of(n, int(s[:digits]))
        d.top_count += 1
        d.top_bytes += 5 + len(body)
        return [self._multi("+OK", body, f"+OK (top of message {n}: {len(body)} bytes follow)")]

    def _tx_dele(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        n, _, err = self._message(args)
        if err is not None or n is None:
            return [err] if err else []
        d.deleted.add(n)       # only marked: removed in UPDATE (RFC 1939 section 6)
        return [self._send("dele_ok")]

    def _tx_noop(self, args: str) -> List[Action]:
        return [self._send("ok")]

    def _tx_rset(self, args: str) -> List[Action]:
        assert self.maildrop is not None
        self.maildrop.deleted.clear()
        return [self._send("ok")]

    def _tx_quit(self, args: str) -> List[Action]:
        d = self.maildrop
        assert d is not None
        self._move("QUIT")          # UPDATE state: RFC 1939 section 6
        stats = self._stats()
        try:
            removed = d.commit()
        except StoreError as exc:
            logger.warning("UPDATE failed for %s: %s", self.login_user, exc)
            d.release()
            self._move("updated")
            self._closing = True
            return [Event("logout", {"reason": "Logged out", "user": self.login_user, **stats}),
                    self._send("update_failed"), Close()]
        d.release()
        self._move("updated")
        self._closing = True
        key = "logout_deleted" if removed else "logout"
        return [Event("logout", {"reason": "Logged out", "user": self.login_user, **stats}),
                self._send(key), Close()]
