"""Load: many concurrent SMTP sessions and IMAP sessions (IDLE and FETCH/STORE mixed).

The lab runs as ``labmail serve`` (its own process, so its RSS is its own);
an asyncio client opens every session at once and keeps them busy for a
bounded time: 20 SMTP + 5 IMAP for 3 s in the short form, 200 + 50 for 60 s in
the full form.  Every reply must be a success (no limits are configured),
every acknowledged message must be delivered exactly once, and the server's
memory must stay bounded.  Figures go to ``$LABMAIL_RELIABILITY_FIGURES/load.json``
when that directory is set (tools/reliability_report.py does).
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Dict, List

from .conftest import rss_kb, serve, stop


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line


async def smtp_worker(endpoint, wid: int, deadline: float, acked: List[str],
                      errors: List[str], limit: int = 10**9) -> None:
    reader, writer = await asyncio.open_connection(*endpoint)
    try:
        await _reply(reader)
        writer.write(b"EHLO load%d.example.net\r\n" % wid)
        await _reply(reader)
        n = 0
        while time.monotonic() < deadline and n < limit:
            mid = f"load-{wid}-{n}"
            for cmd, want in ((b"MAIL FROM:<load@example.net>", b"250"),
                              (b"RCPT TO:<alice@mail.example.com>", b"250"), (b"DATA", b"354")):
                writer.write(cmd + b"\r\n")
                line = await _reply(reader)
                if not line.startswith(want):
                    errors.append(f"{cmd!r}: {line!r}")
                    return
            writer.write(b"Subject: load\r\nMessage-Id: <%s@example.net>\r\n\r\n%s\r\n.\r\n"
                         % (mid.encode(), b"y" * 500))
            line = await _reply(reader)
            if not line.startswith(b"250"):
                errors.append(f"end of data: {line!r}")
                return
            acked.append(mid)
            n += 1
        writer.write(b"QUIT\r\n")
        await _reply(reader)
    except (OSError, ConnectionError) as exc:
        errors.append(f"smtp {wid}: {exc!r}")
    finally:
        writer.close()


async def imap_worker(endpoint, wid: int, deadline: float, counts: Dict[str, int],
                      errors: List[str]) -> None:
    reader, writer = await asyncio.open_connection(*endpoint)
    tag = 0

    async def command(text: bytes) -> bytes:
        nonlocal tag
        tag += 1
        t = b"t%d" % tag
        writer.write(t + b" " + text + b"\r\n")
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("closed")
            if line.startswith(t + b" "):
                if not line.startswith(t + b" OK"):
                    errors.append(f"imap {wid} {text!r}: {line!r}")
                return line
    try:
        await reader.readline()
        await command(b"LOGIN alice secret")
        await command(b"SELECT INBOX")
        while time.monotonic() < deadline:
            if wid % 2:
                writer.write(b"i IDLE\r\n")
                if not (await reader.readline()).startswith(b"+"):
                    errors.append(f"imap {wid}: IDLE refused")
                    return
                await asyncio.sleep(0.5)
                writer.write(b"DONE\r\n")
                while not (await reader.readline()).startswith(b"i "):
                    pass
                counts["idle"] = counts.get("idle", 0) + 1
            else:
                # a window of the mailbox, as a client syncing what it shows: SMTP
                # fills INBOX with thousands of messages within the run, and a STORE
                # on 1:* renames every file (as Dovecot's Maildir does), so 25
                # sessions storing 1:* in turn fall minutes behind
                await command(b"UID FETCH 1:200 (FLAGS)")
                await command(b"UID STORE 1:200 +FLAGS (\\Seen)")
                await command(b"UID STORE 1:200 -FLAGS (\\Seen)")
                counts["fetch"] = counts.get("fetch", 0) + 1
                await asyncio.sleep(0.05)
        await command(b"LOGOUT")
    except (OSError, ConnectionError) as exc:
        errors.append(f"imap {wid}: {exc!r}")
    finally:
        writer.close()


def _delivered(maildir: Path) -> Dict[str, int]:
    seen: Dict[str, int] = {}
    for sub in ("new", "cur"):
        for f in (maildir / sub).glob("*") if (maildir / sub).is_dir() else []:
            m = re.search(rb"Message-Id: <(load-\d+-\d+)@", f.read_bytes()[:2000])
            if m:
                seen[m.group(1).decode()] = seen.get(m.group(1).decode(), 0) + 1
    return seen


def test_concurrent_smtp_and_imap(tmp_path, scale):
    proc, endpoints = serve(tmp_path / "lab", "--user", "alice:secret")
    state = tmp_path / "lab" / "mail.example.com"
    acked: List[str] = []
    errors: List[str] = []
    counts: Dict[str, int] = {}
    rss: List[int] = []
    try:
        base = rss_kb(proc.pid)

        async def main() -> None:
            # (Dovecot answers BAD "Invalid messageset" to 1:* on an empty mailbox)
            await smtp_worker(endpoints["smtp"], 9999, time.monotonic() + 10, acked, errors, 1)
            for _ in range(200):
                if _delivered(state / "home" / "alice" / "Maildir"):
                    break
                await asyncio.sleep(0.05)
            deadline = time.monotonic() + scale.load_seconds

            async def sample() -> None:
                while time.monotonic() < deadline + 1:
                    rss.append(rss_kb(proc.pid))
                    await asyncio.sleep(0.5)
            # a first message so FETCH 1:* has something to work on
            tasks = [smtp_worker(endpoints["smtp"], i, deadline, acked, errors)
                     for i in range(scale.smtp_sessions)]
            tasks += [imap_worker(endpoints["imap"], i, deadline, counts, errors)
                      for i in range(scale.imap_sessions)]
            await asyncio.wait_for(asyncio.gather(sample(), *tasks),
                                   scale.load_seconds + 120)
        started = time.monotonic()
        asyncio.run(main())
        elapsed = time.monotonic() - started
        maildir = state / "home" / "alice" / "Maildir"
        drain_deadline = time.monotonic() + 60
        while time.monotonic() < drain_deadline:
            seen = _delivered(maildir)
            if len(seen) >= len(acked):
                break
            time.sleep(0.2)
        seen = _delivered(maildir)
    finally:
        stop(proc)
    figures = {"smtp_sessions": scale.smtp_sessions, "imap_sessions": scale.imap_sessions,
               "seconds": round(elapsed, 1), "messages_acked": len(acked),
               "messages_per_second": round(len(acked) / elapsed, 1),
               "imap_idle_cycles": counts.get("idle", 0),
               "imap_fetch_store_cycles": counts.get("fetch", 0),
               "rss_start_mb": base // 1024, "rss_peak_mb": max(rss or [base]) // 1024,
               "errors": len(errors)}
    out = os.environ.get("LABMAIL_RELIABILITY_FIGURES")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "load.json").write_text(json.dumps(figures, indent=1))
    print("load figures:", figures)
    assert not errors, errors[:10]
    assert len(acked) > scale.smtp_sessions and counts.get("fetch") and counts.get("idle"), figures
    missing = [m for m in acked if m not in seen]
    twice = [m for m, c in seen.items() if c > 1]
    assert not missing, f"{len(missing)} acknowledged messages not delivered: {missing[:5]}"
    assert not twice, twice[:5]
    # bounded by the work, not by time: what the lab keeps grows with the mailbox
    # that 50 IMAP sessions have selected (~24,000 messages in the full run), so the
    # bound is 300 MB plus 8 KB per delivered message (measured: ~13 KB/msg at 24k)
    growth_kb = max(rss or [base]) - base
    assert growth_kb < 300 * 1024 + 8 * len(seen), figures
