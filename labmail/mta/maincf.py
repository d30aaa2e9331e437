"""Postfix's ``main.cf``, read with Postfix's rules.

Syntax (postconf(5)): ``name = value`` with optional whitespace around ``=``;
a line that starts with whitespace continues the previous logical line;
a line whose first non-blank character is ``#`` is a comment (a ``#`` after a
value is part of the value); a later entry overrides an earlier one.

Values are expanded lazily, when asked for: ``$name``, ``${name}``,
``$(name)``, ``${name?value}`` (value when $name is non-empty),
``${name:value}`` (value when $name is empty), ``${name?{value}}``, the
Postfix 3 expression form ``${{$a} == {b} ? {x} : {y}}`` and ``$$`` for a
literal dollar; parameters not set in the file take the catalogue's defaults.

>>> cf = MainCf.from_text("myhostname = mail.example.com\\nmyorigin = $mydomain\\n")
>>> cf.get("mydomain"), cf.get("myorigin"), cf.raw("myorigin")
('example.com', 'example.com', '$mydomain')
>>> cf.get("mydestination")
'mail.example.com, localhost.example.com, localhost'
>>> cf.get_int("message_size_limit")
10240000
"""
from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from .params import CATALOGUE, RAW_PARAMETERS, Kind

__all__ = ["MainCf", "Entry", "parse_main_cf", "in_networks", "parse_network",
           "mynetworks_for", "split_list", "macro_references"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_]+")
_MAX_NESTING = 100          # Postfix's mac_expand gives up at this depth
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Entry:
    """One ``name = value`` of the file and the line its logical line starts on."""
    name: str
    value: str
    line: int


# ---------------------------------------------------------------------------
# Reading the file


def _logical_lines(text: str, path: str, warnings: List[str]) -> Iterable[Tuple[int, str]]:
    """Yield (first line number, logical line) like Postfix's readlline()."""
    current: Optional[List[str]] = None
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue            # blank and comment lines do not end a logical line
        if line[0] in " \t":
            if current is None:
                warnings.append(f'{path}: logical line must not start with whitespace: "{line}"')
                continue
            current.append(line)
            continue
        if current is not None:
            yield start, "".join(current)
        current, start = [line], number
    if current is not None:
        yield start, "".join(current)


def _split_nameval(path: str, number: int, line: str) -> Tuple[str, str]:
    body = line.strip()
    m = re.match(r"([^\s=]*)\s*", body)
    name = m.group(1) if m else ""
    rest = body[m.end():] if m else body
    if not rest.startswith("="):
        if not name:
            raise ConfigError(path, number, f'missing attribute name: "{body}"')
        raise ConfigError(path, number, f"missing '=' after attribute name: \"{body}\"")
    if not name:
        raise ConfigError(path, number, f'missing attribute name: "{body}"')
    return name, rest[1:].strip()


def parse_main_cf(text: str, path: str = "main.cf") -> Tuple[Dict[str, Entry], List[str], List[ConfigError]]:
    """Parse main.cf text into entries (last one wins), warnings and errors.

    Errors do not stop the scan, so ``check`` can list them all.

    >>> entries, warnings, errors = parse_main_cf("a = 1\\na = 2\\n")
    >>> entries["a"].value, warnings
    ('2', ['main.cf, line 2: overriding earlier entry: a=1'])
    """
    entries: Dict[str, Entry] = {}
    warnings: List[str] = []
    errors: List[ConfigError] = []
    for number, line in _logical_lines(text, path, warnings):
        try:
            name, value = _split_nameval(path, number, line)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if name in entries:
            warnings.append(f"{path}, line {number}: overriding earlier entry: {name}={entries[name].value}")
            del entries[name]       # keep file order of the surviving entry
        entries[name] = Entry(name, value, number)
    return entries, warnings, errors


# ---------------------------------------------------------------------------
# Macro syntax shared by expansion and the reference scan


