"""Rewrite the lesson table in README.md from the notebooks that exist.

The table sits between ``<!-- lessons:begin -->`` and ``<!-- lessons:end -->``;
each lesson's title is the first ``# `` heading of its first cell.  Planned
lessons (numbers without a notebook yet) are listed as such.

    python tools/make_readme_contents.py          # rewrite README.md
    python tools/make_readme_contents.py --check  # exit 1 if README.md is stale
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANNED = {
    "00": "Welcome", "01": "MUA, MTA and MDA", "02": "The SMTP dialogue",
    "03": "Configuring the MTA", "04": "DNS, MX and relaying", "05": "The mail queue",
    "06": "Testing and reading the logs", "07": "Fighting spam",
    "08": "Blocking at the door (RBLs)", "09": "Securing connections (TLS)",
    "10": "POP3", "11": "POP3 vs IMAP", "12": "Capstone: your own mail server",
}
BEGIN, END = "<!-- lessons:begin -->", "<!-- lessons:end -->"


def title_of(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = "".join(nb["cells"][0]["source"]) if nb.get("cells") else ""
    m = re.search(r"^#\s+(.+)$", first, re.M)
    title = m.group(1).strip() if m else path.stem
    return re.sub(r"^\d\d\s*[·:.-]\s*", "", title)


def table() -> str:
    found = {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))}
    rows = ["| # | lesson |", "|---|---|"]
    for num in sorted(set(PLANNED) | set(found)):
        if num in found:
            rows.append(f"| {num} | [{title_of(found[num])}](notebooks/{found[num].name}) |")
        else:
            rows.append(f"| {num} | {PLANNED[num]} (planned) |")
    return "\n".join(rows)


def main(argv: list) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END),
                 f"{BEGIN}\n{table()}\n{END}", text, flags=re.S)
    if "--check" in argv:
        return 0 if new == text else 1
    readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
