"""The layers are a contract: import-linter checks pyproject.toml's contracts on every test run.

grimp (import-linter's graph builder) reads a package as it lies on disk, and the repository
maps its folders into ``rdsla`` (``package-dir``), so the test lays the Python files out the way
the wheel does, ``rdsla/core``, ``rdsla/parsers`` ..., and lints that copy. A second run adds one
upward import to the copy and must fail, so the contracts cannot pass by checking nothing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")   # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (the test extra)")


def wheel_layout(dest: Path) -> Path:
    """Copy every package's .py files to where the wheel puts them; return the tree's root."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setuptools["package-dir"]
    for package in setuptools["packages"]:
        parent = max((p for p in mapping if package == p or package.startswith(p + ".")), key=len)
        source = REPO / mapping[parent] / Path(*package[len(parent):].split(".")[1:])
        target = dest / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for py in source.glob("*.py"):
            shutil.copy2(py, target / py.name)
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache", "--no-logo", "pyproject.toml"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layers_hold(tmp_path):
    result = lint(wheel_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"{len(contracts)} kept, 0 broken" in result.stdout, result.stdout


@pytest.mark.parametrize("module, upward", [
    ("core/frames.py", "import rdsla.rules.api"),             # core reaching up
    ("parsers/evtx_rows.py", "import rdsla.rules.engine"),     # parsers reaching into the judging layer
    ("analyzer/batch.py", "import rdsla.analyzer.cli"),        # a library importing the CLI
])
def test_an_upward_import_breaks_them(tmp_path, module, upward):
    root = wheel_layout(tmp_path)
    target = root / "rdsla" / module
    target.write_text(target.read_text() + f"\n{upward}  # deliberate violation\n")
    result = lint(root)
    assert result.returncode != 0 and "0 broken" not in result.stdout, result.stdout
