"""Postfix's ``mailbox_command``: local(8) hands one delivery to a command.

When ``main.cf`` sets ``mailbox_command``, local(8) does not write the
mailbox itself: it runs the command with the recipient's rights, the message
on standard input and a small environment, and reads the exit status
(local(8), EXTERNAL COMMAND DELIVERY):

* input: a ``From sender time`` line, ``Return-Path:``, ``X-Original-To:``
  and ``Delivered-To:`` prepended, lines ending in LF;
* environment: ``SHELL HOME USER EXTENSION DOMAIN LOGNAME LOCAL
  ORIGINAL_RECIPIENT RECIPIENT SENDER`` (characters outside
  ``command_expansion_filter`` become ``_``), ``PATH=/usr/bin:/bin`` and the
  ``export_environment`` names;
* the command runs directly, or through ``/bin/sh -c`` when it contains
  characters other than Postfix's safe set (``"$EXTENSION"`` does);
* exit status 0 is ``sent``; ``<sysexits.h>`` codes map to Postfix's DSN and
  text (75 EX_TEMPFAIL: ``deferred``, ``4.3.0 temporary failure``); other
  codes bounce with ``Command died with status N: "command"``; output that
  starts with an enhanced status code (``4.2.2 mailbox full``) wins.

In the lab ``/usr/bin/procmail`` (or ``procmail`` with arguments) is the
interpreter of :mod:`labmail.mda.procmail`, run in-process on the host's
files; any other command is a real subprocess, killed after
``command_time_limit``.

>>> interpret_status("/usr/bin/procmail", 75, b"")
('deferred', '4.3.0', 'temporary failure')
>>> interpret_status("/usr/local/bin/filter", 3, b"oops\\n")
('bounced', '5.3.0', 'Command died with status 3: "/usr/local/bin/filter". Command output: oops ')
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import os
import posixpath
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from .procmail import Procmail

__all__ = ["run_mailbox_command", "run_command", "interpret_status", "delivery_environment",
           "command_input", "needs_shell", "shell_words", "SYSEXITS", "EX_TEMPFAIL"]

logger = logging.getLogger("labmail.mda.command")

EX_TEMPFAIL = 75
#: <sysexits.h> codes as Postfix's sys_exits table maps them: (dsn, text).
SYSEXITS: Dict[int, Tuple[str, str]] = {
    64: ("5.3.0", "command line usage error"), 65: ("5.6.0", "data format error"),
    66: ("5.3.0", "cannot open input"), 67: ("5.1.1", "user unknown"),
    68: ("5.1.2", "host name unknown"), 69: ("5.3.0", "service unavailable"),
    70: ("5.3.0", "internal software error"), 71: ("4.3.0", "system resource problem"),
    72: ("5.3.0", "critical OS file missing"), 73: ("5.2.0", "can't create user output file"),
    74: ("5.3.0", "input/output error"), 75: ("4.3.0", "temporary failure"),
    76: ("5.5.0", "remote error in protocol"), 77: ("5.7.0", "permission denied"),
    78: ("5.3.5", "local configuration error"),
}
#: exec_command(3)'s safe characters: anything else means "let /bin/sh do it".
SAFE_CHARS = set("1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t")
COMMAND_EXPANSION_FILTER = set("1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
OUTPUT_LIMIT = 4096          # Postfix keeps one VSTREAM buffer of command output
_DSN = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\s+")
PROCMAIL_PATHS = ("procmail", "/usr/bin/procmail", "/usr/local/bin/procmail")
SPAMC_PATHS = ("spamc", "/usr/bin/spamc", "/usr/local/bin/spamc")

SpamcFn = Callable[[List[str], bytes], Tuple[bytes, str, int]]


def needs_shell(command: str) -> bool:
    """True when Postfix would run *command* through ``/bin/sh -c``.

    >>> needs_shell("/usr/bin/procmail"), needs_shell('/usr/bin/procmail -a "$EXTENSION"')
    (False, True)
    """
    return not set(command) <= SAFE_CHARS or not command.strip()


def _filter(value: str) -> str:
    return "".join(ch if ch in COMMAND_EXPANSION_FILTER else "_" for ch in value)


def delivery_environment(*, user: str, home: str, sender: str, recipient: str,
                         original_recipient: str, extension: str = "", shell: str = "/bin/sh",
                         export: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment local(8) gives a delivery command.

    >>> env = delivery_environment(user="alice", home="/home/alice", sender="bob@example.org",
    ...     recipient="alice+lists@example.com", original_recipient="alice+lists@example.com",
    ...     extension="lists")
    >>> env["LOCAL"], env["EXTENSION"], env["DOMAIN"], env["PATH"]
    ('alice+lists', 'lists', 'example.com', '/usr/bin:/bin')
    """
    local, _, domain = recipient.rpartition("@")
    if not _:
        local, domain = recipient, ""
    env = dict(export or {})
    env["PATH"] = "/usr/bin:/bin"
    values = {"SHELL": shell, "HOME": home, "USER": user, "LOGNAME": user,
              "SENDER": sender, "RECIPIENT": recipient, "LOCAL": local,
              "DOMAIN": domain, "ORIGINAL_RECIPIENT": original_recipient or recipient}
    if extension:
        values["EXTENSION"] = extension
    for key, value in values.items():
        if value or key in ("SENDER",):
            env[key] = _filter(value)
    return env


