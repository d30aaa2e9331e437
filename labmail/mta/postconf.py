"""``postconf``: print main.cf parameters the way Postfix's postconf(1) does.

Output: ``name = value`` lines sorted by name (or in the order asked for),
whitespace inside a value folded to single spaces, ``name =`` for an empty
value; ``-h`` prints only the value, ``-x`` expands ``$name``, ``-n`` shows only
what main.cf sets, ``-d`` shows the built-in defaults. Warnings and fatal
errors go to stderr with the ``postconf: warning:`` / ``postconf: fatal:``
prefixes, exit status 1 after a fatal error.

>>> from labmail.mta.maincf import MainCf
>>> cf = MainCf.from_text("myhostname = mail.example.com\\nmyorigin = $mydomain\\n")
>>> print(postconf(cf, names=["myorigin", "mydomain"]).stdout, end="")
myorigin = $mydomain
mydomain = example.com
>>> print(postconf(cf, names=["myorigin"], expand=True, hide_names=True).stdout, end="")
example.com
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Sequence

from ..errors import ConfigError
from .maincf import MainCf
from .params import CATALOGUE

__all__ = ["PostconfResult", "postconf", "postconf_dir", "format_line", "DEFAULT_CONFIG_DIRECTORY",
           "edit_main_cf", "edit_config_dir", "parse_assignment", "host_postconf", "Text"]

DEFAULT_CONFIG_DIRECTORY = "/etc/postfix"
PROGRAM = "postconf"


@dataclass(frozen=True)
class PostconfResult:
    """What the command wrote and its exit status."""
    stdout: str
    stderr: str
    status: int


def format_line(name: str, value: str, hide_names: bool = False) -> str:
    """One output line: words of *value* joined by single spaces (postconf's printer).

    >>> format_line("mynetworks", "127.0.0.0/8,\\t[::1]/128")
    'mynetworks = 127.0.0.0/8, [::1]/128'
    >>> format_line("relayhost", "")
    'relayhost ='
    """
    folded = " ".join(value.split())
    if hide_names:
        return folded
    return f"{name} = {folded}" if folded else f"{name} ="


def _ordered_warnings(cf: MainCf, unknown: Sequence[str], extra: Sequence[str]) -> List[str]:
    # Real postconf reports: file syntax, master.cf, undefined references,
    # unknown names asked for, then unused parameters.
    first = [w for w in cf.warnings if ": undefined parameter: " not in w and ": unused parameter: " not in w]
    undefined = [w for w in cf.warnings if ": undefined parameter: " in w]
    unused = [w for w in cf.warnings if ": unused parameter: " in w]
    return first + list(extra) + undefined + [f"{n}: unknown parameter" for n in unknown] + unused


def postconf(cf: MainCf, *, names: Sequence[str] = (), defaults: bool = False,
             nondefault: bool = False, expand: bool = False, hide_names: bool = False,
             config_directory: Optional[str] = None,
             extra_warnings: Sequence[str] = ()) -> PostconfResult:
    """Run postconf's logic on a parsed main.cf.

    *config_directory* is the ``-c`` directory when it is not Postfix's default:
    postconf then shows ``config_directory`` as set.
    """
    out: List[str] = []
    err: List[str] = []
    if defaults and nondefault:
        return PostconfResult("", f"{PROGRAM}: fatal: specify one of -d -n\n", 1)

    explicit = cf.explicit()
    unused = set(cf.unused())
    settable = {n: v for n, v in explicit.items() if n not in unused}
    if config_directory and config_directory.rstrip("/") != DEFAULT_CONFIG_DIRECTORY:
        settable.setdefault("config_directory", config_directory)
    source = MainCf.from_text("", cf.path, overrides=cf.overrides()) if defaults else cf

    def value_of(name: str) -> str:
        if name == "config_directory" and name in settable and not defaults:
            raw = settable[name]
        else:
            raw = source.raw(name)
        if expand and not defaults:
            return cf.get(name) if name != "config_directory" else raw
        if expand:
            return source.get(name)
        return raw

    known = set(CATALOGUE) if defaults else set(CATALOGUE) | set(settable)
    if names:
        wanted = list(names)
    elif nondefault:
        wanted = sorted(settable)
    else:
        wanted = sorted(known)
    unknown: List[str] = []
    try:
        for name in wanted:
            if name not in known:
                unknown.append(name)
                continue
            if nondefault and name not in settable:
                continue      # -n with names: only the ones main.cf sets
            out.append(format_line(name, value_of(name), hide_names))
    except ConfigError as exc:
        err.extend(f"{PROGRAM}: warning: {w}" for w in _ordered_warnings(cf, unknown, extra_warnings))
        err.append(f"{PROGRAM}: warning: {exc.message}")
        err.append(f"{PROGRAM}: fatal: macro processing error")
        return PostconfResult("\n".join(out) + ("\n" if out else ""), "\n".join(err) + "\n", 1)
    err.extend(f"{PROGRAM}: warning: {w}" for w in _ordered_warnings(cf, unknown, extra_warnings))
    return PostconfResult("\n".join(out) + ("\n" if out else ""),
                          "\n".join(err) + ("\n" if err else ""), 0)


def postconf_dir(config_dir: Optional[str] = None, *, overrides: Optional[Mapping[str, str]] = None,
                 path_map: Optional[Callable[[str], Path]] = None, **flags) -> PostconfResult:
    """``postconf -c DIR ...``: read DIR/main.cf (``$MAIL_CONFIG`` or /etc/postfix by default).

    *flags* are those of :func:`postconf`. Paths in messages are shown as given.
    """
    given = config_dir
    config_dir = config_dir or os.environ.get("MAIL_CONFIG") or DEFAULT_CONFIG_DIRECTORY
    shown = f"{config_dir.rstrip('/')}/main.cf"
    real = Path(config_dir) / "main.cf"
    if path_map is not None and Path(config_dir).is_absolute() and not Path(config_dir).exists():
        real = Path(path_map(shown))
    try:
        cf = MainCf.from_file(real, overrides=overrides, path_map=path_map, display_path=shown)
    except ConfigError as exc:
        # "open DIR/main.cf: No such file or directory" carries no line number
        text = exc.message if exc.line is None else str(exc)
        return PostconfResult("", f"{PROGRAM}: fatal: {text}\n", 1)
    extra = []
    if not (real.parent / "master.cf").exists():
        master = f"{config_dir.rstrip('/')}/master.cf"
        extra.append(f"open {master}: No such file or directory")
    return postconf(cf, config_directory=given, extra_warnings=extra, **flags)


def _logical_spans(lines: List[str]) -> List[tuple]:
    """(name, first index, last index) of each setting; comment/blank lines stay outside."""
    spans: List[tuple] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0] in " \t":
            if spans:
                spans[-1] = (spans[-1][0], spans[-1][1], i)
            continue
        name = line.split("=", 1)[0].strip() if "=" in line else None
        spans.append((name, i, i))
    return spans


def parse_assignment(arg: str) -> tuple:
    """``"name = value"`` from the command line -> (name, value); ConfigError like postconf's."""
    name, sep, value = arg.partition("=")
    name = name.strip()
    if not sep or not name or any(c.isspace() for c in name):
        raise ConfigError("postconf", None, f"missing '=' after attribute name: \"{arg}\"")
    return name, value.strip()


def edit_main_cf(text: str, *, assign: Sequence[str] = (), remove: Sequence[str] = (),
                 comment: Sequence[str] = ()) -> str:
    """``postconf -e name=value``, ``-X name`` and ``-# name`` on main.cf text.

    Every setting of *name* (with its continuation lines) is replaced in place by
    one ``name = value`` line; names not in the file are appended.

    >>> print(edit_main_cf("a = 1\\n  more\\nb = 2\\n", assign=["a=5", "c = 3"], remove=["b"]), end="")
    a = 5
    c = 3
    """
    pairs = [parse_assignment(a) for a in assign]
    values = dict(pairs)
    lines = text.splitlines()
    out: List[str] = []
    spans = {first: (name, last) for name, first, last in _logical_spans(lines)}
    seen = set()
    i = 0
    while i < len(lines):
        if i in spans:
            name, last = spans[i]
            if name in values:
                out.append(f"{name} = {values[name]}")
                seen.add(name)
            elif name in remove:
                pass
            elif name in comment:
                out.extend("#" + line for line in lines[i:last + 1])
            else:
                out.extend(lines[i:last + 1])
            # comment lines inside a continued setting are kept
            out.extend(l for l in lines[i + 1:last + 1]
                       if (not l.strip() or l.strip().startswith("#")) and (name in values or name in remove))
            i = last + 1
            continue
        out.append(lines[i])
        i += 1
    for name, value in pairs:
        if name not in seen:
            out.append(f"{name} = {value}")
            seen.add(name)
    return "\n".join(out) + ("\n" if out else "")


def edit_config_dir(config_dir: str, *, assign: Sequence[str] = (), remove: Sequence[str] = (),
                    comment: Sequence[str] = ()) -> PostconfResult:
    """``postconf -c DIR -e/-X/-#``: rewrite DIR/main.cf (atomically, like postconf)."""
    path = Path(config_dir) / "main.cf"
    shown = f"{config_dir.rstrip('/')}/main.cf"
    try:
        text = path.read_text(encoding="utf-8")
        new = edit_main_cf(text, assign=assign, remove=remove, comment=comment)
    except OSError:
        return PostconfResult("", f"{PROGRAM}: fatal: open {shown}: No such file or directory\n", 1)
    except ConfigError as exc:
        return PostconfResult("", f"{PROGRAM}: fatal: {exc.message}\n", 1)
    tmp = path.with_name("main.cf.tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)
    return PostconfResult("", "", 0)


class Text(str):
    """A string that shows as plain text in a notebook (no quotes, real newlines)."""

    def __repr__(self) -> str:
        return str(self).rstrip("\n")


def host_postconf(host, *names: str, n: bool = False, d: bool = False, x: bool = False,
                  h: bool = False, e: Sequence[str] = (), X: Sequence[str] = ()) -> Text:
    """``postconf`` on a lab host: the same flags, the same output (warnings last).

    ``e=["name = value", ...]`` and ``X=["name", ...]`` edit the host's main.cf
    (``postconf -e`` / ``-X``); reload the host to apply them.

    >>> host_postconf(host, "myorigin", x=True)                  # doctest: +SKIP
    myorigin = example.com
    """
    if e or X:
        result = edit_config_dir(str(host.path("/etc/postfix")), assign=e, remove=X)
        if result.status:
            raise ConfigError("/etc/postfix/main.cf", None, result.stderr.split("fatal: ", 1)[-1].strip())
        return Text("")
    try:
        cf = MainCf.from_file(host.path("/etc/postfix/main.cf"), overrides=host.config.overrides(),
                              path_map=host.path, display_path="/etc/postfix/main.cf")
    except ConfigError as exc:
        return Text(f"{PROGRAM}: fatal: {exc}\n")
    result = postconf(cf, names=names, defaults=d, nondefault=n, expand=x, hide_names=h)
    return Text(result.stdout + result.stderr)
