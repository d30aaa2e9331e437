"""Build the course's two editions from every notebook in ``notebooks/``.

* ``build/instructor/`` — the notebooks as they are: solutions and outputs;
* ``build/student/``    — each ``### BEGIN SOLUTION`` … ``### END SOLUTION``
  region replaced by a stub (nbgrader's convention) and every output cleared,
  so each exercise's check cell fails with its hint until the student
  writes the code.

Other files in ``notebooks/`` (``sanitize.cfg``, data) are copied into both::

    .venv/bin/python tools/make_course.py                 # build/ (both editions)
    .venv/bin/python tools/make_course.py --out /tmp/c    # elsewhere
    .venv/bin/python tools/make_course.py --check         # is build/student in sync?

The functions here are also what ``tests/test_course_editions.py`` uses to
prove the student edition is in sync, leaks no solution, and that its check
cells fail on the stubs and pass with the solutions put back.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import re
import shutil
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*(\n|$)",
                      re.S | re.M)
STUB = "# YOUR CODE HERE\nraise NotImplementedError()\n"
MD_STUB = "YOUR ANSWER HERE\n"


def notebooks(directory: Path = NOTEBOOKS) -> List[Path]:
    """Every lesson notebook of *directory*, in course order (hidden build files skipped)."""
    return sorted(p for p in directory.glob("*.ipynb") if not p.name.startswith("."))


def solution_regions(source: str) -> List[str]:
    """The solution regions of a cell's source, markers included."""
    return [m.group(0) for m in SOLUTION.finditer(source)]


def stub_source(source: str, stub: str = STUB) -> str:
    """*source* with every solution region replaced by *stub* (indentation kept).

    >>> stub_source("a = 1\\n### BEGIN SOLUTION\\nb = 2\\n### END SOLUTION\\nb\\n")
    'a = 1\\n# YOUR CODE HERE\\nraise NotImplementedError()\\nb\\n'
    """
    return SOLUTION.sub(lambda m: "".join(m.group(1) + ln + "\n" for ln in stub.splitlines()),
                        source)


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student edition of *nb*: stubs for solutions, no outputs, no counts."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source).rstrip("\n")
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        elif cell.cell_type == "markdown" and BEGIN in cell.source:
            cell.source = stub_source(cell.source, MD_STUB).rstrip("\n")
    out.metadata.pop("widgets", None)          # saved widget state belongs to outputs
    return out


