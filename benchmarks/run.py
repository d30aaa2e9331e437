"""Run every benchmark in this directory (``make bench``) and print its table.

Each ``bench_*.py`` is a script that measures labmail side by side with a
peer in the same run and prints a table; this runner executes them one after
another in fresh processes so they never disturb each other.
"""
from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    import os
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def main(argv: list) -> int:
    only = set(argv)
    print(f"# labmail benchmarks — {time.strftime('%Y-%m-%d')} — {machine()}\n", flush=True)
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        if only and script.stem not in only:
            continue
        print(f"## {script.stem}\n", flush=True)
        res = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        failed += res.returncode != 0
        print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
