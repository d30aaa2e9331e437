"""Queue files: atomic writes, round trips, corrupt files, group commit."""
from __future__ import annotations

import asyncio
import os

import pytest
from hypothesis import given, settings, strategies as st

from labmail.clock import Clock, IdGenerator
from labmail.mta.groupcommit import GroupCommit
from labmail.mta.queue import QUEUES, Queue, QueueFile, QueueFileError, Recipient


@pytest.fixture
def queue(tmp_path):
    return Queue(tmp_path, Clock.fixed("2026-11-27T09:00:00+00:00"), IdGenerator(11))


def test_layout_and_enqueue(queue, tmp_path):
    spool = tmp_path / "var/spool/postfix"
    assert sorted(p.name for p in spool.iterdir()) == sorted(QUEUES)
    qf = queue.enqueue("alice@example.com", ["bob@example.org", "carol@example.net"],
                       b"Subject: hi\n\nbody\n", attrs={"client_name": "localhost"})
    assert len(qf.queue_id) == 11 and qf.queue_id.isalnum()
    path = spool / "incoming" / qf.queue_id
    assert path.exists()
    assert not [p for p in (spool / "incoming").iterdir() if p.name.startswith(".")]
    back = queue.load(qf.queue_id)
    assert back.content == b"Subject: hi\r\n\r\nbody\r\n"      # stored in SMTP's CRLF form
    assert back.size == len(back.content) == 21
    assert back.arrival == Clock.fixed("2026-11-27T09:00:00+00:00").timestamp()
    assert [r.address for r in back.recipients] == ["bob@example.org", "carol@example.net"]
    assert back.attrs == {"client_name": "localhost"}
    assert path.read_bytes().startswith(b"LABMAIL-QUEUE-FILE 1\n")   # readable with cat
    assert len(queue) == 1 and queue.counts()["incoming"] == 1


def test_move_update_remove(queue):
    qf = queue.enqueue("a@example.com", ["b@example.org"], b"x")
    queue.move(qf, "active")
    assert queue.locate(qf.queue_id) == "active"
    qf.recipients[0].status = "pending"
    qf.recipients[0].reason = "connect to x[1.2.3.4]:25: Connection refused"
    qf.attempts = 1
    queue.write(qf)
    queue.move(qf, "deferred", durable=True)
    back = queue.load(qf.queue_id)
    assert back.queue == "deferred" and back.attempts == 1
    assert back.recipients[0].reason.endswith("Connection refused")
    assert queue.remove(back) and not queue.remove(back)
    with pytest.raises(KeyError):
        queue.load(qf.queue_id)


def test_truncated_file_goes_to_corrupt(queue):
    qf = queue.enqueue("a@example.com", ["b@example.org"], b"hello")
    path = queue.path("incoming", qf.queue_id)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(QueueFileError):
        queue.load(qf.queue_id)
    assert queue.locate(qf.queue_id) == "corrupt"
    assert queue.entries() == []


def test_ids_are_unique_and_reject_odd_names(queue):
    ids = {queue.enqueue("a@x.example", ["b@y.example"], b"m").queue_id for _ in range(50)}
    assert len(ids) == 50
    assert queue.locate("../../etc/passwd") is None


