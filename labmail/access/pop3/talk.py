"""POP3 by hand, as with ``telnet mail.example.com 110`` (for the lessons).

A plain TCP socket: one command line out (CRLF added), one complete reply
back.  Which replies have more lines follows RFC 1939: after ``+OK``,
``LIST``/``UIDL`` without an argument, ``RETR``, ``TOP`` and ``CAPA`` send
lines up to a lone ``.`` (``AUTH`` without an argument too, RFC 5034).

>>> c = POP3Talk(host.endpoints["pop3"])                 # doctest: +SKIP
>>> c.talk("USER alice", "PASS secret", "STAT")          # doctest: +SKIP
C: USER alice
S: +OK
C: PASS secret
S: +OK Logged in.
C: STAT
S: +OK 2 1034
"""
from __future__ import annotations

import socket
from typing import List, Optional, Sequence, Tuple

__all__ = ["POP3Talk", "Exchange", "is_multiline"]

Address = Tuple[str, int]


def is_multiline(command: str, status: str) -> bool:
    """Does the reply *status* to *command* go on until a lone ``.``?"""
    if not status.startswith("+OK"):
        return False
    word, _, arg = command.strip().partition(" ")
    word = word.upper()
    return word in ("RETR", "TOP", "CAPA") or (word in ("LIST", "UIDL", "AUTH") and not arg.strip())


class Exchange:
    """Commands and their replies, shown as ``C:``/``S:`` lines."""

    def __init__(self, steps: Sequence[Tuple[str, List[str]]]) -> None:
        self.steps = list(steps)

    @property
    def replies(self) -> List[List[str]]:
        return [lines for _, lines in self.steps]

    @property
    def last(self) -> List[str]:
        return self.steps[-1][1] if self.steps else []

    def __repr__(self) -> str:
        out = []
        for cmd, lines in self.steps:
            if cmd:
                out.append(f"C: {cmd}")
            out += [f"S: {ln}" for ln in lines]
        return "\n".join(out)


class POP3Talk:
    """A raw POP3 connection that reads whole replies.

    ``source`` binds the client to an address first (``("127.0.0.9", 0)``
    plays a client from another machine).
    """

    def __init__(self, address: Address, *, source: Optional[Address] = None,
                 timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(tuple(address), timeout=timeout,  # type: ignore[arg-type]
                                             source_address=source)
        self._file = self.sock.makefile("rb")
        self.greeting = self._line()

    def _line(self) -> str:
        raw = self._file.readline(65536)
        if not raw:
            return "(connection closed by the server)"
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def send(self, command: str) -> List[str]:
        """Send one command; return the reply's lines (a multi-line one ends with '.')."""
        self.sock.sendall(command.encode("utf-8") + b"\r\n")
        lines = [self._line()]
        if is_multiline(command, lines[0]):
            for _ in range(1_000_000):          # bound: a message has an end
                ln = self._line()
                lines.append(ln)
                if ln in (".", "(connection closed by the server)"):
                    break
        return lines

    def talk(self, *commands: str) -> Exchange:
        """Send each command in turn, waiting for each reply; show both sides."""
        return Exchange([(c, self.send(c)) for c in commands])

    def close(self) -> None:
        """Drop the connection without QUIT (as a crashed client would)."""
        try:
            self._file.close()
        finally:
            self.sock.close()

    def __enter__(self) -> "POP3Talk":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
