"""Dovecot's ``dovecot-uidlist``: stable uids for the files of a Maildir.

The file (version 3 of Dovecot's format) starts with a header line and then
one line per message, oldest first::

    3 V1764234000 N4 G6a1f0c2d9e8b7a6f
    1 :1764234001.M1P1Q1.mail
    3 W1530 :1764234002.M2P1Q2.mail

``V`` is UIDVALIDITY, ``N`` the next uid, ``G`` a mailbox GUID; each record
is ``<uid> [<field>...] :<base file name>`` where the base name is the file
name without the ``:2,`` flags (which change).  ``W`` caches the size with
CRLF line ends.  The file is only rewritten under ``dovecot-uidlist.lock``.

>>> u = UidList(uidvalidity=1764234000, next_uid=1, guid="00")
>>> u.add("1764234001.M1P1Q1.mail")
1
>>> print(u.dump(), end="")
3 V1764234000 N2 G00
1 :1764234001.M1P1Q1.mail
>>> UidList.parse(u.dump()).records
{1: '1764234001.M1P1Q1.mail'}
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

__all__ = ["UidList", "UIDLIST_NAME"]

UIDLIST_NAME = "dovecot-uidlist"


@dataclass
class UidList:
    """The parsed uid list of one folder."""

    uidvalidity: int
    next_uid: int = 1
    guid: str = ""
    records: Dict[int, str] = field(default_factory=dict)   # uid -> base name
    vsizes: Dict[int, int] = field(default_factory=dict)    # uid -> W field

    def add(self, base: str, vsize: Optional[int] = None) -> int:
        """Give *base* the next uid and return it."""
        uid = self.next_uid
        self.records[uid] = base
        if vsize is not None:
            self.vsizes[uid] = vsize
        self.next_uid += 1
        return uid

    def by_base(self) -> Dict[str, int]:
        """base name -> uid."""
        return {b: u for u, b in self.records.items()}

    def dump(self) -> str:
        """The file's text."""
        lines = [f"3 V{self.uidvalidity} N{self.next_uid} G{self.guid}"]
        for uid in sorted(self.records):
            ext = f" W{self.vsizes[uid]}" if uid in self.vsizes else ""
            lines.append(f"{uid}{ext} :{self.records[uid]}")
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> "UidList":
        """Read the file's text (tolerant: a damaged line is skipped)."""
        lines = text.splitlines()
        if not lines:
            raise ValueError("empty uid list")
        head = lines[0].split()
        uidvalidity, next_uid, guid = 0, 1, ""
        for part in head[1:]:
            if part.startswith("V"):
                uidvalidity = int(part[1:])
            elif part.startswith("N"):
                next_uid = int(part[1:])
            elif part.startswith("G"):
                guid = part[1:]
        out = cls(uidvalidity, next_uid, guid)
        for line in lines[1:]:
            meta, sep, base = line.partition(" :")
            if not sep:
                continue
            fields = meta.split()
            try:
                uid = int(fields[0])
            except (ValueError, IndexError):
                continue
            out.records[uid] = base
            for f in fields[1:]:
                if f.startswith("W") and f[1:].isdigit():
                    out.vsizes[uid] = int(f[1:])
            out.next_uid = max(out.next_uid, uid + 1)
        return out

    @classmethod
    def load(cls, path: Path) -> Optional["UidList"]:
        """The list stored at *path*, or None when there is none (or it is unreadable)."""
        try:
            return cls.parse(Path(path).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename), as Dovecot does."""
        path = Path(path)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        tmp.write_text(self.dump(), encoding="utf-8")
        os.replace(tmp, path)
