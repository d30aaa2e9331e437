"""The spamc/spamd protocol (SPAMC/1.5), sans-IO: bytes in, requests/responses out.

Everything that changes protocol state lives in this module, as tables.
A request looks like a small HTTP request::

    CHECK SPAMC/1.5\\r\\n
    User: bob\\r\\n
    Content-length: 1234\\r\\n
    \\r\\n
    <the message>

and the answer like an HTTP response::

    SPAMD/1.1 0 EX_OK\\r\\n
    Spam: True ; 7.2 / 5.0\\r\\n
    \\r\\n

>>> conn = ServerConnection()
>>> conn.receive_data(b"PING SPAMC/1.5\\r\\n\\r\\n")
[Request(method=<Method.PING: 'PING'>, version='1.5', headers=(), body=b'')]
>>> encode_response(Response(0, "PONG", version="1.5"))
b'SPAMD/1.5 0 PONG\\r\\n'
"""
from __future__ import annotations

import enum
import re
import zlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

__all__ = ["Method", "State", "Request", "Response", "RemoteProtocolError", "ServerConnection",
           "ClientConnection", "encode_request", "encode_response", "EX_CODES", "METHOD_NEEDS_BODY",
           "TRANSITIONS", "MAX_MESSAGE"]

MAX_MESSAGE = 10 * 1024 * 1024      # spamd refuses bigger requests (spamc's -s default is 500 KB)
MAX_HEADER_LINE = 8192

#: sysexits.h codes, as spamd reports them on its status line
EX_CODES: Dict[int, str] = {
    0: "EX_OK", 64: "EX_USAGE", 65: "EX_DATAERR", 66: "EX_NOINPUT", 67: "EX_NOUSER",
    68: "EX_NOHOST", 69: "EX_UNAVAILABLE", 70: "EX_SOFTWARE", 71: "EX_OSERR", 72: "EX_OSFILE",
    73: "EX_CANTCREAT", 74: "EX_IOERR", 75: "EX_TEMPFAIL", 76: "EX_PROTOCOL", 77: "EX_NOPERM",
    78: "EX_CONFIG", 79: "EX_TIMEOUT"}


class Method(str, enum.Enum):
    """Request methods spamc can send."""

    CHECK = "CHECK"
    SYMBOLS = "SYMBOLS"
    REPORT = "REPORT"
    REPORT_IFSPAM = "REPORT_IFSPAM"
    PROCESS = "PROCESS"
    HEADERS = "HEADERS"
    PING = "PING"
    TELL = "TELL"
    SKIP = "SKIP"


class State(enum.Enum):
    """Where the server is in reading one request."""

    REQUEST_LINE = "request line"
    HEADERS = "headers"
    BODY = "body"
    DONE = "done"


#: Which methods carry a message after the headers.
METHOD_NEEDS_BODY = {m: m not in (Method.PING, Method.SKIP) for m in Method}

#: (state, what arrived) -> next state. "line" a request line, "blank" the empty
#: line after headers, "header" a header line, "complete" the body's last byte.
TRANSITIONS: Dict[Tuple[State, str], State] = {
    (State.REQUEST_LINE, "line"): State.HEADERS,
    (State.HEADERS, "header"): State.HEADERS,
    (State.HEADERS, "blank+body"): State.BODY,
    (State.HEADERS, "blank"): State.DONE,
    (State.BODY, "complete"): State.DONE,
    (State.BODY, "eof"): State.DONE,            # no Content-length: the body runs to EOF
}

_REQUEST_LINE = re.compile(rb"^([A-Z_]+) SPAMC/(\d+\.\d+)\r?$")
_STATUS_LINE = re.compile(rb"^SPAMD/(\d+\.\d+) (\d+) (.*?)\r?$")


