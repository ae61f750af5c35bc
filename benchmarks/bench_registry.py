"""Targeted registry extraction vs regipy's full recursive walk, and a whole host profile.

    python benchmarks/bench_registry.py [--system HIVE] [--software HIVE | --make-software KEYS]
                                        [--walk-seconds 20] [--repeat 3]

The full walk (regipy ``recurse_subkeys`` with values) takes minutes on a large hive, so it is
time-boxed: keys walked in ``--walk-seconds`` are extrapolated to the hive's key count (a walk
of key names only). Targets (issue 5): targeted >= 20x faster than the walk; a host profile
from SYSTEM + SOFTWARE < 1 s. Ratios come from the same run, never from fixed numbers.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rdsla.core.frames import make_frame  # noqa: E402
from rdsla.analyzer.hosts import build_profiles  # noqa: E402
from rdsla.parsers.base import ParseOptions, Source  # noqa: E402
from rdsla.parsers.registry import parse  # noqa: E402

DEFAULT_SYSTEM = REPO.parent / "shared" / "realdata" / "hives" / "Win10_dissect_SYSTEM"


def targeted(path: Path):
    return parse(Source(str(path), (str(path),), path.stat().st_size, "hive"), ParseOptions())


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def full_walk_estimate(path: Path, seconds: float) -> tuple[float, int, int, bool]:
    """(estimated seconds, keys in hive, keys walked with values, finished)."""
    from regipy.registry import RegistryHive

    hive = RegistryHive(str(path))
    t = time.perf_counter()
    total = sum(1 for _ in hive.recurse_subkeys(fetch_values=False))
    names_time = time.perf_counter() - t
    hive = RegistryHive(str(path))
    done, start = 0, time.perf_counter()
    finished = True
    for sub in hive.recurse_subkeys(fetch_values=True):
        for v in sub.values:      # read values whole, as the parser does (iter_values trims by default)
            _ = v.value
        done += 1
        if time.perf_counter() - start > seconds:
            finished = False
            break
    elapsed = time.perf_counter() - start
    estimate = elapsed if finished else elapsed * total / max(done, 1)
    print(f"  key-name walk: {total:,} keys in {names_time:.2f} s")
    return estimate, total, done, finished, names_time


def make_software(keys: int, target: Path) -> Path:
    from rdsla.sample_data.forge.machine import Machine, software_tree
    from rdsla.sample_data.forge.regf_writer import REG_DWORD, REG_SZ, write_hive

    m = Machine(name="RDSH01", os="2019", domain="contoso.local", roles=frozenset({"session_host"}),
                installed=datetime(2024, 1, 1, tzinfo=timezone.utc), policy_mode=4, policy_servers=["LS01"])
    root = software_tree(m)
    classes = root.key("Classes")
    for i in range(keys):
        k = classes.key(f"CLSID\\{{{i:08X}-0000-0000-0000-000000000000}}\\InprocServer32")
        k.set("", REG_SZ, f"C:\\Windows\\System32\\component{i}.dll").set("ThreadingModel", REG_SZ, "Both")
        k.set("Flags", REG_DWORD, i)
    write_hive(target, root, file_name="SOFTWARE", timestamp=datetime(2024, 5, 1, tzinfo=timezone.utc))
    return target


def bench_hive(label: str, path: Path, repeat: int, walk_seconds: float) -> None:
    print(f"\n{label}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    t_target, result = median_time(lambda: targeted(path), repeat)
    rows = len(result.frames["registry"])
    print(f"  targeted extraction: {t_target:.3f} s median of {repeat} ({rows} rows, status {result.status})")
    est, total, done, finished, names_time = full_walk_estimate(path, walk_seconds)
    how = "measured" if finished else f"extrapolated from {done:,} keys in {walk_seconds:.0f} s"
    print(f"  regipy full walk with values: {est:.1f} s ({how}, {total:,} keys)")
    print(f"  ratio full walk / targeted: {est / t_target:.0f}x (target >= 20x)")
    print(f"  ratio key-name walk (a floor for any walk) / targeted: {names_time / t_target:.0f}x")


def bench_profile(system: Path, software: Path, repeat: int) -> None:
    def profile():
        frames = []
        for path in (system, software):
            r = targeted(path)
            f = r.frames["registry"].copy()
            f["host"], f["source"] = next(iter(r.computers), "HOST"), str(path)
            frames.append(f)
        import pandas as pd
        reg = make_frame("registry", pd.concat(frames, ignore_index=True))
        return build_profiles({"registry": reg}, [], {}, datetime.now(timezone.utc))

    t, profiles = median_time(profile, repeat)
    names = ", ".join(p.name for p in profiles)
    print(f"\nhost profile from SYSTEM + SOFTWARE (parse both + build_profiles): {t:.3f} s median of {repeat} "
          f"({names}) (target < 1 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--system", type=Path, default=DEFAULT_SYSTEM)
    ap.add_argument("--software", type=Path, help="a large SOFTWARE hive")
    ap.add_argument("--make-software", type=int, default=0, metavar="KEYS",
                    help="forge a SOFTWARE hive with KEYS x 3 extra keys when --software is not given")
    ap.add_argument("--walk-seconds", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rdsla-bench-") as tmp:
        software = args.software
        if software is None and args.make_software:
            t = time.perf_counter()
            software = make_software(args.make_software, Path(tmp) / "SOFTWARE")
            print(f"forged SOFTWARE hive: {software.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s")
        if args.system.exists():
            bench_hive("SYSTEM", args.system, args.repeat, args.walk_seconds)
        if software is not None:
            bench_hive("SOFTWARE", software, args.repeat, args.walk_seconds)
        if args.system.exists() and software is not None:
            bench_profile(args.system, software, args.repeat)


if __name__ == "__main__":
    main()
