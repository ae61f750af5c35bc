"""Replay every input that once failed (tests/fuzz/corpus/*/index.jsonl) against the fuzz
properties, plus the regressions that are not one input file. A test here fails until the bug
it names is fixed: these are real bugs, not expected failures."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from rdsla.core.limits import Limits
from rdsla.parsers.base import Source
from tests.fuzz import harness

CORPUS = Path(__file__).with_name("corpus")
REPO = Path(__file__).resolve().parents[2]


def _entries():
    out = []
    for index in sorted(CORPUS.glob("*/index.jsonl")):
        for line in index.read_text(encoding="utf-8").splitlines():
            if line.strip():
                e = json.loads(line)
                # "open": a bug found and not fixed yet; strict, so the fix must remove the mark
                marks = [pytest.mark.xfail(strict=True, reason=e["open"])] if e.get("open") else []
                out.append(pytest.param(index.parent.name, e, id=f"{index.parent.name}/{e['file']}", marks=marks))
    return out


def _load(target: str, entry: dict) -> bytes:
    raw = (CORPUS / target / entry["file"]).read_bytes()
    return gzip.decompress(raw) if entry["file"].endswith(".gz") else raw


def _check(kind: str, data: bytes, folder: Path, backend: str) -> harness.Outcome:
    if kind == "zip":
        return harness.check_zip(data, folder, "corpus.zip")
    return harness.check_bytes(kind, data, folder, "corpus.bin", backend=backend)


REPLAY = """
import sys
from pathlib import Path
from tests.fuzz.test_corpus import _check
data = Path(sys.argv[1]).read_bytes()
out = _check(sys.argv[2], data, Path(sys.argv[3]), sys.argv[4])
print("\\n".join(out.problems))
sys.exit(1 if out.problems else 0)
"""


@pytest.mark.parametrize("target,entry", _entries())
def test_corpus_input(target, entry, tmp_path):
    data = _load(target, entry)
    backend = entry.get("backend", "rust")
    if entry["problem"].startswith("hang") and entry["kind"] in ("evtx", "hive"):
        # the native decoder itself spins on this input (it never returns to Python): rdsla's
        # answer is the worker watchdog, so replay it the way rdsla runs it and bound the time
        src = tmp_path / "input.bin"
        src.write_bytes(data)
        proc = subprocess.run([sys.executable, "-m", "analyzer", "inventory", str(src), "--json",
                               "--artifact-timeout", "5"], cwd=REPO, capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, proc.stderr[-2000:]
        row = json.loads(proc.stdout)["artifacts"][0]
        assert row["status"] in ("ok", "partial", "failed") and (row["status"] != "failed" or row["warnings"]), row
        return
    if entry["problem"].startswith(("hang", "died")):
        # an input that once hung or killed the process: replay it where it cannot take pytest down
        src = tmp_path / "input.bin"
        src.write_bytes(data)
        work = tmp_path / "work"
        work.mkdir()
        try:
            proc = subprocess.run([sys.executable, "-c", REPLAY, str(src), entry["kind"], str(work), backend],
                                  cwd=REPO, capture_output=True, text=True, timeout=2 * harness.TIME_LIMIT + 30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{entry['file']}: still hangs ({entry['problem']})")
        assert proc.returncode == 0, f"{entry['file']}: {proc.stdout}{proc.stderr[-2000:]}"
        return
    out = _check(entry["kind"], data, tmp_path, backend)
    assert out.ok, f"{entry['file']} (first seen: {entry['problem']}):\n" + "\n".join(out.problems)


def test_read_bytes_does_not_reserve_its_limit(tmp_path):
    """Source.read_bytes() of a 5-byte file under the default limits must not allocate 2 GiB.

    parsers/base.py does ``fh.read(limit + 1)``, and CPython allocates the whole ``limit + 1``
    buffer before reading: every text artifact (.reg, reg query, licensing exports) costs a
    2 GiB allocation with the default --max-file-size, which fails with MemoryError under an
    address-space limit (ulimit -v, strict overcommit) - every artifact then "out of memory".
    Found by the tracemalloc property of tests/fuzz/harness.py."""
    path = tmp_path / "tiny.reg"
    path.write_bytes(b"hello")
    source = Source(display="tiny.reg", chain=(str(path),), size=5, max_bytes=Limits().max_file_bytes)
    tracemalloc.start()
    try:
        assert source.read_bytes() == b"hello"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"read_bytes of 5 bytes peaked at {peak:,} bytes of Python heap"


@pytest.mark.slow
def test_real_damaged_evtx(workdir, real_evtx):
    """The public EVTX files with real damage (bad chunk magic, zero-size event data) keep the
    properties too (slow: the python-evtx fallback reads 1 MB files; run with -m slow)."""
    damaged = [p for p in real_evtx if "bad_chunk" in p.name or "zero-data-size" in p.name]
    if not damaged:
        pytest.skip("no damaged real EVTX file in ../shared/realdata")
    for p in damaged:
        out = harness.check_bytes("evtx", p.read_bytes(), workdir, "real.evtx", measure_memory=False)
        assert out.ok, (p.name, out.problems)
        assert out.result.records_read > 0, (p.name, out.result.warnings)


def test_corpus_files_are_small():
    for f in CORPUS.glob("*/*.bin*"):
        assert f.stat().st_size <= 300 * 1024, f"{f} is too big for the regression corpus"
