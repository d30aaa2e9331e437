"""Checks for the lessons' exercises: pass quietly, or explain what went wrong.

Each ``check_*`` function looks at what really happened in the lab (the
server's transcripts, the files in the Maildirs) and either returns a
:class:`Passed` note, or raises :class:`CheckFailed` whose message is a hint
phrased in terms of mail — what the server saw, and where to look — not in
terms of Python.

>>> check_envelope(host, "bob@example.org", ["alice@example.com"])   # doctest: +SKIP
Correct: the server received MAIL FROM:<bob@example.org> and RCPT TO:<alice@example.com>.
"""
from __future__ import annotations

import email.message
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence

from .notebook.render import messages, received_queue_id, wait_idle
from .notebook.smtp_diagram import command_pairs, verb

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

__all__ = ["CheckFailed", "Passed", "Transaction", "transactions", "check_envelope",
           "check_blind_copy", "check_dot_stuffing", "check_received", "check_firewall",
           "check_firewall_saved", "PORT_NAMES", "MAIL_PORTS", "check_port", "check_path"]

#: header fields the servers add on the way (trace fields, RFC 5321 §4.4)
TRACE_FIELDS = {"received", "return-path", "delivered-to"}

_ADDRESS = re.compile(r"<([^>]*)>")


class CheckFailed(AssertionError):
    """An exercise is not solved yet; the message says why and what to try."""


class Passed:
    """A successful check: shows as its message in the notebook."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__


@dataclass
class Transaction:
    """One mail transaction as the server saw it (MAIL, RCPTs, DATA)."""

    sender: str
    accepted: List[str] = field(default_factory=list)
    refused: List[str] = field(default_factory=list)
    queue_id: Optional[str] = None     # set when the message was accepted

    @property
    def delivered(self) -> bool:
        """True when the server answered 250 after the message content."""
        return self.queue_id is not None


def _address(command_line: str) -> str:
    m = _ADDRESS.search(command_line)
    return m.group(1) if m else command_line.split(":", 1)[-1].strip()


def transactions(host: "Host") -> List[Transaction]:
    """Every mail transaction in *host*'s SMTP transcripts, oldest first."""
    out: List[Transaction] = []
    for transcript in host.transcripts("smtp"):
        current: Optional[Transaction] = None
        for command, code, reply in command_pairs(str(ln) for ln in transcript.lines):
            word = verb(command)
            if word == "MAIL" and code == 250:
                current = Transaction(_address(command))
                out.append(current)
            elif word == "RCPT" and current is not None:
                (current.accepted if code == 250 else current.refused).append(_address(command))
            elif word == "CONTENT" and current is not None:
                if code == 250:
                    current.queue_id = reply.rsplit(" ", 1)[-1]
                current = None
            elif word in ("RSET", "EHLO", "HELO"):
                current = None
    return out


def _last_delivered(host: "Host") -> Transaction:
    wait_idle(host)
    done = [t for t in transactions(host) if t.delivered]
    if not done:
        raise CheckFailed(
            f"{host.hostname} has not accepted any message yet.  A message is accepted "
            "when the server answers 250 to the end of DATA.  Run your cell, then look "
            "at print(host.last_transcript()) to see how far the dialogue got.")
    return done[-1]


def _norm(addresses: Iterable[str]) -> List[str]:
    return sorted({a.strip().strip("<>").lower() for a in addresses})


def check_envelope(host: "Host", sender: str, recipients: Sequence[str]) -> Passed:
    """The last message *host* accepted had this envelope sender and these recipients.

    >>> check_envelope(host, "bob@example.org", ["alice@example.com"])  # doctest: +SKIP
    """
    t = _last_delivered(host)
    want_from, got_from = sender.strip("<>").lower(), t.sender.lower()
    if got_from != want_from:
        raise CheckFailed(
            f"The envelope sender was MAIL FROM:<{t.sender}>, but the exercise wants "
            f"<{sender}>.  The envelope sender is what your client says in MAIL FROM "
            "(smtplib: the first argument of sendmail()); the From: header in the text "
            "does not set it.")
    want, got = _norm(recipients), _norm(t.accepted)
    missing = [a for a in want if a not in got]
    extra = [a for a in got if a not in want]
    if missing:
        refused = [a for a in t.refused if a.lower() in missing]
        why = (f"  The server refused {', '.join('<' + a + '>' for a in refused)}: "
               "read its reply in the transcript." if refused else
               "  Only envelope recipients (RCPT TO; smtplib: the second argument of "
               "sendmail()) get a copy: To: and Cc: headers are not read by the server.")
        raise CheckFailed(
            f"Queue id {t.queue_id} was accepted for {', '.join('<' + a + '>' for a in got)} "
            f"but not for {', '.join('<' + a + '>' for a in missing)}.{why}")
    if extra:
        raise CheckFailed(
            f"Queue id {t.queue_id} also went to {', '.join('<' + a + '>' for a in extra)}, "
            "which the exercise did not ask for: every RCPT TO the server accepts gets a copy.")
    rcpts = " ".join(f"RCPT TO:<{a}>" for a in t.accepted)
    return Passed(f"Correct: the server received MAIL FROM:<{t.sender}> and {rcpts} "
                  f"(queued as {t.queue_id}).")


