"""A host's accounts (``/etc/passwd``) and aliases (``/etc/aliases``).

Postfix's ``local`` delivery agent delivers to UNIX accounts: a recipient is
known when it is an account in the password file or an alias.  Each lab host
keeps both files in its state directory, in their real formats, so students
can open them::

    alice:x:1001:1001:alice:/home/alice:/bin/sh
    postmaster: root

>>> import tempfile, pathlib
>>> acc = Accounts(pathlib.Path(tempfile.mkdtemp()))
>>> acc.add("alice")
>>> acc.exists("alice"), acc.home("alice")
(True, '/home/alice')
>>> acc.resolve("postmaster")
['root']
"""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Dict, List, Optional

from .errors import ConfigError

__all__ = ["Accounts", "valid_username", "account_name"]

_USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")

DEFAULT_ALIASES = """\
# /etc/aliases: where mail for a local name goes (see aliases(5)).
# After editing a real server's file, run newaliases.
postmaster: root
abuse: postmaster
mailer-daemon: postmaster
"""


def valid_username(name: str) -> bool:
    """True for a name a UNIX account may have (lower case, no path tricks).

    >>> valid_username("alice"), valid_username("../etc"), valid_username("Bob")
    (True, False, False)
    """
    return bool(_USER_RE.match(name)) and name not in (".", "..")


def account_name(address: str, delimiter: str = "") -> str:
    """The local part of *address* without its extension, lower-cased.

    The extension starts at the first of the ``recipient_delimiter``
    characters in the local part (``alice+news@example.com`` -> ``alice``).

    >>> account_name("Alice+news@example.com", "+"), account_name("bob", "+-")
    ('alice', 'bob')
    """
    local = (address.rpartition("@")[0] if "@" in address else address).lower()
    cuts = [i for i in (local.find(ch) for ch in delimiter or "") if i >= 0]
    return local[:min(cuts)] if cuts else local


class Accounts:
    """The accounts and aliases of one host, kept in ``etc/passwd`` and ``etc/aliases``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.passwd_path = self.state_dir / "etc" / "passwd"
        self.aliases_path = self.state_dir / "etc" / "aliases"
        self._lock = threading.Lock()
        self.passwd_path.parent.mkdir(parents=True, exist_ok=True)
        if not self.passwd_path.exists():
            self.passwd_path.write_text("root:x:0:0:root:/root:/bin/sh\n", encoding="utf-8")
        if not self.aliases_path.exists():
            self.aliases_path.write_text(DEFAULT_ALIASES, encoding="utf-8")
        self._users: Dict[str, str] = {}
        self._aliases: Dict[str, List[str]] = {}
        self.reload()

    def reload(self) -> None:
        """Read both files again (after a student edited them)."""
        users: Dict[str, str] = {}
        for n, line in enumerate(self.passwd_path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split(":")
            if len(fields) != 7:
                raise ConfigError(str(self.passwd_path), n,
                                  "a passwd entry has 7 fields: name:x:uid:gid:gecos:home:shell")
            users[fields[0]] = fields[5]
        aliases: Dict[str, List[str]] = {}
        text = self.aliases_path.read_text(encoding="utf-8")
        entry = ""
        entry_line = 0
        for n, line in enumerate(text.splitlines() + [""], 1):
            if line[:1] in (" ", "\t") and entry:
                entry += " " + line.strip()       # continuation line
                continue
            if entry:
                name, sep, targets = entry.partition(":")
                if not sep or not name.strip():
                    raise ConfigError(str(self.aliases_path), entry_line,
                                      "an alias looks like 'name: target, target'")
                aliases[name.strip().lower()] = [t.strip() for t in targets.split(",") if t.strip()]
            entry = ""
            if line.strip() and not line.lstrip().startswith("#"):
                entry, entry_line = line, n
        with self._lock:
            self._users, self._aliases = users, aliases

    def add(self, name: str, home: Optional[str] = None) -> None:
        """Create an account (its home is ``/home/NAME`` unless given)."""
        if not valid_username(name):
            raise ValueError(f"{name!r} is not a valid account name "
                             "(lower-case letters, digits, '_', '.', '-'; at most 32)")
        with self._lock:
            if name in self._users:
                return
            uid = 1000 + len(self._users)
            home = home or f"/home/{name}"
            with open(self.passwd_path, "a", encoding="utf-8") as fh:
                fh.write(f"{name}:x:{uid}:{uid}:{name}:{home}:/bin/sh\n")
            self._users[name] = home

    def names(self) -> List[str]:
        """Account names, in the order they were added."""
        return list(self._users)

    def exists(self, name: str) -> bool:
        """True when *name* is an account."""
        return name in self._users

    def home(self, name: str) -> str:
        """The account's home directory as the host sees it (``/home/alice``)."""
        return self._users[name]

    def aliases(self) -> Dict[str, List[str]]:
        """The alias table: name -> targets."""
        return dict(self._aliases)

    def resolve(self, local: str, _depth: int = 0) -> List[str]:
        """Expand *local* through the aliases to account names (or addresses).

        An alias may point to another alias (up to 10 deep, as loops must end);
        an unknown name yields ``[]``.
        """
        local = local.lower()
        if local in self._aliases and _depth < 10:
            out: List[str] = []
            for target in self._aliases[local]:
                if "@" in target or target.startswith(("|", "/")):
                    out.append(target)
                else:
                    out.extend(self.resolve(target, _depth + 1) or [])
            return out
        return [local] if local in self._users else []

    def known(self, local: str) -> bool:
        """True when the local recipient table knows *local* (account or alias)."""
        local = local.lower()
        return local in self._users or local in self._aliases
