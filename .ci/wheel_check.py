#!/usr/bin/env python3
"""CI: install rdsla the way users do, from its wheel, and run it on every sample bundle.

1. Copies the checkout's files (``git ls-files``: tracked, plus new files not ignored) to a
   temporary folder and builds the wheel there (``pip wheel --no-deps``), so nothing is written
   into the checkout.
2. Lists the wheel: every module and data file of the repository's package folders must be in
   it at its ``rdsla/...`` path, nothing but ``rdsla`` and its dist-info at the top, and the
   ``rdsla`` script must point at ``rdsla.analyzer.cli:main``.
3. Installs the wheel into a fresh virtual environment **without** extras and, from a temporary
   folder outside the checkout: ``import rdsla`` works and every rdsla module imports (so every
   import a plain install runs is a declared dependency); ``import analyzer`` / ``parsers`` /
   ``rules`` / ``reports`` / ``core`` fail; ``rdsla --version`` and ``python -m rdsla --version``
   print the wheel's version; no pyarrow or dask is installed; the Parquet and Dask options say
   which extra to install (exit 2, one line); ``rdsla analyze`` of every sample bundle exits 0 or
   1, writes its report and finds the top cause its expected.json names; ``rdsla batch`` of all
   bundles reads every one.

Any failure prints ``ci: wheel check failed: <what>`` and exits 1. ``tests/test_packaging.py``
imports this file for the expected wheel contents, so the test and CI agree.

Usage: python3 .ci/wheel_check.py [--keep]     (--keep: leave the temporary folder, print it)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Optional

REPO = Path(__file__).resolve().parents[1]
# Folders the wheel installs, by their path in the repository -> path in the wheel. pyproject.toml's
# package-dir says the same; it is read when tomllib exists, so a new mapped folder is picked up.
DEFAULT_FOLDERS = {"rdsla": "rdsla", "core": "rdsla/core", "analyzer": "rdsla/analyzer",
                   "parsers": "rdsla/parsers", "rules": "rdsla/rules", "reports": "rdsla/reports",
                   "sample_data": "rdsla/sample_data"}
# Data that must ship with the code (issue 15): every file below these folders, at any depth.
DATA_DIRS = ("core/data", "parsers/data", "rules/data", "reports/templates", "reports/static")
ENTRY_POINT = "rdsla = rdsla.analyzer.cli:main"
OLD_NAMES = ("analyzer", "parsers", "rules", "reports", "core", "sample_data")
EXTRAS_ABSENT = ("pyarrow", "dask", "distributed")
BUNDLES = REPO / "sample_data" / "bundles"


class CheckFailed(Exception):
    """One thing the wheel got wrong."""


# ---------------------------------------------------------------- what the wheel must hold

def source_files(repo: Path = REPO) -> list[str]:
    """The checkout's files, as git knows them: tracked plus untracked-but-not-ignored (so a new
    module counts before it is committed), without files deleted in the work tree."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=repo, capture_output=True, check=True).stdout.decode("utf-8")
    return sorted({f for f in out.split("\0") if f and (repo / f).is_file()})


def folders(repo: Path = REPO) -> dict[str, str]:
    """Repository folder -> wheel folder, from pyproject.toml's package-dir."""
    try:
        import tomllib
    except ImportError:                      # Python 3.10: the documented layout
        return dict(DEFAULT_FOLDERS)
    mapping = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"].get(
        "package-dir", {})
    return {src.strip("/") or ".": pkg.replace(".", "/") for pkg, src in mapping.items()} or dict(DEFAULT_FOLDERS)


def expected_in_wheel(files: Iterable[str], mapping: Optional[dict[str, str]] = None) -> dict[str, str]:
    """Wheel path -> repository path of every file the wheel must hold: each ``.py`` file under a
    mapped folder, and each file under the data folders."""
    mapping = mapping or dict(DEFAULT_FOLDERS)
    want: dict[str, str] = {}
    for f in files:
        top = max((d for d in mapping if f.startswith(d + "/")), key=len, default=None)
        if top is None:
            continue
        if f.endswith(".py") or any(f.startswith(d + "/") for d in DATA_DIRS):
            want[mapping[top] + f[len(top):]] = f
    return want


