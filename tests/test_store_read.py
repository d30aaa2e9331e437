"""A Maildir message file is read whole, whatever its size around the read size."""
from __future__ import annotations

import os

from hypothesis import given, settings, strategies as st

from labmail.store.maildir import _read_file


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([0, 1, 2048, 65535, 65536, 65537, 131071, 131072, 131073, 300000]),
       st.integers(-1, 70000))
def test_read_file_whole_and_limited(tmp_path_factory, size, limit):
    path = tmp_path_factory.mktemp("m") / "msg"
    data = os.urandom(size)
    path.write_bytes(data)
    assert _read_file(str(path)) == data
    assert _read_file(str(path), limit) == (data if limit < 0 else data[:limit])