def _braced(text: str, i: int, open_: str) -> int:
    """Index of the bracket closing text[i] (== open_), or -1 when truncated."""
    close = "}" if open_ == "{" else ")"
    level = 0
    for j in range(i, len(text)):
        if text[j] == open_:
            level += 1
        elif text[j] == close:
            level -= 1
            if level == 0:
                return j
    return -1


def macro_references(text: str) -> List[str]:
    """Names a value refers to, e.g. ``['a', 'b']`` for ``"$a ${b?x}"``; malformed parts skipped.

    >>> macro_references("${relayhost:{no $mail_name}} $(x)")
    ['relayhost', 'mail_name', 'x']
    """
    names: List[str] = []
    i = 0
    while True:
        i = text.find("$", i)
        if i < 0 or i + 1 >= len(text):
            return names
        c = text[i + 1]
        if c == "$":
            i += 2
        elif c in "{(":
            j = _braced(text, i + 1, c)
            if j < 0:
                return names
            inner = text[i + 2:j].strip()
            m = _NAME.match(inner)
            if m:
                names.append(m.group())
                names.extend(macro_references(inner[m.end():]))
            else:
                names.extend(macro_references(inner))
            i = j + 1
        else:
            m = _NAME.match(text, i + 1)
            if m:
                names.append(m.group())
                i = m.end()
            else:
                i += 1


def _level(text: str) -> Tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(".")) if text else (0,)
    except ValueError:
        return (0,)


_COMPARE = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: int(a) < int(b), "<=": lambda a, b: int(a) <= int(b),
    ">": lambda a, b: int(a) > int(b), ">=": lambda a, b: int(a) >= int(b),
    "<level": lambda a, b: _level(a) < _level(b), "<=level": lambda a, b: _level(a) <= _level(b),
    ">level": lambda a, b: _level(a) > _level(b), ">=level": lambda a, b: _level(a) >= _level(b),
}


# ---------------------------------------------------------------------------


