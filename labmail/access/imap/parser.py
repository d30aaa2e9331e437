"""IMAP command parser: one complete command's bytes in, a :class:`Command` out.

Covers RFC 3501 and the extensions labmail announces (IDLE, UIDPLUS, MOVE,
NAMESPACE, ENABLE, UNSELECT, LITERAL+, ID, CONDSTORE).  Arguments are typed
(``SequenceSet``, :class:`FetchAtt`, search-key tuples, ``datetime``), and
:meth:`Command.to_bytes` writes a command back so parse/serialise round-trips.

Argument layout per command (``Command.args``):

- LOGIN ``(user, password)``; AUTHENTICATE ``(mechanism, initial or None)``
- SELECT/EXAMINE ``(mailbox, condstore)``; CREATE/DELETE/(UN)SUBSCRIBE ``(mailbox,)``
- RENAME ``(old, new)``; LIST/LSUB ``(reference, pattern)``; an extended LIST
  (RFC 5258) adds ``(selection options, return options, more patterns)``
- STATUS ``(mailbox, items)``; APPEND ``(mailbox, flags|None, date|None, message)``
- SEARCH ``(charset|None, key)``; FETCH ``(set, atts, changedsince|None)``
- STORE ``(set, unchangedsince|None, mode, silent, flags)`` with mode ``""``/``"+"``/``"-"``
- COPY/MOVE ``(set, mailbox)``; UID EXPUNGE ``(set,)``; ENABLE ``(caps...)``
- ID ``(((key, value), ...) or None,)``

Search keys are tuples: ``("ALL",)``, ``("FROM", "bob")``, ``("NOT", k)``,
``("OR", k1, k2)``, ``("AND", (k, ...))``, ``("SEQ", set)``, ``("UID", set)``.

>>> parse_command(b"a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])")
Command(tag='a1', name='FETCH', args=(SequenceSet(ranges=((1, None),)), (FetchAtt(name='FLAGS', section=None, partial=None, peek=False), FetchAtt(name='BODY', section=Section(part=(), text='HEADER.FIELDS', fields=('SUBJECT',)), partial=None, peek=True)), None), uid=True)
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from .grammar import ParseError, Reader

__all__ = ["Command", "FetchAtt", "Section", "parse_command", "ParseError",
           "SEARCH_KEYS", "FETCH_MACROS"]


@dataclass(frozen=True)
class Section:
    """``BODY[section]``: part numbers, then '', HEADER, HEADER.FIELDS(.NOT), TEXT or MIME."""

    part: Tuple[int, ...] = ()
    text: str = ""
    fields: Tuple[str, ...] = ()

    def __str__(self) -> str:
        bits = [".".join(map(str, self.part))] if self.part else []
        if self.text:
            bits.append(self.text)
        s = ".".join(bits)
        if self.fields:
            s += " (" + " ".join(self.fields) + ")"
        return s


@dataclass(frozen=True)
class FetchAtt:
    """One FETCH item; ``section`` only for BODY[...]/BINARY, ``partial`` is (start, count)."""

    name: str
    section: Optional[Section] = None
    partial: Optional[Tuple[int, int]] = None
    peek: bool = False

    def request_text(self) -> str:
        """The item as a client writes it."""
        if self.section is None:
            return self.name
        s = f"{self.name}{'.PEEK' if self.peek else ''}[{self.section}]"
        if self.partial:
            s += f"<{self.partial[0]}.{self.partial[1]}>"
        return s

    def response_name(self) -> str:
        """The item's name in the FETCH response (RFC 3501 §7.4.2: origin only)."""
        if self.section is None:
            return self.name
        s = f"{self.name}[{self.section}]"
        if self.partial:
            s += f"<{self.partial[0]}>"
        return s


@dataclass(frozen=True)
class Command:
    """A parsed command (see module docstring for ``args``)."""

    tag: str
    name: str
    args: Tuple[Any, ...] = ()
    uid: bool = False

    def to_bytes(self) -> bytes:
        """Serialise back to wire form (literals for non-quotable strings)."""
        from .unparse import write_args      # the writers need this module's types
        head = f"{self.tag} {'UID ' if self.uid else ''}{self.name}".encode()
        body = write_args(self.name, self.args)
        return head + (b" " + body if body else b"")


