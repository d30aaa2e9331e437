"""The lab clock and the lab's id generator.

Lessons must be deterministic under nbval, and queue lessons must show hours of
retries in seconds, so nothing in labmail calls ``time.time()`` or
``random`` directly: every server asks its host's :class:`Clock` for the time
and its :class:`IdGenerator` for queue ids, session ids and Maildir names.

>>> clock = Clock.fixed("2026-11-27T09:00:00+00:00")
>>> clock.now().isoformat()
'2026-11-27T09:00:00+00:00'
>>> clock.advance(hours=2)
>>> clock.now().hour
11
"""
from __future__ import annotations

import datetime as _dt
import random
import threading
import time
from typing import Optional, Union

__all__ = ["Clock", "IdGenerator"]

_UTC = _dt.timezone.utc


class Clock:
    """Wall-clock time as the lab sees it.

    A *real* clock follows the machine's time plus any offset added with
    :meth:`advance`; a *fixed* clock starts at a given instant and moves only
    when advanced (so stored notebook outputs never change).

    >>> c = Clock()                 # real time
    >>> c.advance(minutes=5)        # the lab now lives five minutes ahead
    >>> round(c.timestamp() - time.time()) >= 299
    True
    """

    def __init__(self, start: Optional[Union[str, _dt.datetime]] = None,
                 tz: Optional[_dt.tzinfo] = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._fixed: Optional[float] = None
        if start is not None:
            if isinstance(start, str):
                start = _dt.datetime.fromisoformat(start)
            if start.tzinfo is None:
                start = start.replace(tzinfo=_UTC)
            self._fixed = start.timestamp()
            tz = tz or start.tzinfo
        self.tz = tz or _UTC

    @classmethod
    def fixed(cls, start: Union[str, _dt.datetime]) -> "Clock":
        """A clock frozen at *start* that moves only with :meth:`advance`."""
        return cls(start)

    @property
    def is_fixed(self) -> bool:
        """True when the clock only moves with :meth:`advance`."""
        return self._fixed is not None

    def timestamp(self) -> float:
        """Seconds since the epoch, lab time."""
        # No lock to read: _fixed never changes and _offset is replaced whole
        # (under the lock) by advance(); a reader sees the old or the new one.
        fixed = self._fixed
        return (fixed if fixed is not None else time.time()) + self._offset

    def now(self) -> _dt.datetime:
        """The current lab time as an aware datetime in the clock's zone."""
        return _dt.datetime.fromtimestamp(self.timestamp(), self.tz)

    def advance(self, seconds: float = 0, *, minutes: float = 0,
                hours: float = 0, days: float = 0) -> None:
        """Move lab time forward (queue lessons use this to show retries)."""
        delta = seconds + 60 * minutes + 3600 * hours + 86400 * days
        if delta < 0:
            raise ValueError("the lab clock only moves forward")
        with self._lock:
            self._offset += delta

    def __repr__(self) -> str:
        kind = "fixed" if self.is_fixed else "real"
        return f"<Clock {kind} {self.now().isoformat(timespec='seconds')}>"


class IdGenerator:
    """Queue ids, session ids and unique names, reproducible when seeded.

    Postfix's short queue ids are upper-case hexadecimal (e.g.
    ``3F1A22C0E4B``); :meth:`queue_id` makes ids of that shape.

    >>> ids = IdGenerator(seed=1)
    >>> ids.queue_id() == IdGenerator(seed=1).queue_id()
    True
    """

    _B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def __init__(self, seed: Optional[int] = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.seed = seed
        self._counter = 0

    def queue_id(self) -> str:
        """A Postfix-style short queue id: 10 or 11 upper-case hex digits."""
        with self._lock:
            n = self._rng.getrandbits(44)
        return f"{n:011X}"

    def session_id(self) -> str:
        """A Dovecot-style session id (base64, 16 characters)."""
        with self._lock:
            return "".join(self._rng.choice(self._B64) for _ in range(16))

    def token(self, nbytes: int = 8) -> str:
        """A hex token for unique file names."""
        with self._lock:
            return f"{self._rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"

    def counter(self) -> int:
        """A strictly increasing integer (unique within this generator)."""
        with self._lock:
            self._counter += 1
            return self._counter

    def pid(self, program: str) -> int:
        """A stable, plausible process id for *program* (for log lines)."""
        h = 0
        for ch in program:
            h = (h * 131 + ord(ch)) % 30011
        base = 1000 + h
        if self.seed is None:
            import os
            base = (base + os.getpid()) % 99000 + 1000
        return base
