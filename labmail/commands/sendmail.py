"""``labmail sendmail``: queue a message read on standard input, like Postfix's sendmail(1).

Postfix's ``sendmail`` does not talk SMTP: it hands the message to
``postdrop``, which writes it into the queue directory; ``pickup`` and
``cleanup`` then add the ``Received:`` line and any missing ``Message-Id``,
``Date`` and ``From``, and the queue manager delivers it.  This command does
those steps on a lab host's state directory: it writes one durable queue file
into ``incoming/`` (the running lab's queue manager finds it at its next
poll, within half a second; a stopped host delivers it when started) and logs
the ``postfix/pickup`` and ``postfix/cleanup`` lines.

Exit codes follow sysexits.h as Postfix 3.7 uses them: 0 queued; 75
(EX_TEMPFAIL) for every fatal error Postfix reports, including a missing
recipient and a bad option (measured: Postfix's sendmail exits 75, not 64,
there); 66 (EX_NOINPUT) when standard input cannot be read; 64 (EX_USAGE)
when the lab-specific ``--state`` does not hold a host.
"""
from __future__ import annotations

import argparse
import email.utils
import getpass
import os
import re
import sys
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, NoReturn, List, Optional, Sequence, Tuple

NAME = "sendmail"
ORDER = 43
HELP = "queue a message read on standard input (Postfix's sendmail / postdrop)"
DESCRIPTION = """\
Read a message on standard input and put it into a lab host's queue, as
Postfix's sendmail(1) does through postdrop.  Without -i (or -oi) a line
holding only "." ends the message.

examples:
  printf 'Subject: hi\\n\\nhello\\n' | labmail sendmail -c /tmp/lab/mail.example.com alice
  labmail sendmail -t -f bob@example.com -c /tmp/lab/mail.example.com < message.eml
"""

EX_OK = 0
EX_USAGE = 64
EX_NOINPUT = 66
EX_TEMPFAIL = 75


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .mailq import add_state_argument
    add_state_argument(p)
    p.add_argument("-t", dest="extract", action="store_true",
                   help="take recipients from To:, Cc: and Bcc: (Bcc: is removed)")
    p.add_argument("-f", dest="sender", metavar="SENDER",
                   help="envelope sender (default: your login name @ myorigin)")
    p.add_argument("-F", dest="full_name", metavar="NAME",
                   help="full name for a From: header the MTA adds")
    p.add_argument("-i", dest="ignore_dots", action="store_true",
                   help='a line holding only "." does not end the message')
    p.add_argument("-o", dest="options", action="append", default=[], metavar="OPT",
                   help="sendmail options: -oi is -i; others are accepted and ignored")
    p.add_argument("--hostname", default=None,
                   help="the host's name (default: myhostname from its main.cf)")
    p.add_argument("recipients", nargs="*", help="recipient addresses")

    def error(message: str) -> "NoReturn":    # Postfix prints its usage and exits 75
        print(f"sendmail: {message}", file=sys.stderr)
        print("sendmail: fatal: usage: sendmail [options]", file=sys.stderr)
        raise SystemExit(EX_TEMPFAIL)
    p.error = error  # type: ignore[method-assign,assignment]


def _fatal(message: str, status: int = EX_TEMPFAIL) -> int:
    try:
        user = getpass.getuser()
    except Exception:                          # no login name (containers)
        user = "unknown"
    print(f"sendmail: fatal: {user}({os.getuid()}): {message}", file=sys.stderr)
    return status


def read_message(stream, ignore_dots: bool) -> bytes:
    """The message from *stream*, ending at EOF (or a lone ``.`` without -i)."""
    if ignore_dots:
        return stream.read()
    out = []
    for line in stream:
        if line.rstrip(b"\r\n") == b".":
            break
        out.append(line)
    return b"".join(out)


def split_message(data: bytes) -> Tuple[bytes, bytes]:
    """(header block including its blank line, body); the header ends at the
    first empty line (a message may start with one: no header at all).

    >>> split_message(b"Subject: x\\n\\nbody\\n")
    (b'Subject: x\\n\\n', b'body\\n')
    """
    for blank in (b"\r\n", b"\n"):
        if data.startswith(blank):
            return blank, data[len(blank):]
    m = re.search(rb"\n\r?\n", data)
    if m is None:
        return data, b""
    return data[:m.end()], data[m.end():]


def header_recipients(data: bytes) -> List[str]:
    """Addresses in To:, Cc: and Bcc: (what ``sendmail -t`` delivers to)."""
    head, _ = split_message(data)
    msg = BytesHeaderParser().parsebytes(head)
    values: List[str] = []
    for name in ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"):
        values += [str(v) for v in msg.get_all(name, [])]
    return [addr for _, addr in email.utils.getaddresses(values) if addr]


def drop_bcc(data: bytes) -> bytes:
    """Remove ``Bcc:`` header fields (with continuation lines), as cleanup does."""
    head, body = split_message(data)
    out, skipping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"bcc:")
        if not skipping:
            out.append(line)
    return b"".join(out) + body


def qualify(address: str, origin: str) -> str:
    """``alice`` -> ``alice@myorigin`` (trivial-rewrite's append_at_myorigin)."""
    if not address or "@" in address:
        return address
    return f"{address}@{origin}"


