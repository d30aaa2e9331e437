"""The running firewall of a host, shared between processes through its state directory.

On a real server the kernel holds the running rules and every ``iptables``
command, from any terminal, changes them for every listener at once.  A lab
host's firewall lives in the Python process that runs the lab (a notebook,
``labmail serve``), so the running state is also kept in one file of the
host's state directory, ``/run/labmail/firewall.json`` — ``/run`` because,
as there, a restart replaces it with the saved configuration.  Each process
writes the file after a command and reads it again when it changed (one
``stat`` per new connection), so ``labmail iptables`` in a terminal and
``host.firewall.run(...)`` in a notebook work on the same firewall.

>>> share = SharedState(host.path(RUNTIME_FILE))                     # doctest: +SKIP
>>> share.push(fw); share.pull(fw)                                    # doctest: +SKIP
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence, Tuple

from .firewalld import Zone
from .iptables import IptablesError, Ruleset

if TYPE_CHECKING:  # pragma: no cover
    from . import Firewall

__all__ = ["RUNTIME_FILE", "SharedState", "cli"]

logger = logging.getLogger("labmail.firewall")

RUNTIME_FILE = "/run/labmail/firewall.json"


def _zone(data: Dict[str, Any]) -> Zone:
    return Zone(list(data["services"]), [tuple(p) for p in data["ports"]],  # type: ignore[misc]
                list(data["interfaces"]), list(data["sources"]), str(data["target"]))


class SharedState:
    """The running firewall in a file: :meth:`push` after a change, :meth:`pull` before use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._seen: Optional[Tuple[int, int, int]] = None

    def _key(self) -> Optional[Tuple[int, int, int]]:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        # each push replaces the file: a new inode even within one mtime tick
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def push(self, fw: "Firewall") -> None:
        """Write *fw*'s running state (atomically: readers see the old or the new file)."""
        fd = fw.firewalld
        data = {"iptables": fw.iptables.save(stamp=None), "firewalld_running": fd.running,
                "runtime": asdict(fd.runtime), "permanent": asdict(fd.permanent)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:            # a read-only state dir: the process keeps its own
            logger.warning("cannot share the firewall state in %s: %s", self.path, exc)
            return
        self._seen = self._key()

    def pull(self, fw: "Firewall") -> None:
        """Take over the running state another process wrote (nothing when unchanged)."""
        key = self._key()
        if key is None or key == self._seen:
            return
        self._seen = key
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            rules = Ruleset.restore(data["iptables"])
            runtime, permanent = _zone(data["runtime"]), _zone(data["permanent"])
            running = bool(data["firewalld_running"])
        except (OSError, ValueError, KeyError, TypeError, IptablesError) as exc:
            logger.warning("%s: unreadable (%s); keeping the firewall as it is", self.path, exc)
            return
        fw.iptables = rules
        fw.firewalld.runtime, fw.firewalld.permanent = runtime, permanent
        fw.firewalld.running = running


def cli(program: str, words: Sequence[str], help: Optional[Callable[[], None]] = None) -> int:
    """``labmail iptables|firewall-cmd|... [--state DIR] ARGS``: run one command line.

    The host is the state directory given with ``--state`` (or
    ``$LABMAIL_STATE``, or the current directory); its running firewall is
    changed as by ``host.firewall.run``, and a lab running on it obeys.
    """
    from . import Firewall
    words = list(words)
    if help is not None and words in (["-h"], ["--help"]):
        help()
        raise SystemExit(0)
    state = os.environ.get("LABMAIL_STATE", ".")
    if words[:1] == ["--state"] and len(words) > 1:
        state, words = words[1], words[2:]
    elif words[:1] and words[0].startswith("--state="):
        state, words = words[0].split("=", 1)[1], words[1:]
    root = Path(state)
    if not (root / "etc").is_dir():
        print(f"labmail {program}: {root}: not a lab host's state directory (no etc/); "
              "give it with --state DIR or $LABMAIL_STATE", file=sys.stderr)
        return 1
    fw = Firewall.attach(root)
    out = fw.run(shlex.join([program] + words))
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr)
    return out.rc
