"""labmail's IMAP4rev1 server (RFC 3501 plus common extensions).

Layers, each usable on its own:

- :mod:`.grammar`, :mod:`.parser`, :mod:`.framing` — bytes to commands;
- :mod:`.response` — values to response bytes (quoted/literal/NIL, mUTF-7);
- :mod:`.fetch`, :mod:`.search` — FETCH data and SEARCH over ``email`` messages;
- :mod:`.states` — the state table; :mod:`.protocol` — the sans-IO session;
- :mod:`.server` — the asyncio adapter (:func:`start_imap_server`).
"""
