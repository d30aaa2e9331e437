"""Rebuild every lesson: run each generator in order, then refresh the README table.

Each generator (tools/make_notebook*.py) writes its notebooks from the cell
text it holds and executes them, storing the outputs nbval compares.  A
notebook without a generator is re-executed in place.  Run it on a quiet
machine: lessons use the lab's default addresses (127.0.0.2, port 10025 ...)
and a lab that finds them taken moves to the next address, which would change
the stored outputs.

    .venv/bin/python tools/build_lessons.py
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATORS = ["make_notebooks.py", "make_notebook_03.py", "make_notebooks_04_06.py",
              "make_notebooks_07_08.py", "make_notebook_09.py", "make_notebook_11.py",
              "make_notebook_12.py"]
IN_PLACE = ["10-pop3.ipynb"]          # written and executed directly, no generator yet


def main() -> int:
    failed = []
    for name in GENERATORS:
        script = ROOT / "tools" / name
        if not script.exists():
            continue
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=ROOT).returncode:
            failed.append(name)
    for nb in IN_PLACE:
        path = ROOT / "notebooks" / nb
        if not path.exists():
            continue
        print(f"== {nb} (in place)", flush=True)
        res = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                              "--execute", "--inplace", str(path)], cwd=ROOT / "notebooks")
        if res.returncode:
            failed.append(nb)
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_readme_contents.py")], cwd=ROOT)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
