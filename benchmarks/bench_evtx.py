"""EVTX decoding speed and memory, as ratios against baselines measured in the same run.

Usage: python benchmarks/bench_evtx.py [FILE.evtx ...] [--slice N] [--repeat R] [--rounds K]
Default files: the largest System.evtx of ../shared/realdata/evtx and the forge's large
bundle's System.evtx (python -m rdsla.sample_data.forge --large). Each variant runs in its own
subprocess that imports the same modules and makes the same warm-up (one --all-events parse:
the heap's history changes the Rust decoder's speed up to ~1.8x), runs its variant once
untimed, then takes the best of R runs: steady-state throughput, as in a worker that parses
file after file. Variants alternate over --rounds fresh processes each; the best is kept.
Peak memory is therefore reported separately, in a fresh process per variant.
Variants: rdsla default path, rdsla --all-events, bare ``records_json()`` iteration of the
Rust `evtx` package, python-evtx rendering every record (first N records, extrapolated).
Targets (issue 4): default >= 0.8x bare; all-events >= 0.3x bare; default >= 500x
python-evtx; default peak memory < 300 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("RDSLA_SHARED", REPO.parent / "shared")) / "realdata" / "evtx"

CHILD = r"""
import json, os, resource, sys, time
variant, path, n, repeat, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
import evtx, Evtx.Evtx as E, Evtx.Nodes as EN
PUBLISHED_WALK = EN.BXmlNode._children            # parsers.evtx_python bounds it when imported
from rdsla.parsers.base import ParseOptions, Source     # every variant imports the same modules,
from rdsla.parsers.evtx import parse                    # so the allocator starts from the same heap


def once():
    if variant in ("default", "all_events"):
        src = Source(display=path, chain=(path,), size=os.path.getsize(path), kind="evtx")
        res = parse(src, ParseOptions(all_events=variant == "all_events"))
        return res.records_read, len(res.frames["events"])
    if variant == "bare":
        records = 0
        for _ in evtx.PyEvtxParser(path).records_json():
            records += 1
        return records, records
    records = 0      # python-evtx as published, rendering XML for every record, first n records
    EN.BXmlNode._children = PUBLISHED_WALK
    with E.Evtx(path) as log:
        for chunk in log.get_file_header().chunks(include_inactive=True):
            if not chunk.check_magic():
                continue
            for rec in chunk.records():
                rec.xml()
                records += 1
                if records >= n:
                    return records, records
    return records, records


# The same warm-up in every variant's process: how fast the Rust decoder allocates depends on
# the heap's history (glibc raises its mmap threshold after large frees; bare iteration runs
# ~1.8x faster after one full parse than in a fresh process), so each variant starts from the
# heap that one --all-events parse of the file leaves behind.
if mode == "memory":           # a fresh process, one run: the peak of the variant alone
    records, kept = once()
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    sys.exit(0)
parse(Source(display=path, chain=(path,), size=os.path.getsize(path), kind="evtx"),
      ParseOptions(all_events=True))
best = None
for i in range(repeat + (1 if variant != "python_evtx" else 0)):
    t0 = time.perf_counter()
    records, kept = once()
    elapsed = time.perf_counter() - t0
    if variant != "python_evtx" and i == 0:
        continue          # the first run warms the heap and caches: steady state is measured
    best = elapsed if best is None else min(best, elapsed)
print(json.dumps({"seconds": best, "records": records, "kept": kept}))
"""


def run(variant: str, path: Path, n: int, repeat: int, mode: str = "speed") -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, variant, str(path), str(n), str(repeat), mode],
                         capture_output=True, text=True, cwd=REPO, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if mode == "speed" and variant != "python_evtx":
        result.update(run(variant, path, n, 1, "memory"))
    return result


def bench(path: Path, n: int, repeat: int, rounds: int) -> None:
    size_mb = path.stat().st_size / 1e6
    # variants alternate over several rounds, each round in fresh processes, and the best of
    # all is kept: on this kind of machine one process can run 1.6x slower than the next
    # (memory placement), and alternating keeps such luck from favouring one variant
    res: dict = {}
    for _ in range(rounds):
        for v in ("bare", "default", "all_events"):
            r = run(v, path, n, repeat)
            if v not in res or r["seconds"] < res[v]["seconds"]:
                res[v] = r
    res["python_evtx"] = run("python_evtx", path, n, 1)
    total = res["bare"]["records"]
    print(f"\n{path.name}: {size_mb:.1f} MB, {total:,} records")
    print(f"{'variant':<14}{'seconds':>9}{'records/s':>12}{'MB/s':>8}{'peak MB':>9}{'kept':>9}")
    rates = {}
    for v, r in res.items():
        rate = r["records"] / r["seconds"]
        rates[v] = rate
        secs = r["seconds"] if v != "python_evtx" else total / rate
        note = f"  ({r['records']:,} records, extrapolated)" if v == "python_evtx" else ""
        print(f"{v:<14}{secs:>9.3f}{rate:>12,.0f}{size_mb / secs:>8.1f}"
              f"{r.get('maxrss_mb', float('nan')):>9.0f}{r['kept']:>9,}{note}")
    print("ratios (throughput):")
    print(f"  default / bare records_json      {rates['default'] / rates['bare']:.2f}x  (target >= 0.8)")
    print(f"  all-events / bare records_json   {rates['all_events'] / rates['bare']:.2f}x  (target >= 0.3)")
    print(f"  default / python-evtx            {rates['default'] / rates['python_evtx']:.0f}x  (target >= 500)")
    print(f"  default peak memory              {res['default']['maxrss_mb']:.0f} MB  (target < 300)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--slice", type=int, default=2000, help="python-evtx records (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per process (default 3)")
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per variant, alternating (default 3)")
    ap.add_argument("--no-forge", action="store_true",
                    help="skip the forge's large bundle (built in a temporary folder, ~20 s)")
    args = ap.parse_args()
    files = list(args.files)
    if not files:
        real = sorted(REALDATA.glob("*System*.evtx"), key=lambda p: p.stat().st_size)
        files = real[-1:]
    with tempfile.TemporaryDirectory(prefix="rdsla-bench-") as tmp:
        if not args.files and not args.no_forge:
            # in a subprocess: a child inherits its parent's peak RSS (ru_maxrss) on Linux, and
            # building the 60 MB hive of that bundle here would show in every variant's peak
            subprocess.run([sys.executable, "-m", "rdsla.sample_data.forge", "--large", tmp], cwd=REPO,
                           check=True, capture_output=True)
            files += sorted(Path(tmp).rglob("*System.evtx"), key=lambda p: p.stat().st_size)[-1:]
        for path in files:
            bench(path, args.slice, args.repeat, args.rounds)


if __name__ == "__main__":
    main()
