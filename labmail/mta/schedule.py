"""The queue manager's policy, with no I/O: outcomes, settings, back-off, expiry.

Everything here is a pure function of its arguments, so a lesson can ask
"when would Postfix try again?" without running anything:

>>> s = QmgrSettings()
>>> [next_retry(0, age, s) - age for age in (0, 300, 600, 1200, 2400, 4800)]
[300.0, 300.0, 600.0, 1200.0, 2400.0, 4000.0]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional, Union

from . import logfmt
from .queue import QueueFile, Recipient

__all__ = ["Outcome", "Deliver", "QmgrSettings", "parse_time", "next_retry", "is_expired"]


@dataclass(frozen=True)
class Outcome:
    """What a delivery agent reports for one recipient.

    >>> Outcome("deferred", "4.4.1", "none", "connect to mx[127.0.0.3]:25: Connection refused")
    ... # doctest: +ELLIPSIS
    Outcome(status='deferred', dsn='4.4.1', relay='none', text='connect to ...', ...)
    """

    status: str                       # sent | deferred | bounced
    dsn: str = "2.0.0"
    relay: str = "none"
    text: str = ""
    program: str = logfmt.SMTP
    diag: str = ""                    # DSN Diagnostic-Code, e.g. "smtp; 550 5.1.1 ..."
    remote_mta: str = ""              # DSN Remote-MTA host name
    conn_time: float = 0.0            # delays "c": connection set-up
    xfer_time: float = 0.0            # delays "d": transmission
    to: Optional[str] = None          # logged to=<..> when not the envelope address

    def __post_init__(self) -> None:
        if self.status not in ("sent", "deferred", "bounced"):
            raise ValueError(f"status must be sent, deferred or bounced, not {self.status!r}")


Deliver = Callable[[QueueFile, Recipient], Awaitable[Outcome]]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: Union[str, float, int], default_unit: str = "s") -> float:
    """A Postfix time value in seconds: ``300s``, ``5d``, ``1h``, ``300``.

    >>> parse_time("5d"), parse_time("4000s"), parse_time("10m"), parse_time(7)
    (432000.0, 4000.0, 600.0, 7.0)
    """
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip().lower()
    unit = default_unit
    if text and text[-1] in _UNITS:
        text, unit = text[:-1], text[-1]
    return float(text) * _UNITS[unit]


@dataclass(frozen=True)
class QmgrSettings:
    """The main.cf parameters the queue manager obeys (Postfix 3.7 defaults)."""

    minimal_backoff_time: float = 300.0
    maximal_backoff_time: float = 4000.0
    queue_run_delay: float = 300.0
    maximal_queue_lifetime: float = 5 * 86400.0
    bounce_queue_lifetime: float = 5 * 86400.0
    myhostname: str = "localhost"
    myorigin: str = "localhost"
    mail_name: str = "Postfix"
    bounce_size_limit: int = 50000
    concurrency: int = 50

    @classmethod
    def from_config(cls, cfg: Any) -> "QmgrSettings":
        """Read the settings from a parsed main.cf (anything with ``get(name)``)."""
        def get(name: str, default: str) -> str:
            try:
                value = cfg.get(name)
            except (KeyError, LookupError, ValueError):
                value = None
            return default if value in (None, "") else str(value)
        d = cls()
        times = {n: parse_time(get(n, str(getattr(d, n))))
                 for n in ("minimal_backoff_time", "maximal_backoff_time", "queue_run_delay",
                           "maximal_queue_lifetime", "bounce_queue_lifetime")}
        myhostname = get("myhostname", d.myhostname)
        return cls(**times, myhostname=myhostname,
                   myorigin=cfg.myorigin() if hasattr(cfg, "myorigin") else get("myorigin", myhostname),
                   mail_name=get("mail_name", d.mail_name),
                   bounce_size_limit=int(get("bounce_size_limit", str(d.bounce_size_limit))))


def next_retry(arrival: float, now: float, settings: QmgrSettings) -> float:
    """When a message deferred at *now* may be tried again.

    The wait is the message's age, clamped between ``minimal_backoff_time``
    and ``maximal_backoff_time`` (so it doubles with each attempt).
    """
    wait = min(max(now - arrival, settings.minimal_backoff_time),
               settings.maximal_backoff_time)
    return float(now + wait)


def is_expired(qf: QueueFile, now: float, settings: QmgrSettings) -> bool:
    """True when *qf* has been queued longer than its lifetime allows.

    Bounces (null sender) use ``bounce_queue_lifetime``; a lifetime of 0
    means "one attempt only", as in Postfix.
    """
    life = settings.bounce_queue_lifetime if qf.sender == "" else settings.maximal_queue_lifetime
    return now - qf.arrival >= life