@settings(max_examples=60, deadline=None)
@given(sender=st.text(max_size=40), content=st.binary(max_size=300),
       rcpts=st.lists(st.tuples(st.text(min_size=1, max_size=30),
                                st.sampled_from(["pending", "sent", "bounced"]),
                                st.text(max_size=80)), min_size=1, max_size=4),
       arrival=st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_round_trip(sender, content, rcpts, arrival):
    qf = QueueFile("0123456789A", sender, [Recipient(a, a, s, reason=r) for a, s, r in rcpts],
                   content, arrival=arrival, attempts=3, next_try=arrival + 300,
                   last_reason="why\n*** MESSAGE CONTENTS ***")
    back = QueueFile.from_bytes(qf.to_bytes(), "deferred")
    assert (back.sender, back.content, back.recipients, back.arrival, back.last_reason) == \
        (qf.sender, qf.content, qf.recipients, qf.arrival, qf.last_reason)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_never_parses_silently(data):
    try:
        QueueFile.from_bytes(data)
    except QueueFileError:
        pass


def test_group_commit_batches_and_acknowledges_only_durable_files(tmp_path, monkeypatch):
    # the fsyncs are counted in this process: the thread form of the group
    # commit (the helper process runs the same syncfiles.flush, tested below)
    monkeypatch.setenv("LABMAIL_SYNC_HELPER", "0")
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append(fd)
        real_fsync(fd)
    monkeypatch.setattr(os, "fsync", spy)

    async def main():
        q = Queue(tmp_path, Clock(), IdGenerator(5), group_commit=True)
        files = await asyncio.gather(*(q.enqueue_async("a@x.example", [f"r{i}@y.example"],
                                                       b"hello %d" % i) for i in range(40)))
        # every acknowledged message is on disk, complete, under its final name
        for f in files:
            assert q.load(f.queue_id).content == f.content
        return q._group.batches
    batches = asyncio.run(main())
    assert batches < 40                        # writers shared fsyncs
    assert len(synced) >= 40                   # ...but no file skipped its fsync


def test_group_commit_reports_errors_per_writer(tmp_path):
    async def main():
        gc = GroupCommit()
        ok = gc.commit(tmp_path / "fine", b"x")
        bad = gc.commit(tmp_path / "missing-dir" / "f", b"y")
        return await asyncio.gather(ok, bad, return_exceptions=True)
    ok, bad = asyncio.run(main())
    assert ok is None and isinstance(bad, OSError)
    assert (tmp_path / "fine").read_bytes() == b"x"


def test_table_for_widgets(queue):
    queue.enqueue("", ["b@example.org"], b"x")
    (row,) = queue.table()
    assert row["sender"] == "MAILER-DAEMON" and row["recipients"] == ["b@example.org"]
    assert row["queue"] == "incoming" and row["size"] == 1


def test_group_commit_with_a_separate_tmp_directory(tmp_path):
    """The Maildir pattern: write in tmp/, rename into new/ (one dir fsync per batch)."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "new").mkdir()

    async def main():
        gc = GroupCommit()
        await asyncio.gather(*(gc.commit(tmp_path / "new" / f"m{i}", b"%d" % i,
                                         tmp=tmp_path / "tmp" / f"m{i}") for i in range(8)))
        return gc.batches
    assert asyncio.run(main()) == 1
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [f"m{i}" for i in range(8)]
    assert list((tmp_path / "tmp").iterdir()) == []


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_envelope_layout_is_exactly_json_dumps_with_indent(value):
    """The fast envelope writer lays out exactly what json.dumps(indent=1) does."""
    import json
    from labmail.mta.queue import dumps_indented
    assert dumps_indented(value) == json.dumps(value, indent=1, ensure_ascii=False)


def test_delivered_queue_files_are_removed_in_batches(tmp_path):
    async def main():
        q = Queue(tmp_path, Clock(), IdGenerator(6), group_commit=True)
        files = await asyncio.gather(*(q.enqueue_async("a@x.example", ["b@y.example"], b"m")
                                       for _ in range(6)))
        before = q._group.batches
        gone = await asyncio.gather(*(q.remove_async(f) for f in files))
        again = await q.remove_async(files[0])
        return gone, again, q._group.batches - before, len(q)
    gone, again, batches, left = asyncio.run(main())
    assert gone == [True] * 6 and again is False
    # six removals in one batch; the repeat finds nothing to recycle, then nothing to unlink
    assert batches == 3 and left == 0


def test_group_commit_works_in_a_forked_child(tmp_path):
    """The worker threads are the process's own: a child forked after the
    parent used them (multiprocessing's default on Linux) gets new ones."""
    import multiprocessing

    async def one(name):
        await GroupCommit().commit(tmp_path / name, b"x")
    asyncio.run(one("parent"))
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=lambda: asyncio.run(one("child")))
    p.start()
    p.join(30)
    assert p.exitcode == 0 and (tmp_path / "child").read_bytes() == b"x"


def test_group_commit_survives_a_loop_stopped_mid_batch(tmp_path):
    """A lab stopped while a batch is in a worker, then started on a new loop
    (the same host objects), still commits: the old loop's leftovers are dropped."""
    gc = GroupCommit(max_inflight=1)
    loop = asyncio.new_event_loop()
    try:
        async def abandon():
            task = asyncio.ensure_future(gc.commit(tmp_path / "old", b"x"))
            task._log_destroy_pending = False   # it dies with its loop, on purpose
            await asyncio.sleep(0)
        loop.run_until_complete(abandon())      # stopped with the batch under way
    finally:
        loop.close()

    async def again():
        await asyncio.wait_for(gc.commit(tmp_path / "new", b"y"), 10)
    asyncio.run(again())
    assert (tmp_path / "new").read_bytes() == b"y"


def test_spent_files_are_recycled_not_unlinked(tmp_path):
    """With group commit a delivered message's file becomes a spare (outside the
    queue directories) that the next message reuses: no inode is created or
    freed per message, the queue never shows a spare, and a restart finds them."""
    import asyncio
    import os
    from labmail.mta.queue import MAX_SPARES, SPARE_DIR
    clock, ids = Clock.fixed("2026-11-27T09:00:00+00:00"), IdGenerator(3)
    q = Queue(tmp_path, clock, ids, group_commit=True)
    incoming = q.dir("incoming")
    spare_dir = tmp_path / SPARE_DIR

    async def cycle():
        first = await q.enqueue_async("a@example.com", ["b@example.org"], b"one\r\n")
        inode = os.stat(q.path("incoming", first.queue_id)).st_ino
        assert await q.remove_async(first)
        spares = os.listdir(spare_dir)
        assert len(spares) == 1 and os.stat(spare_dir / spares[0]).st_ino == inode
        assert os.listdir(incoming) == [] and os.listdir(q.dir("active")) == []
        second = await q.enqueue_async("a@example.com", ["c@example.org"], b"two\r\n")
        path = q.path("incoming", second.queue_id)
        assert os.stat(path).st_ino == inode                 # the same file, rewritten
        assert q.load(second.queue_id).content == b"two\r\n"
        assert os.listdir(spare_dir) == [] and os.listdir(incoming) == [second.queue_id]
        many = [await q.enqueue_async("a@example.com", ["d@example.org"], b"x\r\n")
                for _ in range(MAX_SPARES + 5)]
        assert all(await asyncio.gather(*(q.remove_async(m) for m in many)))
        return second

    second = asyncio.run(cycle())
    assert q.ids_in("incoming") == [second.queue_id] and len(q) == 1
    assert os.listdir(incoming) == [second.queue_id]        # nothing else, hidden or not
    assert len(os.listdir(spare_dir)) == MAX_SPARES                          # the rest were unlinked
    again = Queue(tmp_path, clock, ids, group_commit=True)   # a restart
    assert len(again._spares) == MAX_SPARES and again.ids_in("incoming") == [second.queue_id]


def test_recycling_survives_a_removed_spare_directory(tmp_path):
    import asyncio
    import shutil
    from labmail.mta.queue import SPARE_DIR
    q = Queue(tmp_path, Clock.fixed("2026-11-27T09:00:00+00:00"), IdGenerator(4), group_commit=True)

    async def main():
        a = await q.enqueue_async("a@example.com", ["b@example.org"], b"1\r\n")
        b = await q.enqueue_async("a@example.com", ["b@example.org"], b"2\r\n")
        assert await q.remove_async(a)
        shutil.rmtree(tmp_path / SPARE_DIR)           # someone cleans up by hand
        q._spares.clear()
        assert await q.remove_async(b)               # unlinked instead, then made again
        c = await q.enqueue_async("a@example.com", ["b@example.org"], b"3\r\n")
        assert await q.remove_async(c)
        assert not await q.remove_async(c)           # already gone
    asyncio.run(main())
    assert len(q) == 0 and len(os.listdir(tmp_path / SPARE_DIR)) == 1