def check_blind_copy(host: "Host", visible: str = "alice@example.com",
                     hidden: str = "bob@example.com") -> Passed:
    """One message went to *visible* and, blind, to *hidden* (named in no header).

    >>> check_blind_copy(host)                                        # doctest: +SKIP
    """
    t = _last_delivered(host)
    accepted = _norm(t.accepted)
    hidden_l, visible_l = hidden.lower(), visible.lower()
    if hidden_l not in accepted or visible_l not in accepted:
        lacking = [a for a in (visible_l, hidden_l) if a not in accepted]
        raise CheckFailed(
            f"Your last message (queue id {t.queue_id}) went to "
            f"{', '.join('<' + a + '>' for a in accepted)} only; it must go to both "
            f"<{visible}> and <{hidden}> in ONE transaction.  Missing: "
            f"{', '.join('<' + a + '>' for a in lacking)}.  Give both addresses as "
            "envelope recipients (RCPT TO; the second argument of sendmail()).")
    copies = {}
    for addr in (visible, hidden):
        found = messages(host, addr.lower().split("@")[0], queue_id=t.queue_id)
        if not found:
            raise CheckFailed(f"<{addr}>'s Maildir has no copy of queue id {t.queue_id}; "
                              "did the server answer 250 after DATA?")
        copies[addr] = found[-1][1]
    msg = copies[hidden]
    shown = [f"{name}: {value}" for name, value in msg.items()
             if name.lower() not in TRACE_FIELDS and hidden_l in str(value).lower()]
    if shown:
        raise CheckFailed(
            f"<{hidden}> got the message, but is named in the text every reader sees: "
            f"{'; '.join(shown)}.  A blind copy names its reader only in the envelope "
            "(RCPT TO); leave the address out of the To:/Cc: headers.")
    to = str(msg.get("To", ""))
    if visible_l not in to.lower():
        raise CheckFailed(
            f"The To: header is {to!r}: readers should see <{visible}> there.  "
            "Write it into the message text as a To: line.")
    return Passed(f"Correct: one transaction (queue id {t.queue_id}) with two RCPT TO; "
                  f"the headers name only <{visible}>, so <{hidden}> stays hidden.")


def _body_lines(msg: email.message.Message) -> List[str]:
    payload = msg.get_payload(decode=True)
    if not isinstance(payload, bytes):         # a multipart message has no single body
        payload = b""
    return payload.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n").split("\n")


def check_dot_stuffing(host: "Host", user: str = "alice", subject: str = "Dots",
                       body: Sequence[str] = ("before", ".", "after")) -> Passed:
    """*user* received a message *subject* whose body is exactly *body* lines.

    >>> check_dot_stuffing(host)                                      # doctest: +SKIP
    """
    wait_idle(host)
    found = [m for _, m in messages(host, user) if str(m.get("Subject", "")) == subject]
    if not found:
        raise CheckFailed(
            f"{user} has no message with 'Subject: {subject}' yet.  Check the header line "
            "(and the empty line after the headers), and that the server answered 250 "
            "after your final '.' line: print(host.last_transcript()).")
    got = _body_lines(found[-1])
    want = list(body)
    if got == want:
        return Passed(f"Correct: the body arrived as {want}: the lone '.' survived "
                      "because you sent it as '..'.")
    cut = want[:want.index(".")] if "." in want else None
    if got == cut:
        raise CheckFailed(
            f"Only {got} arrived.  The server took your line '.' as the END of the message "
            "and queued what came before it; the lines after it were read as commands "
            "(look for 500 in the transcript).  A content line that starts with '.' must "
            "be sent with one more '.' in front (RFC 5321 §4.5.2): send '..'.")
    if ".." in got:
        raise CheckFailed(
            f"The body arrived as {got}: one dot too many.  The server removes exactly one "
            "leading dot; if your client already adds it (smtplib does), don't add "
            "another.  Over a raw socket, send '..' once.")
    raise CheckFailed(f"The body arrived as {got}, but the exercise wants {want}.")


