"""procmail in the lab: a ``procmailrc`` interpreter (procmail 3.22's language).

A procmailrc mixes variable assignments and recipes::

    MAILDIR=$HOME/Maildir/
    DEFAULT=$MAILDIR
    LOGFILE=$HOME/procmail.log

    :0 hbfw                 # filter the whole mail through spamc, wait, check
    | /usr/bin/spamc

    :0:                     # file what spamd marked as spam into .Junk/
    * ^X-Spam-Flag: YES
    .Junk/

:func:`parse_procmailrc` turns the text into immutable statements (errors are
:class:`~labmail.errors.ConfigError` with file and line); :class:`Procmail`
runs them on one message the way procmail does: the first *delivering*
recipe that matches ends processing (unless flagged ``c``); filters,
``VAR=|`` captures and ``{ }`` blocks do not; when nothing delivered, the
mail goes to ``$DEFAULT``.  Deliveries are Maildir folders (``dir/``), MH
folders (``dir/.``), plain directories, mbox files (dot-lock + fcntl),
pipes (``| cmd``), forwards (``! address``) and ``/dev/null``.

Inside a lab the paths a procmailrc names (``/home/alice/Maildir/``) live under
the host's state directory; ``/usr/bin/spamc`` is the lab's spamc.

>>> rc = parse_procmailrc(":0\\n* ^Subject:.*lunch\\nfood/\\n", "/home/alice/.procmailrc")
>>> rc.statements[0].flags, rc.statements[0].action.kind
('', 'folder')
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as _dt
import fcntl
import itertools
import os
import posixpath
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Pattern, Sequence, Tuple, Union

from ..errors import ConfigError, LabError
from ..store.base import MailboxLocked
from ..store.locking import dotlock

__all__ = ["parse_procmailrc", "Procmail", "ProcmailResult", "Recipe", "Assignment",
           "Condition", "Action", "Rc", "egrep_to_python", "EX_CANTCREAT", "EX_TEMPFAIL"]

EX_CANTCREAT, EX_TEMPFAIL = 73, 75
INFINITE_MATCHES = 1 << 62
FLAGS = "hbHBDfwWcAaEeir"
MATCH_GROUP = "procmail_match"

# The four "magic" expressions of procmailrc(5), MISCELLANEOUS.
_MACROS = [
    ("^TO_", r"(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):"
             r"(.*[^-a-zA-Z0-9_.])?)"),
    ("^TO", r"(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):"
            r"(.*[^a-zA-Z])?)"),
    ("^FROM_DAEMON", "(^(Mailing-List:|Precedence:.*(junk|bulk|list)|To: Multiple recipients of "
                     "|(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?"
                     "(Post(ma?(st(e?r)?|n)|office)|(send)?Mail(er)?|daemon|m(mdf|ajordomo)|n?uucp"
                     "|LIST(SERV|proc)|NETSERV|o(wner|ps)|r(e(quest|sponse)|oot)|b(ounce|bs\\.smtp)"
                     "|echo|mirror|s(erv(ices?|er)|mtp(error)?|ystem)|A(dmin(istrator)?|MMGR"
                     "|utoanswer))(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\\(.*\\).*)?)?$([^>]|$)))"),
    ("^FROM_MAILER", "(^(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?"
                     "(Post(ma(st(er)?|n)|office)|(send)?Mail(er)?|daemon|mmdf|n?uucp|ops"
                     "|r(esponse|oot)|(bbs\\.)?smtp(error)?|s(erv(ices?|er)|ystem)"
                     "|A(dmin(istrator)?|MMGR))(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*"
                     "(\\(.*\\).*)?)?$([^>]|$))"),
]
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_WEIGHT = re.compile(rf"({_NUM})\s*\^\s*({_NUM})(?=\s|$)")


# --------------------------------------------------------------------------- regexes
def egrep_to_python(pattern: str) -> str:
    """Translate procmail's egrep dialect into a Python regular expression.

    ``^``/``$`` at the ends of the expression (or of an alternative) are line
    anchors; elsewhere they stand for a newline, as in procmail.  ``^^`` anchors
    at the start or end of the whole search area, ``\\<``/``\\>`` match a
    non-word character, ``[^…]`` never matches a newline, ``{`` is literal
    (procmail's egrep has no intervals) and ``\\/`` starts the part assigned to
    ``$MATCH``.

    >>> egrep_to_python("^Subject:.*\\\\/[a-z]+$")
    '(?m:^)Subject:.*(?P<procmail_match>[a-z]+(?m:$))'
    """
    for name, text in _MACROS:
        pattern = pattern.replace(name, text)
    out: List[str] = []
    i, n = 0, len(pattern)
    at_start = True
    split = False
    last_quant = False
    while i < n:
        c = pattern[i]
        quant = False
        if c == "\\":
            if i + 1 >= n:
                out.append(r"\\")
                i += 1
                continue
            d = pattern[i + 1]
            if d == "/" and not split:
                out.append(f"(?P<{MATCH_GROUP}>")
                split = True
            elif d == "<" or d == ">":
                out.append(r"(?:[^a-zA-Z0-9_]|(?m:^)|(?m:$))")
            else:
                out.append(re.escape(d))
            i += 2
            at_start = False
        elif c == "^":
            if pattern.startswith("^^", i) and (i == 0 or i + 2 == n):
                out.append(r"\A" if i == 0 else r"\Z")
                i += 2
            else:
                out.append("(?m:^)" if at_start else "\n")
                i += 1
            at_start = False
        elif c == "$":
            nxt = pattern[i + 1] if i + 1 < n else ""
            out.append("(?m:$)" if nxt in ("", ")", "|") else "\n")
            i += 1
            at_start = False
        elif c == "[":
            cls, i = _bracket(pattern, i)
            out.append(cls)
            at_start = False
        elif c in "(|":
            out.append(c)
            i += 1
            at_start = True
        elif c == ")":
            out.append(c)
            i += 1
            at_start = False
        elif c in "*+?":
            i += 1
            if at_start or not out:
                out.append(re.escape(c))            # nothing to repeat: a literal, as egrep takes it
            elif last_quant:
                prev = out.pop()                     # egrep allows a** or a+?: combine them
                out.append(prev if prev == c else "*")
                quant = True
            else:
                out.append(c)
                quant = True
            at_start = False
        elif c == ".":
            out.append(".")
            i += 1
            at_start = False
        else:
            out.append(re.escape(c))
            i += 1
            at_start = False
        last_quant = quant
    if split:
        out.append(")")
    return "".join(out)


def _bracket(p: str, i: int) -> Tuple[str, int]:
    """Translate the bracket expression starting at ``p[i] == '['``."""
    j, n = i + 1, len(p)
    neg = p[j:j + 1] == "^"
    if neg:
        j += 1
    chars: List[str] = []
    first = True
    while j < n and (p[j] != "]" or first):
        ch = p[j]
        if ch == "\\" and j + 1 < n:
            ch = p[j + 1]
            j += 1
            chars.append(re.escape(ch) if ch != "-" else r"\-")
        elif ch == "-" and not first and j + 1 < n and p[j + 1] != "]":
            chars.append("-")
        else:
            chars.append(re.escape(ch) if ch not in "-" else r"\-")
        first = False
        j += 1
    if j >= n:
        raise re.error("unterminated character set")
    body = "".join(chars)
    return ("[^" + body + r"\n]" if neg else "[" + body + "]"), j + 1


def _compile(regex: str, case: bool) -> Pattern[str]:
    try:
        return re.compile(egrep_to_python(regex), 0 if case else re.IGNORECASE)
    except (re.error, RecursionError, OverflowError, ValueError, IndexError) as exc:
        raise ValueError(str(exc)) from None


# --------------------------------------------------------------------------- the language
@dataclass(frozen=True)
class Condition:
    """One ``*`` line: *kind* is ``regex``, ``program`` (``?``), ``less``/``greater``
    (``<``/``>``), ``var`` (``NAME ?? regex``) or ``expand`` (``$``, re-read at run time)."""

    kind: str
    text: str
    negate: bool = False
    weight: Optional[Tuple[float, float]] = None
    var: str = ""
    line: int = 0
    regex: Optional[Pattern[str]] = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Action:
    """The action line: ``folder``, ``pipe``, ``forward`` or ``block``."""

    kind: str
    text: str = ""
    capture: str = ""                       # VAR of ``VAR=| command``
    block: Tuple["Statement", ...] = ()


@dataclass(frozen=True)
class Recipe:
    """``:0 flags :lockfile`` with its conditions and action (lockfile None: no lock)."""

    flags: str
    lockfile: Optional[str]
    conditions: Tuple[Condition, ...]
    action: Action
    line: int


@dataclass(frozen=True)
class Assignment:
    """``NAME=value`` (raw text, expanded when run); value None unsets NAME."""

    name: str
    value: Optional[str]
    line: int


@dataclass(frozen=True)
class Skipped:
    """A line procmail cannot use: it logs ``Skipped "text"`` and goes on."""

    text: str
    line: int


Statement = Union[Recipe, Assignment, Skipped]


@dataclass(frozen=True)
class Rc:
    """A parsed rcfile."""

    path: str
    statements: Tuple[Statement, ...]


def _strip_comment(s: str) -> str:
    """Drop a ``#`` comment starting a word outside quotes."""
    quote = ""
    prev = " "
    for k, ch in enumerate(s):
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                pass
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and prev in " \t":
            return s[:k].rstrip()
        prev = ch
    return s.strip()


def _sh_word(s: str) -> Tuple[str, str, bool]:
    """Split one shell word (raw, quotes kept) off *s*: (word, rest, closed)."""
    k, n, quote = 0, len(s), ""
    while k < n:
        ch = s[k]
        if quote:
            if ch == "\\" and quote == '"' and k + 1 < n:
                k += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "\\" and k + 1 < n:
            k += 2
            continue
        elif ch in " \t":
            break
        k += 1
    return s[:k], s[k:], not quote


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.lines = text.replace("\r\n", "\n").split("\n")
        self.path = path
        self.i = 0
        self.close_pending = False

    def error(self, line: int, msg: str) -> ConfigError:
        return ConfigError(self.path, line, msg)

    def logical(self, strip_cont: bool) -> Tuple[int, str]:
        """The next line joined with its backslash-newline continuations."""
        start = self.i + 1
        text = self.lines[self.i]
        self.i += 1
        while text.endswith("\\") and not text.endswith("\\\\") and self.i < len(self.lines):
            nxt = self.lines[self.i]
            self.i += 1
            text = text[:-1] + (nxt.lstrip() if strip_cont else nxt)
        return start, text

    def statements(self, nested: int, opened: int = 0) -> Tuple[Statement, ...]:
        out: List[Statement] = []
        while self.i < len(self.lines):
            raw = self.lines[self.i].strip()
            if not raw or raw.startswith("#"):
                self.i += 1
                continue
            if raw.startswith("}"):
                if not nested:
                    raise self.error(self.i + 1, "Closing brace unexpected")
                self.i += 1
                return tuple(out)
            if raw.startswith(":"):
                out.append(self.recipe(nested))
            else:
                out.extend(self.assignment())
                if self.close_pending:
                    self.close_pending = False
                    if not nested:
                        raise self.error(self.i, "Closing brace unexpected")
                    return tuple(out)
        if nested:
            raise self.error(opened, "Missing closing brace (for the block opened here)")
        return tuple(out)

    def assignment(self) -> List[Statement]:
        line, text = self.logical(False)
        out: List[Statement] = []
        rest = text.strip()
        while rest and not rest.startswith("#"):
            if rest.startswith("}"):
                self.close_pending = True          # "{ VAR=x }" on one line
                break
            m = _NAME.match(rest)
            end = m.end() if m else 0
            if not m or (rest[end:end + 1] not in ("", " ", "\t", "=", "#")):
                # procmail skips the rest of the line from a word it cannot use
                out.append(Skipped(rest, line))
                break
            name, after = m.group(), rest[end:].lstrip()
            if not after.startswith("="):
                out.append(Assignment(name, None, line))
                rest = after
                continue
            value_text = after[1:].lstrip()
            word, rest, closed = _sh_word(value_text)
            while not closed and self.i < len(self.lines):     # a quoted value spans lines
                value_text += "\n" + self.lines[self.i]
                self.i += 1
                word, rest, closed = _sh_word(value_text)
            if not closed:
                raise self.error(line, "Unexpected EOL (missing closing quote)")
            out.append(Assignment(name, word, line))
            rest = rest.strip()
        return out

    def recipe(self, nested: int) -> Recipe:
        line, head = self.logical(False)
        head = _strip_comment(head.strip()[1:])
        m = re.match(r"\d*", head)
        rest = head[m.end():] if m else head
        flags, _, lock = rest.partition(":")
        flags = flags.replace(" ", "").replace("\t", "")
        bad = [f for f in flags if f not in FLAGS]
        if bad:
            raise self.error(line, f'Unknown flag "{bad[0]}" (procmail knows {FLAGS})')
        lockfile = lock.strip() if _ else None
        case = "D" in flags
        conds: List[Condition] = []
        while self.i < len(self.lines):
            raw = self.lines[self.i].strip()
            if not raw or raw.startswith("#"):
                self.i += 1
                continue
            if not raw.startswith("*"):
                break
            self.lines[self.i] = raw
            cline, text = self.logical(True)
            try:
                conds.append(parse_condition(text[1:], case, cline))
            except ValueError as exc:
                raise self.error(cline, str(exc)) from None
        if self.i >= len(self.lines):
            raise self.error(line, "Missing action")
        raw = self.lines[self.i].strip()
        if raw.startswith(":") or raw.startswith("}"):
            raise self.error(self.i + 1, "Missing action")
        if raw.startswith("{"):
            opened = self.i + 1
            rest_of_line = raw[1:].strip()
            if rest_of_line and not rest_of_line.startswith("#"):
                self.lines[self.i] = rest_of_line     # text after "{" belongs to the block
            else:
                self.i += 1
            return Recipe(flags, lockfile, tuple(conds),
                          Action("block", block=self.statements(nested + 1, opened)), line)
        aline, text = self.logical(False)
        text = text.strip()
        cap = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\|", text)
        if cap:
            action = Action("pipe", text[cap.end():], capture=cap.group(1))
        elif text.startswith("|"):
            action = Action("pipe", text[1:])
        elif text.startswith("!"):
            action = Action("forward", _strip_comment(text[1:]))
        else:
            folder = _strip_comment(text)
            if not folder:
                raise self.error(aline, "Missing action")
            action = Action("folder", folder)
        return Recipe(flags, lockfile, tuple(conds), action, line)


def parse_condition(text: str, case: bool = False, line: int = 0) -> Condition:
    """Parse the text after ``*`` (raises ValueError with procmail's words).

    >>> parse_condition(" 2000^0 ^From:.*john").weight
    (2000.0, 0.0)
    >>> parse_condition(" ! > 10000").kind, parse_condition(" ! > 10000").negate
    ('greater', True)
    """
    s = text.strip()
    weight = None
    m = _WEIGHT.match(s)
    if m:
        weight = (float(m.group(1)), float(m.group(2)))
        s = s[m.end():].strip()
    negate = False
    while s[:1] == "!":
        negate = not negate
        s = s[1:].lstrip()
    if s[:1] == "$":
        return Condition("expand", s[1:], negate, weight, line=line)
    if s[:1] == "?":
        return Condition("program", s[1:].strip(), negate, weight, line=line)
    if s[:1] in ("<", ">"):
        num = s[1:].strip()
        if not re.fullmatch(r"\d+", num):
            raise ValueError(f'size condition needs a number of bytes: "{s}"')
        return Condition("less" if s[0] == "<" else "greater", num, negate, weight, line=line)
    vm = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*\?\?\s?(.*)$", s, re.S)
    if vm:
        regex = vm.group(2).strip()
        try:
            return Condition("var", regex, negate, weight, vm.group(1), line, _compile(regex, case))
        except ValueError:
            raise ValueError(f'Invalid regexp "{regex}"') from None
    if s[:2] in ("\\!", "\\$", "\\?", "\\<", "\\>", "\\\\"):
        s = s[1:]
        s = "\\" + s if s[0] in "$?" else s
    try:
        return Condition("regex", s, negate, weight, line=line, regex=_compile(s, case))
    except ValueError:
        raise ValueError(f'Invalid regexp "{s}"') from None


def parse_procmailrc(text: str, path: str = "procmailrc") -> Rc:
    """Parse a procmailrc into an :class:`Rc` (ConfigError names file and line).

    >>> parse_procmailrc(":0\\n* ^Subject: x\\n", "/etc/procmailrc")
    Traceback (most recent call last):
    ...
    labmail.errors.ConfigError: /etc/procmailrc, line 1: Missing action
    """
    try:
        return Rc(path, _Parser(text, path).statements(0))
    except RecursionError:
        raise ConfigError(path, None, "blocks nested too deeply") from None



# --------------------------------------------------------------------------- running
class _Delivered(Exception):
    """A delivering recipe succeeded: procmail stops reading its rcfiles."""


@dataclass
class ProcmailResult:
    """What one procmail run did.

    *status* is procmail's exit status: 0 when the mail was delivered, 73
    (EX_CANTCREAT) when it could not be, 75 (EX_TEMPFAIL) instead with ``-t``.
    *folders* lists every delivery (as procmail's log names them), *stderr*
    the diagnostics written where no ``LOGFILE`` was set.
    """

    status: int
    folders: List[str]
    stderr: str = ""
    stdout: bytes = b""


@dataclass
class _Frame:
    stmts: Tuple[Statement, ...]
    rc: str
    idx: int = 0
    lastcond: bool = False          # an rcfile starts with nothing matched; a block with its recipe
    prev_exec: bool = False
    lastsucc: bool = False
    etc: bool = False


SpamcFn = Callable[[List[str], bytes], Tuple[bytes, str, int]]
_SEQ = itertools.count()
_SEQ_LOCK = threading.Lock()
ForwardFn = Callable[[List[str], bytes], bool]
_TRUE = ("on", "y", "t", "e")


def _boolean(value: str) -> bool:
    v = value.strip().lower()
    if v[:1].isdigit():
        return v.lstrip("0")[:1] not in ("", ".")
    return v.startswith(_TRUE)


def _split_mail(mail: bytes) -> Tuple[bytes, bytes]:
    """(header including the empty line, body), as procmail separates them."""
    if mail.startswith(b"\n"):
        return b"\n", mail[1:]
    k = mail.find(b"\n\n")
    if k < 0:
        return mail, b""
    return mail[:k + 2], mail[k + 2:]


def _strip_from_(data: bytes) -> bytes:
    if data.startswith(b"From "):
        nl = data.find(b"\n")
        return b"" if nl < 0 else data[nl + 1:]
    return data


class Procmail:
    """procmail for one recipient: ``Procmail(user=, home=).run(message, argv)``.

    *root* is the real directory that ``/`` stands for (a lab host's state
    directory; ``/`` itself outside a lab).  *spamc* replaces ``/usr/bin/spamc``
    (``spamc(argv, message) -> (stdout, stderr, status)``), *forward* replaces
    ``$SENDMAIL`` for ``!`` actions (``forward(addresses, message) -> ok``).

    >>> import tempfile, pathlib
    >>> home = tempfile.mkdtemp()
    >>> _ = (pathlib.Path(home) / ".procmailrc").write_text("MAILDIR=$HOME\\n:0\\n* ^Subject: hi\\nbox/\\n")
    >>> pm = Procmail(user="alice", home=home, etc_rc=None)
    >>> pm.run(b"From bob  Sat Nov 28 09:00:00 2026\\nSubject: hi\\n\\nhello\\n").folders[0].startswith("box/new/")
    True
    """

    def __init__(self, *, user: str, home: str, root: Union[str, Path] = "/",
                 hostname: Optional[str] = None, shell: str = "/bin/sh",
                 clock: object = None, ids: object = None, spamc: Optional[SpamcFn] = None,
                 forward: Optional[ForwardFn] = None, etc_rc: Optional[str] = "/etc/procmailrc",
                 environ: Optional[Dict[str, str]] = None, time_limit: float = 960.0) -> None:
        self.user, self.home, self.root = user, home, Path(root)
        self.hostname = hostname or socket.gethostname()
        self.shell, self.clock, self.ids = shell, clock, ids
        self.spamc, self.forward, self.etc_rc = spamc, forward, etc_rc
        self.environ = dict(environ or {})
        self.time_limit = time_limit

    def run(self, message: bytes, argv: Sequence[str] = ()) -> ProcmailResult:
        """Process *message* with procmail's command-line *argv* (no program name)."""
        return _Run(self, message.replace(b"\r\n", b"\n"), list(argv)).main()

    # used by _Run
    def next_seq(self) -> int:
        # one sequence for the whole lab: deliveries share the host's clock and pid
        with _SEQ_LOCK:
            return next(_SEQ)

    def now(self) -> float:
        return self.clock.timestamp() if self.clock is not None else time.time()  # type: ignore[attr-defined]

    def pid(self) -> int:
        return self.ids.pid("procmail") if self.ids is not None else os.getpid()  # type: ignore[attr-defined]


class _Run:
    """One message going through the rcfiles (copied whole for a ``c`` block's clone)."""

    def __init__(self, cfg: Procmail, mail: bytes, argv: List[str]) -> None:
        self.cfg = cfg
        self.mail = mail
        self.hlen: Optional[int] = None
        self.args: List[str] = []
        self.frames: List[_Frame] = []
        self.rc_queue: List[Tuple[str, bool]] = []
        self.folders: List[str] = []
        self.errs: List[str] = []
        self.out = bytearray()
        self.delivered = False
        self.tempfail = False
        self.score = 0.0
        self.last_exit = 0
        self.global_lock: Optional[Tuple[Path, contextlib.ExitStack]] = None
        self.final: Optional[Tuple[str, int]] = None
        self.stamped = 0.0
        self.host_mismatch = False
        self.trap_status: Optional[int] = None
        self.steps = 0
        home = cfg.home
        env: Dict[str, str] = {}
        preserve = "-p" in argv
        if preserve:
            env.update(cfg.environ)
        elif "TZ" in cfg.environ:
            env["TZ"] = cfg.environ["TZ"]
        orgmail = f"/var/mail/{cfg.user}"
        env.update({"HOME": home, "LOGNAME": cfg.user, "SHELL": cfg.shell,
                    "PATH": f"{home}/bin:/usr/local/bin:/usr/bin:/bin",
                    "SHELLMETAS": "&|<>~;?*[", "SHELLFLAGS": "-c", "ORGMAIL": orgmail,
                    "MAILDIR": home, "DEFAULT": orgmail, "MSGPREFIX": "msg.",
                    "SENDMAIL": "/usr/sbin/sendmail", "SENDMAILFLAGS": "-oi",
                    "HOST": cfg.hostname, "PROCMAIL_VERSION": "3.22", "LOCKEXT": ".lock"})
        self.env = env
        self.cwd = home
        rcfiles: List[str] = []
        k = 0
        self.soft = False
        filter_mode = False
        sender: Optional[str] = None
        while k < len(argv):
            a = argv[k]
            if a in ("-a", "-f", "-r") and k + 1 < len(argv):
                if a == "-a":
                    self.args.append(argv[k + 1])
                else:
                    sender = argv[k + 1]
                k += 2
                continue
            if a.startswith("-") and len(a) > 1 and not rcfiles:
                self.soft |= "t" in a
                filter_mode |= "m" in a
            elif filter_mode and rcfiles:
                self.args.append(a)
            elif "=" in a and _NAME.match(a) and a[_NAME.match(a).end()] == "=":  # type: ignore[union-attr]
                name, _, value = a.partition("=")
                env[name] = value
            else:
                rcfiles.append(a)
            k += 1
        if sender:
            self._set_sender(sender)
        if rcfiles:
            for rc in rcfiles:
                if not rc.startswith("/") and not filter_mode and not rc.startswith("./"):
                    rc = posixpath.join(home, rc)
                self.rc_queue.append((rc, False))
        else:
            if cfg.etc_rc:
                self.rc_queue.append((cfg.etc_rc, True))
            self.rc_queue.append((posixpath.join(home, ".procmailrc"), False))

    # -- paths --------------------------------------------------------------
    def vpath(self, name: str) -> str:
        """*name* as an absolute path (relative names are relative to $MAILDIR)."""
        return posixpath.normpath(posixpath.join(self.cwd, name)) if name else self.cwd

    def real(self, name: str) -> Path:
        """Where the (virtual) path *name* is on disk; never outside the root."""
        v = self.vpath(name)
        root = self.cfg.root
        if str(root) == "/":
            return Path(v)
        p = root.joinpath(*[x for x in v.split("/") if x])
        try:
            p.resolve().relative_to(root.resolve())
        except ValueError:
            raise LabError(f'"{name}" leads outside the lab host\'s files') from None
        return p

    # -- logging ------------------------------------------------------------
    def log(self, text: str) -> None:
        logfile = self.env.get("LOGFILE", "")
        if logfile:
            try:
                with open(self.real(logfile), "a", encoding="latin-1") as fh:
                    fh.write(text)
                return
            except (OSError, LabError):
                pass
        self.errs.append(text)

    def verbose(self, text: str) -> None:
        if _boolean(self.env.get("VERBOSE", "no")):
            now = self.cfg.now()
            if now - self.stamped >= 1:             # "[pid] time & date", at most once a second
                self.stamped = now
                stamp = time.asctime(time.localtime(now))
                self.log(f"procmail: [{self.cfg.pid()}] {stamp}\n")
            self.log(f"procmail: {text}\n")

    # -- main loop ----------------------------------------------------------
    def main(self) -> ProcmailResult:
        try:
            self.loop()
        except _Delivered:
            pass
        self.finish()
        return ProcmailResult(self.exit_status(), self.folders, "".join(self.errs), bytes(self.out))

    def finish(self) -> None:
        if self.host_mismatch:
            # "to the mailer it will seem that the mail has been delivered"
            self.delivered, self.final = True, ("", 0)
        if not self.delivered:
            self.deliver_default()
        if self.final is not None:
            self.abstract(*self.final)
        self.set_global_lock("")
        trap = self.env.get("TRAP", "")
        if trap:
            # TRAP runs with the mail on stdin; its output goes to the log, and an
            # EXITCODE set but empty takes its exit status (procmailrc(5))
            if "EXITCODE" not in self.env:
                self.env["EXITCODE"] = str(self.exit_status())
            status, out, err, _ = self.program(trap, self.mail)
            if out or err:
                self.log(out.decode("latin-1") + err)
            if self.env.get("EXITCODE") == "":
                self.trap_status = status

    def exit_status(self) -> int:
        if self.trap_status is not None:
            return self.trap_status
        code = self.env.get("EXITCODE", "")
        if code.strip().isdigit() and int(code) > 0:
            return int(code)
        if self.delivered or _boolean(self.env.get("DELIVERED", "no")):
            return 0
        return EX_TEMPFAIL if self.soft else EX_CANTCREAT

    def loop(self) -> None:
        while True:
            self.steps += 1
            if self.steps > 100_000:               # a SWITCHRC to itself would never end
                self.log("procmail: Too many statements executed, giving up on the rcfiles\n")
                self.frames.clear()
                self.rc_queue.clear()
                return
            if not self.frames:
                if not self.rc_queue:
                    return
                name, etc = self.rc_queue.pop(0)
                self.open_rc(name, etc)
                continue
            f = self.frames[-1]
            if f.idx >= len(f.stmts):
                self.frames.pop()
                if f.etc and not any(x.etc for x in self.frames):
                    self.env["PATH"] = f"{self.cfg.home}/bin:/usr/local/bin:/usr/bin:/bin"
                continue
            st = f.stmts[f.idx]
            f.idx += 1
            if isinstance(st, Assignment):
                self.assign(st)
            elif isinstance(st, Skipped):
                self.log(f'procmail: Skipped "{st.text}"\n')
            else:
                self.recipe(st, f)

    def open_rc(self, name: str, etc: bool, include: bool = False) -> None:
        if len(self.frames) > 64:                  # INCLUDERC of itself, for instance
            self.log(f'procmail: Too deeply nested rcfiles, skipped "{name}"\n')
            return
        try:
            real = self.real(name)
            text = real.read_bytes().decode("latin-1")
        except LabError as exc:
            self.log(f"procmail: {exc}\n")
            return
        except OSError:
            if include:
                self.log(f'procmail: Couldn\'t read "{name}"\n')
            return
        try:
            rc = parse_procmailrc(text, name)
        except ConfigError as exc:
            self.log(f"procmail: {exc}\n")
            return
        if etc:
            self.env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        self.verbose(f'Rcfile: "{name}"')
        self.frames.append(_Frame(rc.statements, name, etc=etc))

    def current_rc(self) -> str:
        return self.frames[-1].rc if self.frames else ""

    def abort_rc(self) -> None:
        rc = self.current_rc()
        while self.frames and self.frames[-1].rc == rc:
            self.frames.pop()

    # -- assignments --------------------------------------------------------
    def assign(self, st: Assignment) -> None:
        name = st.name
        if st.value is None:
            self.env.pop(name, None)
            if name == "SWITCHRC":
                self.abort_rc()
            elif name == "LOCKFILE":
                self.set_global_lock("")
            return
        value = "".join(self.expand(st.value, split=False))
        self.verbose(f'Assigning "{name}={value}"')
        if name == "INCLUDERC":
            self.env[name] = value
            self.open_rc(self.vpath(value), False, include=True)
            return
        if name == "SWITCHRC":
            self.env[name] = value
            self.abort_rc()
            self.open_rc(self.vpath(value), False, include=True)
            return
        self.env[name] = value
        if name == "LOG":
            self.log(value)
        elif name == "LOGFILE":
            try:
                with open(self.real(value), "a"):     # procmail opens it at once
                    pass
            except (OSError, LabError):
                self.errs.append(f'procmail: Couldn\'t open logfile "{value}"\n')
        elif name == "MAILDIR":
            try:
                ok = self.real(value).is_dir()
            except LabError as exc:
                self.log(f"procmail: {exc}\n")
                ok = False
            if ok:
                self.cwd = self.vpath(value)
            else:
                self.log(f'procmail: Couldn\'t chdir to "{value}"\n')
        elif name == "HOST" and value != self.cfg.hostname:
            self.verbose(f'HOST mismatched "{self.cfg.hostname}"')
            self.abort_rc()
            if not self.rc_queue:
                self.host_mismatch = True
                self.frames.clear()
        elif name == "SHIFT" and value.strip().isdigit():
            self.args = self.args[int(value):]
        elif name == "LOCKFILE":
            self.set_global_lock(value)

    def set_global_lock(self, value: str) -> None:
        if self.global_lock is not None:
            self.global_lock[1].close()
            self.global_lock = None
        if value:
            try:
                path = self.real(value)
            except LabError as exc:
                self.log(f"procmail: {exc}\n")
                return
            held = self.take_lock(value, path)
            if held is not None:
                self.global_lock = (path, held)

    def take_lock(self, shown: str, path: Path) -> Optional[contextlib.ExitStack]:
        """Hold the lockfile *path* (``name.lock``: the dot-lock Postfix and Dovecot use).

        Returns what releases it, or None (logged) when it cannot be had in time.
        """
        try:
            timeout = float(self.env.get("LOCKTIMEOUT", "1024") or 1024)
        except ValueError:
            timeout = 1024.0
        timeout = min(timeout if timeout > 0 else 1024.0, 30.0)
        self.verbose(f'Locking "{shown}"')
        stack = contextlib.ExitStack()
        try:
            if path.name.endswith(".lock") and len(path.name) > 5:
                stack.enter_context(dotlock(path.with_name(path.name[:-5]), timeout=timeout))
            else:
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444))
                        break
                    except FileExistsError:
                        if time.monotonic() > deadline:
                            raise MailboxLocked(str(path)) from None
                        time.sleep(0.05)
                stack.callback(path.unlink, missing_ok=True)
        except (MailboxLocked, OSError):
            self.log(f'procmail: Lock failure on "{shown}"\n')
            return None
        stack.callback(self.verbose, f'Unlocking "{shown}"')
        return stack

    # -- expansion ----------------------------------------------------------
    def dollar(self, raw: str, i: int) -> Tuple[str, int]:
        """Expand the ``$`` form starting at ``raw[i]``: (value, index after it)."""
        n = len(raw)
        if i + 1 >= n:
            return "$", i + 1
        c = raw[i + 1]
        if c == "{":
            k = raw.find("}", i + 2)
            if k < 0:
                return raw[i:], n
            inner = raw[i + 2:k]
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*|[0-9#$?=@_-])(:?[-+])?(.*)$", inner, re.S)
            if not m or (m.group(2) is None and m.group(3)):
                self.log(f'procmail: Bad substitution of "{inner}"\n')
                return "", k + 1
            val = self.var(m.group(1))
            op, word = m.group(2), m.group(3)
            isset = m.group(1) in self.env or not _NAME.fullmatch(m.group(1))
            if op == ":-":
                val = val if val else "".join(self.expand(word, split=False, dq=True))
            elif op == "-":
                val = val if isset else "".join(self.expand(word, split=False, dq=True))
            elif op == ":+":
                val = "".join(self.expand(word, split=False, dq=True)) if val else ""
            elif op == "+":
                val = "".join(self.expand(word, split=False, dq=True)) if isset else ""
            return val, k + 1
        if c == "\\":
            m = _NAME.match(raw, i + 2)
            if not m:
                return "$\\", i + 2
            return re.sub(r"([][\\^$.*+?()|{}])", r"\\\1", self.env.get(m.group(), "")), m.end()
        m = _NAME.match(raw, i + 1)
        if m and m.group() != "_":
            return self.env.get(m.group(), ""), m.end()
        if c in "0123456789#$?_-=@":
            return self.var(c), i + 2
        return "$", i + 1

    def var(self, name: str) -> str:
        if name.isdigit():
            k = int(name)
            return self.args[k - 1] if 0 < k <= len(self.args) else ""
        special = {"#": lambda: str(len(self.args)), "$": lambda: str(self.cfg.pid()),
                   "?": lambda: str(self.last_exit), "_": self.current_rc,
                   "-": lambda: self.env.get("LASTFOLDER", ""), "=": lambda: str(int(self.score)),
                   "@": lambda: " ".join(self.args)}
        if name in special:
            return special[name]()
        return self.env.get(name, "")

    def expand(self, raw: str, *, split: bool, dq: bool = False) -> List[str]:
        """sh-like expansion of *raw*: quotes, backslashes, ``$`` forms, backquotes.

        With *split*, unquoted text and expansions are split into words on
        blanks; *dq* reads *raw* as if it were inside double quotes.
        """
        words: List[str] = []
        cur: List[str] = []
        have = False
        i, n = 0, len(raw)
        quote = '"' if dq else ""

        def flush() -> None:
            nonlocal cur, have
            if cur or have:
                words.append("".join(cur))
            cur, have = [], False

        def unquoted(val: str) -> None:
            nonlocal have
            if not split:
                cur.append(val)
                return
            parts = re.split(r"[ \t\n]+", val)
            cur.append(parts[0])
            for p in parts[1:]:
                flush()
                cur.append(p)

        while i < n:
            c = raw[i]
            if quote == '"':
                if c == '"' and not dq:
                    quote = ""
                    i += 1
                elif c == "\\" and i + 1 < n and raw[i + 1] in '$`"\\\n':
                    if raw[i + 1] != "\n":
                        cur.append(raw[i + 1])
                    i += 2
                elif c == "$":
                    val, i = self.dollar(raw, i)
                    cur.append(val)
                elif c == "`":
                    k = raw.find("`", i + 1)
                    k = n if k < 0 else k
                    cur.append(self.backquote(raw[i + 1:k]))
                    i = k + 1
                else:
                    cur.append(c)
                    i += 1
                have = True
            elif c == "'":
                k = raw.find("'", i + 1)
                k = n if k < 0 else k
                cur.append(raw[i + 1:k])
                have = True
                i = k + 1
            elif c == '"':
                quote = '"'
                have = True
                i += 1
            elif c == "\\" and i + 1 < n:
                cur.append(raw[i + 1])
                have = True
                i += 2
            elif c == "$":
                val, i = self.dollar(raw, i)
                unquoted(val)
            elif c == "`":
                k = raw.find("`", i + 1)
                k = n if k < 0 else k
                unquoted(self.backquote(raw[i + 1:k]))
                i = k + 1
            elif c in " \t\n" and split:
                flush()
                i += 1
            else:
                cur.append(c)
                have = True
                i += 1
        flush()
        return words

    def backquote(self, cmd: str) -> str:
        status, out, err, _ = self.program(cmd, self.mail)
        if err:
            self.log(err)
        return out.decode("latin-1").rstrip("\n")

    # -- recipes ------------------------------------------------------------
    def sections(self) -> Tuple[bytes, bytes]:
        """(header, body); after a header-only filter the header is what it printed."""
        if self.hlen is not None:
            return self.mail[:self.hlen], self.mail[self.hlen:]
        return _split_mail(self.mail)

    def effective(self, r: Recipe) -> Recipe:
        """The recipe with the flags procmail drops (and says so) taken out."""
        flags, kind = r.flags, r.action.kind
        drop = ""
        notes = []
        if "e" in flags and "E" in flags:
            drop += "E"
            notes.append("Conflicting else-if-flag suppressed")
        if "e" in flags and "a" in flags:
            drop += "a"
            notes.append("Conflicting also-if-succeeded-flag suppressed")
        if "f" in flags and kind in ("folder", "block"):
            drop += "fhb"                           # and h/b with it: the whole mail is written
            notes.append("Extraneous filter-flag ignored")
        if kind == "block":
            for flag, word in (("i", "ignore-write-error"), ("r", "raw-mode")):
                if flag in flags:
                    drop += flag
                    notes.append(f"Extraneous {word} flag ignored")
        for note in notes:
            self.log(f"procmail: {note}\n")
        if not drop:
            return r
        return dataclasses.replace(r, flags="".join(x for x in flags if x not in drop))

    def skip_block(self, r: Recipe) -> None:
        """procmail reads a block it skips, and so still reports the flags it drops."""
        if r.action.kind != "block":
            return
        for st in r.action.block:
            if isinstance(st, Recipe):
                self.score = 0.0                    # $= follows every recipe read
                self.effective(st)
                self.skip_block(st)

    def recipe(self, r: Recipe, f: _Frame) -> None:
        r = self.effective(r)
        flags = r.flags
        self.score = 0.0
        chained = "A" in flags or "a" in flags
        ok = True
        if chained:
            ok = f.lastcond and (f.lastsucc if "a" in flags else True)
        if "E" in flags and f.prev_exec:
            f.lastcond = False if not chained else f.lastcond
            self.skip_block(r)
            return                              # an earlier branch ran: skip, keep the chain "taken"
        if "e" in flags:
            ok = ok and f.prev_exec and not f.lastsucc
        if ok:
            ok = self.conditions(r)
        if not chained:
            f.lastcond = ok
        f.prev_exec = ok
        if not ok:
            self.skip_block(r)
            return
        f.lastsucc = False
        f.lastsucc = self.action(r, f)

    def area(self, flags: str) -> str:
        header, body = self.sections()
        # continued header fields are searched as one line (procmail(1), MISCELLANEOUS);
        # the header ends with its empty line, which ^.*$ counts as a line
        hdr = re.sub(rb"\n(?=[ \t])", b" ", header)
        use_h = "H" in flags or "B" not in flags
        use_b = "B" in flags
        text = (hdr if use_h else b"") + (body if use_b else b"")
        return text.decode("latin-1")

    def conditions(self, r: Recipe) -> bool:
        case = "D" in r.flags
        score, weighted = 0.0, False
        for c in r.conditions:
            if c.kind == "expand":
                text = "".join(self.expand(c.text, split=False, dq=True))
                try:
                    inner = parse_condition(text, case, c.line)
                except ValueError as exc:
                    self.log(f"procmail: {exc}\n")
                    return False
                c = Condition(inner.kind, inner.text, inner.negate != c.negate, c.weight or inner.weight,
                              inner.var, c.line, inner.regex)
            if c.weight is not None and score >= 2147483647:
                continue
            found, count = self.test(c, r.flags)
            if c.weight is None:
                if not found:
                    self.verbose(f'No match on "{c.text}"')
                    self.score = score
                    return False
                self.verbose(f'Match on "{c.text}"')
                continue
            weighted = True
            w, x = c.weight
            added = self.weigh(c, w, x, found, count)
            score = max(min(score + added, 2147483647.0), -2147483647.0)
            self.verbose(f'Score: {added:9g} {score:9g} "{c.text}"')
            if score <= -2147483647:
                break
        self.score = score
        return score > 0 if weighted else True

    def weigh(self, c: Condition, w: float, x: float, found: bool, count: int) -> float:
        if c.kind in ("less", "greater"):
            m, lim = max(len(self.mail), 1), max(int(c.text), 1)
            ratio = m / lim if c.kind == "greater" else lim / m
            try:
                return w * ratio ** x
            except (OverflowError, ZeroDivisionError):
                return 2147483647.0 if w > 0 else -2147483647.0
        if c.kind == "program" and not c.negate:
            return w if count == 0 else x
        if count >= INFINITE_MATCHES:
            if x == 0:
                return w
            if abs(x) < 1:
                return w / (1 - x)                  # the whole geometric series
            return 2147483647.0 if w > 0 else -2147483647.0
        n = count
        total, term = 0.0, w
        for _ in range(min(n, 100000)):
            total += term
            term *= x
            if x == 0 or abs(total) > 2147483647:
                break
        return total

    def test(self, c: Condition, flags: str) -> Tuple[bool, int]:
        """(condition holds, count for weighting: matches, or a program's exit code)."""
        if c.kind in ("less", "greater"):
            m, lim = len(self.mail), int(c.text)
            hold = m < lim if c.kind == "less" else m > lim
            return hold != c.negate, 1
        if c.kind == "program":
            status, _out, err, _ = self.program(c.text, self.area(flags).encode("latin-1"))
            if err:
                self.log(err)
            if status and "W" not in flags:
                self.verbose(f'Non-zero exitcode ({status}) by "{c.text}"')
            return (status == 0) != c.negate, status
        if c.kind == "var":
            if c.var in ("H", "B", "HB", "BH"):
                text = self.area(c.var)
            else:
                text = self.var(c.var)
        else:
            text = self.area(flags)
        regex = c.regex
        if regex is None:                        # cannot happen after parse; be safe
            return False, 0
        if not c.weight or c.negate:
            hit = regex.search(text)
            if hit and MATCH_GROUP in regex.groupindex:
                self.env["MATCH"] = hit.group(MATCH_GROUP) or ""
            found = hit is not None
            return found != c.negate, int(found != c.negate)
        count = 0
        for each in regex.finditer(text):
            if count == 0 and MATCH_GROUP in regex.groupindex:
                self.env["MATCH"] = each.group(MATCH_GROUP) or ""
            if each.end() == each.start() and not c.text.strip():
                # an empty regex matches again and again at the same spot, for ever
                return True, INFINITE_MATCHES
            count += 1
            if c.weight[1] == 0 or count >= 100000:
                break
        return count > 0, count

    # -- actions ------------------------------------------------------------
    def parts(self, flags: str) -> bytes:
        h = "h" in flags or "b" not in flags
        b = "b" in flags or "h" not in flags
        header, body = self.sections()
        return (header if h else b"") + (body if b else b"")

    def action(self, r: Recipe, f: _Frame) -> bool:
        a, flags = r.action, r.flags
        if a.kind == "block":
            if "c" in flags:
                self.clone(r.action.block, f.rc)
                self.skip_block(r)                  # the parent reads across the block
            else:
                self.frames.append(_Frame(a.block, f.rc, lastcond=True, prev_exec=True, lastsucc=True))
            return True
        if "f" in flags and "c" in flags:          # said when the filter runs, not when read
            self.log("procmail: Extraneous copy-flag ignored\n")
            flags = flags.replace("c", "")
        data = self.parts(flags)
        raw = "r" in flags
        delivering = a.kind == "folder" or ("f" not in flags and not a.capture)
        names: List[str] = []
        if a.kind in ("folder", "forward"):
            names = self.expand(a.text, split=True)
        lockname = self.lockname(r, names)
        held: Optional[contextlib.ExitStack] = None
        if lockname is not None and self.global_lock is not None and lockname[1] == self.global_lock[0]:
            self.log(f'procmail: Deadlock attempted on "{lockname[0]}"\n')
            lockname = None
        if lockname is not None:
            held = self.take_lock(*lockname)
        lock_ok = lockname is None or held is not None
        try:
            if not lock_ok:
                ok, folder, length = False, "", 0
            elif a.kind == "folder":
                hlen = len(self.sections()[0]) if "h" in flags or "b" not in flags else 0
                ok, folder, length = self.to_folders(names, data, raw, hlen)
            elif a.kind == "forward":
                ok, folder, length = self.to_forward(names, data, flags)
            else:
                ok, folder, length = self.to_pipe(a, data, flags, raw)
        finally:
            if held is not None:
                held.close()
        if delivering and ok:
            self.env["LASTFOLDER"] = folder
            self.folders.append(folder)
            if self.env.get("LOGABSTRACT", "").lower() == "all":
                self.abstract(folder, length)
            if "c" not in flags:
                self.delivered = True
                if self.env.get("LOGABSTRACT", "").lower() != "all":
                    self.final = (folder, length)
                raise _Delivered()
        return ok

    def lockname(self, r: Recipe, names: List[str]) -> Optional[Tuple[str, Path]]:
        """The recipe's local lockfile: (name as procmail logs it, where it is)."""
        if r.lockfile is None:
            return None
        ext = self.env.get("LOCKEXT", ".lock")
        try:
            if r.lockfile:
                name = "".join(self.expand(r.lockfile, split=False))
                return name, self.real(name)
            if r.action.kind == "folder" and names and names[0] != "/dev/null":
                if names[0].endswith("/"):
                    # procmail puts "dir/.lock" inside the maildir: make the folder first
                    # (the real one fails on a folder that does not exist yet)
                    for sub in ("tmp", "new", "cur"):
                        (self.real(names[0]) / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
                return names[0] + ext, self.real(names[0] + ext)
            m = re.search(r">>\s*(\S+)", r.action.text)
            if r.action.kind == "pipe" and m:
                name = "".join(self.expand(m.group(1), split=False)) + ext
                return name, self.real(name)
        except OSError:
            return None
        except LabError as exc:
            self.log(f"procmail: {exc}\n")
            return None
        if r.action.kind != "folder":
            self.log(f'procmail: Couldn\'t determine implicit lockfile from "{r.action.text.strip()}"\n')
        return None

    def clone(self, block: Tuple[Statement, ...], rc: str) -> None:
        """A ``c`` block: a copy of procmail runs the block and then the rest, as a fork would."""
        twin = copy.copy(self)
        twin.env = dict(self.env)
        twin.args = list(self.args)
        twin.frames = [copy.copy(fr) for fr in self.frames]
        if twin.frames:                          # in the clone too, the block recipe succeeded
            twin.frames[-1].prev_exec = twin.frames[-1].lastsucc = True
        twin.frames.append(_Frame(block, rc, lastcond=True, prev_exec=True, lastsucc=True))
        twin.rc_queue = list(self.rc_queue)
        twin.global_lock = None
        twin.final = None
        twin.out = self.out
        try:
            twin.loop()
        except _Delivered:
            pass
        twin.finish()

    # -- deliveries -----------------------------------------------------------
    def to_folders(self, names: List[str], data: bytes, raw: bool,
                   hlen: Optional[int] = None) -> Tuple[bool, str, int]:
        if not names:
            self.log("procmail: Missing action\n")
            return False, "", 0
        first = names[0]
        if first == "/dev/null":
            return True, first, len(data)
        try:
            target = self.real(first)
            if first.endswith("/") or first.endswith("/.") or target.is_dir():
                return self.to_directories(names, data, raw, hlen != 0)
            for extra in names[1:]:                 # only directories take several names
                self.log(f'procmail: Skipped "{extra}"\n')
            return self.to_mbox(first, target, data, raw, hlen)
        except LabError as exc:
            self.log(f"procmail: {exc}\n")
            return False, first, 0

    def to_mbox(self, name: str, path: Path, data: bytes, raw: bool,
                hlen: Optional[int] = None) -> Tuple[bool, str, int]:
        if hlen is None:
            hlen = len(_split_mail(data)[0])
        header, body = data[:hlen], data[hlen:]
        # lines of the body that look like postmarks are disarmed (procmail(1), MISCELLANEOUS)
        body = re.sub(rb"(?m)^From ", b">From ", body)
        blob = header + body
        if not raw and not blob.endswith(b"\n\n"):
            blob += b"\n"
        self.verbose(f'Assigning "LASTFOLDER={name}"')
        self.verbose(f'Opening "{name}"')
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            self.log(f'procmail: Couldn\'t create "{name}"\n' if exc.errno != 21 else
                     f'procmail: Unable to treat as directory "{name}"\n')
            return False, name, 0
        try:
            self.verbose("Acquiring kernel-lock")
            fcntl.lockf(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            try:
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)
                self.log(f'procmail: Error while writing to "{name}"\n'
                         "procmail: Truncated file to former size\n")
                return False, name, 0
        finally:
            os.close(fd)
        return True, name, len(blob)

    def to_directories(self, names: List[str], data: bytes, raw: bool,
                       with_header: bool = True) -> Tuple[bool, str, int]:
        written: List[str] = []
        first_file: Optional[Path] = None
        blob = data
        for k, name in enumerate(names):
            path = self.real(name)
            if name.endswith("/"):
                kind = "maildir"
            elif name.endswith("/."):
                kind = "mh"
            else:
                kind = "dir"
            try:
                if kind == "maildir":
                    for sub in ("tmp", "new", "cur"):
                        (path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
                else:
                    path.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError:
                self.log(f'procmail: Couldn\'t create maildir part "{name}"\n' if kind == "maildir"
                         else f'procmail: Unable to treat as directory "{name}"\n')
                return False, name, 0
            if k == 0:
                if kind == "maildir":
                    # as written, without the From_ line (a body alone keeps all its lines)
                    blob = _strip_from_(data) if with_header else data
                else:
                    blob = data if raw or data.endswith(b"\n\n") else data + b"\n"
            for _attempt in range(1000):
                # names are unique per delivery; a concurrent delivery that took the
                # same one makes us pick the next (O_EXCL and link refuse to overwrite)
                fname, dest = self.unique_name(path, kind)
                try:
                    if first_file is None:
                        tmp = path / "tmp" / fname if kind == "maildir" else dest
                        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                        try:
                            view = memoryview(blob)
                            while view:
                                view = view[os.write(fd, view):]
                            os.fsync(fd)
                        finally:
                            os.close(fd)
                        if tmp != dest:
                            try:
                                os.link(tmp, dest)
                            finally:
                                os.unlink(tmp)
                        first_file = dest
                    else:
                        self.verbose(f'Linking to "{name}"')
                        os.link(first_file, dest)
                    break
                except FileExistsError:
                    continue
                except OSError:
                    self.log(f'procmail: Couldn\'t create or rename temp file "{name}"\n')
                    return False, name, 0
            else:
                self.log(f'procmail: Couldn\'t create or rename temp file "{name}"\n')
                return False, name, 0
            if k == 0:
                self.verbose(f'Assigning "LASTFOLDER={name}new/{fname}"' if kind == "maildir"
                             else f'Assigning "LASTFOLDER={dest}"')
            shown = {"maildir": f"{name}new/{fname}", "mh": f"{name[:-1]}{fname}"}.get(
                kind, f"{name.rstrip('/')}/{fname}")
            written.append(shown)
        return True, " ".join(written), len(blob)

    def unique_name(self, path: Path, kind: str) -> Tuple[str, Path]:
        if kind == "mh":
            nums = [int(p.name) for p in path.iterdir() if p.name.isdigit()]
            n = max(nums, default=0) + 1
            while (path / str(n)).exists():
                n += 1
            return str(n), path / str(n)
        for _ in range(1000):
            seq = self.cfg.next_seq()
            if kind == "maildir":
                # procmail's maildir names: time.pid_sequence.host
                name = f"{int(self.cfg.now())}.{self.cfg.pid()}_{seq}.{self.cfg.hostname}"
                dest = path / "new" / name
                if not dest.exists() and not (path / "tmp" / name).exists():
                    return name, dest
            else:
                name = f"{self.env.get('MSGPREFIX', 'msg.')}{_b32(seq + int(self.cfg.now()) * 7)}"
                if not (path / name).exists():
                    return name, path / name
        raise OSError("no unique file name")

    def to_forward(self, args: List[str], data: bytes, flags: str) -> Tuple[bool, str, int]:
        if "h" in flags or "b" not in flags:
            data = _strip_from_(data)
        if "r" not in flags and not data.endswith(b"\n\n"):
            data += b"\n"
        sendmail = [self.env.get("SENDMAIL", "/usr/sbin/sendmail")] + \
            self.env.get("SENDMAILFLAGS", "").split()
        shown = " ".join(sendmail + args)
        if "f" in flags:
            # "! address" with f is a filter through $SENDMAIL: what it prints is the mail
            out = b""
            if self.cfg.forward is not None:
                ok = bool(self.cfg.forward([a for a in args if not a.startswith("-")], data))
            else:
                status, out, err, _ = self.spawn(sendmail + args, data)
                if err:
                    self.log(err)
                ok = not (status and ("w" in flags or "W" in flags))
            if ok:
                self.apply_filter(out, flags)
            return ok, shown, len(data)
        if self.cfg.forward is not None:
            addrs = [a for a in args if not a.startswith("-")]
            try:
                ok = bool(self.cfg.forward(addrs, data))
            except Exception as exc:            # the lab's submission failed: a failed recipe
                self.log(f'procmail: Forwarding failed: {exc}\n')
                ok = False
            return ok, shown, len(data)
        status, out, err, _ = self.spawn(sendmail + args, data)
        self.out.extend(out)
        if err:
            self.log(err)
        if status and ("w" in flags or "W" in flags):
            if "w" in flags:
                self.log(f'procmail: Program failure ({status}) of "{sendmail[0]}"\n')
            return False, shown, len(data)
        return True, shown, len(data)

    def to_pipe(self, a: Action, data: bytes, flags: str, raw: bool) -> Tuple[bool, str, int]:
        if not raw and not data.endswith(b"\n\n"):
            data += b"\n"
        if not a.text.strip():                  # a bare "|": the mail to procmail's stdout
            self.out.extend(data)
            return True, "", len(data)
        metas = self.env.get("SHELLMETAS", "&|<>~;?*[")
        # what the log calls it: the line as written for the shell, else from its first word
        shown = a.text if any(ch in a.text for ch in metas) else a.text.strip()
        status, out, err, wrote = self.program(a.text, data)
        self.last_exit = status
        if err:
            self.log(err)
        wait = "w" in flags or "W" in flags
        failed = (wait and status != 0) or (not wrote and "i" not in flags)
        prog = (a.text.split() or [""])[0]
        if not wrote and "i" not in flags:
            self.log(f'procmail: Error while writing to "{prog}"\n')
        if failed and "W" not in flags and status != 0:
            self.log(f'procmail: Program failure ({status}) of "{prog}"\n')
        if "f" in flags:
            if failed:
                if "W" not in flags:
                    self.log("procmail: Rescue of unfiltered data succeeded\n")
                return False, shown, len(data)
            self.apply_filter(out, flags)
            return True, shown, len(data)
        if a.capture:
            text = out.decode("latin-1")
            self.env[a.capture] = text[:-1] if text.endswith("\n") else text
            return not failed, shown, len(data)
        self.out.extend(out)                    # a program's stdout is procmail's stdout
        return not failed, shown, len(data)

    def apply_filter(self, out: bytes, flags: str) -> None:
        """A filter's output replaces what it was given (header, body or both)."""
        h = "h" in flags or "b" not in flags
        b = "b" in flags or "h" not in flags
        header, body = self.sections()
        if h and b:
            self.mail, self.hlen = out, None
        elif h:
            self.mail, self.hlen = out + body, len(out)   # procmail keeps the two apart
        else:
            self.mail, self.hlen = header + out, len(header)

    # -- programs ---------------------------------------------------------------
    def program(self, text: str, data: bytes) -> Tuple[int, bytes, str, bool]:
        """Run the command line *text* with *data* on stdin: (status, stdout, stderr, all written)."""
        text = text.strip()
        metas = self.env.get("SHELLMETAS", "&|<>~;?*[")
        if any(ch in text for ch in metas):
            argv = [self.env.get("SHELL", "/bin/sh")] + self.env.get("SHELLFLAGS", "-c").split() + [text]
            shell = True
        else:
            argv = self.expand(text, split=True)
            shell = False
        if not argv:
            return 0, b"", "", True
        self.verbose(f'Executing "{",".join(argv)}"')
        if not shell and self.cfg.spamc is not None and argv[0] in (
                "spamc", "/usr/bin/spamc", "/usr/local/bin/spamc"):
            out, err, status = self.cfg.spamc(argv[1:], data)
            self.last_exit = status
            return status, out, err, True
        result = self.spawn(argv, data)
        self.last_exit = result[0]
        return result

    def child_env(self) -> Dict[str, str]:
        env = {k: v for k, v in self.env.items() if _NAME.fullmatch(k)}
        if str(self.cfg.root) != "/":
            for key in ("HOME", "MAILDIR"):
                try:
                    env[key] = str(self.real(env.get(key, "/")))
                except LabError:
                    pass
        return env

    def spawn(self, argv: List[str], data: bytes) -> Tuple[int, bytes, str, bool]:
        try:
            cwd: Optional[Path] = self.real(self.cwd)
            if not cwd.is_dir():            # type: ignore[union-attr]
                cwd = None
        except LabError:
            cwd = None
        try:
            timeout = float(self.env.get("TIMEOUT", "960") or 960)
        except ValueError:
            timeout = 960.0
        timeout = min(timeout if timeout > 0 else self.cfg.time_limit, self.cfg.time_limit)
        proc = None
        for attempt in (argv, [self.env.get("SHELL", "/bin/sh")] + argv):
            # like procmail, a program that cannot be executed is handed to $SHELL as a script
            try:
                proc = subprocess.Popen(attempt, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=self.child_env(), cwd=cwd,
                                        start_new_session=True)
                break
            except OSError as exc:
                error = exc
        if proc is None:
            return 127, b"", f'procmail: Failed to execute "{argv[0]}": {error.strerror}\n', True
        wrote = [True]

        def writer() -> None:
            try:
                proc.stdin.write(data)           # type: ignore[union-attr]
            except (BrokenPipeError, OSError):
                wrote[0] = False
            try:
                proc.stdin.close()               # type: ignore[union-attr]
            except OSError:
                pass

        chunks: Dict[str, bytes] = {}

        def reader(name: str, stream: object) -> None:
            chunks[name] = stream.read()         # type: ignore[attr-defined]

        threads = [threading.Thread(target=writer, daemon=True),
                   threading.Thread(target=reader, args=("out", proc.stdout), daemon=True),
                   threading.Thread(target=reader, args=("err", proc.stderr), daemon=True)]
        for t in threads:
            t.start()
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            status = proc.wait()
            self.log(f'procmail: Timeout, terminating "{argv[0]}"\n')
        for t in threads:
            t.join(5)
        return status, chunks.get("out", b""), chunks.get("err", b"").decode("latin-1"), wrote[0]

    # -- the end ------------------------------------------------------------------
    def deliver_default(self) -> None:
        for var in ("DEFAULT", "ORGMAIL"):
            name = self.env.get(var, "")
            if not name:
                continue
            held: Optional[contextlib.ExitStack] = None
            try:
                if name != "/dev/null" and not name.endswith("/") and not self.real(name).is_dir():
                    lock = name + self.env.get("LOCKEXT", ".lock")
                    held = self.take_lock(lock, self.real(lock))
                    if held is None:
                        continue
            except LabError as exc:
                self.log(f"procmail: {exc}\n")
                continue
            try:
                ok, folder, length = self.to_folders([name], self.mail, False,
                                                     len(self.sections()[0]))
            finally:
                if held is not None:
                    held.close()
            if ok:
                self.delivered = True
                self.env["LASTFOLDER"] = folder
                self.folders.append(folder)
                self.final = (folder, length)
                return
        self.log(f'procmail: Couldn\'t deliver to "{self.env.get("DEFAULT", "")}"\n')

    def abstract(self, folder: str, length: int) -> None:
        """procmail's log abstract: From_ line, Subject, folder and length."""
        if not self.env.get("LOGFILE") or self.env.get("LOGABSTRACT", "").lower() in ("no", "0", "off"):
            return
        lines = []
        if self.mail.startswith(b"From "):
            lines.append(self.mail.split(b"\n", 1)[0].decode("latin-1") + "\n")
        header, _ = self.sections()
        m = re.search(rb"(?im)^Subject:[^\n]*", header)
        if m:
            lines.append(" " + m.group().decode("latin-1")[:78] + "\n")
        line = f"  Folder: {folder}"[:70]         # procmail cuts long folder names
        col = len(line)
        tabs = ""
        while True:
            tabs += "\t"
            col = (col // 8 + 1) * 8
            if col >= 72:
                break
        lines.append(f"{line}{tabs}{length:7d}\n")
        self.log("".join(lines))

    def _set_sender(self, sender: str) -> None:
        stamp = time.asctime(time.localtime(self.cfg.now()))
        line = f"From {sender}  {stamp}\n".encode("latin-1", "replace")
        self.mail = line + (self.mail.split(b"\n", 1)[1] if self.mail.startswith(b"From ") else self.mail)


def _b32(n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    out = ""
    for _ in range(4):
        out += alphabet[n % 32]
        n //= 32
    return out
