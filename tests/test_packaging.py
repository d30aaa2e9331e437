"""The three places that name our dependencies agree, and the set-up files exist."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib")


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;:]", spec.strip(), 1)[0].lower()


def _pyproject_packages() -> set:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    names = {_name(d) for d in project["dependencies"]}
    for extra in ("course", "test"):
        names |= {_name(d) for d in project["optional-dependencies"][extra]}
    return names


def _conda_packages(path: Path) -> set:
    names = set()
    in_deps = False
    for line in path.read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and re.match(r"^  - [A-Za-z]", line):
            names.add(_name(line[4:]))
    return names - {"python", "pip"}


@pytest.mark.parametrize("env", ["environment.yml", "binder/environment.yml"])
def test_environment_files_name_the_same_packages_as_pyproject(env):
    assert _conda_packages(ROOT / env) == _pyproject_packages()


def test_root_environment_installs_the_repository():
    assert re.search(r"^\s+- -e \.\s*$", (ROOT / "environment.yml").read_text(), re.M)


def test_binder_postbuild_installs_labmail():
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK)
    assert "pip install" in post.read_text()


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S).group(1)
    assert [ln.strip() for ln in code.strip().splitlines()] == ["make lab", "make test"]


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_lesson_table_matches_the_notebooks():
    import subprocess
    import sys
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "make_readme_contents.py"), "--check"])
    assert res.returncode == 0, "README.md's lesson table is stale: python tools/make_readme_contents.py"