def command_input(data: bytes, *, sender: str, recipient: str, original_recipient: str,
                  when: Union[float, _dt.datetime]) -> bytes:
    """The bytes local(8) writes to the command: envelope lines, then the message (LF).

    >>> command_input(b"Subject: x\\r\\n\\r\\nhi\\r\\n", sender="", recipient="a@b",
    ...               original_recipient="a@b", when=0).split(b"\\n")[1:4]
    [b'Return-Path: <>', b'X-Original-To: a@b', b'Delivered-To: a@b']
    """
    if not isinstance(when, _dt.datetime):
        when = _dt.datetime.fromtimestamp(when)
    stamp = time.asctime(when.timetuple())          # ctime(3) format, as mail_copy writes it
    head = (f"From {sender or 'MAILER-DAEMON'}  {stamp}\n"
            f"Return-Path: <{sender}>\n"
            f"X-Original-To: {original_recipient or recipient}\n"
            f"Delivered-To: {recipient}\n")
    return head.encode("utf-8", "replace") + data.replace(b"\r\n", b"\n")


def interpret_status(command: str, status: int, output: bytes,
                     timed_out: bool = False) -> Tuple[str, str, str]:
    """Postfix's reading of a command's end: (``sent|deferred|bounced``, dsn, text).

    *status* is the exit status, or minus the signal number that killed it.
    """
    text = output[:OUTPUT_LIMIT].decode("latin-1")
    text = text.replace("\t", " ").replace("\n", " ")
    text = "".join(ch if 32 <= ord(ch) < 127 else "_" for ch in text)
    tail = f". Command output: {text}" if text else ""
    if timed_out:
        return "bounced", "5.3.0", f'Command time limit exceeded: "{command}"{tail}'
    if status == 0:
        return "sent", "2.0.0", f"delivered to command: {command}"
    if status < 0:
        # pipe_command reports a signal with 5.3.0, and local(8) goes by the DSN
        return "bounced", "5.3.0", f'Command died with signal {-status}: "{command}"{tail}'
    m = _DSN.match(text)
    if m:
        dsn = f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
        return ("deferred" if dsn[0] == "4" else "bounced"), dsn, text[m.end():]
    if status in SYSEXITS:
        dsn, why = SYSEXITS[status]
        return ("deferred" if dsn[0] == "4" else "bounced"), dsn, f"{why}{tail}"
    return "bounced", "5.3.0", f'Command died with status {status}: "{command}"{tail}'


def shell_words(command: str, env: Dict[str, str]) -> Optional[List[str]]:
    """Words of a *simple* shell command with ``$VAR`` expanded, or None.

    Enough of ``sh -c`` for ``/usr/bin/procmail -a "$EXTENSION"``: quotes,
    backslashes and ``$NAME``/``${NAME}``; anything with pipes, redirections,
    substitutions or lists is not simple.

    >>> shell_words('/usr/bin/procmail -a "$EXTENSION" -t', {"EXTENSION": "lists"})
    ['/usr/bin/procmail', '-a', 'lists', '-t']
    >>> shell_words("procmail | tee x", {}) is None
    True
    """
    if re.search(r"[|&;<>()`\n*?\[~#]|\$\(", command):
        return None
    words: List[str] = []
    cur: List[str] = []
    have = False
    i, n, quote = 0, len(command), ""
    while i < n:
        c = command[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                cur.append(c)
            i += 1
            continue
        if c == "\\" and i + 1 < n:
            cur.append(command[i + 1])
            have = True
            i += 2
            continue
        if c == "$":
            m = re.match(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))", command[i:])
            if m:
                value = env.get(m.group(1) or m.group(2), "")
                if quote:
                    cur.append(value)
                else:
                    parts = value.split()
                    if parts and value[:1] in " \t" and (cur or have):
                        words.append("".join(cur))
                        cur, have = [], False
                    for k, part in enumerate(parts):
                        if k:
                            words.append("".join(cur))
                            cur, have = [], False
                        cur.append(part)
                i += m.end()
                continue
        if quote == '"':
            if c == '"':
                quote = ""
            else:
                cur.append(c)
        elif c in "'\"":
            quote = c
            have = True
        elif c in " \t":
            if cur or have:
                words.append("".join(cur))
            cur, have = [], False
        else:
            cur.append(c)
        i += 1
    if quote:
        return None
    if cur or have:
        words.append("".join(cur))
    return words


def run_command(command: str, data: bytes, env: Dict[str, str], *, cwd: Optional[Path] = None,
                time_limit: float = 1000.0) -> Tuple[int, bytes, bool]:
    """Run *command* as local(8) does: (exit status or -signal, stdout+stderr, timed out).

    >>> run_command("cat", b"hi", {"PATH": "/usr/bin:/bin"})[:2]
    (0, b'hi')
    """
    argv = ["/bin/sh", "-c", command] if needs_shell(command) else command.split()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    except OSError:
        # exec_command() falls back to the shell when the program is not found
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd, start_new_session=True)
    try:
        out, _ = proc.communicate(data, timeout=time_limit)
        return proc.returncode, out, False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)      # the command and its offspring
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        return proc.returncode, out, True


