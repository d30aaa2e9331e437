"""Crash safety: SIGKILL a two-host lab at many random points under load.

A process running two lab hosts (``twohosts.py``) serves SMTP deliveries to
alice@example.com (local), relays to bob@example.org (the other host) and
IMAP flag changes on alice's INBOX.  At random moments (seeded) it is killed
with SIGKILL and started again on the same state directory: 4 kill points in
the short form, 12 in the full form.  At the end:

* every message that got a ``250`` is delivered: local ones exactly once;
  relayed ones at least once (a kill between the other host's ``250`` and the
  removal of the queue file makes SMTP deliver twice -- RFC 1047, Postfix too;
  the count is reported);
* no queue file is left behind or corrupt, nothing in ``corrupt/``;
* the IMAP UID of every message seen before a kill is the same afterwards
  (and UIDVALIDITY never changes), every acknowledged ``\\Flagged`` is kept;
* every Maildir file parses and the mailbox opens over IMAP.
"""
from __future__ import annotations

import imaplib
import json
import os
import poplib
import random
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from email import message_from_bytes
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from .conftest import INSIDE_IP

DRIVER = Path(__file__).with_name("twohosts.py")
MID = re.compile(rb"Message-Id: <(crash-\d+-\d+)@", re.I)


def _start(state: Path):
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(state)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    eps: Dict[Tuple[str, str], Tuple[str, int]] = {}
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or line.strip() == "ready":
            break
        host, service, where = line.split()
        ip, _, port = where.rpartition(":")
        eps[(host, service)] = (ip, int(port))
    if ("mail.example.com", "smtp") not in eps:
        proc.kill()
        pytest.fail("two-host lab did not start: " + (proc.stderr.read() if proc.stderr else ""))
    return proc, eps


class Load:
    """Client threads that record what the server acknowledged."""

    def __init__(self, eps, cycle: int) -> None:
        self.eps, self.cycle = eps, cycle
        self.stop = threading.Event()
        self.acked: Dict[str, str] = {}           # message id -> "local" | "relay"
        self.uids: Dict[str, int] = {}            # message id -> UID seen over IMAP
        self.flagged: List[str] = []              # message ids whose +FLAGS got OK
        self.uidvalidity: List[int] = []
        self.lock = threading.Lock()
        self.n = 0

    def smtp(self, wid: int) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.n += 1
                n = self.n
            mid = f"crash-{self.cycle}-{wid * 100000 + n}"
            kind = "relay" if n % 3 == 0 else "local"
            rcpt = "bob@example.org" if kind == "relay" else "alice@example.com"
            msg = (f"From: load@example.com\r\nTo: {rcpt}\r\nSubject: crash\r\n"
                   f"Message-Id: <{mid}@example.com>\r\n\r\n" + "z" * 300 + "\r\n").encode()
            try:
                with smtplib.SMTP(*self.eps[("mail.example.com", "smtp")], timeout=5,
                                  local_hostname="loadgen", source_address=(INSIDE_IP, 0)) as s:
                    s.sendmail("load@example.com", [rcpt], msg)
                with self.lock:
                    self.acked[mid] = kind
            except (OSError, smtplib.SMTPException):
                return

    def imap(self) -> None:
        try:
            m = imaplib.IMAP4(*self.eps[("mail.example.com", "imap")], timeout=5)
            m.login("alice", "secret")
            typ, _ = m.select("INBOX")
            self.uidvalidity.append(int(m.untagged_responses.get("UIDVALIDITY", [b"0"])[0]))
            while not self.stop.is_set():
                typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                new = []
                for item in data:
                    if isinstance(item, tuple):
                        uid = re.search(rb"UID (\d+)", item[0])
                        mid = MID.search(b"Message-Id: " + item[1].split(b":", 1)[-1].strip()
                                         if item[1] else b"")
                        if uid and mid:
                            key = mid.group(1).decode()
                            if key not in self.uids:
                                new.append((key, int(uid.group(1))))
                for key, uid in new[:20]:
                    typ, _ = m.uid("STORE", str(uid), "+FLAGS", r"(\Flagged)")
                    if typ == "OK":
                        with self.lock:
                            self.uids[key] = uid
                            self.flagged.append(key)
                time.sleep(0.05)
        except (OSError, imaplib.IMAP4.error, ValueError):
            return


