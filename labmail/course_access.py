"""Helpers and checks for lesson 11, POP3 vs IMAP.

:class:`LabIMAPClient` is :class:`imapclient.IMAPClient` connected through
:mod:`labmail.clients`: it reaches the lab host's address while asking TLS
for the host's *name*, as a real mail program does after its resolver
answered.  The checks look at the mailbox as an IMAP client sees it and
return a :class:`~labmail.course.Passed` note or raise
:class:`~labmail.course.CheckFailed` with a hint.

>>> check_tls_only_ports({993, 995})
Correct: a firewall for TLS-only mail access opens 993 (IMAPS) and 995 (POP3S).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional

from imapclient import IMAPClient

from . import clients
from .course import CheckFailed, Passed

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

__all__ = ["LabIMAPClient", "special_use_folders", "check_junk_folder", "check_flagged",
           "check_tls_only_ports", "ACCESS_PORTS"]

#: the access protocols' standard ports (the lab listens on 10000 + port)
ACCESS_PORTS: Dict[int, str] = {110: "POP3 (STLS to upgrade)", 995: "POP3S (TLS from the start)",
                                143: "IMAP (STARTTLS to upgrade)", 993: "IMAPS (TLS from the start)"}


class LabIMAPClient(IMAPClient):
    """:class:`imapclient.IMAPClient` to a lab host, by name, verifying TLS with the lab CA.

    ``service="imaps"`` (default) speaks TLS from the first byte (port 993);
    ``service="imap"`` connects in clear text and leaves ``starttls()`` to
    the caller (port 143).

    >>> c = LabIMAPClient(host)                        # doctest: +SKIP
    >>> c.login("alice", "wonderland")                 # doctest: +SKIP
    b'Logged in'
    """

    def __init__(self, host: "Host", service: str = "imaps", **kwargs: Any) -> None:
        self._lab_host = host
        self._lab_service = service
        port = host.endpoints[service][1] if service in host.endpoints else 0
        kwargs.setdefault("ssl_context", host.lab.client_tls_context())
        super().__init__(host.hostname, port=port, ssl=service == "imaps", **kwargs)

    def _create_IMAP4(self) -> Any:  # noqa: N802 (imapclient's name)
        if self._lab_service == "imaps":
            return clients.IMAP4_SSL(self._lab_host, self._lab_service,
                                     ssl_context=self.ssl_context)
        return clients.IMAP4(self._lab_host, self._lab_service)

    def starttls(self, ssl_context: Any = None) -> Any:
        """STARTTLS on port 143, verifying with the lab CA unless told otherwise."""
        return super().starttls(ssl_context or self.ssl_context)


def _login(host: "Host", user: str, password: str) -> LabIMAPClient:
    client = LabIMAPClient(host)
    client.login(user, password)
    return client


def special_use_folders(host: "Host", user: str, password: str) -> Dict[str, str]:
    """``{"\\\\Junk": "Junk", ...}``: each special-use flag (RFC 6154) and its folder."""
    client = _login(host, user, password)
    try:
        out: Dict[str, str] = {}
        for flags, _delimiter, name in client.list_folders():
            for flag in flags:
                text = flag.decode() if isinstance(flag, bytes) else str(flag)
                if text in ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk",
                            "\\Sent", "\\Trash"):
                    out[text] = name
        return out
    finally:
        client.logout()


def check_junk_folder(host: "Host", answer: object, user: str = "alice",
                      password: str = "wonderland") -> Passed:
    """*answer* must be the name of *user*'s folder flagged ``\\Junk``."""
    if answer is None:
        raise CheckFailed("No answer yet: list the folders with list_folders() and put the "
                          "name of the one whose flags include \\Junk in junk.")
    if isinstance(answer, bytes):
        answer = answer.decode("utf-8", "replace")
    if not isinstance(answer, str):
        raise CheckFailed(f"junk should be a folder name (a string such as 'INBOX'), not "
                          f"{type(answer).__name__} {answer!r}.")
    folders = special_use_folders(host, user, password)
    wanted = folders.get("\\Junk")
    if wanted is None:
        raise CheckFailed(f"{user} has no folder flagged \\Junk on the server any more; was "
                          "it deleted or renamed? Dovecot marks special-use folders in "
                          "dovecot.conf (mailbox Junk { special_use = \\Junk }).")
    if answer != wanted:
        flag = next((f for f, n in folders.items() if n == answer), None)
        extra = f" — {answer!r} is the {flag} folder" if flag else ""
        raise CheckFailed(f"Not the spam folder{extra}. Each LIST line carries the folder's "
                          "flags; pick the name whose flags contain b'\\\\Junk'.")
    return Passed(f"Correct: {wanted!r} carries \\Junk, so every client (and the spam filter) "
                  "knows where spam goes, whatever the folder is called.")


def check_flagged(host: "Host", subject: str, flag: str = "\\Answered", user: str = "alice",
                  password: str = "wonderland", folder: str = "INBOX") -> Passed:
    """Every message in *folder* whose subject contains *subject* carries *flag*,
    and no other message does (looked at read-only, as a second client would)."""
    client = _login(host, user, password)
    try:
        client.select_folder(folder, readonly=True)
        matching = set(client.search(["SUBJECT", subject]))
        keyword = flag.lstrip("\\").upper()
        flagged = set(client.search([keyword]))
    finally:
        client.logout()
    if not matching:
        raise CheckFailed(f"{user}'s {folder} has no message whose subject contains "
                          f"{subject!r}; was it moved or deleted? Search with "
                          f"search(['SUBJECT', {subject!r}]) to find it.")
    missing = matching - flagged
    if missing:
        raise CheckFailed(f"The message(s) with UID {sorted(missing)} do not carry {flag} on "
                          f"the server. Select {folder} (read-write, not readonly), search "
                          f"for them, then add_flags(uids, [{flag.encode()!r}]).")
    others = flagged - matching
    if others:
        raise CheckFailed(f"{flag} is also on UID {sorted(others)}, which are not about "
                          f"{subject!r}: remove it there with remove_flags(), and narrow "
                          "your search (SUBJECT ...).")
    return Passed(f"Correct: {flag} is set on the server, so the phone and every other "
                  "client see it at their next sync.")


def check_tls_only_ports(answer: Optional[Iterable[int]]) -> Passed:
    """*answer*: the standard TCP ports a firewall opens for POP3 and IMAP over TLS only."""
    if answer is None:
        raise CheckFailed("No answer yet: put a set of port numbers in tls_only_ports, "
                          "e.g. {123, 456}.")
    try:
        ports = {int(p) for p in answer}  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise CheckFailed(f"tls_only_ports should be a set of numbers, not {answer!r}.") from None
    if any(p >= 10000 for p in ports):
        raise CheckFailed("Those are the lab's ports (10000 + the real one); a firewall on a "
                          "real server opens the standard ports.")
    plain = sorted(ports & {110, 143})
    if plain:
        raise CheckFailed(f"{plain} start in clear text (STLS/STARTTLS upgrade later); with "
                          "TLS from the first byte only, keep them closed.")
    smtp = sorted(ports & {25, 465, 587})
    if smtp:
        raise CheckFailed(f"{smtp} belong to SMTP (sending), not to reading mail.")
    if ports != {993, 995}:
        missing = sorted({993, 995} - ports)
        raise CheckFailed(f"Not quite: {sorted(ports)}. Which ports speak POP3 and IMAP inside "
                          f"TLS from the start? Still missing: {len(missing)} port(s).")
    return Passed("Correct: a firewall for TLS-only mail access opens 993 (IMAPS) and "
                  "995 (POP3S).")
