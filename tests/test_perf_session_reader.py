"""Message content lines taken straight from the reader's buffer are what
``StreamReader.readuntil`` returns (socket-free; hypothesis)."""
from __future__ import annotations

import asyncio

from hypothesis import given, settings, strategies as st

from labmail.mta.smtpd import _buffered_line

CHUNKS = st.lists(st.sampled_from([b"X", b"\r", b"\n", b"\r\n", b".", b"\r\n.\r\n", b"abc" * 5]),
                  max_size=30).map(b"".join)


def _reader(data: bytes, limit: int, eof: bool) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=limit, loop=asyncio.new_event_loop())
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


@settings(max_examples=300, deadline=None)
@given(CHUNKS, st.integers(min_value=1, max_value=40), st.booleans(),
       st.sampled_from([b"\r\n", b"\n"]))
def test_a_buffered_line_is_what_readuntil_returns(data, limit, eof, separator):
    fast, real = _reader(data, limit, eof), _reader(data, limit, eof)
    try:
        while True:
            line = _buffered_line(fast, separator)
            if line is None:
                break
            expected = real._loop.run_until_complete(real.readuntil(separator))
            assert line == expected and bytes(fast._buffer) == bytes(real._buffer)
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
        assert _buffered_line(reader, b"\r\n") is None
    finally:
        reader._loop.close()