def _maildir(state: Path, host: str, user: str) -> Path:
    return state / host / "home" / user / "Maildir"


def _delivered(maildir: Path) -> Dict[str, List[Path]]:
    seen: Dict[str, List[Path]] = {}
    for sub in ("new", "cur"):
        d = maildir / sub
        for f in (d.iterdir() if d.is_dir() else []):
            m = MID.search(f.read_bytes()[:3000])
            seen.setdefault(m.group(1).decode() if m else f"?{f.name}", []).append(f)
    return seen


def _queue_files(state: Path) -> Dict[str, int]:
    out = {}
    for host in ("mail.example.com", "mail.example.org"):
        spool = state / host / "var" / "spool" / "postfix"
        for q in ("incoming", "active", "deferred", "corrupt", "hold"):
            d = spool / q
            n = sum(1 for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")) \
                if d.is_dir() else 0
            if n:
                out[f"{host}/{q}"] = n
    return out


def _bounced_host_not_found(state: Path) -> set:
    """Message ids that the known start-order bug (QUEUE_BEFORE_DNS below) bounced."""
    log = (state / "mail.example.com" / "var" / "log" / "maillog").read_text(errors="replace")
    mids = dict(re.findall(r"(\w+): message-id=<(crash-[\d-]+)@", log))
    bounced = set(re.findall(r"(\w+): to=<bob@example\.org>.*status=bounced \(Host or domain "
                             r"name not found", log))
    return {mids[q] for q in bounced if q in mids}


def _remove_dead_locks(state: Path) -> int:
    """Count the dot-locks a killed lab left behind (their holder is dead).

    They stay: the restarted lab must take them over at once, as Dovecot's
    file_dotlock does (test_stale_uidlist_lock_of_a_dead_process_is_taken_over).
    """
    left = 0
    for lock in state.rglob("*.lock"):
        try:
            pid = int(lock.read_text().split()[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            left += 1
        except (OSError, ValueError, IndexError):
            pass
    return left


def test_sigkill_at_random_points(tmp_path, scale):
    state = tmp_path / "lab"
    rng = random.Random(20261128)
    acked: Dict[str, str] = {}
    uids: Dict[str, int] = {}
    flagged: List[str] = []
    uidvalidity: List[int] = []
    stderr_tails: List[str] = []
    dead_locks = 0
    for cycle in range(scale.kill_points):
        dead_locks += _remove_dead_locks(state)
        proc, eps = _start(state)
        load = Load(eps, cycle)
        threads = [threading.Thread(target=load.smtp, args=(w,), daemon=True) for w in range(4)]
        threads.append(threading.Thread(target=load.imap, daemon=True))
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 1.5))          # the random kill point
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        load.stop.set()
        for t in threads:
            t.join(10)
        err = proc.stderr.read() if proc.stderr else ""
        if "Traceback" in err:
            stderr_tails.append(err[-800:])
        for key, uid in load.uids.items():
            assert uids.setdefault(key, uid) == uid, f"UID of {key} changed: {uids[key]} -> {uid}"
        acked.update(load.acked)
        flagged += load.flagged
        uidvalidity += load.uidvalidity
    # final run: let everything drain, then look at the mailbox over IMAP
    dead_locks += _remove_dead_locks(state)
    proc, eps = _start(state)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not _queue_files(state):
                local = _delivered(_maildir(state, "mail.example.com", "alice"))
                remote = _delivered(_maildir(state, "mail.example.org", "bob"))
                known = _bounced_host_not_found(state)
                if all(k in local or k in remote or k in known for k in acked):
                    break
            time.sleep(0.2)
        time.sleep(0.3)
        m = imaplib.IMAP4(*eps[("mail.example.com", "imap")], timeout=10)
        m.login("alice", "secret")
        assert m.select("INBOX")[0] == "OK"
        final_validity = int(m.untagged_responses["UIDVALIDITY"][0])
        typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "OK"
        final_uids: Dict[str, Tuple[int, bytes]] = {}
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                mid = MID.search(b"Message-Id: " + item[1].split(b":", 1)[-1].strip())
                if mid:
                    final_uids[mid.group(1).decode()] = (uid, item[0])
        m.logout()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    local = _delivered(_maildir(state, "mail.example.com", "alice"))
    remote = _delivered(_maildir(state, "mail.example.org", "bob"))
    lost = [k for k, kind in acked.items() if k not in (local if kind == "local" else remote)]
    # the start-order bug this suite once found (fixed: see
    # test_queue_recovered_at_start_relays_to_a_later_host) is reported apart, and fails too
    known = _bounced_host_not_found(state)
    lost_known = [k for k in lost if k in known]
    local_twice = [k for k, files in local.items() if len(files) > 1]
    relay_twice = [k for k, files in remote.items() if len(files) > 1]
    unparsable = [p for files in list(local.values()) + list(remote.values()) for p in files
                  if not message_from_bytes(p.read_bytes()).get("Message-Id")]
    figures = {"kill_points": scale.kill_points, "acknowledged": len(acked),
               "acknowledged_local": sum(1 for v in acked.values() if v == "local"),
               "acknowledged_relayed": sum(1 for v in acked.values() if v == "relay"),
               "lost": len(lost), "lost_to_known_start_order_bug": len(lost_known), "local_duplicates": len(local_twice),
               "relay_duplicates": len(relay_twice), "imap_uids_checked": len(uids),
               "stale_locks_of_killed_process": dead_locks,
               "flags_acknowledged": len(flagged), "queue_left": _queue_files(state)}
    out = os.environ.get("LABMAIL_RELIABILITY_FIGURES")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "crash.json").write_text(json.dumps(figures, indent=1))
    print("crash figures:", figures)
    assert not stderr_tails, stderr_tails[0]
    assert len(acked) > 0, figures
    if scale.full:            # short cycles on a busy CI machine may see no IMAP round
        assert uids, figures
    assert not lost, f"{len(lost)} acknowledged messages lost: {lost[:5]}"
    assert not local_twice, f"delivered twice: {local_twice[:5]}"
    assert not _queue_files(state), figures
    assert not unparsable
    assert set(uidvalidity) | {final_validity} == {final_validity}, "UIDVALIDITY changed"
    changed = {k: (uid, final_uids.get(k)) for k, uid in uids.items()
               if k in final_uids and final_uids[k][0] != uid}
    assert not changed, f"UIDs changed across restarts: {list(changed.items())[:5]}"
    assert all(k in final_uids for k in uids), "a message seen over IMAP vanished"
    unflagged = [k for k in flagged if b"\\Flagged" not in final_uids[k][1]]
    assert not unflagged, f"acknowledged \\Flagged lost: {unflagged[:5]}"


