"""rdsla reads as many records as libevtx's evtxexport (an independent reader) on every real
file and every EVTX file of the sample bundles. Known difference: on the file with zeroed
chunk magics the Rust decoder recovers 3 records more than libevtx (SOURCES.md)."""
from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from rdsla.parsers.base import ParseOptions, Source
from rdsla.parsers.evtx import parse

EVTXEXPORT = shutil.which("evtxexport")
pytestmark = pytest.mark.skipif(EVTXEXPORT is None, reason="evtxexport (Debian libevtx-utils) not installed")
BUNDLES = Path(__file__).resolve().parents[2] / "sample_data" / "bundles"
MORE_THAN_LIBEVTX = {"omerbenamram_sample_with_a_bad_chunk_magic.evtx": 3}


def libevtx_count(path: Path) -> int:
    out = subprocess.run([EVTXEXPORT, "-f", "xml", str(path)], capture_output=True, timeout=300)
    return out.stdout.count(b"<Event ")


def rdsla_count(path: Path) -> int:
    result = parse(Source(display=path.name, chain=(str(path),), size=path.stat().st_size, kind="evtx"), ParseOptions())
    return result.records_read


BIG = 4 << 20      # evtxexport needs ~12 s for the 16.8 MB System.evtx: those run with -m slow


def test_real_files_agree_with_evtxexport(real_evtx):
    for path in real_evtx:
        if path.stat().st_size < BIG:
            assert rdsla_count(path) == libevtx_count(path) + MORE_THAN_LIBEVTX.get(path.name, 0), path.name


@pytest.mark.slow
def test_big_real_files_agree_with_evtxexport(real_evtx):
    big = [p for p in real_evtx if p.stat().st_size >= BIG]
    assert big
    for path in big:
        assert rdsla_count(path) == libevtx_count(path), path.name


def test_sample_bundle_logs_agree_with_evtxexport(tmp_path):
    checked = 0
    for bundle in sorted(BUNDLES.iterdir()):
        if bundle.suffix == ".zip":
            with zipfile.ZipFile(bundle) as zf:
                for name in zf.namelist():
                    if name.endswith(".evtx"):
                        target = tmp_path / f"{checked}.evtx"
                        target.write_bytes(zf.read(name))
                        assert rdsla_count(target) == libevtx_count(target), f"{bundle.name}!/{name}"
                        checked += 1
        else:
            for path in sorted(bundle.rglob("*.evtx")):
                assert rdsla_count(path) == libevtx_count(path), str(path)
                checked += 1
    assert checked >= 30


def test_collection_time_fact_is_the_newest_of_every_record_on_both_backends(real_evtx):
    """The parser keeps only relevant rows, but reports the newest time over all records."""
    import evtx
    import pandas as pd
    for path in real_evtx:
        if path.stat().st_size >= BIG or "omerbenamram" in path.name:
            continue
        src = Source(display=path.name, chain=(str(path),), size=path.stat().st_size, kind="evtx")
        exact = max(pd.Timestamp(r["timestamp"].removesuffix(" UTC"))
                    for r in evtx.PyEvtxParser(str(path)).records_json())
        for backend in ("rust", "python") if path.stat().st_size < 300_000 else ("rust",):
            facts = [f for f in parse(src, ParseOptions(evtx_backend=backend)).facts if f["name"] == "collected_at"]
            assert len(facts) == 1, (path.name, backend)
            assert pd.Timestamp(facts[0]["value"]) == exact.floor("s"), (path.name, backend)
