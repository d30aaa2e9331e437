"""Untagged updates from the folder's change log are those of a full comparison.

A session looks only at the messages the folder's change log names
(:meth:`ModSeqTable.changes_since`); the same script of deliveries, STOREs by
another session, EXPUNGEs and IDLE/NOOP/FETCH/SEARCH must give byte-identical
output when every update compares all messages instead.  Socket-free.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import List

import pytest

from labmail.access.imap import backend
from labmail.access.imap.backend import FolderView, Mailboxes, ModSeqTable
from labmail.access.imap.protocol import ImapConfig, ImapSession
from labmail.store import MaildirStore

CFG = ImapConfig(disable_plaintext_auth=False, autocreate=(), autosubscribe=())


def _script(root: Path, seed: int) -> List[bytes]:
    store = MaildirStore(root, now=lambda: 1764300000.0, hostname="mail")
    sessions = []
    for i in range(3):
        s = ImapSession(CFG, lambda u, p: u, lambda u: Mailboxes(store))
        s.greeting()
        s.receive_data(b"a LOGIN alice secret\r\n")
        sessions.append(s)
    rnd = random.Random(seed)
    out: List[bytes] = []
    n = 0

    def deliver(k: int) -> None:
        nonlocal n
        for _ in range(k):
            n += 1
            name = f"1764300000.M{n}P1Q{n}.mail"
            (root / "tmp" / name).write_bytes(b"Subject: %d\n\nhi\n" % n)
            os.rename(root / "tmp" / name, root / "new" / name)

    deliver(5)
    for s in sessions:
        s.receive_data(b"b SELECT INBOX\r\n")
    for step in range(120):
        who = rnd.randrange(3)
        s = sessions[who]
        op = rnd.randrange(10)
        t = b"t%d" % step
        if op < 2:
            deliver(rnd.randrange(1, 4))
            s.receive_data(t + b" NOOP\r\n")
        elif op < 4:
            lo = rnd.randrange(1, 8)
            flag = rnd.choice([b"\\Seen", b"\\Flagged", b"\\Deleted", b"work"])
            sign = rnd.choice([b"+", b"-", b""])
            silent = rnd.choice([b"", b".SILENT"])
            s.receive_data(t + b" UID STORE %d:%d %sFLAGS%s (%s)\r\n"
                           % (lo, lo + rnd.randrange(4), sign, silent, flag))
        elif op == 4:
            s.receive_data(t + b" EXPUNGE\r\n")
        elif op == 5:
            s.receive_data(t + b" FETCH 1:* (UID FLAGS)\r\n")
        elif op == 6:
            s.receive_data(t + b" SEARCH UNSEEN\r\n")
        elif op == 7:
            s.receive_data(t + b" IDLE\r\n")
            deliver(1)
            s.mailbox_changed()
            s.receive_data(b"DONE\r\n")
        elif op == 8:
            s.receive_data(t + b" UID FETCH 1:* (FLAGS)\r\n")
        else:
            s.receive_data(t + b" NOOP\r\n")
        for i, x in enumerate(sessions):
            out.append(b"%d:" % i + x.data_to_send())
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_change_log_updates_equal_full_comparison(tmp_path, monkeypatch, seed):
    # every command looks at the folder (no mtime shortcut: timing must not matter)
    monkeypatch.setattr(FolderView, "unchanged", lambda self, stamp: False)
    with_log = _script(tmp_path / "a" / "Maildir", seed)
    monkeypatch.setattr(ModSeqTable, "changes_since", lambda self, gen: None)
    full = _script(tmp_path / "b" / "Maildir", seed)
    assert with_log == full
    assert any(b"EXPUNGE" in x for x in full) and any(b"FETCH (FLAGS" in x for x in full)


def test_a_session_further_behind_than_the_log_compares_everything(tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "CHANGE_LOG", 4)
    monkeypatch.setattr(FolderView, "unchanged", lambda self, stamp: False)
    store = MaildirStore(tmp_path / "Maildir", now=lambda: 1764300000.0, hostname="mail")
    box = FolderView(store.folder("INBOX"))
    for i in range(3):
        box.append(b"Subject: %d\n\nhi\n" % i)
    a = ImapSession(CFG, lambda u, p: u, lambda u: Mailboxes(store))
    b = ImapSession(CFG, lambda u, p: u, lambda u: Mailboxes(store))
    for s in (a, b):
        s.greeting()
        s.receive_data(b"a LOGIN alice secret\r\nb SELECT INBOX\r\n")
        s.data_to_send()
    a.receive_data(b"c STORE 2 +FLAGS (\\Flagged)\r\n")
    for i in range(10):            # changes seen by others push it out of the log
        box.set_flags(1, {"\\Answered"} if i % 2 else set())
        box.messages()
    assert box.modseqs.changes_since(b._gen) is None
    b.receive_data(b"d NOOP\r\n")
    assert b.data_to_send() == (b"* 1 FETCH (FLAGS (\\Answered))\r\n"
                                b"* 2 FETCH (FLAGS (\\Flagged))\r\n"
                                b"d OK NOOP completed.\r\n")


def _two_sessions(root, monkeypatch, more=b""):
    """Two sessions that selected an INBOX of three messages (then sent *more*)."""
    monkeypatch.setattr(FolderView, "unchanged", lambda self, stamp: False)
    store = MaildirStore(root, now=lambda: 1764300000.0, hostname="mail")
    box = FolderView(store.folder("INBOX"))
    for i in range(3):
        box.append(b"Subject: %d\n\nhi\n" % i)
    a, b = (ImapSession(CFG, lambda u, p: u, lambda u: Mailboxes(store)) for _ in "ab")
    for s in (a, b):
        s.greeting()
        s.receive_data(b"a LOGIN alice secret\r\nb SELECT INBOX\r\n" + more)
        s.data_to_send()
    return a, b


def test_sessions_in_step_share_one_view_and_copy_it_to_change_it(tmp_path, monkeypatch):
    a, b = _two_sessions(tmp_path / "Maildir", monkeypatch, b"c NOOP\r\n")
    assert a.msgs.shared and a.msgs.uids is b.msgs.uids
    # a's FETCH sets \Seen: its view changes, b's shared one does not
    a.receive_data(b"d FETCH 2 (BODY[TEXT])\r\n")
    assert b"FLAGS (\\Seen \\Recent)" in a.data_to_send()
    assert "\\Seen" not in b.msgs.get(2).flags
    b.receive_data(b"e NOOP\r\n")
    assert b.data_to_send() == b"* 2 FETCH (FLAGS (\\Seen))\r\ne OK NOOP completed.\r\n"
    a.receive_data(b"f NOOP\r\n")
    a.data_to_send()
    assert a.msgs.shared and a.msgs.uids is b.msgs.uids
    assert [sorted(m.flags) for m in a.msgs.msgs] == [[], ["\\Seen"], []]


def test_a_shared_view_told_of_an_expunge_and_a_delivery_at_once(tmp_path, monkeypatch):
    root = tmp_path / "Maildir"
    a, b = _two_sessions(root, monkeypatch)
    b.receive_data(b"c NOOP\r\n")
    b.data_to_send()
    assert b.msgs.shared
    a.receive_data(b"d STORE 3 +FLAGS.SILENT (\\Deleted)\r\ne EXPUNGE\r\n")
    a.data_to_send()
    (root / "tmp" / "1764300009.M1P1Q1.mail").write_bytes(b"Subject: new\n\nhi\n")
    os.rename(root / "tmp" / "1764300009.M1P1Q1.mail", root / "new" / "1764300009.M1P1Q1.mail")
    b.receive_data(b"f NOOP\r\n")
    assert b.data_to_send() == (b"* 3 EXPUNGE\r\n* 3 EXISTS\r\n* 1 RECENT\r\n"
                                b"f OK NOOP completed.\r\n")
    assert b.msgs.uids == [1, 2, 4]
