"""Low-level IMAP command grammar (RFC 3501 §9): a byte reader and value types.

:class:`Reader` walks one complete command (literals inline, as the framer
delivers them) and knows the terminals of the formal syntax: atoms,
astrings, quoted strings, literals, numbers, sequence sets, flags, dates.
Anything malformed raises :class:`ParseError`, never anything else.

>>> r = Reader(b'a1 LOGIN "al\\\\"ice" {3}\\r\\npwd')
>>> r.tag(); r.sp(); r.atom(); r.sp(); r.astring(); r.sp(); r.astring()
'a1'
'LOGIN'
'al"ice'
'pwd'
>>> SequenceSet.parse("1:3,7,9:*").contains(8, 20)
False
"""
from __future__ import annotations

import bisect
import datetime as _dt
import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

__all__ = ["ParseError", "Reader", "SequenceSet", "MONTHS", "format_date",
           "format_datetime"]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# atom-specials (RFC 3501 §9): ( ) { SP CTL % * " \ ]
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]')
_LIST_EXTRA = frozenset(b"%*]")
_NUMBER_MAX = 2 ** 32 - 1          # number = 1*DIGIT fitting in 32 bits
_NUMBER64_MAX = 2 ** 63 - 1        # mod-sequence values (RFC 7162)


class ParseError(Exception):
    """A command that does not match the grammar (answered with BAD)."""

    def __init__(self, message: str, tag: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.tag = tag


def _is_atom_char(b: int) -> bool:
    return 0x20 < b < 0x7F and b not in _ATOM_SPECIALS


@dataclass(frozen=True)
class SequenceSet:
    """An IMAP sequence set; ``None`` stands for ``*`` (RFC 3501 §9).

    >>> s = SequenceSet.parse("2,4:*")
    >>> [n for n in range(1, 7) if s.contains(n, 6)]
    [2, 4, 5, 6]
    >>> str(s)
    '2,4:*'
    """

    ranges: Tuple[Tuple[Optional[int], Optional[int]], ...]

    @classmethod
    def parse(cls, text: str) -> "SequenceSet":
        ranges = []
        for part in text.split(","):
            lo, sep, hi = part.partition(":")
            a = cls._num(lo)
            b = cls._num(hi) if sep else a
            ranges.append((a, b))
        return cls(tuple(ranges))

    @staticmethod
    def _num(text: str) -> Optional[int]:
        if text == "*":
            return None
        if not text.isdigit() or not text.isascii() or text.startswith("0"):
            raise ParseError("Invalid messageset")
        n = int(text)
        if n > _NUMBER_MAX:
            raise ParseError("Invalid messageset")
        return n

    def bounds(self, largest: int) -> Iterator[Tuple[int, int]]:
        """Each range as (low, high) with ``*`` replaced by *largest*."""
        for a, b in self.ranges:
            lo = largest if a is None else a
            hi = largest if b is None else b
            yield (min(lo, hi), max(lo, hi))

    def contains(self, n: int, largest: int) -> bool:
        """Is *n* in the set when ``*`` means *largest*? (bisect over merged ranges)"""
        cached = self.__dict__.get("_cache")
        if cached is None or cached[0] != largest:
            cached = (largest,) + _merged(self.ranges, largest)
            object.__setattr__(self, "_cache", cached)   # frozen: a private memo
        _, starts, ends = cached
        i = bisect.bisect_right(starts, n) - 1
        return i >= 0 and n <= ends[i]

    def __str__(self) -> str:
        def f(x: Optional[int]) -> str:
            return "*" if x is None else str(x)
        return ",".join(f(a) if a == b else f"{f(a)}:{f(b)}" for a, b in self.ranges)

    @classmethod
    def from_numbers(cls, numbers: List[int]) -> "SequenceSet":
        """Compact sorted numbers into ranges (for COPYUID and friends).

        >>> str(SequenceSet.from_numbers([1, 2, 3, 5]))
        '1:3,5'
        """
        ranges: List[Tuple[Optional[int], Optional[int]]] = []
        for n in numbers:
            if ranges and ranges[-1][1] == n - 1:
                ranges[-1] = (ranges[-1][0], n)
            else:
                ranges.append((n, n))
        return cls(tuple(ranges))


def _merged(ranges: Tuple[Tuple[Optional[int], Optional[int]], ...],
            largest: int) -> Tuple[List[int], List[int]]:
    """Sorted, merged ranges: a set of 10,000 ranges is searched, not scanned."""
    spans = sorted((min(lo, hi), max(lo, hi)) for lo, hi in
                   (((largest if a is None else a), (largest if b is None else b))
                    for a, b in ranges))
    starts: List[int] = []
    ends: List[int] = []
    for lo, hi in spans:
        if ends and lo <= ends[-1] + 1:
            ends[-1] = max(ends[-1], hi)
        else:
            starts.append(lo)
            ends.append(hi)
    return starts, ends


def format_date(d: _dt.date) -> str:
    """``27-Nov-2026`` as in SEARCH dates."""
    return f"{d.day}-{MONTHS[d.month - 1]}-{d.year:04d}"


def format_datetime(t: _dt.datetime) -> str:
    """INTERNALDATE form ``27-Nov-2026 09:00:00 +0000`` (unquoted)."""
    off = t.utcoffset() or _dt.timedelta(0)
    minutes = int(off.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (f"{t.day:02d}-{MONTHS[t.month - 1]}-{t.year:04d} "
            f"{t:%H:%M:%S} {sign}{minutes // 60:02d}{minutes % 60:02d}")


_DATE_RE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})\Z")
_DATETIME_RE = re.compile(r"([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\Z")


