"""The long fuzz run (issue 10): mutational fuzzing from seeds, N minutes per parser.

    python benchmarks/fuzz_long.py                       # 5 minutes per target, every target
    python benchmarks/fuzz_long.py --minutes 30 --targets evtx,hive

Each target runs in a worker process that checks the properties of tests/fuzz/harness.py on
every input (no raise, failures reported with file/position, bounded time, bounded memory).
The parent generates inputs (tests/fuzz/mutators.py, from tests/fuzz/seeds.py plus every input
that produced a warning not seen before), and kills and restarts the worker when an input
hangs (--timeout) or kills it (segfault, out of memory). An EVTX or hive input that hangs
``parse()`` is then run the way rdsla runs it (``inventory``, whose workers are killed past
--artifact-timeout); if that gives a ledger row in time, the hang is counted as covered by the
watchdog, not as a new failure. Each new failure (one per distinct
problem) is stored in tests/fuzz/corpus/<target>/ with a line in index.jsonl; the CI test
tests/fuzz/test_corpus.py replays them. Not collected by pytest; prints a summary.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing as mp
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CORPUS = REPO / "tests" / "fuzz" / "corpus"
MAX_STORED = 256 * 1024          # larger crashers are stored gzip-compressed
POOL_CAP = 300


def _worker(conn, workdir: str) -> None:
    from tests.fuzz import harness
    while True:
        msg = conn.recv()
        if msg is None:
            return
        kind, data, backend, measure = msg
        try:
            if kind == "zip":
                out = harness.check_zip(data, Path(workdir) / "z", name="fuzzed.zip") if _mkdir(workdir) else None
            else:
                out = harness.check_bytes(kind, data, Path(workdir), backend=backend, measure_memory=measure)
            status = out.result.status if out.result is not None else ("zip" if kind == "zip" else None)
            warnings = list(out.result.warnings) if out.result is not None else []
            conn.send((out.problems, out.seconds, out.peak, status, warnings, out.unpositioned))
        except BaseException as exc:  # noqa: BLE001 - the harness itself must never take the run down
            conn.send(([f"harness error {type(exc).__name__}: {exc}"], 0.0, 0, None, [], []))


def _mkdir(workdir: str) -> bool:
    z = Path(workdir) / "z"
    shutil.rmtree(z, ignore_errors=True)
    z.mkdir()
    return True


def signature(problem: str) -> str:
    """A problem without its numbers and quoted values: one crasher per distinct bug."""
    first = problem.splitlines()[0] if problem else ""
    first = re.sub(r"fuzz/\S+|'[^']*'|\"[^\"]*\"", "<s>", first)
    first = re.sub(r"0x[0-9a-fA-F]+|\d[\d,.]*", "N", first)
    return first[:200]


def store(target: str, kind: str, data: bytes, problem: str, backend: str) -> str:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:12]
    name = f"{digest}.bin" if len(data) <= MAX_STORED else f"{digest}.bin.gz"
    path = folder / name
    if not path.exists():
        path.write_bytes(data if name.endswith(".bin") else gzip.compress(data, 9, mtime=0))
        with open(folder / "index.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"file": name, "kind": kind, "backend": backend, "problem": problem.splitlines()[0][:300],
                                 "found": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                                 "by": "benchmarks/fuzz_long.py"}) + "\n")
    return name


WATCHDOG_SECONDS = 5


def watchdog_covers(data: bytes, workdir: str) -> bool:
    """Whether rdsla's own path (``inventory`` parses through analyzer.pipeline's worker
    watchdog) turns an input that hangs ``parse()`` into a ledger row, in bounded time."""
    import subprocess
    path = Path(workdir) / "hang.bin"
    path.write_bytes(data)
    try:
        proc = subprocess.run([sys.executable, "-m", "analyzer", "inventory", str(path), "--json",
                               "--artifact-timeout", str(WATCHDOG_SECONDS)],
                              cwd=REPO, capture_output=True, text=True, timeout=WATCHDOG_SECONDS + 60)
        row = json.loads(proc.stdout)["artifacts"][0]
    except (subprocess.TimeoutExpired, ValueError, KeyError, IndexError):
        return False
    finally:
        path.unlink(missing_ok=True)
    return proc.returncode == 0 and (row.get("status") != "failed" or bool(row.get("warnings")))


class Runner:
    def __init__(self, workdir: str, timeout: float):
        self.workdir, self.timeout = workdir, timeout
        self.ctx = mp.get_context("spawn")
        self.proc = None
        self._start()

    def _start(self) -> None:
        self.parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.workdir), daemon=True)
        self.proc.start()

    def run(self, msg):
        """(result tuple) or ("hang" | "died", detail)."""
        try:
            self.parent.send(msg)
        except (BrokenPipeError, OSError):
            self.restart()
            self.parent.send(msg)
        if self.parent.poll(self.timeout):
            try:
                return self.parent.recv()
            except EOFError:
                code = self.proc.exitcode
                self.restart()
                return ("died", f"worker died (exit code {code})")
        alive = self.proc.is_alive()
        code = self.proc.exitcode
        self.restart()
        return ("hang", f"no answer within {self.timeout:.0f} s") if alive else ("died", f"worker died (exit code {code})")

    def restart(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.join(5)
        self._start()

    def close(self) -> None:
        try:
            self.parent.send(None)
            self.proc.join(10)
        except Exception:  # noqa: BLE001
            pass
        if self.proc.is_alive():
            self.proc.kill()


def fuzz(target_name: str, minutes: float, seed: int, timeout: float, save: bool) -> dict:
    from rdsla.analyzer.pipeline import ISOLATED_KINDS      # parsed in workers killed past the limit
    from tests.fuzz.targets import TARGETS
    target = TARGETS[target_name]
    rng = random.Random(seed)
    seeds = target.seeds()
    pool: list[tuple[str, bytes]] = list(seeds)
    seen_warnings: set[str] = set()
    found: dict[str, str] = {}
    stats = Counter()
    unpositioned = Counter()
    slowest = 0.0
    peak = 0
    workdir = tempfile.mkdtemp(prefix="rdsla-fuzz-")
    runner = Runner(workdir, timeout)
    deadline = time.monotonic() + minutes * 60
    started = time.monotonic()
    try:
        while time.monotonic() < deadline:
            kind, base = rng.choice(pool) if rng.random() < 0.5 else rng.choice(seeds)
            data = target.mutate(base, rng)
            if rng.random() < 0.1:
                data = target.mutate(data, rng)
            backend = "python" if kind == "evtx" and rng.random() < 0.3 else "rust"
            measure = stats["execs"] % 4 == 0
            answer = runner.run((kind, data, backend, measure))
            stats["execs"] += 1
            if answer[0] == "hang" and kind in ISOLATED_KINDS and watchdog_covers(data, workdir):
                # the native decoder spins inside this input and never returns to Python; rdsla
                # runs these kinds in killed-on-timeout workers, and that path answered in time
                stats["hangs covered by the watchdog"] += 1
                problems, status, warnings, unpos = [], "hang (watchdog)", [], []
            elif answer[0] in ("hang", "died"):
                problems, status, warnings, unpos = [f"{answer[0]}: {answer[1]}"], answer[0], [], []
            else:
                problems, seconds, pk, status, warnings, unpos = answer
                slowest, peak = max(slowest, seconds), max(peak, pk)
            stats[f"status:{status}"] += 1
            for u in unpos:
                unpositioned[signature(u)] += 1
            for p in problems:
                sig = signature(p)
                if sig not in found:
                    name = store(target_name, kind, data, p, backend) if save else "(not saved)"
                    found[sig] = name
                    print(f"  [{target_name}] NEW {name}: {p.splitlines()[0][:240]}", flush=True)
            fresh = {signature(w) for w in warnings} - seen_warnings
            if fresh:
                seen_warnings |= fresh
                if len(pool) < POOL_CAP:
                    pool.append((kind, data))
    finally:
        runner.close()
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    return {"target": target_name, "minutes": round(elapsed / 60, 2), "execs": stats["execs"],
            "per_second": round(stats["execs"] / max(elapsed, 1e-9), 2),
            "statuses": {k[7:]: v for k, v in stats.items() if k.startswith("status:")},
            "warning_kinds": len(seen_warnings), "pool": len(pool), "slowest_s": round(slowest, 2),
            "peak_tracemalloc_mib": round(peak / (1 << 20), 1), "new_failures": found,
            "hangs_covered_by_watchdog": stats["hangs covered by the watchdog"],
            "unpositioned_warnings": dict(unpositioned.most_common(5))}


def main(argv=None) -> int:
    from tests.fuzz.targets import available
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="minutes per target (default 5)")
    ap.add_argument("--targets", default="", help="comma-separated (default: every target that exists)")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before an input counts as a hang")
    ap.add_argument("--no-save", action="store_true", help="do not write new failures into the corpus")
    ap.add_argument("--json", help="write the summary as JSON to this file")
    args = ap.parse_args(argv)
    names = [t for t in args.targets.split(",") if t] or available()
    print(f"fuzz_long: {', '.join(names)}; {args.minutes} min each; seed {args.seed}", flush=True)
    results = []
    for i, name in enumerate(names):
        r = fuzz(name, args.minutes, args.seed + i, args.timeout, not args.no_save)
        results.append(r)
        print(json.dumps(r), flush=True)
    print("\ntarget       minutes   execs  exec/s  slowest  new failures  watchdog hangs")
    for r in results:
        print(f"{r['target']:<12} {r['minutes']:>7} {r['execs']:>7} {r['per_second']:>7} {r['slowest_s']:>7}s  "
              f"{len(r['new_failures']):>12}  {r['hangs_covered_by_watchdog']:>14}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if any(r["new_failures"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
