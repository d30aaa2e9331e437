"""The mail client in the notebook (an MUA): read over IMAP, send over submission.

:class:`MailClient` holds accounts on the lab's hosts.  Reading uses IMAP
(``imaplib`` through :mod:`labmail.clients`, so TLS checks the host's name):
implicit TLS on the ``imaps`` port when the host has one, else ``STARTTLS``
on ``imap`` when offered.  Sending uses the submission port 587 with
``STARTTLS`` and ``AUTH`` (RFC 6409, RFC 3207, RFC 4954) when the host
listens there, else port 25 (with ``STARTTLS`` when offered); a copy goes
to the ``Sent`` folder when there is one, as Thunderbird does.

The pure helpers render what a client shows: :func:`headers_text`,
:func:`mime_tree`, :func:`message_list_text`.

>>> raw = (b"From: Bob <bob@example.org>\\r\\nSubject: Hi\\r\\nMIME-Version: 1.0\\r\\n"
...        b"Content-Type: multipart/mixed; boundary=X\\r\\n\\r\\n--X\\r\\n"
...        b"Content-Type: text/plain\\r\\n\\r\\nhello\\r\\n--X\\r\\n"
...        b"Content-Type: application/pdf; name=a.pdf\\r\\n\\r\\nPDF\\r\\n--X--\\r\\n")
>>> print(mime_tree(raw))
multipart/mixed
├── text/plain (5 bytes)
└── application/pdf name=a.pdf (3 bytes)
"""
from __future__ import annotations

import email
import email.policy
import email.utils
import imaplib
import mimetypes
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from .. import clients
from ._ui import Tool, esc, html_table, ipywidgets, pre

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host

__all__ = ["Account", "Summary", "headers_text", "mime_tree", "message_list_text",
           "MailClient", "VIEWS"]

VIEWS = ("headers", "raw", "mime")
_LIST = re.compile(rb'\((?P<flags>[^)]*)\) (?:"(?P<d1>[^"]*)"|NIL) (?P<name>.+)$')


@dataclass(frozen=True)
class Account:
    """A mailbox on a lab host: ``alice`` on ``mail.example.com``."""

    host: "Host"
    user: str
    password: str

    @property
    def address(self) -> str:
        """The account's mail address (``user@$mydomain``)."""
        domain = self.host.config.get("mydomain") or self.host.hostname.partition(".")[2]
        return f"{self.user}@{domain}"

    def __str__(self) -> str:
        return f"{self.address} on {self.host.hostname}"


@dataclass(frozen=True)
class Summary:
    """One line of the message list."""

    uid: int
    date: str
    sender: str
    subject: str
    flags: Tuple[str, ...]
    size: int


def _parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.default)


def headers_text(raw: bytes, *, all_headers: bool = True) -> str:
    """The header section, one field per line (unfolded), trace fields included."""
    msg = _parse(raw)
    names = None if all_headers else {"from", "to", "cc", "subject", "date"}
    return "\n".join(f"{k}: {' '.join(str(v).split())}" for k, v in msg.items()
                     if names is None or k.lower() in names)


def mime_tree(raw: bytes) -> str:
    """The MIME structure as a tree: content types, file names and decoded sizes."""
    rows: List[str] = []

    def label(part: Message) -> str:
        text = part.get_content_type()
        name = part.get_filename()
        if name:
            text += f" name={name}"
        if not part.is_multipart():
            payload = part.get_payload(decode=True) or b""
            text += f" ({len(payload)} bytes)"
        return text

    def walk(part: Message, prefix: str, last: bool, top: bool) -> None:
        rows.append(label(part) if top else prefix + ("└── " if last else "├── ") + label(part))
        if part.is_multipart():
            kids = part.get_payload()
            inner = "" if top else prefix + ("    " if last else "│   ")
            for i, kid in enumerate(kids):
                walk(kid, inner, i == len(kids) - 1, False)

    walk(_parse(raw), "", True, True)
    return "\n".join(rows)


def message_list_text(items: Sequence[Summary]) -> str:
    """The message list as a client shows it (``N`` marks unread)."""
    if not items:
        return "  (no messages)"
    rows = [f"  {'UID':>4}  {'':1} {'Date':<17} {'From':<28} Subject"]
    for s in items:
        unread = "" if "\\Seen" in s.flags else "N"
        rows.append(f"  {s.uid:>4}  {unread:1} {s.date[:17]:<17} {s.sender[:28]:<28} {s.subject}")
    return "\n".join(rows)


