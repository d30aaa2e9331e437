"""A mailx-like mail client for the lab: compose a MIME message, submit it over SMTP.

The course tests a new server the way an administrator does, with the
command-line client on the server itself::

    echo "body" | mailx -s "Subject" -r "Alice <alice@example.com>" -a report.pdf bob@example.org

:func:`send` does the same from Python: it builds a real message with
:class:`email.message.EmailMessage` (headers ``From``, ``To``, ``Cc``,
``Subject``, ``Date``, ``MIME-Version``; a ``multipart/mixed`` body when
files are attached) and hands it to a lab host's SMTP server from
``127.0.0.1``, the machine's own address, as mailx hands it to the local
MTA.  Like mailx it leaves ``Message-Id`` to the MTA (the host's cleanup
adds it), and like the MTA's answer it returns the queue id.

Example (with a running lab)::

    lab = labmail.Lab(ports="auto")
    host = lab.add_host("mail.example.com", users={"bob": "x"})
    lab.start()
    send(host, "bob@example.com", subject="Test", body="hello", sender="Alice <alice@example.com>")
    # <Sent 3F1A22C0E4B to bob@example.com: 250 2.0.0 Ok: queued as 3F1A22C0E4B>
"""
from __future__ import annotations

import email.utils
import mimetypes
import re
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Union

from .errors import LabError

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .lab import Lab

__all__ = ["Sent", "compose", "send", "submit"]

_QUEUED = re.compile(r"queued as ([0-9A-Za-z]+)")
Addresses = Union[str, Sequence[str], None]


@dataclass
class Sent:
    """What :func:`send` did: the queue id, the envelope and the final reply.

    >>> Sent("3F1A22C0E4B", "alice@example.com", ["bob@example.org"], 250, "2.0.0 Ok: queued as 3F1A22C0E4B")
    <Sent 3F1A22C0E4B to bob@example.org: 250 2.0.0 Ok: queued as 3F1A22C0E4B>
    """

    queue_id: Optional[str]
    sender: str
    recipients: List[str]
    code: int
    reply: str
    refused: dict = field(default_factory=dict)
    message: Optional[EmailMessage] = None

    def __repr__(self) -> str:
        return (f"<Sent {self.queue_id or '-'} to {', '.join(self.recipients)}: "
                f"{self.code} {self.reply}>")


def _listify(value: Addresses) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [a.strip() for a in value.split(",") if a.strip()]
    return [a for a in value if a]


def _bare(address: str) -> str:
    """The addr-spec of ``Name <addr>`` (what goes into the envelope)."""
    return email.utils.parseaddr(address)[1] or address.strip()


def compose(to: Addresses, subject: str = "", body: str = "", *,
            sender: Optional[str] = None, cc: Addresses = None,
            attachments: Sequence[Union[str, Path]] = (), date: Optional[str] = None,
            boundary: Optional[str] = None, headers: Optional[dict] = None) -> EmailMessage:
    """Build the message mailx would write (no ``Message-Id``: the MTA adds it).

    *boundary* fixes the MIME boundary (lessons keep outputs stable); without
    it the email package picks a random one.

    >>> msg = compose("bob@example.org", "Hi", "hello", sender="Alice <alice@example.com>",
    ...               date="Fri, 27 Nov 2026 09:00:00 +0000")
    >>> print(msg.as_string(), end="")
    From: Alice <alice@example.com>
    To: bob@example.org
    Subject: Hi
    Date: Fri, 27 Nov 2026 09:00:00 +0000
    MIME-Version: 1.0
    Content-Type: text/plain; charset="utf-8"
    Content-Transfer-Encoding: 7bit
    <BLANKLINE>
    hello
    """
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = ", ".join(_listify(to))
    if cc:
        msg["Cc"] = ", ".join(_listify(cc))
    msg["Subject"] = subject
    msg["Date"] = date or email.utils.formatdate(localtime=True)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg["MIME-Version"] = "1.0"
    if body and not body.endswith("\n"):
        body += "\n"
    msg.set_content(body)
    for item in attachments:
        path = Path(item)
        ctype, encoding = mimetypes.guess_type(path.name)
        if ctype is None or encoding is not None:
            ctype = "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        data = path.read_bytes()
        if maintype == "text":
            msg.add_attachment(data.decode("utf-8", "replace"), subtype=subtype,
                               filename=path.name)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    for part in msg.iter_parts() if msg.is_multipart() else ():
        # the email package stamps every part; MIME-Version belongs in the top header only
        del part["MIME-Version"]
    if attachments and boundary:
        msg.set_boundary(boundary)
    return msg


