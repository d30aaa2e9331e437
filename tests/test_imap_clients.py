"""Real IMAP clients against labmail: curl, mbsync (isync) and mutt.

Each test skips when its client is not installed.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import time

import pytest

from test_imap_server import connect, fill, imap  # noqa: F401  (fixture)

pytestmark = pytest.mark.realtool


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} not installed; apt-get install {package}")
    return path


def _curl(*args: str) -> str:
    out = subprocess.run([_need("curl", "curl"), "-s", "--max-time", "10", "-u", "alice:secret",
                          *args], capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode("utf-8", "replace")


def test_curl_list_select_fetch_append(imap, tmp_path):
    host, port = imap
    fill(host)
    base = f"imap://127.0.0.1:{port}"
    listing = _curl(base + "/")
    assert '* LIST (\\HasNoChildren \\Sent) "." Sent' in listing
    assert "* 6 EXISTS" in _curl(base + "/INBOX", "-X", "EXAMINE INBOX")
    header = _curl(base + "/INBOX;UID=2;SECTION=HEADER")
    assert header.startswith("Date: Fri, 27 Nov 2026 09:05:00 +0100\r\n")
    assert _curl(base + "/INBOX;UID=1").endswith("Alice\r\n")
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: via curl\r\n\r\nhello\r\n")
    _curl(base + "/Sent", "-T", str(msg))
    assert "* STATUS Sent (MESSAGES 1)" in _curl(base + "/Sent", "-X", "STATUS Sent (MESSAGES)")
    assert _curl(base + "/INBOX?SUBJECT%20lunch").strip() == "* SEARCH 1 4"


def test_mbsync_both_ways(imap, tmp_path):
    mbsync = _need("mbsync", "isync")
    host, port = imap
    fill(host)
    local = tmp_path / "local"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""IMAPAccount lab
Host 127.0.0.1
Port {port}
User alice
Pass secret
SSLType None
AuthMechs LOGIN PLAIN

IMAPStore lab-remote
Account lab

MaildirStore lab-local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel lab
Far :lab-remote:
Near :lab-local:
Patterns INBOX Sent
Create Both
Expunge Both
SyncState *
""")

    def sync() -> None:
        out = subprocess.run([mbsync, "-c", str(rc), "lab"], capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr.decode()

    sync()
    pulled = list((local / "INBOX" / "new").iterdir()) + list((local / "INBOX" / "cur").iterdir())
    assert len(pulled) == 6
    # push: a new local message in Sent, and INBOX message 1 marked seen locally
    sent_new = local / "Sent" / "new"
    sent_new.mkdir(parents=True, exist_ok=True)
    (sent_new / "1800000000.1_1.laptop").write_bytes(b"Subject: written offline\n\nhi\n")
    first = sorted(pulled, key=lambda p: p.name)[0]
    os.rename(first, local / "INBOX" / "cur" / (first.name.split(":")[0] + ":2,FS"))
    sync()
    m = connect(port)
    assert b"MESSAGES 1" in m.status("Sent", "(MESSAGES)")[1][0]
    m.select("INBOX")
    typ, data = m.search(None, "FLAGGED")
    assert data[0] != b""
    # and back: a message deleted on the server disappears locally
    m.store("1:*", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    sync()
    remaining = list((local / "INBOX" / "new").iterdir()) + list((local / "INBOX" / "cur").iterdir())
    assert remaining == []


def test_mutt_moves_a_message_to_junk(imap, tmp_path):
    mutt = shutil.which("mutt") or shutil.which("neomutt")
    if mutt is None:
        pytest.skip("mutt not installed; apt-get install mutt")
    import pty
    host, port = imap
    fill(host)
    rc = tmp_path / "muttrc"
    rc.write_text(f'set folder="imap://alice:secret@127.0.0.1:{port}/"\n'
                  "set ssl_starttls=no\nset ssl_force_tls=no\nset imap_passive=no\n"
                  "set mail_check=0\nset confirmappend=no\nset quit=yes\nset delete=yes\n")
    argv = [mutt, "-n", "-F", str(rc), "-f", f"imap://alice:secret@127.0.0.1:{port}/INBOX",
            "-e", 'push "<tag-pattern>~s report<enter><tag-prefix><save-message>=Junk<enter>'
                  '<sync-mailbox><quit>"']
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.environ.update(TERM="vt100", HOME=str(tmp_path))
        os.execv(argv[0], argv)
    end = time.monotonic() + 20
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    if not os.read(fd, 4096):
                        break
                except OSError:
                    break
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    m = connect(port)
    assert m.status("Junk", "(MESSAGES)")[1] == [b"Junk (MESSAGES 1)"]
    assert m.status("INBOX", "(MESSAGES)")[1] == [b"INBOX (MESSAGES 5)"]
    m.logout()
