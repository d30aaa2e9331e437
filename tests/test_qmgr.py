"""The queue manager: prompt delivery, deferral with back-off, expiry, bounces,
hold/release, flush and restart, driven by a fixed lab clock."""
from __future__ import annotations

import asyncio
import re

import pytest

from labmail.clock import Clock, IdGenerator
from labmail.log import MailLog
from labmail.mta.mailq import mailq, postsuper
from labmail.mta.qmgr import Outcome, QmgrSettings, QueueManager, is_expired, next_retry, parse_time
from labmail.mta.queue import Queue, QueueFile

REFUSED = "connect to mx.example.org[127.0.0.3]:25: Connection refused"


class Agent:
    """A scripted delivery agent: per address, a list of outcomes (last repeats)."""

    def __init__(self, script=None):
        self.script = script or {}
        self.calls = []

    async def __call__(self, qf, rcpt):
        self.calls.append((qf.queue_id, rcpt.address, qf.sender))
        plan = self.script.get(rcpt.address, ["sent"])
        kind = plan.pop(0) if len(plan) > 1 else plan[0]
        if kind == "sent":
            return Outcome("sent", "2.0.0", "mx.example.org[127.0.0.3]:25",
                           "250 2.0.0 Ok: queued as ABC")
        if kind == "deferred":
            return Outcome("deferred", "4.4.1", "none", REFUSED)
        if kind == "bounced":
            return Outcome("bounced", "5.1.1", "mx.example.org[127.0.0.3]:25",
                           "host mx.example.org[127.0.0.3] said: 550 5.1.1 <x>: User unknown "
                           "(in reply to RCPT TO command)",
                           diag="smtp; 550 5.1.1 <x>: User unknown", remote_mta="mx.example.org")
        raise RuntimeError("agent crashed")


class Rig:
    def __init__(self, tmp_path, agent, **settings):
        self.clock = Clock.fixed("2026-11-27T09:00:00+00:00")
        self.queue = Queue(tmp_path, self.clock, IdGenerator(3))
        self.log = MailLog(tmp_path / "var/log/maillog", "mail.example.com", self.clock, IdGenerator(3))
        self.agent = agent
        self.qmgr = QueueManager(self.queue, agent, clock=self.clock, maillog=self.log,
                                 settings=QmgrSettings(myhostname="mail.example.com",
                                                       myorigin="example.com", **settings),
                                 poll_interval=0.01)

    def lines(self, qid=None):
        return [ln.split(": ", 1)[1] for ln in self.log.lines(qid)]

    async def send(self, sender="alice@example.com", rcpts=("bob@example.org",)):
        qf = self.queue.enqueue(sender, list(rcpts), b"Subject: t\r\n\r\nhello\r\n")
        self.qmgr.submit(qf)
        await self.qmgr.idle()
        return qf

    async def tick(self, seconds):
        self.clock.advance(seconds)
        self.qmgr.scan()
        await self.qmgr.idle()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_backoff_and_time_values():
    s = QmgrSettings()
    waits = []
    now = 0.0
    for _ in range(8):
        nxt = next_retry(0, now, s)
        waits.append(nxt - now)
        now = nxt
    assert waits == [300, 300, 600, 1200, 2400, 4000, 4000, 4000]
    assert parse_time("5d") == 432000 and parse_time("1h") == 3600
    qf = QueueFile("A", "", [], arrival=0)
    assert not is_expired(qf, 5 * 86400 - 1, s) and is_expired(qf, 5 * 86400, s)


def test_settings_from_config():
    cfg = {"minimal_backoff_time": "1m", "maximal_queue_lifetime": "2h",
           "myhostname": "mail.example.org", "myorigin": "example.org"}
    s = QmgrSettings.from_config(cfg)
    assert (s.minimal_backoff_time, s.maximal_queue_lifetime, s.maximal_backoff_time) == (60, 7200, 4000)
    assert (s.myhostname, s.myorigin) == ("mail.example.org", "example.org")