def _endpoint(target: Union["Host", "Lab", Tuple[str, int]]
              ) -> Tuple[Tuple[str, int], Optional["Host"]]:
    """The SMTP address to submit to, and the host behind it (None for a bare address)."""
    if isinstance(target, tuple):
        return target, None
    host: Any = target
    hosts = getattr(target, "hosts", None)
    if isinstance(hosts, dict):                      # a Lab: its first host is "this server"
        if not hosts:
            raise LabError("the lab has no host yet: lab.add_host(...) first")
        host = next(iter(hosts.values()))
    if "smtp" not in host.endpoints:
        raise LabError(f"{host.hostname} is not running: start the lab (lab.start())")
    ip, port = host.endpoints["smtp"]
    return (str(ip), int(port)), host


def submit(endpoint: Tuple[str, int], sender: str, recipients: Sequence[str], data: bytes, *,
           helo: str = "localhost", timeout: float = 30.0) -> Tuple[int, str, dict]:
    """One SMTP transaction from 127.0.0.1: returns (code, reply text, refused recipients).

    Raises :class:`smtplib.SMTPException` when the server refuses everything.
    """
    with smtplib.SMTP(endpoint[0], endpoint[1], local_hostname=helo, timeout=timeout,
                      source_address=("127.0.0.1", 0)) as smtp:
        smtp.ehlo_or_helo_if_needed()
        code, resp = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, resp, sender)
        refused = {}
        for rcpt in recipients:
            rcode, rresp = smtp.rcpt(rcpt)
            if rcode not in (250, 251):
                refused[rcpt] = (rcode, rresp)
        if len(refused) == len(recipients):
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused(refused)
        code, resp = smtp.data(data)
        if code != 250:
            raise smtplib.SMTPDataError(code, resp)
        return code, resp.decode("utf-8", "replace"), refused


def send(target: Union["Host", "Lab", Tuple[str, int]], to: Addresses, subject: str = "",
         body: str = "", *, sender: Optional[str] = None, cc: Addresses = None,
         bcc: Addresses = None, attachments: Sequence[Union[str, Path]] = (),
         headers: Optional[dict] = None, timeout: float = 30.0) -> Sent:
    """``echo body | mailx -s subject -r sender -a file... -c cc to...`` against a lab host.

    *target* is a :class:`~labmail.Host` (or a lab: its first host, or an
    ``(ip, port)`` pair).  *sender* is mailx's ``-r``: ``"Name <addr>"`` or
    a bare address; its address becomes the envelope sender (``MAIL FROM``).
    Without it the envelope sender is ``root@<the host's name>`` (the user
    running mailx on the server) and the ``From:`` header is left to the MTA.
    Returns a :class:`Sent` with the queue id of the ``250`` reply.

    >>> send(host, "bob@example.org", subject="Report", body="see attached",
    ...      sender="Alice <alice@example.com>", attachments=["report.txt"])   # doctest: +SKIP
    <Sent 9A1C7E2B30F to bob@example.org: 250 2.0.0 Ok: queued as 9A1C7E2B30F>
    """
    endpoint, host = _endpoint(target)
    date = None
    boundary = None
    if host is not None:
        date = email.utils.format_datetime(host.clock.now())
        if attachments:
            boundary = f"=-=labmail-{host.ids.token(6)}=-="
    envelope_from = _bare(sender) if sender else f"root@{host.hostname if host else 'localhost'}"
    msg = compose(to, subject, body, sender=sender, cc=cc, attachments=attachments,
                  date=date, boundary=boundary, headers=headers)
    recipients = [_bare(a) for a in _listify(to) + _listify(cc) + _listify(bcc)]
    if not recipients:
        raise ValueError("no recipients: give at least one address in to=")
    data = msg.as_bytes(policy=SMTP_POLICY)
    code, reply, refused = submit(endpoint, envelope_from, recipients, data, timeout=timeout)
    m = _QUEUED.search(reply)
    return Sent(m.group(1) if m else None, envelope_from,
                [r for r in recipients if r not in refused], code, reply, refused, msg)
