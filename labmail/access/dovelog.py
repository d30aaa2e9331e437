"""Dovecot's log lines, written into a host's maillog.

Through syslog Dovecot's lines read (``mail.log`` on Debian)::

    Nov 27 09:00:01 mail dovecot[812]: pop3-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.2, mpid=4242, session=<yB8m9EphjsF/AAAB>
    Nov 27 09:00:02 mail dovecot[812]: pop3(alice)<4242><yB8m9EphjsF/AAAB>: Disconnected: Logged out top=0/0, retr=1/612, del=1/1, size=612
    Nov 27 09:00:09 mail dovecot[812]: auth: passwd-file(bob,127.0.0.1,<Ab3...>): unknown user
    Nov 27 09:00:11 mail dovecot[812]: pop3-login: Disconnected: Aborted login by logging out (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.2, session=<Ab3...>

The ``auth:`` line is what ``auth_verbose = yes`` adds; the lab writes it
so failed logins are visible.  ``secured`` marks a connection Dovecot
trusts without TLS (from its own address or ``login_trusted_networks``),
``TLS`` one that is encrypted.

>>> c = ConnInfo(rip="127.0.0.1", lip="127.0.0.2", session="S", mpid=7, secured=True)
>>> login_line("pop3", c, "alice", "PLAIN")
'pop3-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.2, mpid=7, secured, session=<S>'
>>> logout_line("pop3", c, "alice", "Logged out", dict(top=0, top_bytes=0, retr=1, retr_bytes=612, deleted=1, messages=1, size=612))
'pop3(alice)<7><S>: Disconnected: Logged out top=0/0, retr=1/612, del=1/1, size=612'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

__all__ = ["ConnInfo", "login_line", "logout_line", "login_disconnect_line",
           "auth_failure_line", "DovecotLogger"]

PROGRAM = "dovecot"


@dataclass
class ConnInfo:
    """What Dovecot prints about a connection."""

    rip: str
    lip: str
    session: str
    mpid: int = 0
    secured: bool = False
    tls: bool = False

    def security(self) -> str:
        return "TLS" if self.tls else ("secured" if self.secured else "")


def _tail(c: ConnInfo, user: str, method: str = "", mpid: bool = False) -> str:
    parts = [f"user=<{user}>"]
    if method:
        parts.append(f"method={method}")
    parts += [f"rip={c.rip}", f"lip={c.lip}"]
    if mpid:
        parts.append(f"mpid={c.mpid}")
    if c.security():
        parts.append(c.security())
    parts.append(f"session=<{c.session}>")
    return ", ".join(parts)


def login_line(service: str, c: ConnInfo, user: str, method: str) -> str:
    """``pop3-login: Login: user=<alice>, method=PLAIN, ...``"""
    return f"{service}-login: Login: {_tail(c, user, method, mpid=True)}"


def logout_line(service: str, c: ConnInfo, user: str, reason: str,
                stats: Mapping[str, Any], fmt: Optional[str] = None) -> str:
    """``pop3(alice)<mpid><session>: Disconnected: Logged out top=.., retr=.., del=.., size=..``"""
    fmt = fmt or "top=%t/%p, retr=%r/%b, del=%d/%m, size=%s"
    table = {"t": stats.get("top", 0), "p": stats.get("top_bytes", 0),
             "r": stats.get("retr", 0), "b": stats.get("retr_bytes", 0),
             "d": stats.get("deleted", 0), "m": stats.get("messages", 0),
             "s": stats.get("size", 0), "%": "%"}
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt) and fmt[i + 1] in table:
            out.append(str(table[fmt[i + 1]]))
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return f"{service}({user})<{c.mpid}><{c.session}>: Disconnected: {reason} {''.join(out)}"


def login_disconnect_line(service: str, c: ConnInfo, reason: str, user: str, method: str,
                          attempts: int, seconds: int, plaintext_refused: bool = False) -> str:
    """``pop3-login: Disconnected: <reason> (<auth summary>): user=<..>, ...``"""
    if plaintext_refused and not attempts:
        summary = "tried to use disallowed plaintext auth"
    elif attempts:
        summary = f"auth failed, {attempts} attempts in {seconds} secs"
    else:
        summary = f"no auth attempts in {seconds} secs"
    return f"{service}-login: Disconnected: {reason} ({summary}): {_tail(c, user, method)}"


def auth_failure_line(c: ConnInfo, user: str, reason: str, driver: str = "passwd-file") -> str:
    """``auth: passwd-file(bob,127.0.0.1,<session>): unknown user``"""
    return f"auth: {driver}({user},{c.rip},<{c.session}>): {reason}"


class DovecotLogger:
    """Writes these lines into a :class:`labmail.log.MailLog` as program ``dovecot``."""

    def __init__(self, maillog: Any, service: str = "pop3") -> None:
        self.maillog = maillog
        self.service = service

    def write(self, message: str) -> None:
        if self.maillog is not None:
            self.maillog.write(PROGRAM, message)

    def login(self, c: ConnInfo, user: str, method: str) -> None:
        self.write(login_line(self.service, c, user, method))

    def logout(self, c: ConnInfo, user: str, reason: str, stats: Mapping[str, Any],
               fmt: Optional[str] = None) -> None:
        self.write(logout_line(self.service, c, user, reason, stats, fmt))

    def login_disconnected(self, c: ConnInfo, reason: str, user: str, method: str,
                           attempts: int, seconds: int, plaintext_refused: bool = False) -> None:
        self.write(login_disconnect_line(self.service, c, reason, user, method, attempts,
                                         seconds, plaintext_refused))

    def auth_failed(self, c: ConnInfo, user: str, reason: str) -> None:
        self.write(auth_failure_line(c, user, reason))
