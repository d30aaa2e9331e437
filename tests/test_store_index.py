"""A Maildir folder keeps what it learnt between scans, and still sees every outside change.

The folder object is shared by all sessions of a mailbox: it re-parses
``dovecot-uidlist`` only when the file changed, keeps a message's info while
its file name is the same, and shares one flag set per distinct flags.  These
tests change the Maildir behind its back (another folder object, as another
process or Dovecot would) and check that nothing stale is returned.
"""
from __future__ import annotations

import os
import random

import pytest
from pathlib import Path

from labmail.access.imap.backend import FolderView
from labmail.store import SEEN, MaildirFolder, MaildirStore
from labmail.store.uidlist import UidList


def _folder(root: Path) -> MaildirFolder:
    return MaildirFolder(root, "INBOX", keywords_file=root / "dovecot-keywords",
                         hostname="mail")


def _drop(root: Path, name: str, body: bytes = b"Subject: x\n\nhi\n") -> None:
    """A delivery as local(8) makes it: tmp/ then new/."""
    (root / "tmp" / name).write_bytes(body)
    os.rename(root / "tmp" / name, root / "new" / name)


def _view(f: MaildirFolder):
    return [(m.uid, sorted(m.flags), m.recent) for m in f.messages()]


def test_changes_by_another_folder_object_are_seen(tmp_path):
    root = tmp_path / "Maildir"
    a, b = _folder(root), _folder(root)
    for i in range(3):
        _drop(root, f"1764300000.M{i}P1Q{i}.mail")
    assert _view(a) == [(1, [], True), (2, [], True), (3, [], True)]
    b.set_flags(1, {SEEN, "$Junk"})
    b.expunge([2])
    _drop(root, "1764300001.M9P1Q9.mail")
    assert _view(a) == [(1, ["$Junk", "\\Seen"], False), (3, [], True), (4, [], True)]
    assert a.read(4) == b"Subject: x\n\nhi\n"
    # and a flag change through a itself is what a fresh scan of the name gives
    info = a.set_flags(3, {"\\Flagged", "$Junk"})
    assert _view(_folder(root))[-2] == (3, ["$Junk", "\\Flagged"], False)
    assert a.info(3) == info and [m for m in a.messages() if m.uid == 3] == [info]


def test_a_file_renamed_outside_gets_its_new_flags(tmp_path):
    root = tmp_path / "Maildir"
    f = _folder(root)
    _drop(root, "1764300000.M1P1Q1.mail")
    assert _view(f) == [(1, [], True)]
    # a mail client (or Dovecot) marks it seen by renaming the file
    os.rename(root / "new" / "1764300000.M1P1Q1.mail",
              root / "cur" / "1764300000.M1P1Q1.mail:2,FS")
    assert _view(f) == [(1, ["\\Flagged", "\\Seen"], False)]


def test_a_rewritten_uidlist_is_read_again(tmp_path):
    root = tmp_path / "Maildir"
    f = _folder(root)
    for i in range(2):
        _drop(root, f"1764300000.M{i}P1Q{i}.mail")
    assert [m.uid for m in f.messages()] == [1, 2]
    old = UidList.load(root / "dovecot-uidlist")
    # uids renumbered elsewhere (a new UIDVALIDITY): the same files, other uids
    new = UidList(uidvalidity=old.uidvalidity + 1, next_uid=11, guid=old.guid)
    for uid, base in zip((7, 9), sorted(old.records.values())):
        new.records[uid] = base
    new.save(root / "dovecot-uidlist")
    assert [m.uid for m in f.messages()] == [7, 9]
    assert f.uidvalidity == old.uidvalidity + 1 and f.uidnext == 11


def test_keyword_letters_that_change_meaning_are_read_again(tmp_path):
    root = tmp_path / "Maildir"
    f = _folder(root)
    _drop(root, "1764300000.M1P1Q1.mail")
    f.set_flags(1, {"work", "home"})
    assert _view(f) == [(1, ["home", "work"], False)]
    text = (root / "dovecot-keywords").read_text()
    (root / "dovecot-keywords").write_text(text.replace("work", "play"))
    assert _view(f) == [(1, ["home", "play"], False)]


def test_equal_flags_share_one_set_and_unchanged_messages_keep_their_objects(tmp_path):
    store = MaildirStore(tmp_path / "Maildir", hostname="mail")
    box = FolderView(store.folder("INBOX"))
    for i in range(4):
        box.append(b"Subject: %d\n\nhi\n" % i, {SEEN})
    first = box.messages()
    assert len({id(m.flags) for m in first}) == 1
    box.set_flags(2, {SEEN, "\\Answered"})
    second = box.messages()
    assert [a is b for a, b in zip(first, second)] == [True, False, True, True]
    assert sorted(second[1].flags) == ["\\Answered", "\\Seen"]
    assert second[1].modseq > first[1].modseq


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_patched_scan_equals_a_fresh_one(tmp_path, seed):
    """Random deliveries, flag changes (through the folder, another object and
    plain renames), expunges and vanished files: the long-lived folder's
    patched result is always what a brand-new folder object reads."""
    root = tmp_path / "Maildir"
    a, b = _folder(root), _folder(root)
    rnd = random.Random(seed)
    n = 0
    for step in range(150):
        op = rnd.randrange(8)
        uids = [m.uid for m in a.messages()]
        if op < 3 or not uids:
            for _ in range(rnd.randrange(1, 4)):
                n += 1
                _drop(root, f"1764300000.M{n}P1Q{n}.mail")
        elif op == 3:
            rnd.choice((a, b)).set_flags(rnd.choice(uids), rnd.choice(
                [set(), {SEEN}, {SEEN, "$Junk"}, {"\\Flagged"}]))
        elif op == 4:
            rnd.choice((a, b)).expunge([rnd.choice(uids)])
        elif op == 5:
            # an outside client renames a file (flags) or deletes it
            for sub in ("cur", "new"):
                names = sorted(os.listdir(root / sub))
                if names:
                    name = rnd.choice(names)
                    if rnd.randrange(2):
                        os.rename(root / sub / name,
                                  root / "cur" / (name.partition(":")[0] + ":2,FS"))
                    else:
                        os.unlink(root / sub / name)
                    break
        elif op == 6:
            b.messages()
        if rnd.randrange(3):
            assert a.messages() == _folder(root).messages(), step
    assert a.messages() == _folder(root).messages()