def check_received(host: "Host", user: str, subject: str, *, sender: Optional[str] = None) -> Passed:
    """*user* on *host* has a message with this subject (from *sender*, if given).

    >>> check_received(host, "bob", "Minutes", sender="alice@example.com")  # doctest: +SKIP
    """
    wait_idle(host)
    # an IMAP client that has looked at the mailbox moved the files from new/ to cur/
    box = [m for folder in ("new", "cur") for _, m in messages(host, user, folder)]
    found = [m for m in box if str(m.get("Subject", "")) == subject]
    if not found:
        others = [str(m.get("Subject", "")) for m in box][-3:]
        seen = f"  The newest subjects there: {others}." if others else ""
        raise CheckFailed(
            f"{user}@{host.hostname} has no message with 'Subject: {subject}'.{seen}  Did the "
            "server accept it (250 after the message)?  Look at the last transcript and at "
            "the sender's log.")
    msg = found[-1]
    if sender is not None and sender.lower() not in str(msg.get("From", "")).lower():
        raise CheckFailed(
            f"The message arrived, but From: says {msg.get('From')!r}, not {sender}: send it "
            f"from {sender}'s account.")
    return Passed(f"Correct: {user} received {subject!r}"
                  + (f" from {sender}." if sender else "."))


#: the well-known ports of mail services (and ssh), with the names students know
PORT_NAMES = {25: "SMTP", 465: "SMTPS (submissions)", 587: "submission", 110: "POP3",
              995: "POP3S", 143: "IMAP", 993: "IMAPS", 22: "SSH", 783: "spamd", 80: "HTTP",
              443: "HTTPS", 53: "DNS"}
#: what the course opens at the end of its POP3/IMAP part
MAIL_PORTS = (25, 110, 995, 143, 993)
_FIREWALLD_NAMES = {25: "smtp", 465: "smtps", 587: "smtp-submission", 110: "pop3",
                    995: "pop3s", 143: "imap", 993: "imaps", 22: "ssh"}


def _firewall(target: object) -> object:
    fw = getattr(target, "firewall", target)
    if not hasattr(fw, "verdict"):
        raise CheckFailed(f"{target!r} has no firewall to check: pass a host or a Firewall.")
    return fw


def _why_closed(fw: object, port: int, src: str) -> str:
    v = fw.verdict(port, "tcp", src)                     # type: ignore[attr-defined]
    name = PORT_NAMES.get(port, f"port {port}")
    service = _FIREWALLD_NAMES.get(port)
    if v.rule.startswith("policy"):
        return (f"{name} (tcp {port}) is {v.action}PED by iptables' INPUT policy: no rule "
                f"accepts it first.  Add one: iptables -A INPUT -p tcp --dport {port} -j ACCEPT")
    if v.rule.startswith("firewalld"):
        how = f"--add-service={service}" if service else f"--add-port={port}/tcp"
        return (f"{name} (tcp {port}) is rejected by firewalld's public zone, which allows "
                f"only its services and ports.  firewall-cmd {how} (and the same with "
                "--permanent, so it survives a reload)")
    return (f"{name} (tcp {port}) is {v.action}ED by the rule '{v.rule}': iptables reads the "
            "chain top-down and the first match wins.  Delete that rule (iptables -D INPUT N) "
            "or insert your ACCEPT above it (iptables -I INPUT 1 ...)")


def check_firewall(target: object, open_ports: Sequence[int] = MAIL_PORTS,
                   closed_ports: Sequence[int] = (), *, src: str = "192.0.2.1") -> Passed:
    """A client at *src* can connect to every port of *open_ports* and to none of *closed_ports*.

    *target* is a host (its ``firewall``) or a :class:`labmail.firewall.Firewall`.

    >>> check_firewall(host, [25, 110, 995, 143, 993], closed_ports=[783])  # doctest: +SKIP
    """
    fw = _firewall(target)
    shut = [p for p in open_ports if fw.decide(p, "tcp", src) != "ACCEPT"]  # type: ignore[attr-defined]
    if shut:
        more = f" (and {len(shut) - 1} more closed port(s))" if len(shut) > 1 else ""
        raise CheckFailed(f"A mail client at {src} cannot connect: "
                          f"{_why_closed(fw, shut[0], src)}.{more}")
    leaks = [p for p in closed_ports if fw.decide(p, "tcp", src) == "ACCEPT"]  # type: ignore[attr-defined]
    if leaks:
        names = ", ".join(f"{PORT_NAMES.get(p, 'port')} (tcp {p})" for p in leaks)
        raise CheckFailed(f"{names} is open to {src}, a stranger on the internet.  Only what "
                          "the world must reach belongs open: drop the rest (iptables -P INPUT "
                          "DROP after your ACCEPT rules, or leave it out of the firewalld zone).")
    names = ", ".join(str(p) for p in open_ports)
    return Passed(f"Correct: {src} can reach tcp ports {names}"
                  + (f"; {', '.join(map(str, closed_ports))} stay closed." if closed_ports else "."))


