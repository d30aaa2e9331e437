"""Random command streams into the POP3 core: never an exception, and the
maildrop is unchanged unless the client said QUIT (RFC 1939 section 6)."""
from __future__ import annotations

import os
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labmail.access.pop3.protocol import MemoryBackend, POP3Connection, Settings, wire

WORDS = ["USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "QUIT", "STAT", "LIST", "RETR",
         "DELE", "NOOP", "RSET", "TOP", "UIDL", "user", "XYZ", "", "*", "="]
ARGS = st.one_of(st.just(""), st.just("alice"), st.just("secret"), st.just("PLAIN"),
                 st.just("AGFsaWNlAHNlY3JldA=="), st.integers(-3, 2 ** 65).map(str),
                 st.text(alphabet="0123456789 x-.", max_size=12),
                 st.text(max_size=20))
LINE = st.tuples(st.sampled_from(WORDS), ARGS).map(lambda t: (t[0] + " " + t[1]).strip())
RAW = st.binary(max_size=40)
STREAM = st.lists(st.one_of(LINE.map(lambda s: s.encode("utf-8", "surrogatepass") + b"\r\n"),
                            RAW), max_size=30)

ROOT = tempfile.mkdtemp(prefix="labmail-pop3-fuzz-")
MAIL = {"alice": [b"Subject: a\n\n.x\nbody\n", b"Subject: b\n\nb\n", b"no header end"]}
TEMPLATE = MemoryBackend({"alice": "secret"}, MAIL, root=os.path.join(ROOT, "template")).root


def fresh_backend() -> MemoryBackend:
    """A copy of the template mailbox (copying is much faster than appending)."""
    root = tempfile.mkdtemp(dir=ROOT)
    shutil.copytree(TEMPLATE, root, dirs_exist_ok=True)
    return MemoryBackend({"alice": "secret"}, root=root)


def snapshot(backend):
    root = backend.root / "alice" / "Maildir"
    names = []
    for sub in ("new", "cur"):
        names += sorted(os.listdir(root / sub))
    return names


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STREAM, st.booleans())
def test_random_streams(chunks, secured):
    backend = fresh_backend()
    before = snapshot(backend)
    conn = POP3Connection(backend, Settings(secured=secured, disable_plaintext_auth=True,
                                            tls_available=True, apop_challenge="<1.2@x>"))
    out = wire(conn.start())
    for chunk in [b"USER alice\r\nPASS secret\r\n"] + chunks:
        out += wire(conn.receive_data(chunk))      # must never raise
    assert b"[SYS/TEMP]" not in out                  # no internal error hidden either
    # a QUIT line may be split across chunks: look at the stream as the core saw it
    said_quit = b"\nQUIT" in b"\n" + b"".join(chunks).upper()
    conn.connection_lost()
    after = snapshot(backend)
    if not said_quit:
        assert after == before
    else:
        bases = lambda names: {n.split(":")[0] for n in names}
        assert bases(after) <= bases(before)
    for line in out.split(b"\r\n")[:-1]:
        assert len(line) < 5000
