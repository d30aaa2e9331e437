"""The mailbox store shared by POP3 and IMAP: uids, flags, folders, locks."""
from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest

from labmail.store import (DELETED, FLAGGED, SEEN, FolderExists, MailboxLocked,
                           MaildirStore, NoSuchFolder, NoSuchMessage, open_store)
from labmail.store.mbox import MboxFolder
from labmail.store.uidlist import UidList


@pytest.fixture
def store(tmp_path: Path) -> MaildirStore:
    return MaildirStore(tmp_path / "Maildir", hostname="mail")


def deliver(root: Path, name: str, data: bytes) -> None:
    """What a delivery agent does: tmp/ then rename into new/."""
    (root / "tmp" / name).write_bytes(data)
    os.rename(root / "tmp" / name, root / "new" / name)


def test_uids_are_stable_across_reopen_and_shared(store, tmp_path):
    inbox = store.folder("INBOX")
    deliver(store.root, "100.M1P1.mail", b"Subject: a\n\nA\n")
    deliver(store.root, "101.M1P1.mail", b"Subject: b\n\nB\n")
    first = [(m.uid, m.key) for m in inbox.messages()]
    assert first == [(1, "100.M1P1.mail"), (2, "101.M1P1.mail")]
    validity = inbox.uidvalidity
    again = MaildirStore(tmp_path / "Maildir").folder("INBOX")
    assert [(m.uid, m.key) for m in again.messages()] == first
    assert again.uidvalidity == validity and again.uidnext == 3
    text = (store.root / "dovecot-uidlist").read_text()
    assert text.startswith(f"3 V{validity} N3 G")
    assert "1 W" in text and ":100.M1P1.mail" in text


def test_expunged_uids_are_never_reused(store):
    inbox = store.folder("INBOX")
    a = inbox.append(b"Subject: a\r\n\r\nA\r\n")
    b = inbox.append(b"Subject: b\r\n\r\nB\r\n")
    assert inbox.expunge([b]) == [b]
    c = inbox.append(b"Subject: c\r\n\r\nC\r\n")
    assert (a, b, c) == (1, 2, 3)
    assert [m.uid for m in inbox.messages()] == [1, 3]
    with pytest.raises(NoSuchMessage):
        inbox.read(2)