FETCH_SIMPLE = ("ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER",
                "RFC822.SIZE", "RFC822.TEXT", "BODYSTRUCTURE", "UID", "MODSEQ", "BODY")
FETCH_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ")

# search key -> argument kinds (RFC 3501 §6.4.4, RFC 7162 §3.1.5)
SEARCH_KEYS = {
    "ALL": (), "ANSWERED": (), "DELETED": (), "DRAFT": (), "FLAGGED": (),
    "NEW": (), "OLD": (), "RECENT": (), "SEEN": (), "UNANSWERED": (),
    "UNDELETED": (), "UNDRAFT": (), "UNFLAGGED": (), "UNSEEN": (),
    "BCC": ("s",), "BODY": ("s",), "CC": ("s",), "FROM": ("s",),
    "SUBJECT": ("s",), "TEXT": ("s",), "TO": ("s",),
    "BEFORE": ("d",), "ON": ("d",), "SINCE": ("d",), "SENTBEFORE": ("d",),
    "SENTON": ("d",), "SENTSINCE": ("d",),
    "LARGER": ("n",), "SMALLER": ("n",), "KEYWORD": ("f",), "UNKEYWORD": ("f",),
    "HEADER": ("s", "s"), "UID": ("set",), "NOT": ("k",), "OR": ("k", "k"),
    "MODSEQ": ("n64",),
}


def parse_command(data: bytes) -> Command:
    """Parse one command (without its final CRLF); raises :class:`ParseError`.

    >>> parse_command(b"x SELECT INBOX (CONDSTORE)").args
    ('INBOX', True)
    """
    r = Reader(data)
    tag = None
    try:
        tag = r.tag()
        r.sp()
        name = r.atom().upper()
        uid = False
        if name == "UID":
            uid = True
            r.sp()
            name = r.atom().upper()
            if name not in ("FETCH", "SEARCH", "STORE", "COPY", "MOVE", "EXPUNGE"):
                raise ParseError("Unknown UID command")
        handler = _PARSERS.get(name)
        if handler is None:
            raise ParseError("Unknown command " + name[:40])
        args = handler(r)
        r.end()
        return Command(tag, name, args, uid)
    except ParseError as exc:
        exc.tag = tag
        raise
    except (ValueError, IndexError, RecursionError) as exc:
        raise ParseError("Error in IMAP command", tag) from exc


# --- per-command parsers ------------------------------------------------------

def _none(r: Reader) -> tuple:
    return ()


def _mailbox_only(r: Reader) -> tuple:
    r.sp()
    return (r.astring(),)


def _login(r: Reader) -> tuple:
    r.sp()
    user = r.astring()
    r.sp()
    return (user, r.astring())


def _authenticate(r: Reader) -> tuple:
    r.sp()
    mech = r.atom().upper()
    initial = None
    if r.maybe(b" "):
        initial = "=" if r.maybe(b"=") else r.atom()
    return (mech, initial)


def _select(r: Reader) -> tuple:
    r.sp()
    box = r.astring()
    condstore = False
    if r.maybe(b" ("):
        while not r.maybe(b")"):
            if r.atom().upper() == "CONDSTORE":
                condstore = True
            r.maybe(b" ")
    return (box, condstore)


def _rename(r: Reader) -> tuple:
    r.sp()
    old = r.astring()
    r.sp()
    return (old, r.astring())


def _options(r: Reader) -> Tuple[str, ...]:
    r.expect(b"(")
    opts: List[str] = []
    while not r.maybe(b")"):
        if opts:
            r.sp()
        opts.append(r.atom().upper())
    return tuple(opts)


def _lsub(r: Reader) -> tuple:
    r.sp()
    ref = r.astring()
    r.sp()
    return (ref, r.list_mailbox())