class MainCf:
    """A parsed main.cf: immutable; values are expanded on request.

    *overrides* are the machine's facts (``myhostname``, ``mynetworks``,
    ``inet_interfaces`` ...): they replace the built-in default, and the
    file still wins over them. *path_map* turns a real absolute path
    (``/etc/aliases``) into the lab's file; identity by default.

    >>> cf = MainCf.from_text("mynetworks_style = host", overrides={"myhostname": "mx.example.org"})
    >>> cf.get("smtpd_banner")
    'mx.example.org ESMTP Postfix'
    >>> cf.explicit()
    {'mynetworks_style': 'host'}
    """

    def __init__(self, path: str, entries: Mapping[str, Entry], *,
                 overrides: Optional[Mapping[str, str]] = None,
                 path_map: Optional[Callable[[str], Path]] = None,
                 warnings: Sequence[str] = ()) -> None:
        self.path = path
        self._entries: Dict[str, Entry] = dict(entries)
        self._overrides: Dict[str, str] = dict(overrides or {})
        self._path_map = path_map
        self._cache: Dict[str, str] = {}
        self.warnings: Tuple[str, ...] = tuple(warnings) + tuple(self._reference_warnings())

    # -- construction -------------------------------------------------------

    @classmethod
    def from_text(cls, text: str, path: str = "main.cf", *,
                  overrides: Optional[Mapping[str, str]] = None,
                  path_map: Optional[Callable[[str], Path]] = None) -> "MainCf":
        """Parse *text*; the first syntax error raises :class:`ConfigError`."""
        entries, warnings, errors = parse_main_cf(text, path)
        if errors:
            raise errors[0]
        return cls(path, entries, overrides=overrides, path_map=path_map, warnings=warnings)

    @classmethod
    def from_file(cls, path, *, overrides: Optional[Mapping[str, str]] = None,
                  path_map: Optional[Callable[[str], Path]] = None,
                  display_path: Optional[str] = None) -> "MainCf":
        """Read main.cf at *path*; errors name *display_path* (default: *path*)."""
        shown = display_path or str(path)
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise ConfigError(shown, None, f"open {shown}: {exc.strerror or exc}") from None
        return cls.from_text(text, shown, overrides=overrides, path_map=path_map)

    # -- lookups ------------------------------------------------------------

    def _entry_line(self, name: str) -> Optional[int]:
        entry = self._entries.get(name)
        return entry.line if entry else None

    def is_defined(self, name: str) -> bool:
        """True for parameters Postfix knows and those the file sets."""
        return name in self._entries or name in self._overrides or name in CATALOGUE

    def raw(self, name: str) -> str:
        """The unexpanded value: the file's, else the machine's, else the default.

        >>> MainCf.from_text("").raw("mydestination")
        '$myhostname, localhost.$mydomain, localhost'
        """
        if name in self._entries:
            return self._entries[name].value
        if name in self._overrides:
            return self._overrides[name]
        computed = self._computed_default(name)
        if computed is not None:
            return computed
        if name in CATALOGUE:
            return CATALOGUE[name].default
        raise LookupError(f"{name}: unknown parameter")

    def default(self, name: str) -> str:
        """The value without main.cf (machine facts and catalogue), as ``postconf -d``."""
        if name in self._overrides:
            return self._overrides[name]
        computed = self._computed_default(name, ignore_file=True)
        if computed is not None:
            return computed
        if name in CATALOGUE:
            return CATALOGUE[name].default
        raise LookupError(f"{name}: unknown parameter")

    def get(self, name: str) -> str:
        """The expanded value (raw parameters such as ``mailbox_command`` stay raw)."""
        if name in self._cache:
            return self._cache[name]
        value = self.raw(name)
        if name not in RAW_PARAMETERS:
            value = self._expand(value, 0, name)
        self._cache[name] = value
        return value

    def expand(self, text: str) -> str:
        """Expand *text* against this configuration (e.g. a value from a table)."""
        return self._expand(text, 0, None)

    def _computed_default(self, name: str, ignore_file: bool = False) -> Optional[str]:
        # Postfix computes these three from the machine at start-up.
        if name == "myhostname":
            host = socket.gethostname() or "localhost"
            if "." not in host:
                host += ".localdomain"
            return host
        if name == "mydomain":
            host = (self.default("myhostname") if ignore_file else self.get("myhostname"))
            return host.split(".", 1)[1] if "." in host else "localdomain"
        if name == "mynetworks":
            style = self.default("mynetworks_style") if ignore_file else self.get("mynetworks_style")
            style = self._expand(style, 0, None) if "$" in style else style
            try:
                return mynetworks_for(style, _machine_interfaces())
            except ValueError as exc:
                raise ConfigError(self.path, self._entry_line("mynetworks_style"), str(exc)) from None
        return None

    # -- typed accessors ----------------------------------------------------

    def _bad(self, name: str, what: str) -> ConfigError:
        return ConfigError(self.path, self._entry_line(name), f"bad {what} configuration: {name} = {self.get(name)}")

    def get_bool(self, name: str) -> bool:
        """``yes``/``no`` (any case), as Postfix accepts them."""
        value = self.get(name).strip().lower()
        if value in ("yes", "no"):
            return value == "yes"
        raise self._bad(name, "boolean")

    def get_int(self, name: str) -> int:
        """A whole number; Postfix rejects anything else."""
        value = self.get(name).strip()
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        raise self._bad(name, "numerical")

    def get_time(self, name: str) -> float:
        """Seconds; a bare number uses the parameter's default unit (``5`` days for queue lifetimes).

        >>> MainCf.from_text("maximal_queue_lifetime = 2").get_time("maximal_queue_lifetime")
        172800.0
        """
        value = self.get(name).strip()
        param = CATALOGUE.get(name)
        unit = param.time_unit if param and param.kind is Kind.TIME else "s"
        m = re.fullmatch(r"(\d+)([smhdw]?)", value)
        if not m:
            raise ConfigError(self.path, self._entry_line(name),
                              f"invalid time value or unit: {name} = {value} "
                              f"(use a number with s, m, h, d or w)")
        return float(int(m.group(1)) * _TIME_UNITS[m.group(2) or unit])

    def get_list(self, name: str) -> List[str]:
        """Words separated by whitespace and/or commas."""
        return split_list(self.get(name))

    def myorigin(self) -> str:
        """``myorigin`` as Debian's Postfix uses it: a value that is an absolute
        file name (Debian writes ``myorigin = /etc/mailname``) stands for the
        first line of that file.

        >>> MainCf.from_text("myhostname = mail.example.com").myorigin()
        'mail.example.com'
        """
        value = self.get("myorigin").strip()
        if value.startswith("/"):
            try:
                first = self.map_path(value).read_text(encoding="utf-8").splitlines()
            except OSError:
                log.warning("myorigin = %s: cannot read the file; using the value as a name", value)
                return value
            if first and first[0].strip():
                return first[0].strip()
        return value

    def map_path(self, path: str) -> Path:
        """Where a real absolute path lives in the lab (identity outside the lab)."""
        return Path(self._path_map(path)) if self._path_map else Path(path)

    # -- what the file says -------------------------------------------------

    def explicit(self) -> Dict[str, str]:
        """Parameters main.cf sets, raw, in file order (``postconf -n`` sorts them)."""
        return {name: e.value for name, e in self._entries.items()}

    def entries(self) -> Dict[str, Entry]:
        """Parameters main.cf sets, with their line numbers."""
        return dict(self._entries)

    def overrides(self) -> Dict[str, str]:
        return dict(self._overrides)

    def unused(self) -> List[str]:
        """Names main.cf sets that Postfix neither knows nor sees referenced."""
        referenced = set()
        for entry in self._entries.values():
            referenced.update(macro_references(entry.value))
        return [n for n in self._entries if n not in CATALOGUE and n not in referenced]

    def _reference_warnings(self) -> List[str]:
        out = []
        seen = set()
        for entry in self._entries.values():
            if entry.name in RAW_PARAMETERS:
                continue            # expanded later with per-message names ($user, $extension)
            for ref in macro_references(entry.value):
                if ref not in seen and not self.is_defined(ref):
                    seen.add(ref)
                    out.append(f"{self.path}: undefined parameter: {ref}")
        for name in self.unused():
            out.append(f"{self.path}: unused parameter: {name}={self._entries[name].value}")
        return out

    # -- expansion ----------------------------------------------------------

    def _fail(self, origin: Optional[str], message: str) -> ConfigError:
        return ConfigError(self.path, self._entry_line(origin) if origin else None, message)

    def _lookup_for_expansion(self, name: str, depth: int, origin: Optional[str]) -> str:
        try:
            value = self.raw(name)
        except LookupError:
            return ""               # Postfix: undefined parameters expand to nothing
        if name in RAW_PARAMETERS:
            return value
        if name in self._cache:
            return self._cache[name]
        expanded = self._expand(value, depth + 1, origin or name, current=name)
        self._cache[name] = expanded
        return expanded

    def _expand(self, text: str, depth: int, origin: Optional[str], current: Optional[str] = None) -> str:
        if depth > _MAX_NESTING:
            raise self._fail(origin, f'unreasonable macro call nesting: "{current}"')
        if "$" not in text:
            return text
        out: List[str] = []
        i, n = 0, len(text)
        while i < n:
            j = text.find("$", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            i = j + 1
            c = text[i] if i < n else ""
            if c == "$":
                out.append("$")
                i += 1
            elif c in ("{", "(") and c:
                k = _braced(text, i, c)
                if k < 0:
                    raise self._fail(origin, f'truncated macro reference: "{text}"')
                out.append(self._expand_braced(text[i + 1:k], text, depth, origin))
                i = k + 1
            else:
                m = _NAME.match(text, i)
                if not m:
                    raise self._fail(origin, f'empty macro name: "{text}"')
                out.append(self._lookup_for_expansion(m.group(), depth, origin))
                i = m.end()
        return "".join(out)

    def _expand_braced(self, inner: str, whole: str, depth: int, origin: Optional[str]) -> str:
        body = inner.strip()
        if body.startswith("{"):
            return self._expression(body, whole, depth, origin)
        m = _NAME.match(body)
        if not m:
            raise self._fail(origin, f'empty macro name: "{whole}"')
        name, rest = m.group(), body[m.end():].lstrip()
        if not rest:
            return self._lookup_for_expansion(name, depth, origin)
        if rest[0] not in "?:":
            raise self._fail(origin, f'malformed macro name: "{whole}"')
        alt, other = rest[1:], ""
        stripped = alt.strip()
        if stripped.startswith("{"):
            k = _braced(stripped, 0, "{")
            tail = stripped[k + 1:].strip() if k >= 0 else None
            if tail and rest[0] == "?" and tail.startswith(":") and tail[1:].strip().startswith("{"):
                # ${name?{value1}:{value2}} (Postfix 3.0+)
                second = tail[1:].strip()
                k2 = _braced(second, 0, "{")
                if k2 != len(second) - 1:
                    raise self._fail(origin, f'unexpected text after {{...}} in "{whole}"')
                other = second[1:k2]
            elif tail:
                raise self._fail(origin, f'unexpected text after {{...}} in "{whole}"')
            alt = stripped[1:k]
        # Postfix tests the parameter's value as written, before expansion:
        # with p = ${unset}, ${p?yes} is "yes" (mac_expand looks at the raw text)
        value = self.raw(name) if self.is_defined(name) else ""
        chosen = bool(value) if rest[0] == "?" else not value
        picked = alt if chosen else other
        return self._expand(picked, depth + 1, origin, current=name) if picked else ""

    def _expression(self, body: str, whole: str, depth: int, origin: Optional[str]) -> str:
        # ${{text1} op {text2} ? {text3} : {text4}} (Postfix 3.0+)
        parts: List[str] = []
        i = 0
        for expected in ("{", "op", "{", "?", "{", ":", "{"):
            while i < len(body) and body[i] in " \t":
                i += 1
            if expected == "{":
                k = _braced(body, i, "{") if i < len(body) and body[i] == "{" else -1
                if k < 0:
                    raise self._fail(origin, f'malformed expression: "{whole}"')
                parts.append(body[i + 1:k])
                i = k + 1
            elif expected == "op":
                m = re.match(r"[<>=!]=?(?:level)?", body[i:])
                if not m or m.group() not in _COMPARE:
                    raise self._fail(origin, f'unknown operator in expression: "{whole}"')
                parts.append(m.group())
                i += m.end()
            else:
                if body[i:i + 1] != expected:
                    raise self._fail(origin, f'missing "{expected}" in expression: "{whole}"')
                i += 1
        left = self._expand(parts[0], depth + 1, origin).strip()
        right = self._expand(parts[2], depth + 1, origin).strip()
        try:
            truth = _COMPARE[parts[1]](left, right)
        except ValueError:
            raise self._fail(origin, f'non-numeric operand in expression: "{whole}"') from None
        return self._expand(parts[3] if truth else parts[4], depth + 1, origin)


# ---------------------------------------------------------------------------
# Lists and networks


def split_list(value: str) -> List[str]:
    """Split a Postfix list value on whitespace and commas; text in ``{...}`` stays together.

    >>> split_list("permit_mynetworks,\\n  reject_unauth_destination")
    ['permit_mynetworks', 'reject_unauth_destination']
    >>> split_list("check_client_access inline:{ 192.0.2.1=REJECT, 192.0.2.2=OK }, permit")
    ['check_client_access', 'inline:{ 192.0.2.1=REJECT, 192.0.2.2=OK }', 'permit']
    """
    if "{" not in value:
        return [w for w in re.split(r"[\s,]+", value) if w]
    words: List[str] = []
    current: List[str] = []
    depth = 0
    for ch in value:
        if depth == 0 and (ch.isspace() or ch == ","):
            if current:
                words.append("".join(current))
                current = []
            continue
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        current.append(ch)
    if current:
        words.append("".join(current))
    return words


def parse_network(text: str) -> ipaddress._BaseNetwork:
    """``127.0.0.0/8``, ``192.0.2.7``, ``[::1]/128`` or ``[fe80::1]`` as a network.

    Raises ValueError for anything else (a hostname, a bad mask, host bits set).
    """
    t = text.strip()
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?:/(\d+))?", t)
    if m:
        addr, mask = m.group(1), m.group(2)
        if ipaddress.ip_address(addr).version != 6:
            raise ValueError(f"not an IPv6 address in brackets: {text}")
    else:
        addr, _, mask = t.partition("/")
        if ":" in addr:
            raise ValueError(f"IPv6 address must be written in [brackets]: {text}")
        mask = mask or None
    return ipaddress.ip_network(f"{addr}/{mask}" if mask is not None else addr, strict=True)