def test_sizes_flags_and_keywords(store):
    inbox = store.folder("INBOX")
    uid = inbox.append(b"Subject: x\r\n\r\nbody\r\n", flags={SEEN},
                       internaldate=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    m = inbox.info(uid)
    assert inbox.read(uid) == b"Subject: x\n\nbody\n"
    assert (m.size, m.vsize) == (17, 20)
    assert m.flags == {SEEN} and not m.recent
    assert m.internaldate == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    m = inbox.set_flags(uid, {SEEN, FLAGGED, DELETED, "$Junk", "work"})
    assert m.flags == {SEEN, FLAGGED, DELETED, "$Junk", "work"}
    name = inbox.filename(uid).name
    assert name.endswith(":2,FSTab")
    assert (store.root / "dovecot-keywords").read_text() == "0 $Junk\n1 work\n"
    assert inbox.remove_flags(uid, {"$Junk"}).flags == {SEEN, FLAGGED, DELETED, "work"}
    assert inbox.keywords() == ["$Junk", "work"]


def test_new_message_is_recent_until_flags_move_it(store):
    deliver(store.root, "200.M1P1.mail", b"x\n")
    inbox = store.folder("inbox")
    assert inbox.messages()[0].recent
    inbox.add_flags(1, {SEEN})
    assert not inbox.messages()[0].recent
    assert (store.root / "cur" / "200.M1P1.mail:2,S").exists()


def test_folders(store):
    store.create_folder("Sent")
    store.create_folder("Lists.python")
    assert store.list_folders() == ["INBOX", "Lists.python", "Sent"]
    assert (store.root / ".Sent" / "maildirfolder").exists()
    with pytest.raises(FolderExists):
        store.create_folder("Sent")
    store.folder("Lists.python").append(b"Subject: l\n\nl\n")
    store.rename_folder("Lists", "Archive") if store.has_folder("Lists") else None
    store.create_folder("Lists")
    store.rename_folder("Lists", "Old")
    assert store.list_folders() == ["INBOX", "Old", "Old.python", "Sent"]
    assert len(store.folder("Old.python").messages()) == 1
    store.delete_folder("Sent")
    with pytest.raises(NoSuchFolder):
        store.folder("Sent")
    store.subscribe("Old")
    assert store.subscriptions() == ["Old"]


def test_rename_inbox_moves_messages(store):
    store.folder("INBOX").append(b"Subject: a\n\na\n")
    store.rename_folder("INBOX", "Saved")
    assert store.folder("INBOX").messages() == []
    assert len(store.folder("Saved").messages()) == 1


def test_change_notification(store):
    inbox = store.folder("INBOX")
    seen = []
    stop = inbox.watch(lambda f: seen.append(f.name))
    inbox.append(b"x\n")
    from labmail.store import notify_delivery
    notify_delivery(str(store.root))
    stop()
    inbox.append(b"y\n")
    assert seen == ["INBOX", "INBOX"]


def test_session_lock_is_exclusive(store):
    inbox = store.folder("INBOX")
    with inbox.lock():
        with pytest.raises(MailboxLocked):
            MaildirStore(store.root).folder("INBOX").lock()
    inbox.lock().release()


def test_concurrent_appends_get_distinct_uids(store):
    inbox = store.folder("INBOX")
    uids = []

    def work():
        f = MaildirStore(store.root).folder("INBOX")
        for i in range(20):
            uids.append(f.append(b"Subject: t\n\n%d\n" % i))
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(uids) == list(range(1, 81))
    assert [m.uid for m in inbox.messages()] == list(range(1, 81))


def test_uidlist_parse_tolerates_damage():
    u = UidList.parse("3 V5 N9 Gab\n1 :a\nbroken\n4 W10 :b\n")
    assert (u.uidvalidity, u.next_uid, u.records, u.vsizes) == (5, 9, {1: "a", 4: "b"}, {4: 10})


def test_mbox_inbox(tmp_path):
    spool = tmp_path / "var/mail/alice"
    spool.parent.mkdir(parents=True)
    spool.write_bytes(b"From a@example.com Fri Nov 27 09:00:00 2026\nSubject: one\n\n1\n\n"
                      b"From b@example.com Fri Nov 27 09:01:00 2026\nSubject: two\nStatus: RO\n\n>From x\n2\n")
    store = open_store("mbox:~/mail:INBOX=/var/mail/%u", user="alice", home="/home/alice",
                       map_path=lambda p: tmp_path / p.lstrip("/"))
    inbox = store.folder("INBOX")
    assert isinstance(inbox, MboxFolder)
    ms = inbox.messages()
    assert [m.uid for m in ms] == [1, 2]
    assert ms[1].flags == {SEEN} and not ms[1].recent and ms[0].recent
    # ">From" stays quoted, as Dovecot shows it (mboxo: not reversible)
    assert inbox.read(2) == b"Subject: two\n\n>From x\n2\n"
    inbox.set_flags(1, {SEEN, FLAGGED})
    assert inbox.info(1).flags == {SEEN, FLAGGED}
    assert inbox.expunge([1]) == [1]
    assert [m.uid for m in inbox.messages()] == [2]
    assert b"Subject: one" not in spool.read_bytes()
    assert inbox.append(b"Subject: three\r\n\r\n3\r\n") == 3
    assert store.list_folders() == ["INBOX"]
    store.create_folder("Sent")
    assert store.list_folders() == ["INBOX", "Sent"]


def test_delivery_agent_and_readers_never_corrupt(store):
    """Deliveries (tmp/ then new/, as Postfix's local) race two readers that
    expunge: every message gets one uid, uids never repeat, none is lost."""
    seen_uids = {}
    removed = []
    errors = []

    def agent():
        for i in range(40):
            deliver(store.root, f"{1764234000 + i}.M{i}P1.mail", b"Subject: %d\n\nx\n" % i)

    def reader():
        try:
            f = MaildirStore(store.root).folder("INBOX")
            for _ in range(30):
                msgs = f.messages()
                for m in msgs:
                    assert seen_uids.setdefault(m.uid, m.key) == m.key   # a uid names one file
                if len(msgs) > 3:
                    removed.extend(f.expunge([msgs[0].uid]))
        except Exception as exc:     # reported below
            errors.append(exc)
    threads = [threading.Thread(target=agent)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    final = store.folder("INBOX").messages()
    assert len(final) == 40 - len(removed)
    assert len(set(removed)) == len(removed)
    assert all(m.uid not in removed for m in final)


from hypothesis import given, settings as hsettings, strategies as hst  # noqa: E402


@hsettings(max_examples=100, deadline=None)
@given(hst.integers(1, 2 ** 32 - 1),
       hst.dictionaries(hst.integers(1, 10 ** 6),
                        hst.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.,=_-", min_size=1,
                                 max_size=40), max_size=20),
       hst.booleans())
def test_uidlist_round_trip(validity, records, with_sizes):
    u = UidList(uidvalidity=validity, next_uid=max(records, default=0) + 1, guid="ab")
    u.records = dict(records)
    if with_sizes:
        u.vsizes = {uid: len(name) for uid, name in records.items()}
    back = UidList.parse(u.dump())
    assert (back.uidvalidity, back.next_uid, back.records, back.vsizes) == \
        (u.uidvalidity, u.next_uid, u.records, u.vsizes)