def _list(r: Reader) -> tuple:
    """RFC 3501 LIST, plus RFC 5258's ``(selection)`` / pattern lists / ``RETURN (..)``."""
    r.sp()
    selection: Tuple[str, ...] = ()
    if r.peek() == b"(":
        selection = _options(r)
        r.sp()
    ref = r.astring()
    r.sp()
    if r.peek() == b"(":
        r.pos += 1
        patterns = [r.list_mailbox()]
        while r.maybe(b" "):
            patterns.append(r.list_mailbox())
        r.expect(b")")
    else:
        patterns = [r.list_mailbox()]
    returns: Tuple[str, ...] = ()
    if r.maybe(b" RETURN "):
        returns = _options(r)
    if not selection and not returns and len(patterns) == 1:
        return (ref, patterns[0])
    return (ref, patterns[0], selection, returns, tuple(patterns[1:]))


def _status(r: Reader) -> tuple:
    r.sp()
    box = r.astring()
    r.sp()
    r.expect(b"(")
    items: List[str] = []
    while not r.maybe(b")"):
        if items:
            r.sp()
        item = r.atom().upper()
        if item not in STATUS_ITEMS:
            raise ParseError("Invalid status item " + item[:30])
        items.append(item)
    return (box, tuple(items))


def _append(r: Reader) -> tuple:
    r.sp()
    box = r.astring()
    r.sp()
    flags = None
    if r.peek() == b"(":
        flags = r.flag_list()
        r.sp()
    when = None
    if r.peek() == b'"':
        when = r.date_time()
        r.sp()
    return (box, flags, when, r.literal())


def _search(r: Reader) -> tuple:
    r.sp()
    charset = None
    if r.peek(8).upper() == b"CHARSET ":
        r.pos += 8
        charset = r.astring().upper()
        try:
            codecs.lookup(charset)
        except LookupError as exc:
            raise ParseError("[BADCHARSET (US-ASCII UTF-8)] Unknown charset") from exc
        r.sp()
    keys = [_search_key(r, charset, 0)]
    while r.maybe(b" "):
        keys.append(_search_key(r, charset, 0))
    key = keys[0] if len(keys) == 1 else ("AND", tuple(keys))
    return (charset, key)


