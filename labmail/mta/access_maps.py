"""Lookup tables named ``type:name`` in main.cf (``hash:/etc/postfix/access``).

Postfix reads ``hash:``/``btree:``/``lmdb:``/``cdb:`` tables from a database
file that ``postmap`` builds from a text source file. The lab has no
``postmap`` step: it reads the source file itself (same format: ``key value``
one a line, ``#`` comments, continuation lines start with whitespace, keys
folded to lower case as ``postmap`` does by default). ``texthash:`` reads the
text file, ``inline:{ key=value, ... }`` and ``static:value`` work as in
Postfix.

>>> t = LookupTable.parse_text("example.com  REJECT no thanks\\n# comment\\n127.0.0.9 OK\\n", "access")
>>> t.get("EXAMPLE.COM"), t.get("127.0.0.9"), t.get("other")
('REJECT no thanks', 'OK', None)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional

from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .maincf import MainCf

__all__ = ["LookupTable", "open_table", "AccessAction", "parse_access_action", "FILE_TYPES", "TABLE_TYPES"]

# Types whose data come from a text file the lab can read directly.
FILE_TYPES = frozenset({"hash", "btree", "lmdb", "cdb", "dbm", "sdbm", "texthash"})
# Types the lab knows by name (others are valid Postfix but not simulated).
TABLE_TYPES = FILE_TYPES | {"inline", "static", "regexp", "pcre", "cidr", "proxy",
                            "ldap", "mysql", "pgsql", "sqlite", "nis", "unix", "tcp",
                            "socketmap", "memcache", "fail", "environ", "internal",
                            "randmap", "pipemap", "unionmap"}


@dataclass(frozen=True)
class LookupTable:
    """An immutable key -> value table with the name main.cf used for it."""
    name: str
    entries: Dict[str, str] = field(default_factory=dict)
    static: Optional[str] = None

    def get(self, key: str) -> Optional[str]:
        """The value for *key* (compared in lower case), or None."""
        if self.static is not None:
            return self.static
        return self.entries.get(key.lower())

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def parse_text(cls, text: str, name: str, path: str = "") -> "LookupTable":
        """Parse postmap(1) source text; a line without a value is an error."""
        entries: Dict[str, str] = {}
        logical: List[tuple] = []
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if line[0] in " \t" and logical:
                logical[-1] = (logical[-1][0], logical[-1][1] + " " + stripped)
            else:
                logical.append((number, stripped))
        for number, line in logical:
            parts = line.split(None, 1)
            if len(parts) < 2:
                raise ConfigError(path or name, number,
                                  f'expected format: key whitespace value: "{line}"')
            entries[parts[0].lower()] = parts[1].strip()
        return cls(name, entries)


def _inline(spec: str, name: str) -> LookupTable:
    body = spec.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ConfigError(name, None, f'inline table must be written as inline:{{ key=value, ... }}: "{name}"')
    entries = {}
    for item in re.split(r"\s*,\s*", body[1:-1].strip()):
        if not item:
            continue
        if item.startswith("{") and item.endswith("}"):
            item = item[1:-1].strip()
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(name, None, f'missing "=" in inline table element: "{item}"')
        entries[key.strip().lower()] = value.strip()
    return LookupTable(name, entries)


def open_table(spec: str, path_map: Optional[Callable[[str], Path]] = None) -> LookupTable:
    """Open ``type:name`` as the lab reads it; ConfigError when it cannot be used.

    >>> open_table("inline:{ a@example.com=REJECT, b=OK }").get("b")
    'OK'
    >>> open_table("static:OK").get("anything")
    'OK'
    """
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ConfigError(spec, None, f'table "{spec}" must be written as type:name (for example hash:/etc/postfix/access)')
    kind = kind.lower()
    if kind == "inline":
        return _inline(rest, spec)
    if kind == "static":
        value = rest[1:-1].strip() if rest.startswith("{") and rest.endswith("}") else rest
        return LookupTable(spec, {}, static=value)
    if kind not in FILE_TYPES:
        if kind in TABLE_TYPES:
            raise ConfigError(spec, None, f"table type {kind}: is valid in Postfix but not simulated by the lab; "
                                          f"use hash:, texthash: or inline:")
        raise ConfigError(spec, None, f"unsupported dictionary type: {kind}")
    real = Path(path_map(rest)) if path_map else Path(rest)
    try:
        text = real.read_text(encoding="utf-8", errors="replace")
    except OSError:
        raise ConfigError(rest, None, f"open database {rest}: No such file or directory "
                                      f"(create the text file {rest}; the lab reads it without postmap)") from None
    return LookupTable.parse_text(text, spec, rest)


_UNSIMULATED_ACTIONS = {"defer_if_reject", "defer_if_permit", "discard", "hold", "warn", "info",
                        "filter", "redirect", "prepend", "bcc"}


@dataclass(frozen=True)
class AccessAction:
    """What an access(5) table value means: ``permit``, ``dunno``, ``reply``
    (with code, dsn, text), ``restriction`` (text is its name) or ``unsimulated``."""
    kind: str
    code: int = 0
    dsn: str = ""
    text: str = ""


def parse_access_action(value: str, cf: "MainCf") -> AccessAction:
    """Interpret the right-hand side of an access table as smtpd does (access(5)).

    >>> from labmail.mta.maincf import MainCf
    >>> cf = MainCf.from_text("")
    >>> parse_access_action("REJECT go away", cf)
    AccessAction(kind='reply', code=554, dsn='5.7.1', text='go away')
    >>> parse_access_action("450 4.7.9 busy", cf)
    AccessAction(kind='reply', code=450, dsn='4.7.9', text='busy')
    >>> parse_access_action("550", cf).kind      # all-numerical means OK
    'permit'
    """
    text = value.strip()
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    upper = word.upper()
    if upper == "OK" or text.isdigit():
        return AccessAction("permit")
    if upper == "DUNNO":
        return AccessAction("dunno")
    if upper in ("REJECT", "DEFER"):
        param = "access_map_reject_code" if upper == "REJECT" else "access_map_defer_code"
        code = cf.get_int(param)
        return AccessAction("reply", code, f"{str(code)[0]}.7.1", rest or "Access denied")
    m = re.fullmatch(r"([45]\d\d)(?:\s+([45]\.\d{1,3}\.\d{1,3}))?\s+(.*)", text)
    if m:
        code = int(m.group(1))
        return AccessAction("reply", code, m.group(2) or f"{m.group(1)[0]}.7.1", m.group(3).strip())
    if word.lower() in _UNSIMULATED_ACTIONS:
        return AccessAction("unsimulated", text=text)
    return AccessAction("restriction", text=word.lower())