def in_networks(ip: str, networks: Iterable[str] | str) -> bool:
    """True when *ip* matches the list (first match wins; ``!net`` excludes).

    Hostnames and ``type:table`` entries are skipped: the lab matches addresses.

    >>> in_networks("127.0.0.1", "127.0.0.1/32, [::1]/128")
    True
    >>> in_networks("127.0.0.9", ["127.0.0.1/32", "127.0.0.2"])
    False
    >>> in_networks("10.1.2.3", "!10.1.2.3 10.0.0.0/8")
    False
    """
    items = split_list(networks) if isinstance(networks, str) else list(networks)
    try:
        addr = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return False
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for item in items:
        negate = item.startswith("!")
        try:
            net = ipaddress.ip_network(_strip_brackets(item.lstrip("!")), strict=False)
        except ValueError:
            continue
        if addr.version == net.version and addr in net:
            return not negate
    return False


def _strip_brackets(item: str) -> str:
    m = re.fullmatch(r"\[([^\]]+)\](/\d+)?", item)
    return m.group(1) + (m.group(2) or "") if m else item


def _machine_interfaces() -> List[str]:
    # Without the lab's facts, assume loopback only (never probe the real NICs).
    return ["127.0.0.1/8", "::1/128"]


def mynetworks_for(style: str, interfaces: Sequence[str]) -> str:
    """The default ``mynetworks`` for *style* given interface addresses with prefixes.

    ``host``: each address alone; ``subnet``: each address's subnet;
    ``class``: the classful network (IPv4 A/B/C; IPv6 as subnet).

    >>> mynetworks_for("host", ["127.0.0.1/8", "127.0.0.2/8", "::1/128"])
    '127.0.0.1/32 127.0.0.2/32 [::1]/128'
    >>> mynetworks_for("subnet", ["127.0.0.1/8", "192.0.2.2/24"])
    '127.0.0.0/8 192.0.2.0/24'
    >>> mynetworks_for("class", ["172.16.5.1/24"])
    '172.16.0.0/16'
    """
    style = style.strip().lower()
    if style not in ("host", "subnet", "class"):
        raise ValueError(f"unknown mynetworks_style value: {style} (use host, subnet or class)")
    out: List[str] = []
    for item in interfaces:
        iface = ipaddress.ip_interface(item.strip("[]") if "/" not in item else _strip_brackets(item))
        if style == "host":
            net = ipaddress.ip_network(iface.ip)
        elif style == "class" and iface.version == 4:
            first = int(iface.ip) >> 24
            prefix = 8 if first < 128 else 16 if first < 192 else 24 if first < 224 else 32
            net = ipaddress.ip_network(f"{iface.ip}/{prefix}", strict=False)
        else:
            net = iface.network
        text = f"[{net.network_address}]/{net.prefixlen}" if net.version == 6 else str(net)
        if net.version == 4 and "/" not in text:
            text += f"/{net.prefixlen}"
        if text not in out:
            out.append(text)
    return " ".join(out)
