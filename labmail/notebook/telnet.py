"""A telnet-like line client for the lessons: type a command, read the reply.

Lesson 02 talks SMTP by hand, as an administrator would with
``telnet mail.example.com 25``.  :class:`Telnet` is that: a plain TCP socket,
one line out (with the CRLF that RFC 5321 §2.3.8 requires), one complete reply
back, multi-line replies (``250-...`` continued until ``250 ...``) included.

>>> c = Telnet(host.endpoints["smtp"])               # doctest: +SKIP
>>> c.greeting                                        # doctest: +SKIP
220 mail.example.com ESMTP labmail
>>> c.send("EHLO laptop").code                        # doctest: +SKIP
250
"""
from __future__ import annotations

import socket
from typing import List, Optional, Sequence, Tuple, Union

__all__ = ["Reply", "Dialogue", "Telnet"]

Address = Tuple[str, int]


class Reply:
    """One complete server reply: its lines, code and enhanced status code.

    >>> r = Reply(["250-mail.example.com", "250 PIPELINING"])
    >>> r.code, r.last
    (250, '250 PIPELINING')
    >>> Reply(["550 5.1.1 <x@example.com>: User unknown"]).enhanced
    '5.1.1'
    """

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines: List[str] = list(lines)

    @property
    def code(self) -> int:
        """The three-digit reply code (RFC 5321 §4.2); 0 if the line has none."""
        head = self.lines[-1][:3] if self.lines else ""
        return int(head) if head.isdigit() else 0

    @property
    def enhanced(self) -> str:
        """The RFC 3463 enhanced status code (``2.1.5``), or ``''`` if absent."""
        words = self.last[4:].split(" ", 1)
        first = words[0] if words else ""
        parts = first.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            return first
        return ""

    @property
    def last(self) -> str:
        """The final line (the one with a space after the code)."""
        return self.lines[-1] if self.lines else ""

    @property
    def text(self) -> str:
        """All lines, joined with newlines."""
        return "\n".join(self.lines)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.text == other
        if isinstance(other, Reply):
            return self.lines == other.lines
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.text)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


class Dialogue:
    """Commands and replies of several steps, shown as a telnet window shows them.

    >>> d = Dialogue([("NOOP", Reply(["250 2.0.0 Ok"]))])
    >>> d
    C: NOOP
    S: 250 2.0.0 Ok
    >>> d.last.code
    250
    """

    def __init__(self, steps: Sequence[Tuple[str, Reply]]) -> None:
        self.steps: List[Tuple[str, Reply]] = list(steps)

    @property
    def replies(self) -> List[Reply]:
        """The replies, in order."""
        return [reply for _, reply in self.steps]

    @property
    def last(self) -> Reply:
        """The final reply."""
        return self.steps[-1][1]

    def __repr__(self) -> str:
        rows: List[str] = []
        for command, reply in self.steps:
            rows.append(f"C: {command}")
            rows.extend(f"S: {line}" for line in reply.lines)
        return "\n".join(rows)

    __str__ = __repr__


class Telnet:
    """A raw TCP connection that sends lines and reads SMTP-style replies.

    ``source`` binds the client side to a given address first, e.g.
    ``("127.0.0.9", 0)`` to play a stranger from outside ``mynetworks``.
    """

    def __init__(self, address: Address, *, source: Optional[Address] = None,
                 timeout: float = 5.0, greeting: bool = True) -> None:
        host, port = address
        self.sock = socket.create_connection((str(host), int(port)), timeout=timeout,
                                             source_address=source)
        self._file = self.sock.makefile("rb")
        self.greeting: Optional[Reply] = self.read_reply() if greeting else None

    def read_reply(self) -> Reply:
        """Read one complete reply (all continuation lines)."""
        lines: List[str] = []
        for _ in range(1000):            # bound: a reply is never this long
            raw = self._file.readline()
            if not raw:
                lines.append("(connection closed by the server)")
                break
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line)
            if line[3:4] != "-":
                break
        return Reply(lines)

    def write(self, data: Union[bytes, str]) -> None:
        """Send bytes as they are (no line ending added)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send(self, line: str) -> Reply:
        """Send one command line (CRLF added) and return the server's reply."""
        self.write(line.encode("utf-8") + b"\r\n")
        return self.read_reply()

    def talk(self, *lines: str) -> Dialogue:
        """Send each command in turn, waiting for each reply; show both sides.

        >>> c.talk("HELO laptop", "MAIL FROM:<bob@example.org>")   # doctest: +SKIP
        C: HELO laptop
        S: 250 mail.example.com
        C: MAIL FROM:<bob@example.org>
        S: 250 2.1.0 Ok
        """
        return Dialogue([(line, self.send(line)) for line in lines])

    def send_lines(self, lines: Sequence[str]) -> Reply:
        """Send several lines at once (message content) and read one reply.

        Nothing is changed on the way: a line that is a lone ``.`` ends the
        message, exactly as it would when typed into telnet.
        """
        self.write("".join(line + "\r\n" for line in lines).encode("utf-8"))
        return self.read_reply()

    def close(self) -> None:
        """Close the connection (without QUIT)."""
        try:
            self._file.close()
        finally:
            self.sock.close()

    def __enter__(self) -> "Telnet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
