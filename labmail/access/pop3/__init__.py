"""POP3 (RFC 1939, 2449, 5034, 2595) as Dovecot serves it.

``states`` is the state table, ``replies`` every reply text, ``protocol``
the sans-IO core, ``maildrop`` a session's numbered view of INBOX, and
``server`` the asyncio adapter with :func:`start_pop3_server`.
"""
from .protocol import POP3Connection, Settings, MemoryBackend, wire
from .states import ALLOWED, State, TRANSITIONS

__all__ = ["POP3Connection", "Settings", "MemoryBackend", "wire", "State", "ALLOWED",
           "TRANSITIONS", "start_pop3_server"]


def __getattr__(name: str):   # the adapter imports asyncio/ssl: load it on demand
    if name == "start_pop3_server":
        from .server import start_pop3_server
        return start_pop3_server
    raise AttributeError(name)
