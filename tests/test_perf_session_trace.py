"""Transcript lines keep the clock's reading and make ``when`` only when asked:
what a reader sees is what a line holding ``Clock.now()`` showed."""
from __future__ import annotations

import datetime as dt

import pytest

from labmail.clock import Clock
from labmail.trace import Line, Transcript


def _transcript(clock):
    return Transcript("smtp", ("127.0.0.1", 40000), ("127.0.0.2", 25), clock)


def test_when_is_the_clocks_now_at_the_time_of_the_line():
    clock = Clock.fixed("2026-11-27T09:00:00.250+01:00")
    t = _transcript(clock)
    t.server("220 mail.example.com ESMTP labmail")
    clock.advance(minutes=90)
    t.client("EHLO laptop")
    first, second = t.lines
    assert first.when == dt.datetime(2026, 11, 27, 9, 0, 0, 250000,
                                     tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert first.when.tzinfo == clock.tz and second.when == clock.now()
    assert t.text(timestamps=True) == ("09:00:00.250 S: 220 mail.example.com ESMTP labmail\n"
                                       "10:30:00.250 C: EHLO laptop")


def test_real_clock_lines_are_aware_and_in_order():
    clock = Clock()
    t = _transcript(clock)
    before = clock.now()
    for i in range(5):
        t.client(f"NOOP {i}")
    after = clock.now()
    stamps = [ln.when for ln in t.lines]
    assert before <= stamps[0] and stamps == sorted(stamps) and stamps[-1] <= after
    assert all(s.tzinfo is dt.timezone.utc for s in stamps)


def test_a_line_reads_compares_and_prints_as_before():
    when = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc)
    ln = Line(when, "S", "250 2.0.0 Ok", True)
    assert (ln.when, ln.who, ln.text, ln.tls) == (when, "S", "250 2.0.0 Ok", True)
    assert str(ln) == "S: 250 2.0.0 Ok" and str(Line(when, "*", "connection closed")) == "* connection closed"
    assert repr(ln) == f"Line(when={when!r}, who='S', text='250 2.0.0 Ok', tls=True)"
    same = Line(when.timestamp(), "S", "250 2.0.0 Ok", True, _tz=dt.timezone.utc)
    assert ln == same and hash(ln) == hash(same) and ln != Line(when, "C", "250 2.0.0 Ok", True)
    with pytest.raises(AttributeError):
        ln.text = "changed"          # type: ignore[misc]