def listing_problems(wheel: Path, files: Iterable[str], mapping: Optional[dict[str, str]] = None) -> list[str]:
    """What is wrong with the wheel's file list (empty: nothing)."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
        entry_points = zf.read(f"{dist_info[0]}/entry_points.txt").decode() if dist_info else ""
    problems = [f"{repo_path} is not in the wheel (expected at {path})"
                for path, repo_path in sorted(expected_in_wheel(files, mapping).items()) if path not in names]
    tops = sorted({n.split("/", 1)[0] for n in names} - {"rdsla", *dist_info})
    if tops or len(dist_info) != 1:
        problems.append(f"top-level names other than rdsla and one dist-info: {tops + dist_info}")
    if ENTRY_POINT not in [line.strip() for line in entry_points.splitlines()]:
        problems.append(f"entry point {ENTRY_POINT!r} missing; entry_points.txt: {entry_points.strip()!r}")
    return problems


# ---------------------------------------------------------------- building

def copy_checkout(dest: Path, files: Iterable[str], repo: Path = REPO) -> Path:
    for f in files:
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / f, target)
    return dest


def build_wheel(src: Path, dist: Path, python: str = sys.executable, isolation: bool = True) -> Path:
    """``pip wheel --no-deps`` of ``src`` into ``dist``; the wheel's path. Raises CheckFailed with
    pip's output when the build fails."""
    cmd = [python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)]
    if not isolation:
        cmd.insert(4, "--no-build-isolation")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = sorted(dist.glob("rdsla-*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise CheckFailed(f"building the wheel failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return wheels[0]


# ---------------------------------------------------------------- running the installed wheel

def venv_bin(venv: Path, name: str) -> str:
    return str(venv / ("Scripts" if os.name == "nt" else "bin") / name)


def clean_env() -> dict[str, str]:
    """The environment for the wheel's venv: nothing that could put the checkout on sys.path or
    force a start method. Bytecode may be written (into the temporary venv only): the install
    skips compiling every dependency's files, the first runs compile what rdsla uses."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV",
            "RDSLA_START_METHOD")
    return {k: v for k, v in os.environ.items() if k not in drop}


def run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout)


def expected_of(bundle: Path) -> dict:
    if bundle.is_file():
        with zipfile.ZipFile(bundle) as zf:
            return json.loads(zf.read("expected.json"))
    return json.loads((bundle / "expected.json").read_text(encoding="utf-8"))


def diagnosis_problems(findings: dict, expected: dict) -> list[str]:
    """tests/sample_data/test_bundles.py's test_verdict_matches_expected, on findings.json."""
    causes = findings.get("root_causes") or []
    if not expected["root_causes"]:
        return [f"expected no root cause, got {[(c['rule_id'], c['host']) for c in causes]}"] if causes else []
    if not causes:
        return [f"no root cause found (expected {expected['root_causes']})"]
    top = causes[0]
    problems = []
    if top["rule_id"] not in expected["root_causes"]:
        problems.append(f"top cause {top['rule_id']}, expected one of {expected['root_causes']}")
    if top["host"] not in [expected["host"], *expected.get("alt_hosts", [])]:
        problems.append(f"top cause on {top['host']}, expected {[expected['host'], *expected.get('alt_hosts', [])]}")
    detected = {f["rule_id"] for f in findings.get("findings", []) if f["state"] == "detected" and f["kind"] == "symptom"}
    missing = set(expected.get("symptoms", [])) - detected
    if missing:
        problems.append(f"symptoms not detected: {sorted(missing)}")
    return problems


def sample_bundles() -> list[Path]:
    return sorted(p for p in BUNDLES.iterdir() if p.is_dir() or p.suffix == ".zip")


def analyze_bundle(rdsla: str, bundle: Path, work: Path) -> list[str]:
    out = work / bundle.name
    out.mkdir()
    proc = run([rdsla, "analyze", str(bundle), "-o", "report.html", "--json", "findings.json", "--quiet"], cwd=out)
    if proc.returncode not in (0, 1):
        return [f"rdsla analyze {bundle.name}: exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"]
    report, findings = out / "report.html", out / "findings.json"
    if not report.is_file() or report.stat().st_size == 0:
        return [f"rdsla analyze {bundle.name}: no report.html written"]
    if not findings.is_file():
        return [f"rdsla analyze {bundle.name}: no findings.json written"]
    return [f"rdsla analyze {bundle.name}: {p}" for p in diagnosis_problems(json.loads(findings.read_text("utf-8")),
                                                                        expected_of(bundle))]


def check_installed(venv: Path, version: str, work: Path) -> list[str]:
    py, rdsla = venv_bin(venv, "python"), venv_bin(venv, "rdsla")
    problems: list[str] = []

    pip_check = run([py, "-m", "pip", "check"], cwd=work)
    if pip_check.returncode != 0:
        problems.append(f"pip check: {pip_check.stdout.strip()}")

    # Every module imports with the declared dependencies alone; no extra is installed.
    walk = ("import importlib.metadata as md, pkgutil, rdsla\n"
            "mods = [m.name for m in pkgutil.walk_packages(rdsla.__path__, 'rdsla.') if not m.name.endswith('__main__')]\n"
            "for m in mods: __import__(m)\n"
            "print(rdsla.__version__, rdsla.__file__, len(mods))\n"
            "print(*sorted({d.metadata['Name'].lower() for d in md.distributions()}))\n")
    proc = run([py, "-c", walk], cwd=work)
    if proc.returncode != 0:
        problems.append(f"importing every rdsla module: {proc.stderr.strip()[-2000:]}")
    else:
        first, installed = proc.stdout.splitlines()[:2]
        problems += [f"{n} is installed by a plain install (it belongs to an extra)"
                     for n in EXTRAS_ABSENT if n in installed.split()]
        got_version, location, count = first.split()
        if got_version != version:
            problems.append(f"rdsla.__version__ is {got_version}, the wheel's version is {version}")
        if not Path(location).resolve().is_relative_to(venv.resolve()):
            problems.append(f"rdsla was imported from {location}, not from the wheel's venv")
    for name in OLD_NAMES:
        proc = run([py, "-c", f"import {name}"], cwd=work)
        if proc.returncode == 0 or "ModuleNotFoundError" not in proc.stderr:
            problems.append(f"'import {name}' should fail with ModuleNotFoundError (one import name: rdsla); "
                            f"exit {proc.returncode} {proc.stderr.strip()[-300:]}")
    for cmd in ([rdsla, "--version"], [py, "-m", "rdsla", "--version"]):
        proc = run(cmd, cwd=work)
        if proc.returncode != 0 or version not in proc.stdout + proc.stderr:
            problems.append(f"{' '.join(Path(c).name for c in cmd)}: exit {proc.returncode}, "
                            f"printed {(proc.stdout + proc.stderr).strip()!r} (expected {version})")

    bundles = sample_bundles()
    if not bundles:
        problems.append(f"no sample bundles in {BUNDLES}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        for found in pool.map(lambda b: analyze_bundle(rdsla, b, work), bundles):
            problems += found

    zipped = next((b for b in bundles if b.suffix == ".zip"), None)
    if zipped:
        for extra, label, cmd in (
                ("parquet", "export --format parquet",
                 [rdsla, "export", str(zipped), "--frame", "events", "--format", "parquet", "-o", "events.parquet"]),
                ("dask", "batch --scheduler local",
                 [rdsla, "batch", str(zipped), "-o", "dask-out", "--scheduler", "local", "--quiet"])):
            proc = run(cmd, cwd=work)
            lines = proc.stderr.strip().splitlines()
            if proc.returncode != 2 or len(lines) != 1 or f'pip install "rdsla[{extra}]"' not in lines[0]:
                problems.append(f"rdsla {label} without the {extra} extra: expected exit 2 and one "
                                f"line naming pip install \"rdsla[{extra}]\"; got exit {proc.returncode}: "
                                f"{proc.stderr.strip()[-1000:]!r}")

    proc = run([rdsla, "batch", str(BUNDLES), "-o", "batch-out", "--jobs", "2", "--quiet"], cwd=work)
    rows = []
    summary = work / "batch-out" / "summary.jsonl"
    if summary.is_file():
        rows = [json.loads(line) for line in summary.read_text("utf-8").splitlines() if line.strip()]
    bad = [(Path(r["bundle"]).name, r["status"], r.get("error")) for r in rows if r["status"] != "ok"]
    if proc.returncode not in (0, 1) or len(rows) != len(bundles) or bad:
        problems.append(f"rdsla batch of {len(bundles)} bundles: exit {proc.returncode}, {len(rows)} rows, "
                        f"not ok: {bad} {proc.stderr.strip()[-1000:]}")
    return problems


# ---------------------------------------------------------------- main

def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="rdsla-wheel-"))
    try:
        files = source_files()
        mapping = folders()
        src = copy_checkout(tmp / "src", files)
        wheel = build_wheel(src, tmp / "dist")
        print(f"ci: built {wheel.name} ({wheel.stat().st_size // 1024} KiB) in {time.monotonic() - started:.0f} s")
        problems = listing_problems(wheel, files, mapping)
        if problems:
            raise CheckFailed("the wheel misses files:\n  " + "\n  ".join(problems))
        venv = tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        install = subprocess.run([venv_bin(venv, "python"), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
                                 capture_output=True, text=True, timeout=900, env=clean_env(), cwd=tmp)
        if install.returncode != 0:
            raise CheckFailed(f"pip install {wheel.name} (no extras) failed:\n{install.stdout}{install.stderr}")
        print(f"ci: installed it without extras in a fresh venv ({time.monotonic() - started:.0f} s)")
        work = tmp / "run"                  # outside the checkout: the checkout is not on sys.path
        work.mkdir()
        version = wheel.name.split("-")[1]
        problems = check_installed(venv, version, work)
        if problems:
            raise CheckFailed("\n  ".join([f"{len(problems)} problem(s) with the installed wheel:", *problems]))
        print(f"ci: wheel check passed: {len(sample_bundles())} sample bundles analyzed from the installed "
              f"wheel ({time.monotonic() - started:.0f} s)")
        return 0
    except CheckFailed as exc:
        print(f"ci: wheel check failed: {exc}", file=sys.stderr)
        return 1
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"ci: wheel check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"ci: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