QUEUE_BEFORE_DNS = (
    "a queue recovered at start is delivered before the lab knows its other hosts: "
    "labmail/lab.py Lab.start() starts host after host, and Host._start_services "
    "(labmail/host.py) starts its qmgr at once, so mail.example.com's recovered mail for "
    "example.org is looked up before mail.example.org is registered in the lab DNS and "
    "bounces permanently (5.4.4 Host not found) -- an acknowledged message lost after "
    "every restart (found by test_sigkill_at_random_points).  Fix: in Lab.start(), start "
    "every host's listeners and DNS records first and only then every host's qmgr (split "
    "qmgr.start() out of _start_services into a second pass)")


def test_queue_recovered_at_start_relays_to_a_later_host(tmp_path):
    import labmail
    lab = labmail.Lab(ports="auto", state_dir=tmp_path / "lab", seed=7)
    a = lab.add_host("mail.example.com", users={"alice": "secret"})
    b = lab.add_host("mail.example.org", users={"bob": "hunter2"})
    # left in incoming/ by a crash before the (next) start
    a.queue.enqueue("alice@example.com", ["bob@example.org"],
                    b"From: alice@example.com\r\nSubject: recovered\r\n\r\nhi\r\n")
    lab.start()
    try:
        lab.settle()
        assert "status=bounced" not in a.maillog.read()
        assert len(list(b.mailbox("bob"))) == 1
    finally:
        lab.stop()


