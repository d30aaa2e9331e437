"""The student edition: in sync with the notebooks, no solutions in it, checks that grade.

Every notebook in ``notebooks/`` is turned into its student edition by
``tools/make_course.py``.  Its code is then run here, in this process (an
IPython shell; labs moved to free ports so nothing collides with a notebook
test running at the same time): each exercise's check cell must FAIL while
the stub stands in for the solution, and every cell must pass once the
solutions are put back.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_course  # noqa: E402

NOTEBOOKS = make_course.notebooks()
WITH_EXERCISES = [p for p in NOTEBOOKS
                  if make_course.check_cells(nbformat.read(p, as_version=4))]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_build_writes_both_editions_and_check_sees_staleness(tmp_path, capsys):
    assert make_course.main(["--out", str(tmp_path)]) == 0
    for edition in ("student", "instructor"):
        assert sorted(p.name for p in (tmp_path / edition).glob("*.ipynb")) == \
            [p.name for p in NOTEBOOKS]
    assert (tmp_path / "student" / "sanitize.cfg").exists()
    assert make_course.main(["--out", str(tmp_path), "--check"]) == 0
    stale = tmp_path / "student" / NOTEBOOKS[-1].name
    nb = _read(stale)
    nb.cells[0].source += "\nedited by hand"
    nbformat.write(nb, stale)
    assert make_course.main(["--out", str(tmp_path), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out


def test_built_student_edition_is_in_sync(tmp_path):
    # what `make course` writes is in sync with the lessons it came from
    assert make_course.main(["--out", str(tmp_path)]) == 0
    assert make_course.out_of_sync(tmp_path / "student") == []
    assert make_course.main(["--out", str(tmp_path), "--check"]) == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_student_edition_has_no_solution_and_no_output(path):
    nb = _read(path)
    student = make_course.student_notebook(nb)
    assert make_course.leaked_lines(student, nb) == []
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in student.cells if c.cell_type == "code")
    # each stub goes back to exactly the instructor's solution
    restored = make_course.restore_solutions(student, nb)
    assert [c.source for c in restored.cells] == [c.source for c in nb.cells]


def test_stub_and_restore_keep_indentation():
    src = "for x in y:\n    ### BEGIN SOLUTION\n    z = x\n    ### END SOLUTION\nprint(z)"
    stubbed = make_course.stub_source(src)
    assert stubbed == "for x in y:\n    # YOUR CODE HERE\n    raise NotImplementedError()\nprint(z)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src)])
    back = make_course.restore_solutions(make_course.student_notebook(nb), nb)
    assert back.cells[0].source == src


def _describe(nb, results, index):
    err = results[index]
    first = nb.cells[index].source.splitlines()[0] if nb.cells[index].source else ""
    return f"cell {index} ({first[:50]!r}): {type(err).__name__}: {str(err)[:200]}"


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem[:2])
def test_checks_fail_on_stubs_and_pass_with_solutions(path):
    nb = _read(path)
    pairs = make_course.check_cells(nb)
    student = make_course.student_notebook(nb)
    got = make_course.run_cells(student)
    passing_on_stub = [_describe(nb, got, check) for sol, check in pairs if got[check] is None]
    not_stubbed = [sol for sol, _ in pairs if not isinstance(got[sol], NotImplementedError)]
    assert not not_stubbed, f"solution cells ran without the stub's error: {not_stubbed}"
    assert not passing_on_stub, (
        f"{path.name}: these check cells PASS although the solution is a stub (a check must "
        "raise, e.g. CheckFailed, when the exercise is not done): "
        + "; ".join(f"cell {check}" for sol, check in pairs if got[check] is None))
    restored = make_course.restore_solutions(student, nb)
    again = make_course.run_cells(restored)
    failing = [_describe(nb, again, i) for i, e in enumerate(again) if e is not None]
    assert not failing, f"{path.name} with its solutions: " + "; ".join(failing)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_every_lesson_has_two_graded_exercises(path):
    nb = _read(path)
    pairs = make_course.check_cells(nb)
    assert len(pairs) >= 2, (f"{path.name} has {len(pairs)} graded exercise(s); each lesson "
                             "needs at least two (a solution region and a check cell after it)")
