"""Change notification between the delivery agent and IMAP IDLE sessions.

A process-wide registry: whoever changes a folder calls :func:`changed` with
the folder's key (its absolute path); every watcher of that key is called.

>>> seen = []
>>> stop = watch("/tmp/x/Maildir", seen.append)
>>> changed("/tmp/x/Maildir"); stop(); changed("/tmp/x/Maildir")
>>> seen
['/tmp/x/Maildir']
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Callable, Dict, List

__all__ = ["watch", "changed"]

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_watchers: Dict[str, List[Callable[[str], None]]] = {}


_real: Dict[str, str] = {}


def _norm(key: str) -> str:
    # same as Folder.path_key (symlinks resolved); remembered, since every
    # delivery asks and a mailbox directory does not move under a running lab
    key = str(key)
    real = _real.get(key)
    if real is None:
        real = _real[key] = os.path.realpath(key)
        if len(_real) > 10000:
            _real.clear()
    return real


def watch(key: str, callback: Callable[[str], None]) -> Callable[[], None]:
    """Call *callback(key)* on every :func:`changed` of *key*; returns an unwatch function."""
    key = _norm(key)
    with _lock:
        _watchers.setdefault(key, []).append(callback)

    def stop() -> None:
        with _lock:
            lst = _watchers.get(key, [])
            if callback in lst:
                lst.remove(callback)
            if not lst:
                _watchers.pop(key, None)
    return stop


def changed(key: str) -> None:
    """Tell the watchers of *key* that it changed (errors in callbacks are logged)."""
    key = _norm(key)
    with _lock:
        callbacks = list(_watchers.get(key, ()))
    for cb in callbacks:
        try:
            cb(key)
        except Exception:  # a broken watcher must not break delivery
            logger.exception("change watcher for %s failed", key)
