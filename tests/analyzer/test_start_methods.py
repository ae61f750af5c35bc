"""Both worker pools under every start method (issue 15): Windows has only ``spawn`` and macOS
defaults to it, so ``analyze`` (the parse pool) and ``batch`` (the bundle pool) must give under
``spawn`` what they give under ``fork``. ``RDSLA_START_METHOD`` (rdsla.analyzer.processes)
forces the method on Linux. Without SIGALRM (Windows) the artifact time limit is kept by the
killable worker path, and nothing at import time needs a Unix-only module.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "sample_data" / "bundles"
EVERY = sorted(p for p in BUNDLES.iterdir() if p.is_dir() or p.suffix == ".zip")
# The default run compares a fixed set that covers every input form the workers parse (zips and
# folders; EVTX, hives, .reg/reg query text, licensing CSV/HTML/text, SystemInfo; causes on
# session hosts and license servers, healthy and inconclusive); `-m slow` compares every bundle.
CHOSEN = ("gpo-overrides-deployment.zip", "license-server-unreachable", "healthy-system-hive-only.zip",
          "healthy-gpo-without-policy-export", "per-device-cals-leaking.zip", "corrupt-rdsh-certificate",
          "workgroup-auth-enforced.zip", "cloned-image-grace-expired.zip")
ZIPPED = BUNDLES / CHOSEN[0]
METHODS = ("spawn", "fork")
VOLATILE = re.compile(r"second|elapsed|duration|timing|_cpu|generated", re.I)

pytestmark = pytest.mark.skipif(not all(m in __import__("multiprocessing").get_all_start_methods() for m in METHODS),
                                reason="this platform lacks fork (spawn is compared against fork)")

# One process per start method analyzes every sample bundle through the CLI's main(), as
# `rdsla analyze BUNDLE --jobs 2 --json F` does, and says which start methods its pools used.
DRIVER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from rdsla.analyzer import processes
    from rdsla.analyzer.cli import main
    used = set()
    context = processes.context
    def recording(*args, **kwargs):
        ctx = context(*args, **kwargs)
        used.add(ctx.get_start_method())
        return ctx
    processes.context = recording
    out = Path(sys.argv[1])
    codes = {}
    for bundle in sys.argv[2:]:
        codes[bundle] = main(["analyze", bundle, "--jobs", "2", "--json", str(out / (Path(bundle).name + ".json")),
                              "--quiet"])
    print(json.dumps({"used": sorted(used), "codes": codes}))
""")


def _env(method: str) -> dict[str, str]:
    return {**os.environ, "RDSLA_START_METHOD": method}


def _stable(doc):
    """A findings document without its timing fields."""
    if isinstance(doc, dict):
        return {k: _stable(v) for k, v in doc.items() if not VOLATILE.search(k)}
    if isinstance(doc, list):
        return [_stable(v) for v in doc]
    return doc


def _analyze_all(method: str, out: Path, bundles: list[Path]) -> dict:
    out.mkdir()
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(out), *map(str, bundles)], env=_env(method), cwd=out,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _batch(method: str, out: Path, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rdsla", "batch", str(folder), "-o", str(out), "--jobs", "2",
                           "--quiet"], env=_env(method), capture_output=True, text=True, timeout=600)