def _search_string(r: Reader, charset: Optional[str]) -> str:
    raw = r.string_bytes() if r.peek() in (b'"', b"{") else r.astring().encode()
    try:
        return raw.decode("utf-8" if charset in (None, "UTF-8", "US-ASCII") else charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise ParseError("[BADCHARSET (US-ASCII UTF-8)] Unknown charset") from exc


def _search_key(r: Reader, charset: Optional[str], depth: int) -> tuple:
    if depth > 50:
        raise ParseError("Search key nested too deeply")
    if r.maybe(b"("):
        keys = [_search_key(r, charset, depth + 1)]
        while not r.maybe(b")"):
            r.sp()
            keys.append(_search_key(r, charset, depth + 1))
        return ("AND", tuple(keys))
    c = r.peek()
    if c and (c.isdigit() or c == b"*"):
        return ("SEQ", r.seqset())
    word = r.atom().upper()
    kinds = SEARCH_KEYS.get(word)
    if kinds is None:
        raise ParseError("Unknown argument " + word[:30])
    out: List[Any] = [word]
    for kind in kinds:
        r.sp()
        if kind == "s":
            out.append(_search_string(r, charset))
        elif kind == "d":
            out.append(r.date())
        elif kind == "n":
            out.append(r.number())
        elif kind == "n64":
            out.append(r.number64())
        elif kind == "f":
            out.append(r.flag())
        elif kind == "set":
            out.append(r.seqset())
        else:
            out.append(_search_key(r, charset, depth + 1))
    if word == "HEADER":
        out[1] = out[1].upper()
    return tuple(out)


def _section(r: Reader) -> Section:
    part: List[int] = []
    text = ""
    fields: Tuple[str, ...] = ()
    while r.peek().isdigit():
        n = r.number()
        if n == 0:
            raise ParseError("Invalid part number 0")
        part.append(n)
        if not r.maybe(b"."):
            break
        if not r.peek().isalnum():
            raise ParseError("Invalid BODY[..] parameter")
    if r.peek() not in (b"]", b""):
        word = r.atom().upper()
        if word in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            r.sp()
            r.expect(b"(")
            names: List[str] = []
            while not r.maybe(b")"):
                if names:
                    r.sp()
                names.append(r.astring().upper())
            if not names:
                raise ParseError("Empty header field list")
            fields = tuple(names)
        elif word not in ("HEADER", "TEXT", "MIME") or (word == "MIME" and not part):
            raise ParseError("Invalid BODY[..] parameter")
        text = word
    r.expect(b"]")
    return Section(tuple(part), text, fields)


def _fetch_att(r: Reader) -> FetchAtt:
    word = r.atom_until(b"[").upper()
    if word in ("BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK") and r.maybe(b"["):
        section = _section(r)
        partial = None
        if r.maybe(b"<"):
            start = r.number()
            r.expect(b".")
            count = r.number()
            if count == 0:
                raise ParseError("Invalid partial")
            r.expect(b">")
            partial = (start, count)
        return FetchAtt(word.split(".")[0], section, partial, word.endswith(".PEEK"))
    if word not in FETCH_SIMPLE:
        raise ParseError("Unknown parameter " + word[:30])
    return FetchAtt(word)


def _fetch(r: Reader) -> tuple:
    r.sp()
    seqset = r.seqset()
    r.sp()
    atts: List[FetchAtt] = []
    if r.maybe(b"("):
        while not r.maybe(b")"):
            if atts:
                r.sp()
            atts.append(_fetch_att(r))
        if not atts:
            raise ParseError("Empty fetch list")
    else:
        save = r.pos
        word = r.atom().upper()
        if word in FETCH_MACROS:
            atts = [FetchAtt(n) for n in FETCH_MACROS[word]]
        else:
            r.pos = save
            atts.append(_fetch_att(r))
    changedsince = None
    if r.maybe(b" ("):
        r.expect(b"CHANGEDSINCE ")
        changedsince = r.number64()
        r.expect(b")")
    return (seqset, tuple(atts), changedsince)


def _store(r: Reader) -> tuple:
    r.sp()
    seqset = r.seqset()
    r.sp()
    unchanged = None
    if r.maybe(b"(UNCHANGEDSINCE "):
        unchanged = r.number64()
        r.expect(b") ")
    item = r.atom().upper()
    mode = item[0] if item[:1] in ("+", "-") else ""
    base = item.lstrip("+-")
    if base not in ("FLAGS", "FLAGS.SILENT"):
        raise ParseError("Invalid STORE data item")
    r.sp()
    if r.peek() == b"(":
        flags = r.flag_list()
    else:
        flist = [r.flag()]
        while r.maybe(b" "):
            flist.append(r.flag())
        flags = tuple(flist)
    return (seqset, unchanged, mode, base.endswith(".SILENT"), flags)


def _copy(r: Reader) -> tuple:
    r.sp()
    seqset = r.seqset()
    r.sp()
    return (seqset, r.astring())


def _expunge(r: Reader) -> tuple:
    if r.maybe(b" "):
        return (r.seqset(),)
    return ()


def _enable(r: Reader) -> tuple:
    caps = []
    while r.maybe(b" "):
        caps.append(r.atom().upper())
    if not caps:
        raise ParseError("Missing capabilities")
    return tuple(caps)


def _id(r: Reader) -> tuple:
    r.sp()
    if r.maybe(b"NIL"):
        return (None,)
    r.expect(b"(")
    pairs: List[Tuple[str, Optional[str]]] = []
    while not r.maybe(b")"):
        if pairs:
            r.sp()
        key = r.string()
        r.sp()
        pairs.append((key, r.nstring()))
    return (tuple(pairs),)


_PARSERS = {
    "CAPABILITY": _none, "NOOP": _none, "LOGOUT": _none, "STARTTLS": _none,
    "CHECK": _none, "CLOSE": _none, "UNSELECT": _none, "IDLE": _none,
    "NAMESPACE": _none, "EXPUNGE": _expunge,
    "LOGIN": _login, "AUTHENTICATE": _authenticate,
    "SELECT": _select, "EXAMINE": _select,
    "CREATE": _mailbox_only, "DELETE": _mailbox_only,
    "SUBSCRIBE": _mailbox_only, "UNSUBSCRIBE": _mailbox_only,
    "RENAME": _rename, "LIST": _list, "LSUB": _lsub, "STATUS": _status,
    "APPEND": _append, "SEARCH": _search, "FETCH": _fetch, "STORE": _store,
    "COPY": _copy, "MOVE": _copy, "ENABLE": _enable, "ID": _id,
}
