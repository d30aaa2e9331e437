"""Lessons 03, 07 and 08 are generated: the committed notebooks match their builders."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILDERS = {"03-configuring-the-mta.ipynb": "make_notebook_03.py",
            "07-fighting-spam.ipynb": "make_notebooks_07_08.py",
            "08-blocking-at-the-door-rbl.ipynb": "make_notebooks_07_08.py"}


def _builder(script: str):
    import sys
    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location(script[:-3], ROOT / "tools" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(BUILDERS), ids=lambda n: n[:2])
def test_notebook_matches_its_builder(name):
    module = _builder(BUILDERS[name])
    expected = module.build(name, module.LESSONS[name])
    actual = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    assert [(c.cell_type, c.source) for c in actual.cells] == \
        [(c.cell_type, c.source) for c in expected.cells], f"run tools/{BUILDERS[name]}"