def check_firewall_saved(target: object, open_ports: Sequence[int] = MAIL_PORTS,
                         closed_ports: Sequence[int] = (22, 465, 587, 783), *,
                         src: str = "192.0.2.1") -> Passed:
    """The firewall is saved: after a restart every one of these ports is treated as now.

    >>> check_firewall_saved(host)                                        # doctest: +SKIP
    """
    fw = _firewall(target)
    from .firewall import Firewall
    rebooted = Firewall(getattr(fw, "_path", None), own_ip=getattr(fw, "own_ip", "127.0.0.1"))
    for port in list(open_ports) + [p for p in closed_ports if p not in open_ports]:
        now = fw.decide(port, "tcp", src)                # type: ignore[attr-defined]
        later = rebooted.decide(port, "tcp", src)
        if now != later:
            word = {"ACCEPT": "open", "DROP": "dropped", "REJECT": "rejected"}
            raise CheckFailed(
                f"After a restart {PORT_NAMES.get(port, 'port')} (tcp {port}) would be "
                f"{word[later]}, not {word[now]} as now: what is not saved is lost.  iptables: "
                "iptables-save > /etc/iptables/rules.v4 (or netfilter-persistent save); "
                "firewalld: repeat the command with --permanent, or firewall-cmd "
                "--runtime-to-permanent (and systemctl enable firewalld).")
    return Passed("Correct: the saved configuration treats these ports the same after a restart.")


def check_port(host: "Host", service: str, answer: object) -> Passed:
    """*answer* is the port the lab really uses for *service* on *host*.

    >>> check_port(host, "imap", 10143)                                   # doctest: +SKIP
    """
    from .host import STANDARD_PORTS
    if service not in host.endpoints:
        raise CheckFailed(f"{host.hostname} has no {service} service running; start the lab "
                          "first (lab.start()).")
    port = host.endpoints[service][1]
    standard = STANDARD_PORTS.get(service)
    if answer is None:
        raise CheckFailed(f"No answer yet: assign the port of {service} (a number).")
    if answer == port:
        return Passed(f"Correct: {service} (standard port {standard}) listens on "
                      f"{host.endpoints[service][0]}:{port} in this lab.")
    if answer == standard:
        raise CheckFailed(f"{standard} is {service}'s standard port, the one a real server "
                          "uses.  Only root may listen below 1024, so the lab adds its "
                          "port_base: look at the host's port table.")
    if isinstance(answer, str) or isinstance(answer, tuple):
        raise CheckFailed(f"Give the port as a number (an int), not {answer!r}.")
    raise CheckFailed(f"{answer!r} is not where {service} listens; print(host.port_table()) "
                      "lists every service with its address and port.")


def check_path(host: "Host", real_path: str, answer: object) -> Passed:
    """*answer* is where *host* keeps the file a real server has at *real_path*.

    >>> check_path(host, "/etc/aliases", host.path("/etc/aliases"))       # doctest: +SKIP
    """
    from pathlib import Path
    want = host.path(real_path)
    if answer is None:
        raise CheckFailed("No answer yet: assign the path to the variable.")
    got = Path(str(answer))
    if got == want:
        return Passed(f"Correct: this host's {real_path} is {want}, and it "
                      f"{'exists' if want.exists() else 'does not exist yet'}.")
    if str(got) == real_path:
        raise CheckFailed(f"{real_path} is where a real server keeps it.  The lab's hosts "
                          "share one machine, so each keeps its files under its own state "
                          f"directory: host.path({real_path!r}) maps the real path there.")
    raise CheckFailed(f"{got} is not this host's {real_path}; host.path() turns a real "
                      "server's path into the lab's.")


def __getattr__(name: str) -> object:
    # lesson 12's checks, re-exported lazily: labmail.course_capstone imports this module
    from . import course_capstone
    if name in course_capstone.__all__:
        return getattr(course_capstone, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
