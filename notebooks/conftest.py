"""nbval in parallel: each pytest-xdist worker gives its lessons their own lab ports.

Every lesson starts a lab with ``labmail.Lab(...)`` on the default port base
(SMTP on 10025, ...), which is what the stored outputs show.  Two workers
running two lessons at once would fight over those ports, so each worker sets
``LABMAIL_PORT_BASE`` before nbval starts its kernels (a kernel inherits the
environment): worker gw0 keeps 10000, gw1 gets 12000, gw2 14000, ...  The
loopback addresses (127.0.0.2, 127.0.0.3, ... and strangers such as
127.0.0.9) stay those of the stored outputs, as the lessons reason about them;
only port numbers differ, and ``sanitize.cfg`` ("lab-ports") maps any such
port back to the 10000 base before comparing.

Run: ``pytest -n 2 --dist loadscope --nbval --nbval-sanitize-with notebooks/sanitize.cfg notebooks``
(``make test-notebooks`` does).  A serial run leaves ``LABMAIL_PORT_BASE``
alone; workers always set their own (an inherited one would be shared).
"""
from __future__ import annotations

import os
import re

#: port bases stay below Linux's ephemeral range (32768-60999), where a
#: client's port could take a lab port by chance; sanitize.cfg matches 10-32
_FIRST_BASE, _STEP, _LAST_BASE = 10000, 2000, 30000


def worker_port_base(worker: str) -> int:
    """The port base of xdist worker *worker* ("gw0", "gw1", ...; "" when serial).

    >>> worker_port_base("gw1")
    12000
    """
    match = re.fullmatch(r"gw(\d+)", worker or "")
    if not match:
        return _FIRST_BASE
    slots = (_LAST_BASE - _FIRST_BASE) // _STEP + 1
    return _FIRST_BASE + _STEP * (int(match.group(1)) % slots)


def pytest_configure(config) -> None:  # noqa: ARG001 - pytest hook signature
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker:
        os.environ["LABMAIL_PORT_BASE"] = str(worker_port_base(worker))
