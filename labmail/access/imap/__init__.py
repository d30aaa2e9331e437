"""labmail's IMAP4rev1 server (RFC 3501 plus IDLE, UIDPLUS, MOVE, NAMESPACE,
ENABLE, UNSELECT, LITERAL+, CHILDREN, SPECIAL-USE, ID and CONDSTORE).

Layers, each usable on its own:

- :mod:`.grammar`, :mod:`.parser`, :mod:`.framing`, :mod:`.unparse` — bytes to
  commands and back;
- :mod:`.response` — values to response bytes (quoted/literal/NIL, mUTF-7);
- :mod:`.mime`, :mod:`.fetch`, :mod:`.search` — FETCH data and SEARCH over
  message bytes, as Dovecot computes them;
- :mod:`.states` — the state table and reply texts; :mod:`.protocol`,
  :mod:`.folders`, :mod:`.selected` — the sans-IO session;
- :mod:`.backend` — the small interface to :mod:`labmail.store`;
- :mod:`.server` — the asyncio adapter (:func:`start_imap_server`).

>>> parse_command(b"a1 SELECT INBOX").name
'SELECT'
"""
from .parser import Command, FetchAtt, ParseError, Section, parse_command
from .protocol import ImapConfig, ImapSession
from .response import encode, mutf7_decode, mutf7_encode
from .server import start_imap_server
from .states import COMMANDS, TRANSITIONS, State

__all__ = ["Command", "FetchAtt", "ParseError", "Section", "parse_command", "ImapConfig",
           "ImapSession", "encode", "mutf7_decode", "mutf7_encode", "start_imap_server",
           "COMMANDS", "TRANSITIONS", "State"]