def _dash_m(bundle: Path, out: Path) -> subprocess.CompletedProcess:
    """``python -m rdsla analyze`` (the entry point Windows users run) with its pool under spawn."""
    out.mkdir()
    return subprocess.run([sys.executable, "-m", "rdsla", "analyze", str(bundle), "--jobs", "2", "--json",
                           str(out / "findings.json"), "--quiet"], env=_env("spawn"), cwd=out, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module", params=["chosen", pytest.param("every", marks=pytest.mark.slow)])
def runs(tmp_path_factory, request):
    """analyze of the bundles and batch of them all, under spawn and under fork, all at once."""
    root = tmp_path_factory.mktemp("start-methods")
    every = request.param == "every"
    bundles = EVERY if every else [BUNDLES / name for name in CHOSEN]
    folder = BUNDLES if every else root / "input"
    if not every:                     # a folder of the chosen bundles for batch (copies: batch reads no links)
        folder.mkdir()
        for b in bundles:
            (shutil.copytree if b.is_dir() else shutil.copy2)(b, folder / b.name)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        analyzed = {m: pool.submit(_analyze_all, m, root / f"analyze-{m}", bundles) for m in METHODS}
        batched = {m: pool.submit(_batch, m, root / f"batch-{m}", folder) for m in METHODS}
        dash_m = pool.submit(_dash_m, ZIPPED, root / "dash-m")
        result = {"bundles": bundles, "analyze": {m: f.result() for m, f in analyzed.items()},
                  "batch": {m: f.result() for m, f in batched.items()}, "dash_m": dash_m.result(), "root": root}
    result["seconds"] = time.monotonic() - started
    return result


def test_analyze_under_spawn_equals_fork_on_every_sample_bundle(runs):
    root, bundles = runs["root"], runs["bundles"]
    for method in METHODS:
        assert runs["analyze"][method]["used"] == [method], runs["analyze"][method]
        codes = runs["analyze"][method]["codes"]
        assert set(codes) == {str(b) for b in bundles} and set(codes.values()) <= {0, 1}, codes
    assert runs["analyze"]["spawn"]["codes"] == runs["analyze"]["fork"]["codes"]
    for bundle in bundles:
        spawned, forked = (json.loads((root / f"analyze-{m}" / f"{bundle.name}.json").read_text("utf-8"))
                           for m in METHODS)
        assert spawned["root_causes"] == forked["root_causes"], bundle.name
        key = [(f["rule_id"], f["state"], f["severity"], f["host"], f["summary"]) for f in forked["findings"]]
        assert [(f["rule_id"], f["state"], f["severity"], f["host"], f["summary"]) for f in spawned["findings"]] == key
        assert _stable(spawned) == _stable(forked), bundle.name
        assert not [a for a in spawned["artifacts"] if a["status"] == "failed"], bundle.name


def test_batch_under_spawn_equals_fork(runs):
    root, bundles = runs["root"], runs["bundles"]
    rows = {}
    for method in METHODS:
        proc = runs["batch"][method]
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
        lines = (root / f"batch-{method}" / "summary.jsonl").read_text("utf-8").splitlines()
        rows[method] = {r["bundle"]: _stable(r) for r in map(json.loads, lines)}
        assert len(rows[method]) == len(bundles) and all(r["status"] == "ok" for r in rows[method].values()), rows[method]
    assert rows["spawn"] == rows["fork"]
    assert runs["batch"]["spawn"].returncode == runs["batch"]["fork"].returncode
    for method in METHODS:   # each bundle's findings.json, too
        folders = sorted(p for p in (root / f"batch-{method}").iterdir() if p.is_dir())
        assert len(folders) == len(bundles)
    for folder in sorted(p.name for p in (root / "batch-fork").iterdir() if p.is_dir()):
        spawned, forked = (_stable(json.loads((root / f"batch-{m}" / folder / "findings.json").read_text("utf-8")))
                           for m in METHODS)
        assert spawned == forked, folder


def test_python_dash_m_rdsla_under_spawn(runs):
    """The entry point Windows users run, with its parse pool under spawn: the same findings
    (``rdsla/__main__.py`` has no ``__main__`` guard; spawn must not run it again in workers)."""
    proc = runs["dash_m"]
    assert proc.returncode in (0, 1) and not proc.stderr, proc.stderr[-3000:]
    forked = json.loads((runs["root"] / "analyze-fork" / f"{ZIPPED.name}.json").read_text("utf-8"))
    assert _stable(json.loads((runs["root"] / "dash-m" / "findings.json").read_text("utf-8"))) == _stable(forked)


# ---------------------------------------------------------------- no SIGALRM

def _small_bundle(root: Path) -> Path:
    bundle = root / "b"
    bundle.mkdir()
    (bundle / "LS01_KeyPacks.csv").write_text("KeyPackId,TotalLicenses,IssuedLicenses,ProductVersionID\n4,20,1,6\n")
    (bundle / "RDSH01_TS.reg").write_bytes(b"\xff\xfe" + (
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n"
        "\"Current\"=dword:00000001\r\n").encode("utf-16-le"))
    return bundle


def test_without_sigalrm_a_hanging_text_parser_is_killed_and_the_rest_is_read(tmp_path, monkeypatch):
    """Where SIGALRM does not exist every timed artifact takes the killable worker path, text
    formats too: the hanging parser runs in a worker (not here), is killed at the limit, its
    file is a failed row naming --artifact-timeout, and the other file is read."""
    import rdsla.analyzer.pipeline as pipeline
    import rdsla.parsers.licensing as licensing
    from rdsla.core.limits import Limits
    from rdsla.parsers.base import ParseOptions

    bundle = _small_bundle(tmp_path)
    where = tmp_path / "hung-in-pid"
    here = os.getpid()

    def hang(source, options):
        where.write_text(str(os.getpid()))
        if os.getpid() == here:       # no timer could stop it here: fail instead of hanging the test run
            raise RuntimeError("parsed in the test process, not in a killable worker")
        while True:
            time.sleep(0.05)

    monkeypatch.setattr(pipeline, "HAS_ALARM", False)
    monkeypatch.setattr(licensing, "parse", hang)
    monkeypatch.setenv("RDSLA_START_METHOD", "fork")       # the workers inherit both patches
    started = time.monotonic()
    ingested = pipeline.ingest([str(bundle)], ParseOptions(limits=Limits(artifact_seconds=2)), jobs=1)
    assert time.monotonic() - started < 30
    rows = {r["path"]: r for r in ingested.frames["artifacts"].to_dict("records")}
    slow = rows["b/LS01_KeyPacks.csv"]
    assert slow["status"] == "failed" and "--artifact-timeout" in slow["warnings"][0], slow
    assert rows["b/RDSH01_TS.reg"]["status"] == "ok", rows["b/RDSH01_TS.reg"]
    assert int(where.read_text()) != here, "the parser ran in this process, not in a killable worker"


def _rdsla_modules() -> list[str]:
    """Every rdsla module, from the repository's folders (an editable install maps them into
    ``rdsla`` with an import hook that pkgutil cannot walk)."""
    try:
        import tomllib
        mapping = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["package-dir"]
    except ImportError:
        mapping = {"rdsla": "rdsla", **{f"rdsla.{d}": d for d in ("core", "analyzer", "parsers", "rules", "reports",
                                                                   "sample_data")}}
    names = []
    for package, folder in mapping.items():
        for py in sorted((REPO / folder).rglob("*.py")):
            parts = list(py.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__main__":              # runs the command line when imported
                continue
            names.append(".".join([package, *(parts[:-1] if parts[-1] == "__init__" else parts)]))
    return names


IMPORT_WITHOUT_UNIX = textwrap.dedent("""
    import json, signal, sys
    for name in ("resource", "fcntl", "termios", "pwd", "grp"):
        sys.modules[name] = None                      # import raises ImportError, as on Windows
    for attr in ("SIGALRM", "setitimer", "getitimer", "ITIMER_REAL", "alarm"):
        if hasattr(signal, attr):
            delattr(signal, attr)
    names = sys.argv[2:]
    failed = {}
    for name in names:
        try:
            __import__(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    from rdsla.analyzer import pipeline
    from rdsla.core.limits import Limits
    from rdsla.parsers.base import ParseOptions
    isolated = []
    parse_isolated = pipeline._parse_isolated
    def recording(sources, order, *args):
        isolated.extend(sources[i].display for i in order)
        return parse_isolated(sources, order, *args)
    pipeline._parse_isolated = recording
    ingested = pipeline.ingest([sys.argv[1]], ParseOptions(limits=Limits(artifact_seconds=60)), jobs=1)
    statuses = {r["path"]: r["status"] for r in ingested.frames["artifacts"].to_dict("records")}
    print(json.dumps({"modules": len(names), "failed": failed, "has_alarm": pipeline.HAS_ALARM,
                      "isolated": sorted(isolated), "statuses": statuses}))
""")


def test_every_module_imports_without_unix_only_modules_and_spawn_workers_keep_the_limit(tmp_path):
    """With resource/fcntl/termios/pwd/grp unimportable and no SIGALRM, every rdsla module
    imports, the pipeline knows it has no alarm, and a timed ingest under spawn parses the text
    artifacts in (killable) workers."""
    bundle = _small_bundle(tmp_path)
    modules = _rdsla_modules()
    proc = subprocess.run([sys.executable, "-c", IMPORT_WITHOUT_UNIX, str(bundle), *modules], env=_env("spawn"),
                          cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["failed"] == {} and report["modules"] == len(modules) > 50, report
    assert report["has_alarm"] is False
    assert report["isolated"] == ["b/LS01_KeyPacks.csv", "b/RDSH01_TS.reg"]
    assert report["statuses"] == {"b/LS01_KeyPacks.csv": "ok", "b/RDSH01_TS.reg": "ok"}