@dataclass(frozen=True)
class Request:
    """One complete request."""

    method: Method
    version: str
    headers: Tuple[Tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A header's value (case-insensitive name)."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    @property
    def user(self) -> Optional[str]:
        """The ``User:`` header: whose preferences and Bayes database to use."""
        return self.header("User")


@dataclass(frozen=True)
class Response:
    """One response. ``version`` is 1.1 for results, as spamd writes it."""

    code: int
    message: str
    headers: Tuple[Tuple[str, str], ...] = ()
    body: bytes = b""
    version: str = "1.1"

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A header's value (case-insensitive name)."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    @property
    def spam(self) -> Optional[Tuple[bool, float, float]]:
        """The ``Spam: True ; 7.2 / 5.0`` header as (is_spam, score, threshold)."""
        value = self.header("Spam")
        m = re.match(r"\s*(\w+)\s*;\s*(-?[\d.]+)\s*/\s*(-?[\d.]+)", value or "")
        if not m:
            return None
        return m.group(1).lower() in ("true", "yes"), float(m.group(2)), float(m.group(3))


class RemoteProtocolError(Exception):
    """The peer broke the protocol; ``code`` is the EX_ code to answer with."""

    def __init__(self, text: str, code: int = 76, prefix: str = "Bad header line: ") -> None:
        super().__init__(text)
        self.code, self.text, self.prefix = code, text, prefix


Event = Union[Request, RemoteProtocolError]


class ServerConnection:
    """spamd's side: feed bytes, get :class:`Request` events (one per connection)."""

    def __init__(self, max_size: int = MAX_MESSAGE) -> None:
        self.state = State.REQUEST_LINE
        self.max_size = max_size
        self._buf = bytearray()
        self._method: Optional[Method] = None
        self._version = ""
        self._headers: List[Tuple[str, str]] = []
        self._length = 0

    def _go(self, what: str) -> None:
        self.state = TRANSITIONS[(self.state, what)]

    def receive_data(self, data: bytes) -> List[Event]:
        """Feed bytes from the socket; returns the events they complete."""
        self._buf += data
        try:
            return self._parse()
        except RemoteProtocolError as err:
            self.state = State.DONE
            return [err]

    def _line(self) -> Optional[bytes]:
        i = self._buf.find(b"\n")
        if i < 0:
            if len(self._buf) > MAX_HEADER_LINE:
                raise RemoteProtocolError("(header line too long)")
            return None
        line = bytes(self._buf[: i + 1]).rstrip(b"\r\n")
        del self._buf[: i + 1]
        return line

    def _parse(self) -> List[Event]:
        while self.state in (State.REQUEST_LINE, State.HEADERS):
            line = self._line()
            if line is None:
                return []
            if self.state is State.REQUEST_LINE:
                m = _REQUEST_LINE.match(line)
                # spamd answers a request line it does not know with the line itself
                if not m:
                    raise RemoteProtocolError(line[:200].decode("latin-1"))
                try:
                    self._method = Method(m.group(1).decode())
                except ValueError:
                    raise RemoteProtocolError(line[:200].decode("latin-1")) from None
                self._version = m.group(2).decode()
                self._go("line")
            elif line:
                # (the texts are spamd 4.0's own)
                name, sep, value = line.decode("latin-1").partition(":")
                if not sep or not name or " " in name:
                    raise RemoteProtocolError("(header not in 'Name: value' format)")
                value = value.strip()
                if name.lower() == "user" and re.search(r"[\x00-\x1f\x7f]", value):
                    raise RemoteProtocolError("(User header contains control chars)")
                if name.lower() == "compress" and value.lower() != "zlib":
                    raise RemoteProtocolError(f"(compression type not supported: {value})")
                if name.lower() == "content-length" and not value.isdigit():
                    raise RemoteProtocolError("(Content-Length contains non-numeric bytes)")
                self._headers.append((name, value))
            else:
                assert self._method is not None
                if not METHOD_NEEDS_BODY[self._method]:
                    self._go("blank")
                    return [Request(self._method, self._version, tuple(self._headers))]
                length = next((v for k, v in self._headers if k.lower() == "content-length"), None)
                # without a Content-length spamd reads the message up to EOF
                self._length = int(length) if length is not None else -1
                if self._length > self.max_size:
                    raise RemoteProtocolError("(message too big)", 74)
                self._go("blank+body")
        if self.state is State.BODY and len(self._buf) > self.max_size:
            raise RemoteProtocolError("(message too big)", 74)
        if self.state is State.BODY and 0 <= self._length <= len(self._buf):
            body = bytes(self._buf[: self._length])
            del self._buf[: self._length]
            self._go("complete")
            return [self._request(body)]
        return []

    def receive_eof(self) -> List[Event]:
        """The client closed its side: a body without Content-length ends here; else it is short."""
        try:
            if self.state is State.BODY and self._length < 0:
                body = bytes(self._buf)
                self._buf.clear()
                self._go("eof")
                return [self._request(body)]
            if self.state is State.BODY:
                raise RemoteProtocolError(f"(Content-Length mismatch: Expected {self._length} bytes, "
                                          f"got {len(self._buf)} bytes)")
            if self.state is State.REQUEST_LINE and not self._buf:
                raise RemoteProtocolError("(closed before headers)")
            if self.state in (State.REQUEST_LINE, State.HEADERS):
                raise RemoteProtocolError("(EOF during headers)")
        except RemoteProtocolError as err:
            self.state = State.DONE
            return [err]
        return []

    def _request(self, body: bytes) -> Request:
        assert self._method is not None
        if any(k.lower() == "compress" and v.lower() == "zlib" for k, v in self._headers):
            try:
                body = zlib.decompress(body)
            except zlib.error:
                raise RemoteProtocolError("zlib: failed to find end of zlib stream\n", 69,
                                          "Service Unavailable: ") from None
        return Request(self._method, self._version, tuple(self._headers), body)


def encode_response(resp: Response) -> bytes:
    """The bytes spamd sends for *resp*."""
    head = f"SPAMD/{resp.version} {resp.code} {resp.message}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in resp.headers)
    if resp.headers or resp.body:
        head += "\r\n"
    return head.encode("latin-1") + resp.body


def encode_request(req: Request, *, compress: bool = False) -> bytes:
    """The bytes spamc sends for *req* (Content-length added when there is a body)."""
    body = zlib.compress(req.body) if compress else req.body
    headers = [(k, v) for k, v in req.headers if k.lower() not in ("content-length", "compress")]
    if compress:
        headers.append(("Compress", "zlib"))
    if METHOD_NEEDS_BODY[req.method]:
        headers.append(("Content-length", str(len(body))))
    text = f"{req.method.value} SPAMC/{req.version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return text.encode("latin-1") + body


class ClientConnection:
    """spamc's side: feed the server's bytes, then :meth:`receive_eof`; get one Response."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.response: Optional[Response] = None

    def receive_data(self, data: bytes) -> Optional[Response]:
        """Feed bytes; returns the Response once its Content-length is complete."""
        self._buf += data
        return self._try(eof=False)

    def receive_eof(self) -> Response:
        """The server closed: whatever arrived is the whole response."""
        resp = self._try(eof=True)
        if resp is None:
            raise RemoteProtocolError("(incomplete response from spamd)")
        return resp

    def _try(self, eof: bool) -> Optional[Response]:
        if self.response is not None:
            return self.response
        data = bytes(self._buf)
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if not eof:
                return None
            head, body = data, b""
        else:
            head, body = data[:end], data[end + 4:]
        lines = head.split(b"\r\n")
        m = _STATUS_LINE.match(lines[0])
        if not m:
            if eof:
                raise RemoteProtocolError(f"(bad status line from spamd: {lines[0][:60]!r})")
            return None
        headers = tuple((k.strip(), v.strip()) for k, _, v in
                        (l.decode("latin-1").partition(":") for l in lines[1:] if l))
        length = next((int(v) for k, v in headers if k.lower() == "content-length" and v.isdigit()), None)
        if not eof and (end < 0 or length is None or len(body) < length):
            return None
        if length is not None:
            body = body[:length]
        self.response = Response(int(m.group(2)), m.group(3).decode("latin-1"), headers, body,
                                 m.group(1).decode())
        return self.response