STALE_LOCK = (
    "a dot-lock left by a killed process blocks the mailbox: labmail/store/locking.py "
    "dotlock() only takes a lock over when it is older than `stale` (120 s), so after a "
    "SIGKILL the first IMAP SELECT waits its 10 s timeout and fails (found by "
    "test_sigkill_at_random_points).  Dovecot's file_dotlock reads the PID written in the "
    "lock and overrides it at once when that process no longer exists.  Fix: in dotlock(), "
    "on FileExistsError read the pid from the lock; if os.kill(pid, 0) raises "
    "ProcessLookupError, unlink the lock and retry immediately")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_uidlist_lock_of_a_dead_process_is_taken_over(tmp_path):
    import labmail
    lab = labmail.Lab(ports="auto", state_dir=tmp_path / "lab", seed=7)
    host = lab.add_host("mail.example.com", users={"alice": "secret"})
    lab.start()
    try:
        with smtplib.SMTP(*host.endpoints["smtp"], timeout=10) as s:
            s.sendmail("a@example.net", ["alice@mail.example.com"], b"Subject: x\r\n\r\nx\r\n")
        host.settle()
        lock = host.maildir_path("alice") / "dovecot-uidlist.lock"
        lock.write_text(f"{_dead_pid()}\n")
        started = time.monotonic()
        try:
            with imaplib.IMAP4(*host.endpoints["imap"], timeout=2.5) as m:
                m.login("alice", "secret")
                typ, _ = m.select("INBOX")
        except OSError:
            typ = "timed out"
        finally:
            lock.unlink(missing_ok=True)       # end the server's wait (the test stays short)
        assert typ == "OK" and time.monotonic() - started < 2.0
    finally:
        lab.stop()


def test_held_mailbox_lock_does_not_freeze_other_services(tmp_path):
    """While an IMAP and a POP3 client wait for alice's (live) uidlist lock,
    SMTP and bob's IMAP are served at once (reliability bug: the lock wait
    ran on the lab's event loop and froze every service for up to 10 s)."""
    import labmail
    lab = labmail.Lab(ports="auto", state_dir=tmp_path / "lab", seed=7)
    host = lab.add_host("mail.example.com", users={"alice": "secret", "bob": "hunter2"})
    lab.start()
    try:
        with smtplib.SMTP(*host.endpoints["smtp"], timeout=10) as s:
            s.sendmail("a@example.net", ["alice@mail.example.com", "bob@mail.example.com"],
                       b"Subject: x\r\n\r\nx\r\n")
        host.settle()
        lock = host.maildir_path("alice") / "dovecot-uidlist.lock"
        lock.write_text(f"{os.getpid()}\n")           # alive: a real holder

        def imap_waiter() -> None:
            try:
                with imaplib.IMAP4(*host.endpoints["imap"], timeout=15) as m:
                    m.login("alice", "secret")
                    m.select("INBOX")
            except Exception:     # noqa: BLE001 - only the other services matter here
                pass

        def pop3_waiter() -> None:
            try:
                p = poplib.POP3(*host.endpoints["pop3"], timeout=15)
                p.user("alice")
                p.pass_("secret")
                p.quit()
            except Exception:     # noqa: BLE001
                pass
        waiters = [threading.Thread(target=f, daemon=True) for f in (imap_waiter, pop3_waiter)]
        for t in waiters:
            t.start()
        released: List[float] = []

        def release() -> None:                     # bounds the stall
            released.append(time.monotonic())
            lock.unlink(missing_ok=True)
        unlock = threading.Timer(4.0, release)
        unlock.start()
        time.sleep(1.0)
        with smtplib.SMTP(*host.endpoints["smtp"], timeout=10) as s:
            s.noop()
        smtp_done = time.monotonic()
        with imaplib.IMAP4(*host.endpoints["imap"], timeout=10) as m:
            m.login("bob", "hunter2")
            typ, data = m.select("INBOX")
            m.logout()
        imap_done = time.monotonic()
        for t in waiters:
            t.join(15)
        unlock.join(5)
        # order, not speed: a frozen loop would answer only once the lock is gone
        assert released and smtp_done < released[0], "SMTP waited for alice's mailbox lock"
        assert (typ, data) == ("OK", [b"1"])
        assert imap_done < released[0], "bob's IMAP waited for alice's mailbox lock"
    finally:
        lab.stop()