def _short_date(value: str) -> str:
    try:
        return email.utils.parsedate_to_datetime(value).strftime("%d %b %Y %H:%M")
    except (TypeError, ValueError):
        return value


class MailClient(Tool):
    """A small MUA for the lab: folders, messages, three views of a message, compose.

    >>> mua = MailClient(host, "alice", "wonderland")                  # doctest: +SKIP
    >>> mua.send("bob@example.com", "Hi", "Lunch?")                     # doctest: +SKIP
    >>> mua                   # folders and the INBOX list, as text      # doctest: +SKIP
    >>> mua.widget()          # the interactive client                   # doctest: +SKIP
    """

    def __init__(self, host: "Host", user: str, password: str, *, timeout: float = 10.0) -> None:
        self.accounts: List[Account] = [Account(host, user, password)]
        self.current = 0
        self.folder = "INBOX"
        self.timeout = timeout
        self.log: List[str] = []

    @property
    def account(self) -> Account:
        """The account in use."""
        return self.accounts[self.current]

    def add_account(self, host: "Host", user: str, password: str) -> Account:
        """Another account (on any lab host); :meth:`use` switches to it."""
        acc = Account(host, user, password)
        self.accounts.append(acc)
        return acc

    def use(self, address_or_index: Any) -> Account:
        """Switch account by its index or its address."""
        if isinstance(address_or_index, int):
            self.current = address_or_index
        else:
            self.current = [a.address for a in self.accounts].index(address_or_index)
        self.folder = "INBOX"
        return self.account

    # -- IMAP ------------------------------------------------------------------------
    def _imap(self) -> imaplib.IMAP4:
        acc = self.account
        ctx = acc.host.lab.client_tls_context()
        if "imaps" in acc.host.endpoints:
            conn: imaplib.IMAP4 = clients.IMAP4_SSL(acc.host, ssl_context=ctx, timeout=self.timeout)
        else:
            conn = clients.IMAP4(acc.host, timeout=self.timeout)
            if "STARTTLS" in conn.capabilities:
                conn.starttls(ssl_context=ctx)
        conn.login(acc.user, acc.password)
        return conn

    def folders(self) -> List[str]:
        """Every folder of the account (IMAP ``LIST "" "*"``)."""
        conn = self._imap()
        try:
            _typ, data = conn.list()
        finally:
            conn.logout()
        names = []
        for item in data:
            m = _LIST.match(item if isinstance(item, bytes) else b"")
            if m:
                names.append(m.group("name").decode("utf-8", "replace").strip('"'))
        return sorted(names, key=lambda n: (n != "INBOX", n.lower()))

    def messages(self, folder: Optional[str] = None) -> List[Summary]:
        """The folder's messages (headers only; nothing is marked read)."""
        folder = folder or self.folder
        conn = self._imap()
        try:
            typ, data = conn.select(_quote(folder), readonly=True)
            if typ != "OK":
                raise ValueError(f"no folder {folder!r}: {(data[0] or b'').decode(errors='replace')}")
            if int(data[0] or 0) == 0:
                return []
            _typ, rows = conn.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS "
                                  "(FROM SUBJECT DATE)])")
        finally:
            conn.logout()
        out = []
        for row in rows:
            if not isinstance(row, tuple):
                continue
            meta, header = row[0].decode("ascii", "replace"), row[1]
            uid = int(re.search(r"UID (\d+)", meta).group(1))          # type: ignore[union-attr]
            flags = tuple(re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split())  # type: ignore[union-attr]
            size = int(re.search(r"RFC822\.SIZE (\d+)", meta).group(1))  # type: ignore[union-attr]
            h = _parse(header)
            out.append(Summary(uid, _short_date(str(h.get("Date", ""))), str(h.get("From", "")),
                               str(h.get("Subject", "")), flags, size))
        return sorted(out, key=lambda s: s.uid)

    def fetch(self, uid: int, folder: Optional[str] = None, *, mark_read: bool = True) -> bytes:
        """The whole message; like a client that opens it, this sets ``\\Seen``."""
        folder = folder or self.folder
        conn = self._imap()
        try:
            conn.select(_quote(folder), readonly=not mark_read)
            item = "BODY[]" if mark_read else "BODY.PEEK[]"
            _typ, data = conn.uid("FETCH", str(uid), f"({item})")
        finally:
            conn.logout()
        for row in data:
            if isinstance(row, tuple):
                return bytes(row[1])
        raise ValueError(f"no message with UID {uid} in {folder}")

    def show(self, uid: int, view: str = "headers", folder: Optional[str] = None) -> str:
        """One message as text: ``headers``, ``raw`` source, or ``mime`` tree."""
        raw = self.fetch(uid, folder)
        if view == "raw":
            return raw.decode("utf-8", "replace").replace("\r\n", "\n")
        if view == "mime":
            return mime_tree(raw)
        body = _parse(raw)
        part = body.get_body(("plain",)) if hasattr(body, "get_body") else None
        text = part.get_content() if part is not None else ""
        return headers_text(raw) + "\n\n" + str(text).rstrip()

    # -- sending ---------------------------------------------------------------------
    def compose(self, to: str, subject: str, body: str, *, cc: str = "",
                attach: Sequence[Any] = ()) -> EmailMessage:
        """The message a client would send (From, To, Date, Message-ID set).

        *attach* lists files (paths) to attach; their type is guessed from the name.
        """
        acc = self.account
        msg = EmailMessage()
        msg["From"] = acc.address
        msg["To"] = to
        if cc:
            msg["Cc"] = cc
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(acc.host.clock.now())
        msg["Message-ID"] = f"<{acc.host.ids.token()}@{acc.address.partition('@')[2]}>"
        msg.set_content(body)
        for item in attach:
            path = Path(item)
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            main, _, sub = kind.partition("/")
            msg.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
        return msg

    def send(self, to: str, subject: str, body: str, *, cc: str = "",
             bcc: Sequence[str] = (), attach: Sequence[Any] = ()) -> Dict[str, Any]:
        """Send over submission (587, STARTTLS, AUTH) or port 25; returns refused recipients."""
        acc = self.account
        msg = self.compose(to, subject, body, cc=cc, attach=attach)
        rcpts = [a for _, a in email.utils.getaddresses([to, cc]) if a] + list(bcc)
        ctx = acc.host.lab.client_tls_context()
        service = "submission" if "submission" in acc.host.endpoints else "smtp"
        with clients.SMTP(acc.host, service, local_hostname="notebook",
                          timeout=self.timeout) as smtp:
            smtp.ehlo()
            tls = smtp.has_extn("starttls")
            if tls:
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if service == "submission":
                smtp.login(acc.user, acc.password)
            refused = smtp.send_message(msg, from_addr=acc.address, to_addrs=rcpts)
        port = acc.host.endpoints[service][1]
        how = f"{service} port {port}" + (" with STARTTLS" if tls else " without TLS")
        self.log.append(f"sent {subject!r} to {', '.join(rcpts)} over {how}")
        self._save_sent(msg)
        return refused

    def _save_sent(self, msg: EmailMessage) -> None:
        try:
            if "Sent" not in self.folders():
                return
            conn = self._imap()
            try:
                conn.append("Sent", "(\\Seen)", None, msg.as_bytes(policy=email.policy.SMTP))
            finally:
                conn.logout()
        except (imaplib.IMAP4.error, OSError) as exc:   # the message went out anyway
            self.log.append(f"could not save a copy in Sent: {exc}")

    # -- display ---------------------------------------------------------------------
    def text(self) -> str:
        acc = self.account
        try:
            folders = self.folders()
            listing = message_list_text(self.messages())
        except (OSError, imaplib.IMAP4.error, ValueError) as exc:
            return f"{acc}: cannot read mail: {exc}"
        return "\n".join([f"{acc}", f"Folders: {', '.join(folders)}",
                          f"{self.folder}:", listing])

    def html(self) -> str:
        acc = self.account
        try:
            items = self.messages()
            folders = self.folders()
        except (OSError, imaplib.IMAP4.error, ValueError) as exc:
            return f"<b>{esc(acc)}</b>: cannot read mail: {esc(exc)}"
        rows = [(s.uid, "" if "\\Seen" in s.flags else "●", s.date, s.sender, s.subject)
                for s in items]
        styles = ["" if "\\Seen" in s.flags else "font-weight:bold" for s in items]
        return (f"<div><b>{esc(acc)}</b> &nbsp; folders: {esc(', '.join(folders))}</div>"
                f"<div>{esc(self.folder)}</div>"
                + html_table(["UID", "", "Date", "From", "Subject"], rows, styles))

    def widget(self) -> Any:
        """The interactive client: accounts, folders, messages, views, compose."""
        from ._mailclient_widget import build
        return build(self)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
