"""smtpd's idle timer: one timer per connection follows the deadline each
command moves, and fires when the last deadline passes (socket-free, on a
pretend clock)."""
from __future__ import annotations

import asyncio

import pytest

from labmail.mta.smtpd_services import make_protocol_factory


class PretendLoop:
    """The two loop methods the idle timer uses, on a clock the test moves."""

    def __init__(self, real):
        self.real, self.now, self.timers = real, 0.0, []

    def time(self):
        return self.now

    def call_at(self, when, callback):
        handle = asyncio.TimerHandle(when, callback, (), self.real)
        self.timers.append(handle)
        return handle

    def advance_to(self, t):
        while True:
            due = sorted((h for h in self.timers if not h.cancelled() and h.when() <= t),
                         key=lambda h: h.when())
            if not due:
                break
            handle = due[0]
            self.timers.remove(handle)
            self.now = max(self.now, handle.when())
            handle._run()
        self.now = t


@pytest.fixture
def proto(host):
    factory = make_protocol_factory(host)

    async def make():
        return factory()
    p = asyncio.run_coroutine_threadsafe(make(), host.lab.loop).result(5)
    p.loop = PretendLoop(host.lab.loop)
    p.fired = []
    p._timeout_cb = lambda: p.fired.append(p.loop.now)
    return p


def test_the_timeout_comes_a_full_period_after_the_last_command(proto):
    loop = proto.loop
    proto._reset_timeout(300)                 # connection made
    for t in (10, 100, 250):                  # commands
        loop.advance_to(t)
        proto._reset_timeout()
    assert proto._timeout_duration == 300
    loop.advance_to(549.9)
    assert proto.fired == []
    loop.advance_to(600)
    assert proto.fired == [550]
    assert len(loop.timers) == 0              # nothing left behind


def test_commands_move_one_timer_instead_of_making_one_each(proto):
    loop = proto.loop
    proto._reset_timeout()
    for t in range(1, 50):
        loop.advance_to(t)
        proto._reset_timeout()
    assert len(loop.timers) == 1 and not loop.timers[0].cancelled()


def test_a_shorter_period_takes_effect_at_once(proto):
    loop = proto.loop
    proto._reset_timeout(300)
    loop.advance_to(5)
    proto._reset_timeout(3)                   # e.g. a PROXY header's own timeout
    loop.advance_to(8)
    assert proto.fired == [8]


def test_a_cancelled_timer_stays_cancelled_and_a_new_command_starts_one(proto):
    loop = proto.loop
    proto._reset_timeout(300)
    proto._timeout_handle.cancel()            # aiosmtpd's connection_lost does this
    loop.advance_to(1000)
    assert proto.fired == []
    proto._reset_timeout(300)
    loop.advance_to(1300)
    assert proto.fired == [1300]
