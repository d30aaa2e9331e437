"""Write parsed commands back to the wire (the inverse of :mod:`.parser`).

Used by :meth:`~.parser.Command.to_bytes`, by the round-trip property tests
and by lessons that build commands as data.  Strings are quoted when they
can be and sent as literals otherwise.

>>> from .parser import parse_command
>>> write_args("STORE", parse_command(b"a STORE 1:3 +FLAGS.SILENT ($Junk)").args)
b'1:3 +FLAGS.SILENT ($Junk)'
"""
from __future__ import annotations

from .grammar import format_date, format_datetime
from .parser import SEARCH_KEYS
from .response import encode

__all__ = ["write_args", "write_search_key"]


def _s(value: str) -> bytes:
    return encode(value.encode("utf-8", "surrogateescape"))


def _write_none(args: tuple) -> bytes:
    return b" ".join(_s(a) if isinstance(a, str) else encode(a) for a in args)


def write_search_key(key: tuple) -> bytes:
    """A search-key tuple as a client writes it."""
    return _write_key(key)


def _write_key(key: tuple) -> bytes:
    word = key[0]
    if word == "AND":
        return b"(" + b" ".join(_write_key(k) for k in key[1]) + b")"
    if word == "SEQ":
        return str(key[1]).encode()
    parts = [word.encode()]
    for kind, value in zip(SEARCH_KEYS[word], key[1:]):
        if kind == "s":
            parts.append(_s(value))
        elif kind == "d":
            parts.append(format_date(value).encode())
        elif kind == "k":
            parts.append(_write_key(value))
        else:
            parts.append(str(value).encode())
    return b" ".join(parts)


def _write_search(args: tuple) -> bytes:
    charset, key = args
    head = b"CHARSET " + charset.encode() + b" " if charset else b""
    if key[0] == "AND":
        return head + b" ".join(_write_key(k) for k in key[1])
    return head + _write_key(key)


def _write_fetch(args: tuple) -> bytes:
    seqset, atts, changed = args
    out = f"{seqset} (" + " ".join(a.request_text() for a in atts) + ")"
    if changed is not None:
        out += f" (CHANGEDSINCE {changed})"
    return out.encode()


def _write_store(args: tuple) -> bytes:
    seqset, unchanged, mode, silent, flags = args
    out = f"{seqset} "
    if unchanged is not None:
        out += f"(UNCHANGEDSINCE {unchanged}) "
    out += f"{mode}FLAGS{'.SILENT' if silent else ''} (" + " ".join(flags) + ")"
    return out.encode()


def _write_append(args: tuple) -> bytes:
    box, flags, when, message = args
    parts = [_s(box)]
    if flags is not None:
        parts.append(("(" + " ".join(flags) + ")").encode())
    if when is not None:
        parts.append(b'"' + format_datetime(when).encode() + b'"')
    parts.append(b"{%d}\r\n" % len(message) + message)
    return b" ".join(parts)


def _write_select(args: tuple) -> bytes:
    return _s(args[0]) + (b" (CONDSTORE)" if args[1] else b"")


def _write_status(args: tuple) -> bytes:
    return _s(args[0]) + b" (" + " ".join(args[1]).encode() + b")"


def _write_auth(args: tuple) -> bytes:
    return args[0].encode() + (b" " + args[1].encode() if args[1] is not None else b"")


def _write_id(args: tuple) -> bytes:
    if args[0] is None:
        return b"NIL"
    return b"(" + b" ".join(_s(k) + b" " + (b"NIL" if v is None else _s(v))
                            for k, v in args[0]) + b")"


def _write_list(args: tuple) -> bytes:
    if len(args) == 2:
        return _write_none(args)
    ref, pattern, selection, returns, more = args
    out = b"(" + " ".join(selection).encode() + b") " if selection else b""
    out += _s(ref) + b" "
    out += (b"(" + b" ".join(_s(p) for p in (pattern,) + more) + b")") if more else _s(pattern)
    if returns:
        out += b" RETURN (" + " ".join(returns).encode() + b")"
    return out


_WRITERS = {
    "SEARCH": _write_search, "FETCH": _write_fetch, "STORE": _write_store,
    "APPEND": _write_append, "SELECT": _write_select, "EXAMINE": _write_select,
    "STATUS": _write_status, "AUTHENTICATE": _write_auth, "ID": _write_id,
    "COPY": lambda a: str(a[0]).encode() + b" " + _s(a[1]),
    "MOVE": lambda a: str(a[0]).encode() + b" " + _s(a[1]),
    "EXPUNGE": lambda a: str(a[0]).encode() if a else b"",
    "ENABLE": lambda a: " ".join(a).encode(),
    "LIST": _write_list,
}


def write_args(name: str, args: tuple) -> bytes:
    """The arguments of command *name* in wire form (b"" when there are none)."""
    return _WRITERS.get(name, _write_none)(args)
