"""Batch throughput: N bundle copies with --jobs 1, --jobs 2 and a local Dask cluster, one run.

    python benchmarks/bench_batch.py [BUNDLE ...] [-n 200] [--no-dask]

Bundles: the arguments, else ``sample_data/bundles/*``, else three tiny generated ones. Prints
bundles/s, the speedups against --jobs 1 measured in the same run, the per-bundle overhead
of the batch machinery ((wall x workers - summed per-bundle work) / N: dispatch, IPC,
summary writes, index, worker start-up) and the parent's RSS as the batch grows.
Targets (issue 9, issue 20 item 6): >= 1.7x from 1 to 2 jobs on a quiet machine; overhead
< 50 ms/bundle; parent RSS flat. Each run also prints its CPU seconds (this process and its
workers, getrusage) and the load average: on a shared machine other load takes cores from the
workers, so wall grows while CPU does not, and the 2-job speedup is bounded by the cores left.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rdsla.analyzer.batch import run_batch

REG = ('Windows Registry Editor Version 5.00\r\n\r\n'
       '[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n'
       '"ComputerName"="{host}"\r\n\r\n'
       '[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Terminal Server\\RCM\\Licensing Core]\r\n'
       '"LicensingMode"=dword:00000004\r\n')


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generated(root: Path) -> list[Path]:
    out = []
    for i, host in enumerate(("RDSH01", "RDSH02", "LS01")):
        b = root / f"gen{i}"
        b.mkdir(parents=True)
        (b / "system.reg").write_text(REG.format(host=host), encoding="utf-8")
        out.append(b)
    z = root / "gen3.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("RDSH03/system.reg", REG.format(host="RDSH03"))
    out.append(z)
    return out


def copies(sources: list[Path], n: int, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for i in range(n):
        src = sources[i % len(sources)]
        target = dest / f"b{i:04d}-{src.name}"
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            shutil.copy2(src, target)
    return dest


def run(label: str, inputs: Path, out: Path, n: int, workers: int, **kw) -> dict:
    samples: list[tuple[int, float]] = []
    marks = {1, n // 4, n // 2, 3 * n // 4, n}

    def sample(_row):
        done = len(samples) + 1
        samples.append((done, rss_mb()) if done in marks else (done, -1.0))

    load = os.getloadavg()[0]
    before = _cpu()
    result = run_batch([str(inputs)], str(out), quiet=True, **kw, on_row=sample)
    parent_cpu = _cpu() - before
    cpu = parent_cpu + result.cpu_seconds        # the workers' CPU, summed per bundle by the batch
    rss = [(d, m) for d, m in samples if m >= 0]
    overhead = (result.wall_seconds * workers - result.work_seconds) / n
    print(f"{label:<14} {n / result.wall_seconds:7.1f} bundles/s  wall {result.wall_seconds:6.1f} s  "
          f"work {result.work_seconds / n * 1000:6.1f} ms/bundle  overhead {overhead * 1000:6.1f} ms/bundle  "
          f"ok {result.counts['ok']} failed {result.counts['failed']} timeout {result.counts['timeout']}")
    print(f"{'':<14} workers busy {result.work_seconds / (result.wall_seconds * workers):.0%} of wall x workers; "
          f"bundle CPU {result.cpu_seconds / n * 1000:.1f} ms vs wall {result.work_seconds / n * 1000:.1f} ms "
          f"(wall/CPU {result.work_seconds / max(result.cpu_seconds, 1e-9):.2f}: > 1 means other load shares the cores)")
    print(f"{'':<14} CPU {cpu:.1f} s in all ({cpu / n * 1000:.1f} ms/bundle; parent {parent_cpu * 1000 / n:.1f} ms/bundle), "
          f"{cpu / result.wall_seconds:.2f} cores busy of {workers} worker(s); load average {load:.1f} before the run")
    print(f"{'':<14} parent RSS MB at bundle " + ", ".join(f"{d}: {m:.0f}" for d, m in rss))
    return {"wall": result.wall_seconds, "overhead": overhead, "rss": rss, "cpu": cpu}


def _cpu() -> float:
    """CPU seconds of this process (the batch's parent: dispatch, summary, index)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundles", nargs="*", type=Path)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rdsla-bench-batch-") as tmp:
        root = Path(tmp)
        sources = args.bundles or sorted((REPO / "sample_data" / "bundles").glob("*")) or generated(root / "gen")
        inputs = copies(sources, args.n, root / "in")
        print(f"{args.n} bundles: copies of {len(sources)} ({', '.join(s.name for s in sources[:6])}"
              f"{' ...' if len(sources) > 6 else ''})")
        one = run("--jobs 1", inputs, root / "o1", args.n, 1, jobs=1)
        two = run("--jobs 2", inputs, root / "o2", args.n, 2, jobs=2)
        print(f"speedup 1 -> 2 jobs: {one['wall'] / two['wall']:.2f}x wall (target >= 1.7x on a quiet machine); "
              f"CPU 1 job {one['cpu']:.1f} s, 2 jobs {two['cpu']:.1f} s (ratio {two['cpu'] / one['cpu']:.2f}: "
              f"near 1 means the 2-job run did the same work; its wall is then bounded by the cores other load left)")
        if not args.no_dask:
            try:
                dask = run("dask local x2", inputs, root / "od", args.n, 2, jobs=2, scheduler="local")
                print(f"speedup 1 job -> dask local 2 workers: {one['wall'] / dask['wall']:.2f}x")
            except Exception as exc:  # noqa: BLE001 - dask is an optional extra
                print(f"dask local: not run ({type(exc).__name__}: {exc})")
        worst = max(one["overhead"], two["overhead"])
        print(f"batch overhead (pool, worst): {worst * 1000:.1f} ms/bundle (target < 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