def restore_solutions(student: nbformat.NotebookNode,
                      instructor: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """*student* with each stub replaced by the instructor's solution, in order.

    Raises ``ValueError`` when the two do not line up (an out-of-date edition).
    """
    if len(student.cells) != len(instructor.cells):
        raise ValueError(f"{len(student.cells)} cells in the student edition, "
                         f"{len(instructor.cells)} in the notebook")
    out = copy.deepcopy(student)
    for s_cell, i_cell in zip(out.cells, instructor.cells):
        regions = solution_regions(i_cell.source)
        if not regions:
            continue
        stub = STUB if i_cell.cell_type == "code" else MD_STUB
        pieces = iter(regions)
        pattern = re.compile(r"^[ \t]*" + re.escape(stub.splitlines()[0]) + r"\n(?:[ \t]*"
                             + r"\n[ \t]*".join(map(re.escape, stub.splitlines()[1:]))
                             + r"(?:\n|$))?", re.M)
        text = pattern.sub(lambda m: next(pieces), s_cell.source + "\n").rstrip("\n")
        s_cell.source = text
    return out


def check_cells(nb: nbformat.NotebookNode) -> List[Tuple[int, int]]:
    """``(solution cell, check cell)`` index pairs: each check is the next code cell."""
    pairs = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or not solution_regions(cell.source):
            continue
        for j in range(i + 1, len(cells)):
            if cells[j].cell_type == "code":
                if not solution_regions(cells[j].source):
                    pairs.append((i, j))
                break
    return pairs


def leaked_lines(student: nbformat.NotebookNode, instructor: nbformat.NotebookNode) -> List[str]:
    """Solution lines found in the student edition that appear nowhere else in the notebook.

    A line such as ``com.flush()`` may be both a solution and an earlier
    demonstration; only lines unique to the solutions count as leaks.
    """
    outside = set()
    inside = []
    for cell in instructor.cells:
        regions = solution_regions(cell.source)
        rest = SOLUTION.sub("", cell.source)
        outside.update(ln.strip() for ln in rest.splitlines())
        for region in regions:
            inside += [ln.strip() for ln in region.splitlines()[1:-1]]
    secret = {ln for ln in inside if ln and ln not in outside and not ln.startswith("#")}
    text = "\n".join(c.source for c in student.cells)
    shown = {ln.strip() for ln in text.splitlines()}
    found = sorted(secret & shown)
    if BEGIN in text or END in text:
        found.append(BEGIN)
    for cell in student.cells:
        for out in cell.get("outputs", []):
            found.append(f"an output in a code cell: {str(out)[:60]}")
    return found


def build_editions(out: Path = BUILD, source: Path = NOTEBOOKS) -> Dict[str, List[Path]]:
    """Write ``out/instructor`` and ``out/student``; returns the files written."""
    written: Dict[str, List[Path]] = {"instructor": [], "student": []}
    for edition in written:
        target = out / edition
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for path in sorted(source.iterdir()):
            if path.name.startswith(".") or path.is_dir() or path.suffix == ".ipynb":
                continue
            shutil.copy2(path, target / path.name)
    for path in notebooks(source):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(nb, out / "instructor" / path.name)
        nbformat.write(student_notebook(nb), out / "student" / path.name)
        written["instructor"].append(out / "instructor" / path.name)
        written["student"].append(out / "student" / path.name)
    return written


def out_of_sync(student_dir: Path, source: Path = NOTEBOOKS) -> List[str]:
    """Names of notebooks whose student edition differs from a fresh build (or is missing)."""
    bad = []
    names = {p.name for p in notebooks(source)}
    for name in sorted(names | {p.name for p in notebooks(student_dir)}):
        built, have = source / name, student_dir / name
        if not built.exists() or not have.exists():
            bad.append(name)
            continue
        want = student_notebook(nbformat.read(built, as_version=4))
        if nbformat.writes(want) != nbformat.writes(nbformat.read(have, as_version=4)):
            bad.append(name)
    return bad


@contextlib.contextmanager
def labs_on_free_ports() -> Iterator[List[object]]:
    """While active, every ``labmail.Lab(...)`` takes free ports and a temporary state dir.

    The lessons start their labs on the standard lab ports (10025, ...), which
    is what their stored outputs show; a check run must not take those ports
    from a notebook test running at the same time.  Yields the labs made.
    """
    import labmail.lab as lab_module

    original = lab_module.Lab.__init__
    made: List[object] = []

    def init(self, port_base=10000, ports=None, state_dir=None, **kwargs):  # type: ignore[no-untyped-def]
        original(self, port_base, "auto", None, **kwargs)
        made.append(self)

    lab_module.Lab.__init__ = init                      # type: ignore[method-assign]
    try:
        yield made
    finally:
        lab_module.Lab.__init__ = original              # type: ignore[method-assign]
        for lab in made:
            try:
                lab.stop()                              # type: ignore[attr-defined]
            except Exception:                           # pragma: no cover - best effort
                pass


def run_cells(nb: nbformat.NotebookNode) -> List[Optional[BaseException]]:
    """Run *nb*'s code cells in order, in this process; the exception of each cell (or None).

    Cells run in an IPython shell (``%matplotlib`` and ``!cmd`` work) and go on
    after an error, as ``nbclient`` with ``allow_errors`` does; markdown cells
    give ``None``.  Labs take free ports (:func:`labs_on_free_ports`).
    """
    import io
    import os
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    os.environ.setdefault("MPLBACKEND", "Agg")
    config = Config()
    config.HistoryManager.enabled = False          # no ~/.ipython database shared by workers
    shell = InteractiveShell.instance(config=config)
    shell.enable_gui = lambda gui=None: None       # %matplotlib inline: no GUI event loop here
    shell.reset(new_session=True)
    results: List[Optional[BaseException]] = []
    sink = io.StringIO()
    with labs_on_free_ports(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        for cell in nb.cells:
            if cell.cell_type != "code":
                results.append(None)
                continue
            res = shell.run_cell(cell.source, store_history=False, silent=True)
            results.append(res.error_before_exec or res.error_in_exec)
    shell.reset(new_session=True)
    return results


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD, help="where to build (default build/)")
    parser.add_argument("--check", action="store_true",
                        help="only check that OUT/student matches the notebooks")
    args = parser.parse_args(list(argv))
    if args.check:
        bad = out_of_sync(args.out / "student")
        for name in bad:
            print(f"{args.out / 'student' / name}: out of date (run tools/make_course.py)")
        return 1 if bad else 0
    written = build_editions(args.out)
    for edition, paths in written.items():
        print(f"{edition}: {len(paths)} notebooks in {args.out / edition}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
