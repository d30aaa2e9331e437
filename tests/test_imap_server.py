"""The IMAP server over real sockets, driven by imaplib and imapclient."""
from __future__ import annotations

import asyncio
import imaplib
import threading
import time
from pathlib import Path

import pytest

from labmail.access.imap.samples import SAMPLES
from labmail.access.imap.server import start_imap_server
from labmail.clock import Clock, IdGenerator
from labmail.log import MailLog
from labmail.store import MaildirStore
from labmail.trace import TranscriptStore
from labmail.users import Accounts


class FakeHost:
    """The host attributes the IMAP server uses (COMMON.md), nothing more."""

    def __init__(self, root: Path) -> None:
        self.state_dir = root
        self.hostname = "mail.example.com"
        self.clock = Clock()
        self.ids = IdGenerator(7)
        self.maillog = MailLog(root / "var/log/maillog", self.hostname, self.clock, self.ids)
        self.trace = TranscriptStore(self.clock)
        self.users = Accounts(root)
        self._passwords = {}
        self._connections = set()

    def path(self, p: str) -> Path:
        return self.state_dir / p.lstrip("/")

    def add_user(self, name: str, password: str) -> None:
        self.users.add(name)
        self._passwords[name] = password

    def store(self, user: str) -> MaildirStore:
        return MaildirStore(self.path(self.users.home(user)) / "Maildir")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def imap(tmp_path):
    host = FakeHost(tmp_path)
    host.add_user("alice", "secret")
    host.add_user("bob", "hunter2")
    lt = LoopThread()
    server = lt.run(start_imap_server(host, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    yield host, port
    server.close()
    for conn in list(host._connections):
        lt.loop.call_soon_threadsafe(conn.transport.close)
    lt.run(asyncio.sleep(0.05))
    lt.stop()


def connect(port: int, user: str = "alice", password: str = "secret") -> imaplib.IMAP4:
    m = imaplib.IMAP4("127.0.0.1", port, timeout=5)
    m.login(user, password)
    return m


def fill(host: FakeHost, user: str = "alice") -> None:
    inbox = host.store(user).folder("INBOX")
    for raw in SAMPLES.values():
        inbox.append(raw)


def test_login_select_fetch_logout(imap):
    host, port = imap
    fill(host)
    m = connect(port)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"6"]
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"Subject: Lunch on Friday?" in data[0][1]
    assert m.logout()[0] == "BYE"
    log = host.maillog.read()
    assert "imap-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1" in log
    assert "imap(alice)<" in log and "Disconnected: Logged out in=" in log