def _lab_spamc(host: Any, user: str, spamc: Optional[SpamcFn]) -> SpamcFn:
    """``/usr/bin/spamc`` inside the lab: the lab's client talking to the host's spamd."""
    if spamc is not None:
        return spamc
    from ..spam import spamc as spamc_mod
    endpoint = getattr(host, "endpoints", {}).get("spamd") if host is not None else None

    def run(argv: List[str], message: bytes) -> Tuple[bytes, str, int]:
        if "-u" not in argv and "--username" not in argv:
            argv = ["-u", user] + list(argv)      # spamc runs with the recipient's uid
        if endpoint:
            return spamc_mod.run(argv, message, default_dest=endpoint[0], default_port=endpoint[1])
        return spamc_mod.run(argv, message)
    return run


def _lab_forward(host: Any, user: str) -> Optional[Callable[[List[str], bytes], bool]]:
    """procmail's ``! address``: $SENDMAIL, i.e. the host's sendmail/pickup."""
    if host is None:
        return None
    from ..commands.sendmail import submit

    def forward(addresses: List[str], message: bytes) -> bool:
        qid = submit(Path(host.state_dir), message, addresses, sender=None, user=user,
                     hostname=host.hostname, clock=host.clock, ids=host.ids)
        qmgr = getattr(host, "qmgr", None)
        loop = getattr(getattr(host, "lab", None), "loop", None)
        if qmgr is not None and loop is not None:
            loop.call_soon_threadsafe(qmgr.submit, qid)
        return True
    return forward


def _time_limit(host: Any) -> float:
    try:
        return float(host.config.get_time("command_time_limit"))
    except Exception:
        return 1000.0


async def run_mailbox_command(host: Any, command: str, *, user: str, home: str, data: bytes,
                              sender: str, recipient: str, original_recipient: str,
                              extension: str, spamc: Optional[SpamcFn] = None,
                              time_limit: Optional[float] = None) -> Tuple[str, str, str]:
    """Deliver *data* for *user* through ``mailbox_command`` as local(8) does.

    *data* is the message as queued (no envelope lines: they are added
    here).  Returns ``(status, dsn, text)`` with status ``sent``, ``deferred``
    or ``bounced`` and the text Postfix logs in ``status=... (text)``.
    *spamc* replaces the lab's ``/usr/bin/spamc`` (tests, or before spamd
    runs).  ``procmail`` runs in-process in an executor; other commands are
    subprocesses in the host's queue directory.

    >>> asyncio.run(run_mailbox_command(None, "cat >/dev/null", user="alice",
    ...     home="/tmp", data=b"Subject: x\\n\\nhi\\n", sender="bob@example.org",
    ...     recipient="alice@example.com", original_recipient="alice@example.com",
    ...     extension=""))
    ('sent', '2.0.0', 'delivered to command: cat >/dev/null')
    """
    when = host.clock.now() if host is not None else time.time()
    message = command_input(data, sender=sender, recipient=recipient,
                            original_recipient=original_recipient, when=when)
    export = {k: os.environ[k] for k in ("TZ", "MAIL_CONFIG", "LANG") if k in os.environ}
    limit = time_limit if time_limit is not None else _time_limit(host)
    shell = "/bin/sh"
    env = delivery_environment(user=user, home=home, sender=sender, recipient=recipient,
                               original_recipient=original_recipient, extension=extension,
                               shell=shell, export=export)
    words = shell_words(command, env) if needs_shell(command) else command.split()
    loop = asyncio.get_running_loop()
    if words and words[0] in PROCMAIL_PATHS:
        root = Path(host.state_dir) if host is not None else Path("/")
        pm = Procmail(user=user, home=home, root=root,
                      hostname=getattr(host, "hostname", None), shell=shell,
                      clock=getattr(host, "clock", None), ids=getattr(host, "ids", None),
                      spamc=_lab_spamc(host, user, spamc), forward=_lab_forward(host, user),
                      environ=env, time_limit=limit)
        try:
            result = await loop.run_in_executor(None, pm.run, message, words[1:])
        except Exception as exc:                 # a bug must not lose mail: try again later
            logger.exception("procmail failed")
            return "deferred", "4.3.0", f"temporary failure. Command output: procmail: {exc}"
        output = result.stderr.encode("latin-1", "replace") + result.stdout
        return interpret_status(command, result.status, output)
    cwd: Optional[Path] = None
    if host is not None:
        cwd = host.path("/var/spool/postfix")
        cwd.mkdir(parents=True, exist_ok=True)
        env["HOME"] = str(host.path(home))     # a real program needs the real directory
    status, out, timed_out = await loop.run_in_executor(
        None, lambda: run_command(command, message, env, cwd=cwd, time_limit=limit))
    return interpret_status(command, status, out, timed_out)
