"""Message content taken straight from the reader's buffer, a run of lines at
a time, is what ``StreamReader.readuntil`` returns line by line, in pieces
aiosmtpd's DATA loop treats the same way (socket-free; hypothesis), and
messages arrive byte for byte (over real sockets)."""
from __future__ import annotations

import asyncio
import socket

from hypothesis import given, settings, strategies as st

from conftest import wait_for
from labmail.mta.smtpd import _buffered_lines

CHUNKS = st.lists(st.sampled_from([b"X", b"\r", b"\n", b"\r\n", b".", b"\r\n.\r\n", b"..",
                                   b"abc" * 5]), max_size=40).map(b"".join)


def _reader(data: bytes, limit: int, eof: bool) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=limit, loop=asyncio.new_event_loop())
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


@settings(max_examples=400, deadline=None)
@given(CHUNKS, st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=80),
       st.booleans(), st.sampled_from([b"\r\n", b"\n"]))
def test_buffered_lines_are_what_readuntil_returns(data, limit, most, eof, separator):
    fast, real = _reader(data, limit, eof), _reader(data, limit, eof)
    try:
        while True:
            lines = _buffered_lines(fast, separator, most)
            if lines is None:
                break
            assert lines
            for line in lines:
                assert line == real._loop.run_until_complete(real.readuntil(separator))
            assert bytes(fast._buffer) == bytes(real._buffer)
            # a dot line comes alone; a run stays within `most`
            assert all(not ln.startswith(b".") for ln in lines[1:])
            assert len(lines) == 1 or sum(map(len, lines)) <= most
        # where the fast path steps aside, readuntil raises or would wait
        index = bytes(real._buffer).find(separator)
        assert index < 0 or index > limit
        assert bytes(fast._buffer) == bytes(real._buffer)
    finally:
        fast._loop.close()
        real._loop.close()


def test_a_pending_error_is_left_to_readuntil():
    reader = _reader(b"line\r\n", 100, False)
    try:
        reader.set_exception(ConnectionResetError())
        assert _buffered_lines(reader, b"\r\n", 1000) is None
    finally:
        reader._loop.close()


def _session(host, content: bytes) -> list:
    """Send *content* as one segment after DATA; the replies to DATA's end and QUIT."""
    with socket.create_connection(host.endpoints["smtp"], timeout=10) as sock:
        f = sock.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    return line.decode().rstrip("\r\n")
        reply()
        for cmd in (b"EHLO laptop", b"MAIL FROM:<bob@example.org>", b"RCPT TO:<alice@example.com>",
                    b"DATA"):
            sock.sendall(cmd + b"\r\n")
            reply()
        sock.sendall(content)
        out = [reply()]
        sock.sendall(b"QUIT\r\n")
        out.append(reply())
        return out


def test_dot_stuffed_lines_anywhere_in_a_segment_arrive_unstuffed(host):
    body = (b"Subject: dots\r\n\r\nfirst\r\n..one dot\r\nmiddle\r\n...two dots\r\n"
            + b"plain line\r\n" * 40 + b"..\r\nbare\rcr\r\nlast\r\n")
    replies = _session(host, body + b".\r\n")
    assert replies[0].startswith("250 2.0.0 Ok: queued as ") and replies[1] == "221 2.0.0 Bye"
    host.settle()
    [path] = list((host.maildir_path("alice") / "new").iterdir())
    data = path.read_bytes()
    expected = (b"first\r\n.one dot\r\nmiddle\r\n..two dots\r\n" + b"plain line\r\n" * 40
                + b".\r\nbare\rcr\r\nlast\r\n")
    assert data.endswith(expected)
    t = host.trace.list("smtp")[-1]
    assert "C: ..one dot" in t.text() and "more content lines" in t.text()


def test_too_much_data_in_one_segment_is_refused_after_the_end(host, lab):
    (host.path("/etc/postfix/main.cf")).write_text(
        host.path("/etc/postfix/main.cf").read_text() + "\nmessage_size_limit = 2000\n")
    host.reload()
    replies = _session(host, b"Subject: big\r\n\r\n" + b"y" * 70 + b"\r\n" * 1
                       + (b"z" * 70 + b"\r\n") * 60 + b".\r\n")
    assert replies == ["552 5.3.4 Message size exceeds fixed limit", "221 2.0.0 Bye"]
    assert wait_for(lambda: host.trace.list("smtp")[-1].closed)
