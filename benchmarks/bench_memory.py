"""Memory of a student's kernel: RSS of a real ipykernel with a two-host lab running.

Each run starts a fresh ipykernel through jupyter_client (as JupyterLab
does) and reads the kernel process's resident set size (``VmRSS`` in
``/proc/PID/status``, plus that of its child processes: the lab's sync
helper, ~10 MB, which does the file work of group commits) after each step:

1. the bare kernel, idle (the peer: what every notebook costs before labmail);
2. after ``import labmail``;
3. after ``lab = labmail.Lab(); lab.add_host(...) x2; lab.start()``;
4. after sending 20 messages between the hosts and reading them over IMAP;
5. after ``import labmail.notebook`` and a mail client widget (the tools of
   the lessons; matplotlib is imported only by the plots that need it).

Medians of 5 kernels; the budget is 150 MB for step 4 (issue 9).  A plain
``python`` process running the same lab is shown too.  A second table runs
every lesson top to bottom in its own kernel (once) and gives the kernel's
peak RSS (``VmHWM``): what a JupyterHub memory limit per student must allow.
``python benchmarks/bench_memory.py --no-lessons`` skips it.  Linux only
(``/proc``).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RUNS = 5
BUDGET_MB = 150.0

LAB = textwrap.dedent("""
    import labmail
    lab = labmail.Lab(ports="auto")
    com = lab.add_host("mail.example.com", users={"alice": "wonderland"})
    org = lab.add_host("mail.example.org", users={"bob": "builder"})
    lab.start()
""")
MAIL = textwrap.dedent("""
    import imaplib, smtplib
    with smtplib.SMTP(*org.endpoints["smtp"]) as s:
        for i in range(10):
            s.sendmail("bob@example.org", ["alice@example.com"], f"Subject: m{i}\\r\\n\\r\\nhi\\r\\n")
    with smtplib.SMTP(*com.endpoints["smtp"]) as s:
        for i in range(10):
            s.sendmail("alice@example.com", ["bob@example.org"], f"Subject: r{i}\\r\\n\\r\\nhi\\r\\n")
    lab.settle(20)
    with imaplib.IMAP4(*com.endpoints["imap"]) as imap:
        imap.login("alice", "wonderland"); imap.select("INBOX"); imap.fetch("1:*", "(RFC822)")
""")
TOOLS = textwrap.dedent("""
    import labmail.notebook
    from labmail.notebook import MailClient
    client = MailClient(com, "alice", "wonderland")
    text = repr(client)
""")
STEPS = [("kernel idle (peer: no labmail)", ""), ("+ import labmail", "import labmail"),
         ("+ two-host lab started", LAB), ("+ 20 messages sent, read over IMAP", MAIL),
         ("+ labmail.notebook, mail client widget", TOOLS)]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def rss_tree_mb(pid: int) -> float:
    """RSS of *pid* plus its child processes (the lab's sync helper, which does
    the file work of group commits in its own small process)."""
    total = rss_mb(pid)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                total += rss_mb(int(entry.name))
        except (OSError, RuntimeError, ValueError, IndexError):
            continue
    return total


def _kernel(cwd: Path):
    from jupyter_client.manager import KernelManager
    km = KernelManager(kernel_name="python3")
    km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"], cwd=str(cwd),
                    stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    return km, kc


def one_kernel() -> Dict[str, float]:
    km, kc = _kernel(Path.cwd())
    try:
        kc.wait_for_ready(timeout=60)
        pid = km.provisioner.process.pid  # type: ignore[union-attr]
        out: Dict[str, float] = {}
        for name, code in STEPS:
            if code:
                reply = kc.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(f"{name}: {reply['content'].get('evalue')}")
            out[name] = rss_tree_mb(pid)
        out["peak (VmHWM)"] = rss_mb(pid, "VmHWM")
        return out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def lesson_peak(notebook: Path) -> float:
    """Run every code cell of *notebook* in a fresh kernel; its peak RSS in MB."""
    import json
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    km, kc = _kernel(notebook.parent)
    try:
        kc.wait_for_ready(timeout=60)
        pid = km.provisioner.process.pid  # type: ignore[union-attr]
        for cell in cells:
            kc.execute_interactive("".join(cell["source"]), timeout=300,
                                   output_hook=lambda msg: None)
        return rss_mb(pid, "VmHWM")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def plain_python() -> float:
    code = LAB + MAIL + "\nprint(open('/proc/self/status').read())\nlab.stop()\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def main() -> int:
    if not Path("/proc/self/status").exists():
        print("bench_memory needs Linux's /proc; skipped")
        return 0
    runs: List[Dict[str, float]] = [one_kernel() for _ in range(RUNS)]
    plain = statistics.median(plain_python() for _ in range(RUNS))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    idle = med[STEPS[0][0]]
    print(f"| ipykernel process (medians of {RUNS} kernels) | RSS (MB) | over the idle kernel (MB) |")
    print("|---|---:|---:|")
    for name in med:
        print(f"| {name} | {med[name]:.1f} | {med[name] - idle:+.1f} |")
    print(f"| plain python, same lab and messages (no kernel) | {plain:.1f} | – |")
    lab_rss = med[STEPS[3][0]]
    verdict = "met" if lab_rss <= BUDGET_MB else "NOT met"
    print(f"\nbudget: kernel with a two-host lab running ≤ {BUDGET_MB:.0f} MB RSS → "
          f"{verdict} ({lab_rss:.1f} MB; with the notebook tools {med[STEPS[4][0]]:.1f} MB)")
    if "--no-lessons" in sys.argv:
        return 0
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    peaks = [(nb.stem, lesson_peak(nb)) for nb in sorted(notebooks.glob("[0-9]*.ipynb"))]
    print("\n| lesson run top to bottom (one kernel each) | peak RSS (MB) |")
    print("|---|---:|")
    for name, peak in peaks:
        print(f"| {name} | {peak:.1f} |")
    worst = max(peaks, key=lambda p: p[1])
    print(f"\nlargest lesson kernel: {worst[0]}, {worst[1]:.1f} MB peak → budget "
          f"{'met' if worst[1] <= BUDGET_MB else 'NOT met'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    sys.exit(main())
