"""The host's maillog, written in the syslog format real servers produce.

Postfix and Dovecot log through syslog; rsyslogd writes lines such as::

    Nov 27 09:00:01 mail postfix/smtpd[4242]: connect from localhost[127.0.0.1]

to ``/var/log/maillog`` (Red Hat family) or ``/var/log/mail.log`` (Debian
family).  Each lab host writes the same lines to ``<state>/var/log/maillog``
so students can read them with ``tail`` or the lessons' log tools.

>>> import tempfile, pathlib
>>> from labmail.clock import Clock, IdGenerator
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> log = MailLog(d / "maillog", "mail.example.com", Clock.fixed("2026-11-27T09:00:01"), IdGenerator(1))
>>> log.write("postfix/smtpd", "connect from localhost[127.0.0.1]")
>>> print(log.read(), end="")  # doctest: +ELLIPSIS
Nov 27 09:00:01 mail postfix/smtpd[...]: connect from localhost[127.0.0.1]
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
from pathlib import Path
from typing import List, Optional

from .clock import Clock, IdGenerator

__all__ = ["MailLog"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

logger = logging.getLogger("labmail.maillog")


class MailLog:
    """Append-only syslog-format mail log of one host (thread-safe)."""

    def __init__(self, path: Path, hostname: str, clock: Clock,
                 ids: IdGenerator) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hostname = hostname
        self.short_hostname = hostname.split(".", 1)[0]
        self.clock = clock
        self.ids = ids
        self._lock = threading.Lock()
        self._pids: dict = {}
        self._fd: Optional[int] = None
        self._checked = 0.0            # when the file was last seen to exist
        self._stamp_second: Optional[int] = None   # the second _stamp is for
        self._stamp = ""

    def pid(self, program: str) -> int:
        """The (stable) process id shown for *program*."""
        if program not in self._pids:
            self._pids[program] = self.ids.pid(program)
        return self._pids[program]

    def format(self, program: str, message: str, pid: Optional[int] = None) -> str:
        """One syslog line (without the newline)."""
        # Many lines fall within one second: the stamp is made once per second.
        second = int(self.clock.timestamp() // 1)
        if second != self._stamp_second:
            now = _dt.datetime.fromtimestamp(second, self.clock.tz)
            self._stamp = f"{_MONTHS[now.month - 1]} {now.day:2d} {now:%H:%M:%S}"
            self._stamp_second = second
        stamp = self._stamp
        if pid is None:
            pid = self.pid(program)
        return f"{stamp} {self.short_hostname} {program}[{pid}]: {message}"

    def write(self, program: str, message: str, pid: Optional[int] = None) -> None:
        """Append one line for *program* (e.g. ``postfix/smtpd``)."""
        line = self.format(program, message, pid) + "\n"
        with self._lock:
            # One descriptor kept open (as syslogd does), reopened if the file
            # was removed or rotated; one write(2) per line so readers see it
            # at once; not fsync'd, as syslogd doesn't either.
            now = time.monotonic()
            if self._fd is not None and now - self._checked > 1.0:
                self._checked = now                 # look for rotation once a second
                if not self.path.exists():
                    os.close(self._fd)
                    self._fd = None
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                self._checked = now
            os.write(self._fd, line.encode("utf-8"))
        logger.debug("%s", line.rstrip())

    def close(self) -> None:
        """Close the log file (it is reopened on the next write)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def read(self) -> str:
        """The whole log as text ('' when nothing was logged yet)."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def lines(self, contains: Optional[str] = None) -> List[str]:
        """The log's lines, optionally only those containing *contains*."""
        out = self.read().splitlines()
        if contains is not None:
            out = [ln for ln in out if contains in ln]
        return out

    def tail(self, n: int = 10) -> str:
        """The last *n* lines, like ``tail -n``."""
        return "\n".join(self.lines()[-n:])

    def truncate(self) -> None:
        """Empty the log (as logrotate would start a new file)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            with open(self.path, "w", encoding="utf-8"):
                os.utime(self.path)