def test_prompt_delivery_logs_postfix_lines(tmp_path):
    async def main():
        rig = Rig(tmp_path, Agent())
        await rig.qmgr.start()
        qf = await rig.send()
        await rig.qmgr.stop()
        return rig, qf
    rig, qf = run(main())
    qid = qf.queue_id
    assert rig.lines(qid) == [
        f"{qid}: from=<alice@example.com>, size={qf.size}, nrcpt=1 (queue active)",
        f"{qid}: to=<bob@example.org>, relay=mx.example.org[127.0.0.3]:25, delay=0, "
        "delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABC)",
        f"{qid}: removed"]
    assert re.search(r"postfix/qmgr\[\d+\]: " + qid + ": removed", rig.log.read())
    assert len(rig.queue) == 0


def test_deferral_backoff_queue_runs_and_delivery_once(tmp_path):
    async def main():
        agent = Agent({"bob@example.org": ["deferred", "deferred", "sent"]})
        rig = Rig(tmp_path, agent)
        await rig.qmgr.start()
        qf = await rig.send()
        qid = qf.queue_id
        back = rig.queue.load(qid)
        assert back.queue == "deferred" and back.attempts == 1
        assert back.next_try == rig.clock.timestamp() + 300
        assert "(" + REFUSED + ")" in mailq(rig.queue)
        await rig.tick(200)                   # not due yet
        assert len(agent.calls) == 1
        await rig.tick(100)                   # due, and the queue run is due
        assert len(agent.calls) == 2
        await rig.tick(299)
        assert len(agent.calls) == 2
        await rig.tick(301)                   # deferred at age 300: next try at age 600, first queue run after it: 900
        assert len(agent.calls) == 3
        await rig.tick(4000)
        await rig.qmgr.stop()
        return rig, agent, qid
    rig, agent, qid = run(main())
    assert len(agent.calls) == 3
    assert len(rig.queue) == 0
    lines = rig.lines(qid)
    assert sum("status=deferred" in ln for ln in lines) == 2
    assert sum("status=sent" in ln for ln in lines) == 1
    assert "delay=900, delays=900/0/0/0, dsn=2.0.0, status=sent" in lines[-2]


def test_permanent_failure_bounces_to_sender_and_bounce_is_delivered(tmp_path):
    async def main():
        agent = Agent({"bob@example.org": ["bounced"], "carol@example.net": ["sent"]})
        rig = Rig(tmp_path, agent)
        await rig.qmgr.start()
        qf = await rig.send(rcpts=("bob@example.org", "carol@example.net"))
        await rig.qmgr.idle()
        await rig.qmgr.stop()
        return rig, agent, qf
    rig, agent, qf = run(main())
    qid = qf.queue_id
    dsn_calls = [c for c in agent.calls if c[2] == ""]
    assert len(dsn_calls) == 1 and dsn_calls[0][1] == "alice@example.com"
    bid = dsn_calls[0][0]
    text = rig.log.read()
    assert f"postfix/bounce[" in text
    assert f"{qid}: sender non-delivery notification: {bid}" in text
    assert f"{bid}: from=<>, size=" in text
    assert re.search(rf"postfix/cleanup\[\d+\]: {bid}: message-id=<\d{{14}}\.{bid}@mail.example.com>", text)
    order = [ln for ln in rig.lines() if qid in ln or bid in ln]
    assert order.index(f"{qid}: removed") > order.index(f"{qid}: sender non-delivery notification: {bid}")
    assert len(rig.queue) == 0


def test_expiry_returns_message_and_null_sender_never_bounces_twice(tmp_path):
    async def main():
        agent = Agent({"bob@example.org": ["deferred"], "alice@example.com": ["bounced"]})
        rig = Rig(tmp_path, agent, maximal_queue_lifetime=3600)
        await rig.qmgr.start()
        qf = await rig.send()
        for _ in range(6):
            await rig.tick(1000)
        await rig.qmgr.stop()
        return rig, agent, qf
    rig, agent, qf = run(main())
    text = rig.log.read()
    assert f"{qf.queue_id}: from=<alice@example.com>, status=expired, returned to sender" in text
    assert "sender non-delivery notification" in text
    assert "undeliverable bounce discarded" in text        # the DSN itself bounced
    assert len(rig.queue) == 0


def test_hold_release_and_flush(tmp_path):
    async def main():
        agent = Agent({"bob@example.org": ["deferred", "sent"]})
        rig = Rig(tmp_path, agent)
        await rig.qmgr.start()
        qf = await rig.send()
        postsuper(rig.queue, "-h", [qf.queue_id])
        await rig.tick(5000)
        assert len(agent.calls) == 1                   # held: not retried
        assert f"{qf.queue_id}!" in mailq(rig.queue)
        postsuper(rig.queue, "-H", [qf.queue_id])
        rig.qmgr.flush()
        rig.qmgr.scan()
        await rig.qmgr.idle()
        await rig.qmgr.stop()
        return rig, agent
    rig, agent = run(main())
    assert len(agent.calls) == 2 and len(rig.queue) == 0


