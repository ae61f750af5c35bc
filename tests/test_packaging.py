"""The wheel holds what a user's install needs (issue 15), and the dependencies match the imports.

The expected contents come from the repository (``git ls-files``), not from a list written here:
a new module whose package pyproject.toml's ``packages`` does not name, or a template that
``package-data`` misses, fails these tests. ``.ci/wheel_check.py`` (CI's wheel step) computes the
same expected list; this file imports it, so the two cannot drift apart. CI's step also installs
the wheel into a fresh venv without extras and analyzes every sample bundle with it.
"""
from __future__ import annotations

import ast
import importlib.metadata as md
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")   # Python 3.11+


def _load_wheel_check():
    spec = importlib.util.spec_from_file_location("rdsla_ci_wheel_check", REPO / ".ci" / "wheel_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wc = _load_wheel_check()
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
NETWORK_TROUBLE = re.compile(r"Could not find a version|No matching distribution|connection|Network is unreachable|"
                             r"Temporary failure in name resolution|Failed to establish", re.I)


@pytest.fixture(scope="module")
def files() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the expected wheel contents come from git ls-files")
    return wc.source_files(REPO)


def _have(dist: str, minimum: tuple[int, ...]) -> bool:
    try:
        found = tuple(int(x) for x in re.findall(r"\d+", md.version(dist))[:len(minimum)])
    except md.PackageNotFoundError:
        return False
    return found >= minimum


@pytest.fixture(scope="module")
def wheel(files, tmp_path_factory) -> Path:
    """The wheel, built once from a copy of the checkout (nothing is written into the checkout).
    Without build isolation when this venv has the build requirements (fast, offline), else with
    it (downloads setuptools; skipped when that is impossible offline)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = wc.copy_checkout(tmp / "src", files, REPO)
    isolation = not (_have("setuptools", (68,)) and (_have("wheel", (0,)) or _have("setuptools", (70, 1))))
    try:
        return wc.build_wheel(src, tmp / "dist", sys.executable, isolation=isolation)
    except wc.CheckFailed as exc:
        if isolation and NETWORK_TROUBLE.search(str(exc)):
            pytest.skip(f"cannot fetch the build requirements: {str(exc)[-300:]}")
        raise


@pytest.fixture(scope="module")
def names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_every_module_and_data_file_of_the_repository_is_in_the_wheel(wheel, files):
    assert wc.listing_problems(wheel, files, wc.folders(REPO)) == []


def test_the_expected_list_covers_modules_templates_static_and_data(files):
    """The expected list is built from the repository, and it is not trivially small."""
    want = wc.expected_in_wheel(files, wc.folders(REPO))
    for path in ("rdsla/__init__.py", "rdsla/__main__.py", "rdsla/analyzer/cli.py", "rdsla/rules/pack/__init__.py",
                 "rdsla/sample_data/forge/build.py", "rdsla/core/data/event_catalog.csv",
                 "rdsla/core/data/registry_keys.txt", "rdsla/rules/data/cal_compat.json",
                 "rdsla/reports/templates/report.html.j2", "rdsla/reports/templates/partials/finding.html.j2",
                 "rdsla/reports/static/report.css"):
        assert path in want, path
    tracked_py = [f for f in files if f.endswith(".py") and f.split("/", 1)[0] in wc.folders(REPO)]
    assert len([p for p in want if p.endswith(".py")]) == len(tracked_py) > 50
    for data_dir in wc.DATA_DIRS:
        tracked = [f for f in files if f.startswith(data_dir + "/")]
        assert tracked and all(want["rdsla/" + f] == f for f in tracked), data_dir
    assert not any("/bundles/" in p for p in want), "sample bundles are data for tests and CI, not for the wheel"


def test_one_top_level_import_name_and_the_script(names, wheel):
    tops = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"rdsla"} and len(dist_info) == 1, sorted(tops)
    info = dist_info.pop()
    with zipfile.ZipFile(wheel) as zf:
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
        metadata = zf.read(f"{info}/METADATA").decode()
    assert "[console_scripts]" in entry_points and wc.ENTRY_POINT in entry_points.splitlines()
    import rdsla
    assert f"Version: {rdsla.__version__}" in metadata.splitlines()   # built from rdsla/_version.py


def test_no_bytecode_or_build_leftovers_in_the_wheel(names):
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".orig", ".rej", "~"))]


def test_the_listing_check_names_what_is_missing(wheel, files, tmp_path):
    """The check fails on a wheel without a subpackage's modules or a template folder (as when
    pyproject.toml forgets ``rdsla.rules.pack`` or ``templates/partials/*``)."""
    gutted = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(gutted, "w") as dst:
        for item in src.infolist():
            if not item.filename.startswith(("rdsla/rules/pack/", "rdsla/reports/templates/partials/")):
                dst.writestr(item, src.read(item))
    problems = "\n".join(wc.listing_problems(gutted, files, wc.folders(REPO)))
    assert "rules/pack/cal_pool.py is not in the wheel" in problems
    assert "reports/templates/partials/finding.html.j2 is not in the wheel" in problems


# ---------------------------------------------------------------- dependencies match the imports

def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(text: str):
    from packaging.requirements import Requirement
    return Requirement(text)


def _covered(requirements: list[str]) -> set[str]:
    """Distributions a list of requirements installs directly, with their named extras' own
    requirements (``dask[distributed]`` brings ``distributed``)."""
    out = set()
    for text in requirements:
        req = _requirement(text)
        out.add(_canonical(req.name))
        for extra in req.extras:
            for sub in md.requires(req.name) or []:
                sub_req = _requirement(sub)
                if sub_req.marker and sub_req.marker.evaluate({"extra": extra}):
                    out.add(_canonical(sub_req.name))
    return out


def _third_party_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(top-level name, line, guarded by ``except ImportError`` or a broader handler) of each
    absolute import."""
    found = []

    def visit(node, guarded: bool) -> None:
        if isinstance(node, ast.Try):
            catches = set()
            for handler in node.handlers:
                types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                catches |= {t.id for t in types if isinstance(t, ast.Name)}
            inner = guarded or bool(catches & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
            for child in node.body:
                visit(child, inner)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, guarded)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name.split(".")[0], node.lineno, guarded) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno, guarded))
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return [(name, line, guarded) for name, line, guarded in found
            if name not in sys.stdlib_module_names and name not in ("rdsla", "__future__")]


def test_dependencies_match_the_imports(files):
    """Every import a plain install can run is a declared dependency; an import of an extra's
    package is guarded (``except ImportError`` -> a message naming the extra); every declared
    dependency is imported somewhere."""
    pytest.importorskip("packaging")
    project = PYPROJECT["project"]
    required = _covered(project["dependencies"])
    extras = {name: _covered(reqs) for name, reqs in project["optional-dependencies"].items() if name != "test"}
    optional = set().union(*extras.values())
    owners = {name: {_canonical(d) for d in dists} for name, dists in md.packages_distributions().items()}
    used: set[str] = set()
    problems = []
    for f in files:
        if not f.endswith(".py") or f.split("/", 1)[0] not in wc.folders(REPO):
            continue
        for name, line, guarded in _third_party_imports(REPO / f):
            dists = owners.get(name)
            if not dists:
                problems.append(f"{f}:{line}: import {name}: no installed distribution provides it")
                continue
            used |= dists
            if dists & required:
                continue
            if guarded and dists & optional:
                continue
            where = "an extra, but the import is not guarded by except ImportError" if dists & optional else \
                "not a dependency"
            problems.append(f"{f}:{line}: import {name} ({', '.join(sorted(dists))}): {where}")
    direct = {_canonical(_requirement(r).name) for r in project["dependencies"]}
    problems += [f"dependency {d} is imported by no module" for d in sorted(direct - used)]
    assert not problems, "\n".join(problems)
