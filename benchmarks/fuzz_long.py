"""The long fuzz run (issues 10, 18, 22): mutational fuzzing from seeds, N minutes per parser.

    python benchmarks/fuzz_long.py                       # 5 minutes per target, every target
    python benchmarks/fuzz_long.py --minutes 30 --targets evtx,hive
    python benchmarks/fuzz_long.py --minutes 30 --targets registry   # a family: hive, reg_export, reg_query

Each target runs in a worker process that checks the properties of tests/fuzz/harness.py on
every input (no raise, failures reported with file/position, bounded time, bounded memory).
The parent generates inputs (tests/fuzz/mutators.py, from tests/fuzz/seeds.py plus every input
that produced a warning not seen before), and kills and restarts the worker when an input
hangs (--timeout) or kills it (segfault, out of memory).

Hangs are told apart from crashes. An input of any kind that hangs ``parse()`` is run again
through the pipeline's watchdog, the way rdsla parses it (``analyzer.pipeline._parse_all``
in a fresh process with ``--artifact-timeout`` --watchdog seconds: kinds in
``ISOLATED_KINDS`` in a worker process killed past the limit, text kinds under the SIGALRM
timer). A ledger row naming the timeout, in bounded time, is a hang *caught* by the watchdog
(counted, kept under --hangs-dir when given, not a failure: a native decoder that spins is
rdsla's to contain, not to fix). A hang the watchdog does not stop in time is a failure, and
so is every crash: a raise, a worker killed by a signal, a property of the harness broken.

Each new failure (one per distinct problem) is stored in tests/fuzz/corpus/<target>/ with a
line in index.jsonl; the CI test tests/fuzz/test_corpus.py replays them. Not collected by
pytest; prints a table (target, minutes, executions, crashes, hangs caught, hangs not caught).
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
from typing import Optional

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
FAMILIES = {"registry": ("hive", "reg_export", "reg_query")}   # one parser module, three formats

# The pipeline's watchdog, run on one input of a known kind in a fresh process (the parent
# bounds that process too: a watchdog that does not stop the parser is itself the finding).
WATCHDOG = """
import dataclasses, json, sys
from pathlib import Path
from rdsla.analyzer import pipeline
from rdsla.parsers.base import ParseOptions, Source
from tests.fuzz.harness import FUZZ_LIMITS
path, kind, backend, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
limits = dataclasses.replace(FUZZ_LIMITS, artifact_seconds=seconds)
src = Source(display="fuzz/hang.bin", chain=(path,), size=Path(path).stat().st_size, kind=kind,
             max_bytes=limits.max_file_bytes)
[result] = pipeline._parse_all([src], ParseOptions(evtx_backend=backend, limits=limits), 1, None)
print(json.dumps({"status": result.status, "warnings": [str(w) for w in result.warnings],
                  "isolated": pipeline._isolated(kind, ParseOptions(limits=limits))}))
