"""A whole ``rdsla analyze`` of a sample bundle, the start-up target of issue 20 item 3 (< 0.8 s).

    python benchmarks/bench_analyze_small.py [--runs 12] [--bundle gpo-overrides-deployment.zip] [--plain-install]

``--plain-install`` measures rdsla as users run it: the wheel of this tree installed with a plain
``pip install`` (no extras, so no pyarrow: pandas then keeps strings as Python objects) in a
temporary venv, every process started outside the checkout. Without it, this checkout's venv.

Alternating R times (R >= 10), each a fresh process with its bytecode cached as an installed
rdsla has it (a temporary PYTHONPYCACHEPREFIX, warmed by one untimed run of each command; see
bench_upload.py): ``analyze BUNDLE -o report.html --json findings.json --quiet`` as it runs by
default (the worker pool, one worker per core: DESIGN "Parallel parsing"; a decoder stuck in
native code is killed there), the same with ``--jobs 0`` (every artifact parsed in the process:
what a pool costs a small upload), and the floors no analysis can go under: ``python -c pass`` and ``python -c "import pandas"`` (pandas imports numpy and pyarrow).
Prints median, min and max wall time and the CPU seconds of all the processes of each run (when
other load shares the cores, wall grows and CPU does not), then where one default run spends its
time, stage by stage in a fresh process (bench_upload.py's split).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_upload as bench  # noqa: E402

BUNDLES = bench.REPO / "sample_data" / "bundles"
TARGET = 0.8


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=12, help="alternating runs of each command (at least 10)")
    ap.add_argument("--bundle", default="gpo-overrides-deployment.zip", help="a sample bundle's name")
    ap.add_argument("--plain-install", action="store_true",
                    help="measure the wheel installed without extras in a temporary venv (as users install)")
    args = ap.parse_args()
    runs = max(args.runs, 10)
    bundle = BUNDLES / args.bundle
    if not bundle.exists():
        raise SystemExit(f"{bundle}: no such sample bundle")
    print(f"rdsla bench_analyze_small: {bundle.name}, {runs} runs each, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="rdsla-bench-pycache-") as pycache, \
            tempfile.TemporaryDirectory(prefix="rdsla-bench-out-") as out:
        if args.plain_install:
            bench.PY, bench.CWD = bench.plain_install(Path(out)), Path(out)
            print(f"  measured: the wheel installed without extras ({bench.PY})")
        bench.ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        bench.ENV["PYTHONPYCACHEPREFIX"] = pycache
        analyze = [bench.PY, "-m", "rdsla", "analyze", str(bundle), "-o", f"{out}/r.html", "--json", f"{out}/f.json",
                   "--quiet"]
        cases = [("python -c pass (floor)", [bench.PY, "-c", "pass"]),
                 ("python -c 'import pandas' (floor)", [bench.PY, "-c", "import pandas"]),
                 ("analyze (default: worker pool)", analyze),
                 ("analyze --jobs 0 (parsed in process)", [*analyze, "--jobs", "0"])]
        for _, argv in cases:
            bench.whole_process(argv)                     # untimed: fills the bytecode cache
        measured: dict[str, list[dict]] = {label: [] for label, _ in cases}
        for _ in range(runs):
            for label, argv in cases:
                measured[label].append(bench.whole_process(argv))
        for label, _ in cases:
            walls = [m["wall"] for m in measured[label]]
            cpus = [m["cpu"] for m in measured[label]]
            target = f"  (target < {TARGET} s)" if label.startswith("analyze") else ""
            print(f"  {label:<40} wall {bench.spread(walls)}{target}")
            print(f"  {'':<40} CPU  {bench.spread(cpus)}")
        default = statistics.median(m["wall"] for m in measured[cases[2][0]])
        in_process = statistics.median(m["wall"] for m in measured[cases[3][0]])
        print(f"  default (pool) / in process wall (medians): {default / in_process:.2f}x; default minus 'import pandas': "
              f"{default - statistics.median(m['wall'] for m in measured[cases[1][0]]):.3f} s")
        split = bench.stages(bundle)
        total = sum(s[1] for s in split)
        print(f"stages of one default run in a fresh process ({total:.2f} s wall):")
        for name, secs, cpu, children in split:
            print(f"  {name:<36} {secs:7.3f} s  {secs / total:5.0%}   CPU {cpu:6.3f} s" +
                  (f" + workers {children:6.3f} s" if children else ""))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