class Reader:
    """A cursor over one complete command (see module docstring)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    # -- basics ---------------------------------------------------------
    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self, n: int = 1) -> bytes:
        return self.data[self.pos:self.pos + n]

    def expect(self, token: bytes) -> None:
        if self.data[self.pos:self.pos + len(token)].upper() != token.upper():
            raise ParseError(f"Expected {token.decode()!r}")
        self.pos += len(token)

    def sp(self) -> None:
        self.expect(b" ")

    def maybe(self, token: bytes) -> bool:
        if self.data[self.pos:self.pos + len(token)].upper() == token.upper():
            self.pos += len(token)
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            raise ParseError("Unexpected extra arguments")

    def _span(self, pred) -> bytes:
        start = self.pos
        data = self.data
        while self.pos < len(data) and pred(data[self.pos]):
            self.pos += 1
        return data[start:self.pos]

    # -- terminals ------------------------------------------------------
    def tag(self) -> str:
        raw = self._span(lambda b: _is_atom_char(b) and b != 0x2B)  # no "+"
        if not raw:
            raise ParseError("Invalid tag")
        return raw.decode("ascii")

    def _no_8bit(self) -> None:
        if self.pos < len(self.data) and self.data[self.pos] >= 0x80:
            raise ParseError("8bit data in atom")

    def atom(self) -> str:
        raw = self._span(_is_atom_char)
        self._no_8bit()
        if not raw:
            raise ParseError("Expected atom")
        return raw.decode("ascii")

    def atom_until(self, stop: bytes) -> str:
        """An atom that ends early at any byte of *stop* (``BODY[``)."""
        raw = self._span(lambda b: _is_atom_char(b) and b not in stop)
        if not raw:
            raise ParseError("Expected atom")
        return raw.decode("ascii")

    def number(self, limit: int = _NUMBER_MAX) -> int:
        raw = self._span(lambda b: 0x30 <= b <= 0x39)
        if not raw or len(raw) > 20 or int(raw) > limit:
            raise ParseError("Expected number")
        return int(raw)

    def number64(self) -> int:
        return self.number(_NUMBER64_MAX)

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        data = self.data
        while True:
            if self.pos >= len(data):
                raise ParseError("Missing '\"'")
            b = data[self.pos]
            self.pos += 1
            if b == 0x22:
                return bytes(out)
            if b == 0x5C:
                if self.pos >= len(data) or data[self.pos] not in (0x22, 0x5C):
                    raise ParseError("Invalid escape in quoted string")
                b = data[self.pos]
                self.pos += 1
            elif b in (0x0D, 0x0A, 0x00):
                raise ParseError("Invalid character in quoted string")
            out.append(b)

    def literal(self) -> bytes:
        self.expect(b"{")
        n = self.number()
        self.maybe(b"+")
        self.expect(b"}\r\n")
        if self.pos + n > len(self.data):
            raise ParseError("Literal shorter than announced")
        value = self.data[self.pos:self.pos + n]
        self.pos += n
        return value

    def string_bytes(self) -> bytes:
        c = self.peek()
        if c == b'"':
            return self.quoted()
        if c == b"{":
            return self.literal()
        raise ParseError("Expected string")

    def string(self) -> str:
        return self.string_bytes().decode("utf-8", "surrogateescape")

    def astring(self) -> str:
        c = self.peek()
        if c in (b'"', b"{"):
            return self.string()
        raw = self._span(lambda b: _is_atom_char(b) or b == 0x5D)
        self._no_8bit()
        if not raw:
            raise ParseError("Expected string")
        return raw.decode("ascii")

    def nstring(self) -> Optional[str]:
        if self.peek(3).upper() == b"NIL" and not _is_atom_char((self.peek(4) + b" ")[3]):
            self.pos += 3
            return None
        return self.string()

    def list_mailbox(self) -> str:
        c = self.peek()
        if c in (b'"', b"{"):
            return self.string()
        raw = self._span(lambda b: _is_atom_char(b) or b in _LIST_EXTRA)
        if not raw:
            raise ParseError("Expected mailbox pattern")
        return raw.decode("ascii")

    def seqset(self) -> SequenceSet:
        raw = self._span(lambda b: 0x30 <= b <= 0x39 or b in b":,*")
        if not raw:
            raise ParseError("Invalid messageset")
        return SequenceSet.parse(raw.decode("ascii"))

    def flag(self) -> str:
        if self.maybe(b"\\"):
            if self.maybe(b"*"):
                return "\\*"
            return "\\" + self.atom()
        return self.atom()

    def flag_list(self) -> Tuple[str, ...]:
        self.expect(b"(")
        flags: List[str] = []
        while not self.maybe(b")"):
            if flags:
                self.sp()
            flags.append(self.flag())
        return tuple(flags)

    def date(self) -> _dt.date:
        quoted = self.maybe(b'"')
        raw = self._span(lambda b: _is_atom_char(b)).decode("ascii")
        if quoted:
            self.expect(b'"')
        m = _DATE_RE.match(raw)
        month = m.group(2).capitalize() if m else ""
        if not m or month not in MONTHS:
            raise ParseError("Invalid search date parameter")
        try:
            return _dt.date(int(m.group(3)), MONTHS.index(month) + 1, int(m.group(1)))
        except ValueError as exc:
            raise ParseError("Invalid search date parameter") from exc

    def date_time(self) -> _dt.datetime:
        raw = self.quoted().decode("ascii", "replace")
        m = _DATETIME_RE.match(raw)
        month = m.group(2).capitalize() if m else ""
        if not m or month not in MONTHS:
            raise ParseError("Invalid date-time")
        zone = int(m.group(8)) * 60 + int(m.group(9))
        if m.group(7) == "-":
            zone = -zone
        try:
            return _dt.datetime(int(m.group(3)), MONTHS.index(month) + 1,
                                int(m.group(1)), int(m.group(4)), int(m.group(5)),
                                int(m.group(6)),
                                tzinfo=_dt.timezone(_dt.timedelta(minutes=zone)))
        except ValueError as exc:
            raise ParseError("Invalid date-time") from exc
