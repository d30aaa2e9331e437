"""The sync helper: the file work of group commits, in a child process.

syncfiles.flush is tested in this process (fsyncs counted); the wire format
with hypothesis; GroupCommit through a real helper process, including one
that is killed.
"""
from __future__ import annotations

import asyncio
import os
import signal

from hypothesis import given, settings, strategies as st

from labmail.mta import groupcommit, syncfiles
from labmail.mta.groupcommit import GroupCommit


def test_flush_creates_syncs_renames_and_reports_per_item(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    (tmp_path / "old").write_bytes(b"spent")
    items = [(syncfiles.CREATE, True, str(tmp_path / "a"), "", b"one"),
             (syncfiles.CREATE, True, str(tmp_path / "b"), str(tmp_path / "old"), b"two"),
             (syncfiles.CREATE, True, str(tmp_path / "no-such-dir" / "c"), "", b"x"),
             (syncfiles.UNLINK, False, str(tmp_path / "missing"), "", b""),
             (syncfiles.RENAME, False, str(tmp_path / "a"), str(tmp_path / "a2"), b"")]
    results = syncfiles.flush(items)
    assert results[0] == results[1] == results[4] == (syncfiles.DONE, 0, "")
    assert results[2][0] == syncfiles.ERROR and results[2][1] == 2      # ENOENT
    assert results[3] == (syncfiles.MISSING, 0, "")
    assert (tmp_path / "a2").read_bytes() == b"one" and not (tmp_path / "a").exists()
    assert (tmp_path / "b").read_bytes() == b"two" and not (tmp_path / "old").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no tmp left
    assert len(synced) == 3            # two files, then their directory once


_items = st.lists(st.tuples(st.sampled_from([syncfiles.CREATE, syncfiles.UNLINK, syncfiles.RENAME]),
                            st.booleans(), st.text(min_size=1, max_size=40),
                            st.text(max_size=40), st.binary(max_size=300)), max_size=8)


@settings(max_examples=200, deadline=None)
@given(_items, st.integers(0, 2**32 - 1))
def test_request_frames_round_trip(items, batch_id):
    frame = syncfiles.encode_request(batch_id, items)
    length, got_id = syncfiles._HEAD.unpack_from(frame)
    assert got_id == batch_id and length == len(frame) - syncfiles._HEAD.size
    assert syncfiles.decode_request(frame[syncfiles._HEAD.size:]) == items


_results = st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.integers(0, 200),
                              st.text(max_size=30)), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(_results, min_size=1, max_size=3), st.data())
def test_answers_decode_from_any_split(batches, data):
    wire = b"".join(syncfiles.encode_answer(i, r) for i, r in enumerate(batches))
    cut = data.draw(st.integers(0, len(wire)))
    first, rest = syncfiles.decode_answers(wire[:cut])
    second, tail = syncfiles.decode_answers(rest + wire[cut:])
    assert tail == b""
    assert [(i, r) for i, r in first + second] == list(enumerate(batches))


def _helper_pids():
    return [h.proc.pid for h in groupcommit._HELPERS.values() if not h.dead]


def test_group_commit_through_the_helper_process(tmp_path, monkeypatch):
    monkeypatch.setenv("LABMAIL_SYNC_HELPER", "1")

    async def main():
        gc = GroupCommit()
        await asyncio.gather(*(gc.commit(tmp_path / f"m{i}", b"x%d" % i) for i in range(30)))
        pids = _helper_pids()
        bad = await asyncio.gather(gc.commit(tmp_path / "nodir" / "f", b"y"),
                                   return_exceptions=True)
        return gc.batches, pids, bad[0]
    batches, pids, bad = asyncio.run(main())
    assert batches < 30
    assert pids and os.getpid() not in pids          # the work ran in another process
    assert isinstance(bad, FileNotFoundError)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("m")) == \
        sorted(f"m{i}" for i in range(30))
    assert (tmp_path / "m7").read_bytes() == b"x7"


def test_a_killed_helper_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("LABMAIL_SYNC_HELPER", "1")

    async def main():
        gc = GroupCommit()
        await gc.commit(tmp_path / "before", b"1")
        loop = asyncio.get_running_loop()
        helper = groupcommit._HELPERS[id(loop)]
        os.kill(helper.proc.pid, signal.SIGKILL)
        for _ in range(200):                         # the loop sees the pipe close
            if helper.dead:
                break
            await asyncio.sleep(0.01)
        assert helper.dead
        await gc.commit(tmp_path / "after", b"2")    # a new helper does it
        fresh = groupcommit._HELPERS[id(loop)]
        return helper.proc.pid, fresh.proc.pid
    old, new = asyncio.run(main())
    assert old != new
    assert (tmp_path / "after").read_bytes() == b"2"
    assert not groupcommit._HELPER_FAILED


def test_threads_when_the_helper_is_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("LABMAIL_SYNC_HELPER", "0")

    async def main():
        gc = GroupCommit()
        await asyncio.gather(*(gc.commit(tmp_path / f"t{i}", b"z") for i in range(5)))
        return groupcommit._helper_for(asyncio.get_running_loop())
    assert asyncio.run(main()) is None
    assert len(list(tmp_path.iterdir())) == 5


def _helper_children():
    """Live sync-helper processes whose parent is this process."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if ppid == os.getpid() and b"syncfiles.py" in cmd:
            found.append(int(pid))
    return found


def test_labs_started_again_do_not_pile_up_helpers(tmp_path, monkeypatch):
    import smtplib
    import labmail
    monkeypatch.setenv("LABMAIL_SYNC_HELPER", "1")
    for round_ in range(3):
        with labmail.Lab(ports="auto", state_dir=tmp_path / f"lab{round_}") as lab:
            host = lab.add_host("mail.example.com", users={"alice": "secret"})
            lab.start()
            with smtplib.SMTP(*host.endpoints["smtp"]) as s:
                s.sendmail("bob@example.org", ["alice@example.com"], b"Subject: hi\r\n\r\nhi\r\n")
            assert host.settle()
            assert len(host.mailbox("alice")) == 1
        # a stopped lab tells its helper to go (the end of its input); it exits by itself
        import time
        deadline = time.monotonic() + 10
        while _helper_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _helper_children() == []


def test_big_messages_are_split_into_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("LABMAIL_SYNC_HELPER", "1")
    monkeypatch.setattr(groupcommit, "MAX_BATCH_BYTES", 1000)

    async def main():
        gc = GroupCommit()
        await asyncio.gather(*(gc.commit(tmp_path / f"big{i}", b"b" * 600) for i in range(6)))
        return gc.batches
    assert asyncio.run(main()) >= 3                 # at most one 600-byte item over the 1000
    assert all((tmp_path / f"big{i}").stat().st_size == 600 for i in range(6))


def test_a_message_bigger_than_the_pipe(tmp_path, monkeypatch):
    """A 12 MB file goes to the helper in pieces as the pipe drains, while
    small ones queue behind it; every file arrives whole."""
    monkeypatch.setenv("LABMAIL_SYNC_HELPER", "1")
    big = bytes(range(256)) * (12 * 4096)

    async def main():
        gc = GroupCommit(max_inflight=4)
        await asyncio.gather(gc.commit(tmp_path / "big", big),
                             *(gc.commit(tmp_path / f"s{i}", b"s%d" % i) for i in range(20)))
    asyncio.run(main())
    assert (tmp_path / "big").read_bytes() == big
    assert (tmp_path / "s19").read_bytes() == b"s19"