def _host_settings(state: Path, hostname: Optional[str]) -> Tuple[str, str, str]:
    """(myhostname, myorigin, mail_name) from the host's main.cf."""
    from ..mta.maincf import MainCf
    cf_path = state / "etc" / "postfix" / "main.cf"
    overrides = {"myhostname": hostname} if hostname else None
    name = hostname or (state.name if "." in state.name else "localhost.localdomain")
    try:
        cf = MainCf.from_file(cf_path, overrides=overrides)
        name = cf.get("myhostname") or name
        return name, cf.get("myorigin") or name, cf.get("mail_name") or "Postfix"
    except Exception:                          # no or unreadable main.cf: Postfix's defaults
        return name, name, "Postfix"


def submit(state: Path, data: bytes, recipients: Sequence[str], *, sender: Optional[str],
           extract: bool = False, hostname: Optional[str] = None, full_name: Optional[str] = None,
           user: Optional[str] = None, uid: Optional[int] = None,
           clock: Optional[Any] = None, ids: Optional[Any] = None) -> str:
    """Queue *data* on the host at *state* like sendmail/postdrop/pickup/cleanup.

    Returns the queue id.  Raises ``ValueError`` when there is no recipient
    and ``FileNotFoundError`` when *state* has no queue.  A lesson passes the
    lab's *clock* and *ids* (and a fixed *user*/*uid*) so the queue id, the
    dates and the log lines repeat from run to run; ``host.run_queue()``
    then delivers at once instead of at the queue manager's next poll.

    >>> import tempfile, pathlib
    >>> from labmail.clock import Clock, IdGenerator
    >>> from labmail.mta.queue import Queue
    >>> state = pathlib.Path(tempfile.mkdtemp()) / "mail.example.com"
    >>> queue = Queue(state, Clock(), IdGenerator())
    >>> qid = submit(state, b"Subject: x\\n\\nhi\\n", ["alice"], sender="root")
    >>> [r.address for r in queue.load(qid).recipients]
    ['alice@mail.example.com']
    """
    from ..clock import Clock, IdGenerator
    from ..log import MailLog
    from ..mta import cleanup, logfmt
    from ..mta.queue import Queue, normalize_crlf
    clock = clock or Clock()
    ids = ids or IdGenerator()
    queue = Queue(state, clock, ids, create=False)
    myhostname, origin, mail_name = _host_settings(state, hostname)
    if user is None:
        try:
            user = getpass.getuser()
        except Exception:
            user = "root"
    uid = os.getuid() if uid is None else uid
    rcpts = list(recipients)
    if extract:
        rcpts += header_recipients(data)
        data = drop_bcc(data)
    rcpts = [qualify(r, origin) for r in rcpts]
    if not rcpts:
        raise ValueError("No recipient addresses found in message header" if extract else
                         "Recipient addresses must be specified on the command line or "
                         "via the -t option")
    envelope = qualify(sender if sender is not None else user, origin)
    now = clock.now()
    qid = queue.new_id()
    content = normalize_crlf(data)
    if content and not content.endswith(b"\r\n"):
        content += b"\r\n"
    if full_name and "from" not in cleanup.header_names(content):
        content = (f"From: {email.utils.formataddr((full_name, envelope))}\r\n").encode() + content
    content = cleanup.add_missing_headers(content, queue_id=qid, myhostname=myhostname,
                                          sender=envelope, when=now)
    # pickup(8)'s trace header for mail that did not come in over SMTP
    received = (f"Received: by {myhostname} ({mail_name}, from userid {uid})\r\n"
                f"\tid {qid}; {cleanup.rfc2822_date(now)}\r\n").encode("utf-8")
    log = MailLog(state / "var" / "log" / "maillog", myhostname, clock, ids)
    qf = queue.make(envelope, rcpts, received + content, queue_id=qid,
                    attrs={"rewrite_context": "local", "uid": str(uid)})
    # logged before the file appears in incoming/, where a running qmgr may take it at once
    log.write(logfmt.PICKUP, f"{qid}: uid={uid} from=<{sender if sender is not None else user}>")
    msgid = ""
    for line in (received + content).split(b"\r\n"):
        if not line:
            break
        if line.lower().startswith(b"message-id:"):
            msgid = line.split(b":", 1)[1].strip().decode("utf-8", "replace")
    log.write(logfmt.CLEANUP, logfmt.cleanup_message_id(qid, msgid))
    queue.write(qf)
    log.close()
    return qid


def run(args: argparse.Namespace) -> int:
    state = Path(args.state)
    if not (state / "var" / "spool" / "postfix").is_dir():
        return _fatal(f"{state}: no queue directory here (is this a lab host's state "
                      "directory? use --state DIR)", EX_USAGE)
    ignore_dots = args.ignore_dots or any(o == "i" for o in args.options)
    try:
        data = read_message(sys.stdin.buffer, ignore_dots)
    except (OSError, ValueError, AttributeError) as exc:
        return _fatal(f"cannot read the message from standard input: {exc}", EX_NOINPUT)
    try:
        submit(state, data, args.recipients, sender=args.sender, extract=args.extract,
               hostname=args.hostname, full_name=args.full_name)
    except ValueError as exc:
        return _fatal(str(exc))
    except OSError as exc:
        return _fatal(f"cannot write the queue file: {exc}")
    return EX_OK
