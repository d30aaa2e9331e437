"""Shared fixtures: a running lab with one host on free ports."""
from __future__ import annotations

import shutil

import pytest

import labmail


@pytest.fixture
def lab(tmp_path):
    """A started lab (free ports, fixed clock, seeded ids), stopped afterwards."""
    lab = labmail.Lab(ports="auto", state_dir=tmp_path / "lab", seed=7,
                      clock="2026-11-27T09:00:00+00:00")
    yield lab
    lab.stop()


@pytest.fixture
def host(lab):
    """mail.example.com with users alice and bob, running."""
    h = lab.add_host("mail.example.com", users={"alice": "secret", "bob": "hunter2"})
    lab.start()
    return h


def need_tool(name: str) -> str:
    """The path of a real tool, or skip the test saying how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install the Debian package that has it)")
    return path


def close_server(loop, server, timeout: float = 5.0) -> None:
    """Close an asyncio *server* on its own *loop* (a loop or a Lab) from the test's thread.

    asyncio servers are not thread-safe: ``server.close()`` called from another
    thread races the loop's own bookkeeping (seen in CI as a TypeError in
    ``Server._wakeup``), so the close and the wait run on the loop.
    """
    import asyncio
    loop = getattr(loop, "loop", loop)

    async def close():
        server.close()
        await asyncio.wait_for(server.wait_closed(), timeout)
    asyncio.run_coroutine_threadsafe(close(), loop).result(timeout + 1)


def wait_for(predicate, timeout: float = 3.0, interval: float = 0.01):
    """Poll *predicate* until it is true (bounded); return its last value."""
    import time
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With LABMAIL_REQUIRE_TOOLS=1 (set by .ci/run) a missing real tool fails.

    On a student's machine differential tests skip when Postfix, Dovecot, etc.
    are absent; in CI they are installed, so such a skip means a broken set-up.
    """
    import os
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("LABMAIL_REQUIRE_TOOLS") == "1":
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        if "not installed" in reason:
            report.outcome = "failed"
            report.longrepr = f"required tool missing in CI: {reason}"