def test_agent_exception_is_a_temporary_failure(tmp_path):
    async def main():
        rig = Rig(tmp_path, Agent({"bob@example.org": ["crash"]}))
        await rig.qmgr.start()
        qf = await rig.send()
        await rig.qmgr.stop()
        return rig, qf
    rig, qf = run(main())
    assert "dsn=4.3.0, status=deferred (mail system error: agent crashed)" in rig.log.read()
    assert rig.queue.locate(qf.queue_id) == "deferred"


def test_restart_recovers_active_incoming_and_deferred(tmp_path):
    async def first():
        rig = Rig(tmp_path, Agent({"bob@example.org": ["deferred"]}))
        a = rig.queue.enqueue("x@example.com", ["dan@example.org"], b"a")
        rig.queue.move(a, "active")                    # as if killed during delivery
        b = rig.queue.enqueue("y@example.com", ["eve@example.org"], b"b")
        await rig.qmgr.start()
        c = await rig.send()                           # ends up deferred
        await rig.qmgr.idle()
        await rig.qmgr.stop()
        return rig, a, b, c
    rig, a, b, c = run(first())
    assert {x[1] for x in rig.agent.calls} == {"dan@example.org", "eve@example.org", "bob@example.org"}
    assert rig.queue.locate(c.queue_id) == "deferred"

    async def second():
        rig2 = Rig(tmp_path, Agent())
        rig2.clock.advance(400)
        await rig2.qmgr.start()
        await asyncio.sleep(0.05)
        await rig2.qmgr.idle()
        await rig2.qmgr.stop()
        return rig2
    rig2 = run(second())
    assert [x[1] for x in rig2.agent.calls] == ["bob@example.org"]
    assert len(rig2.queue) == 0


def test_many_concurrent_messages_each_delivered_once(tmp_path):
    async def main():
        rig = Rig(tmp_path, Agent())
        await rig.qmgr.start()
        files = [rig.queue.enqueue("a@example.com", [f"u{i}@example.org"], b"m") for i in range(100)]
        for f in files:
            rig.qmgr.submit(f)
        rig.qmgr.scan()                                 # must not double-submit
        await rig.qmgr.idle()
        await rig.qmgr.stop()
        return rig
    rig = run(main())
    assert sorted(c[1] for c in rig.agent.calls) == sorted(f"u{i}@example.org" for i in range(100))
    assert len(rig.queue) == 0


def test_local_bounce_dsn_has_x_postfix_diagnostic(tmp_path):
    seen = []

    async def agent(qf, rcpt):
        if qf.sender == "":
            seen.append(qf.content)
            return Outcome("sent", "2.0.0", "local", "delivered to maildir", program="postfix/local")
        return Outcome("bounced", "5.1.1", "local", 'unknown user: "nobody"', program="postfix/local")

    async def main():
        rig = Rig(tmp_path, agent)
        await rig.qmgr.start()
        await rig.send(rcpts=("nobody@mail.example.com",))
        await rig.qmgr.idle()
        await rig.qmgr.stop()
        return rig
    rig = run(main())
    dsn = seen[0].decode()
    assert 'Diagnostic-Code: X-Postfix; unknown user: "nobody"' in dsn
    assert '<nobody@mail.example.com>: unknown user: "nobody"' in dsn
    assert "From: Mail Delivery System <MAILER-DAEMON@example.com>" in dsn
    assert "postfix/local[" in rig.log.read()


def test_run_queue_after_advancing_the_clock(tmp_path):
    async def main():
        agent = Agent({"bob@example.org": ["deferred", "sent"]})
        rig = Rig(tmp_path, agent)
        await rig.qmgr.start()
        await rig.send()
        assert await rig.qmgr.run_queue() == 0          # not due, queue run not due
        rig.clock.advance(hours=1)
        assert await rig.qmgr.run_queue() == 1
        await rig.qmgr.stop()
        return rig
    rig = run(main())
    assert len(rig.queue) == 0