"""


def through_watchdog(kind: str, data: bytes, backend: str, workdir: str, seconds: int = WATCHDOG_SECONDS) -> tuple[str, str]:
    """Run an input that hung ``parse()`` through the pipeline's watchdog.

    Returns ("caught", warning) when the watchdog stopped it with a ledger row naming the
    timeout; ("finished", status) when it finished within the limit this time (a slow input,
    or a machine too busy: not a hang); ("crash", detail) when the watchdog's answer betrays a
    parser error or a dead worker; ("uncaught", detail) when nothing came back in time."""
    import subprocess
    path = Path(workdir) / "hang.bin"
    path.write_bytes(data)
    try:
        proc = subprocess.run([sys.executable, "-c", WATCHDOG, str(path), kind, backend, str(seconds)],
                              cwd=REPO, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        return "uncaught", f"the watchdog ({seconds} s) gave no answer within {seconds + 60} s"
    finally:
        path.unlink(missing_ok=True)
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "crash", f"watchdog process exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    warnings = answer.get("warnings") or []
    for w in warnings:
        if "parser error" in w or "worker failed" in w:
            return "crash", w
    for w in warnings:
        if "artifact-timeout" in w:
            return "caught", w
    return "finished", answer.get("status", "?")


def keep_hang(folder: Path, target: str, kind: str, backend: str, data: bytes, detail: str) -> None:
    """A caught hang is not a failure, but its input is worth a look: keep it outside the corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{target}-{hashlib.sha1(data).hexdigest()[:12]}.bin"
    (folder / name).write_bytes(data)
    with open(folder / "hangs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"file": name, "kind": kind, "backend": backend, "watchdog": detail[:300]}) + "\n")


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
            except (EOFError, OSError):         # a socketpair whose other end died says "reset"
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


def fuzz(target_name: str, minutes: float, seed: int, timeout: float, save: bool,
         watchdog: int = WATCHDOG_SECONDS, hangs_dir: Optional[Path] = None) -> dict:
    from tests.fuzz.targets import TARGETS
    members = FAMILIES.get(target_name, (target_name,))
    targets = {m: TARGETS[m] for m in members}
    rng = random.Random(seed)
    seeds = [(m, kind, data) for m in members for kind, data in targets[m].seeds()]
    pool: list[tuple[str, str, bytes]] = list(seeds)
    seen_warnings: set[str] = set()
    found: dict[str, str] = {}
    stats = Counter()
    per_member = Counter()
    unpositioned = Counter()
    slowest = 0.0
    peak = 0
    workdir = tempfile.mkdtemp(prefix="rdsla-fuzz-")
    runner = Runner(workdir, timeout)
    deadline = time.monotonic() + minutes * 60
    started = time.monotonic()
    try:
        while time.monotonic() < deadline:
            member, kind, base = rng.choice(pool) if rng.random() < 0.5 else rng.choice(seeds)
            data = targets[member].mutate(base, rng)
            if rng.random() < 0.1:
                data = targets[member].mutate(data, rng)
            per_member[member] += 1
            backend = "python" if kind == "evtx" and rng.random() < 0.3 else "rust"
            measure = stats["execs"] % 4 == 0
            answer = runner.run((kind, data, backend, measure))
            stats["execs"] += 1
            verdict = None
            if answer[0] == "hang":
                verdict, detail = through_watchdog(kind, data, backend, workdir, watchdog)
                stats[f"hang:{verdict}"] += 1
                status, warnings, unpos = f"hang ({verdict})", [], []
                problems = []
                if verdict == "caught":
                    # the decoder spins and never returns by itself; the pipeline stopped it
                    if hangs_dir is not None:
                        keep_hang(hangs_dir, target_name, kind, backend, data, detail)
                elif verdict == "uncaught":
                    problems = [f"hang: {answer[1]}; not stopped by the watchdog: {detail}"]
                elif verdict == "crash":
                    problems = [f"hang: {answer[1]}; through the watchdog: {detail}"]
                else:
                    print(f"  [{target_name}] slow input, not a hang under the watchdog ({detail})", flush=True)
            elif answer[0] == "died":
                problems, status, warnings, unpos = [f"died: {answer[1]}"], "died", [], []
            else:
                problems, seconds, pk, status, warnings, unpos = answer
                slowest, peak = max(slowest, seconds), max(peak, pk)
            stats[f"status:{status}"] += 1
            for u in unpos:
                unpositioned[signature(u)] += 1
            if problems:     # one count per input: a crash (raise, death, broken property) or a hang let through
                stats["hangs not caught" if problems[0].startswith("hang") and verdict == "uncaught" else "crashes"] += 1
            for p in problems:
                sig = signature(p)
                if sig not in found:
                    name = store(member, kind, data, p, backend) if save else "(not saved)"
                    found[sig] = name
                    print(f"  [{target_name}] NEW {name}: {p.splitlines()[0][:240]}", flush=True)
            fresh = {signature(w) for w in warnings} - seen_warnings
            if fresh:
                seen_warnings |= fresh
                if len(pool) < POOL_CAP:
                    pool.append((member, kind, data))
    finally:
        runner.close()
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    return {"target": target_name, "minutes": round(elapsed / 60, 2), "execs": stats["execs"],
            "per_second": round(stats["execs"] / max(elapsed, 1e-9), 2),
            "statuses": {k[7:]: v for k, v in stats.items() if k.startswith("status:")},
            "warning_kinds": len(seen_warnings), "pool": len(pool), "slowest_s": round(slowest, 2),
            "peak_tracemalloc_mib": round(peak / (1 << 20), 1), "new_failures": found,
            "crashes": stats["crashes"], "hangs_caught": stats["hang:caught"],
            "hangs_not_caught": stats["hangs not caught"], "slow_not_hangs": stats["hang:finished"],
            "execs_per_format": dict(per_member),
            "unpositioned_warnings": dict(unpositioned.most_common(5))}


def main(argv=None) -> int:
    from tests.fuzz.targets import available
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="minutes per target (default 5)")
    ap.add_argument("--targets", default="",
                    help="comma-separated targets or families (registry = hive, reg_export, reg_query in one run); "
                         "default: every target that exists")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before an input counts as a hang")
    ap.add_argument("--watchdog", type=int, default=WATCHDOG_SECONDS,
                    help=f"--artifact-timeout of the watchdog run of a hanging input (default {WATCHDOG_SECONDS})")
    ap.add_argument("--hangs-dir", type=Path, help="keep inputs whose hang the watchdog caught here (not the corpus)")
    ap.add_argument("--no-save", action="store_true", help="do not write new failures into the corpus")
    ap.add_argument("--json", help="write the summary as JSON to this file")
    args = ap.parse_args(argv)
    names = [t for t in args.targets.split(",") if t] or available()
    unknown = [n for n in names if n not in FAMILIES and n not in available()]
    if unknown:
        ap.error(f"unknown target(s): {', '.join(unknown)}; known: {', '.join(available() + list(FAMILIES))}")
    print(f"fuzz_long: {', '.join(names)}; {args.minutes} min each; seed {args.seed}", flush=True)
    results = []
    for i, name in enumerate(names):
        r = fuzz(name, args.minutes, args.seed + i, args.timeout, not args.no_save, args.watchdog, args.hangs_dir)
        results.append(r)
        print(json.dumps(r), flush=True)
    print("\ntarget       minutes   execs  exec/s  slowest  crashes  hangs caught  hangs not caught")
    for r in results:
        print(f"{r['target']:<12} {r['minutes']:>7} {r['execs']:>7} {r['per_second']:>7} {r['slowest_s']:>7}s "
              f"{r['crashes']:>8}  {r['hangs_caught']:>12}  {r['hangs_not_caught']:>16}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if any(r["new_failures"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
