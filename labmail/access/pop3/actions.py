"""What the POP3 core asks its adapter to do: the actions it returns.

:class:`Send` bytes (``text`` is the transcript's view of them),
:class:`Pause` (Dovecot's ``auth_failure_delay``), :class:`StartTLS`,
:class:`Close`, :class:`Event` (something to log) and :class:`Heard` (a
client line for the transcript, passwords masked).

>>> wire([Send(b"+OK\\r\\n", "+OK"), Close()])
b'+OK\\r\\n'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

__all__ = ["Send", "Pause", "StartTLS", "Close", "Event", "Heard", "Action", "wire"]

@dataclass(frozen=True)
class Send:
    """Bytes for the client; ``text`` is what a transcript shows."""
    data: bytes
    text: str


@dataclass(frozen=True)
class Pause:
    """Wait before the next action (Dovecot's ``auth_failure_delay``)."""
    seconds: float


@dataclass(frozen=True)
class StartTLS:
    """Start the TLS handshake now; call :meth:`POP3Connection.tls_started` after."""


@dataclass(frozen=True)
class Close:
    """Close the connection."""


@dataclass(frozen=True)
class Event:
    """Something to log: ``kind`` is login, auth_failed, login_disconnected or logout."""
    kind: str
    fields: Dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Heard:
    """A client line, as a transcript shows it (passwords masked)."""
    text: str


Action = object


def wire(actions: List[Action]) -> bytes:
    """Just the bytes of the :class:`Send` actions (handy in tests and lessons)."""
    return b"".join(a.data for a in actions if isinstance(a, Send))


