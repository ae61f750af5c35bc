"""``rdsla batch``: one analysis per bundle, isolated, with results written as they come.

This module runs a batch (:func:`run_batch`); the pieces live by idea: ``batch_inputs`` (what
is a bundle), ``batch_task`` (the per-bundle work), ``batch_pool`` (the local process pool),
``batch_dask`` (Dask), ``batch_output`` (summary, index, resume), ``batch_progress``.

Why it is built this way:

- The per-bundle work is one function, :func:`run_task` (around :func:`analyze_one`), run
  unchanged by the local pool and by Dask. It writes the bundle's report.html, findings.json
  and ``batch.json`` (the completion marker) itself, atomically (temp file + rename), and
  returns one compact summary row, never frames: the parent stays flat in memory.
- The local pool is a handful of long-lived worker processes, each fed one bundle at a time
  over its own pipe, so the parent can kill exactly the worker whose bundle overran
  ``--timeout`` or notice exactly which bundle killed its worker, write that row, start a
  fresh worker and go on (a ``ProcessPoolExecutor`` breaks entirely when one worker dies).
- A worker dies with its parent: after ``kill -9`` of ``rdsla batch`` no worker is left
  running (not even one stuck in a native decoder), and ``--resume`` redoes what was in flight.
- Largest bundles go first, so the long ones do not end up alone at the tail.
- The parent appends each row to summary.jsonl and summary.csv with a flush; index.html is
  rebuilt from summary.jsonl at the end and on Ctrl-C.

``--resume``: a bundle is complete when its folder in OUTDIR holds report.html, findings.json
and a ``batch.json`` whose key (resolved path) and fingerprint (sizes and mtimes) match the
bundle as it is now and whose row is ``ok``. Complete bundles are skipped and their rows
carried over; failed and timed-out bundles are tried again (a worker killed by the OOM killer
or a too-short ``--timeout`` deserves a second chance; a corrupt bundle fails again cheaply).

Dask (``--scheduler local|tcp://HOST:PORT``): workers need rdsla installed and must see the
inputs and OUTDIR at the same paths (a shared filesystem). Two tasks per worker thread are in
flight (bounded memory, no idle round trips); ``--timeout`` counts from the task's start event;
an overrun task is cancelled and its worker restarted (best effort: needs a nanny, which
LocalCluster and ``dask worker`` have).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional

from rdsla.analyzer.batch_dask import dask_results, require_dask
from rdsla.analyzer.batch_inputs import expand_inputs, inside
from rdsla.analyzer.batch_output import SummaryWriter, completed, write_index
from rdsla.analyzer.batch_pool import pool_results
from rdsla.analyzer.batch_progress import Progress
from rdsla.analyzer.batch_task import MARKER, SEVERITIES, Task, run_task
from rdsla.parsers.base import ParseOptions


@dataclass
class BatchResult:
    exit_code: int
    counts: dict
    skipped: int
    wall_seconds: float
    work_seconds: float             # summed run_task time reported by the workers
    cpu_seconds: float              # summed CPU time of the same (work >> cpu: the machine is contended)
    messages: list


def run_batch(inputs: list[str], out_dir: str, *, options: Optional[ParseOptions] = None, jobs: Optional[int] = None,
              scheduler: Optional[str] = None, resume: bool = False, timeout: float = 900.0, fail_on: str = "error",
              quiet: bool = False, as_of: Optional[datetime] = None, worker: Callable[[Task], dict] = run_task,
              stream=None, on_row: Optional[Callable[[dict], None]] = None, redact: bool = False,
              redact_map: Optional[str] = None) -> BatchResult:
    from rdsla.core.errors import EXIT_BATCH_FAILED, EXIT_CAUSE, EXIT_OK, UsageError

    started = time.perf_counter()
    stream = stream if stream is not None else sys.stderr
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if scheduler:
        require_dask()
    expansion = expand_inputs(inputs)
    redact = redact or bool(redact_map)
    shown = str                       # how a message names an input folder (by pseudonym with --redact)
    if redact:                        # analyzer/batch_redact.py: pseudonymous names, the map, the messages
        from rdsla.analyzer.batch_redact import InputNames, RedactionMaps, pseudonymous
        named = [(b, pseudonymous(b)) for b in expansion.bundles]
        names = InputNames(inputs, named)
        expansion.messages = [names.message(m) for m in expansion.messages]
        shown = names.name_for
    if expansion.opened == 0:
        raise UsageError("not one INPUT could be opened: " + "; ".join(expansion.messages))
    out = Path(out_dir)
    for d in expansion.input_dirs:
        if inside(str(out), d):
            raise UsageError(f"{out_dir}: refusing to write inside the input folder {shown(d)} (rdsla never writes into its input)")
    for d in expansion.input_dirs if redact_map else ():
        if inside(str(Path(redact_map).resolve()), d):
            raise UsageError(f"{redact_map}: refusing to write inside the input folder {shown(d)} (rdsla never writes into its input)")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    if not quiet:
        for m in expansion.messages:
            print(f"rdsla: {m}", file=stream)

    threshold = SEVERITIES.index(fail_on)
    bundles = sorted(expansion.bundles, key=lambda b: (-b.size, b.name))
    if redact:
        pseudonym = {b.key: p for b, p in named}
        bundles = [pseudonym[b.key] for b in bundles]
        maps = RedactionMaps({p.name: b.name for b, p in named}, names)
    kept, todo, cause_found = [], [], False
    for b in bundles:
        meta = completed(out, b) if resume else None
        if meta:
            kept.append(dict(meta["row"], bundle=b.name))
            cause_found |= any(SEVERITIES.index(s) >= threshold for s in meta.get("causes", []) if s in SEVERITIES)
        else:
            todo.append(b)
    if resume and not quiet:
        print(f"rdsla: resume: {len(kept)} bundle(s) already complete, {len(todo)} to analyze", file=stream)

    links = {b.name: f"{b.dir_name}/report.html" for b in bundles}
    options = options or ParseOptions()
    tasks = [Task(name=b.name, path=b.path, key=b.key, fingerprint=b.fingerprint, dir_name=b.dir_name,
                  out_dir=str(out), options=options, as_of=as_of, size=b.size, redact=redact) for b in todo]
    jobs = jobs or os.cpu_count() or 1
    counts = {"ok": len(kept), "failed": 0, "timeout": 0}
    work = cpu = 0.0
    writer = SummaryWriter(out, kept)
    progress = Progress(len(tasks), stream=stream, quiet=quiet)
    try:
        if tasks:
            results = (dask_results(tasks, scheduler, jobs, timeout, worker) if scheduler
                       else pool_results(tasks, jobs, timeout, worker))
            try:
                for task, row in results:
                    work += float(row.pop("_seconds", 0.0) or 0.0)
                    cpu += float(row.pop("_cpu", 0.0) or 0.0)
                    causes = row.pop("_causes", [])
                    if redact:
                        maps.take(row)
                    status = row.get("status", "failed")
                    counts[status] = counts.get(status, 0) + 1
                    cause_found |= status == "ok" and any(SEVERITIES.index(s) >= threshold for s in causes if s in SEVERITIES)
                    if status != "ok":
                        (out / task.dir_name / MARKER).unlink(missing_ok=True)
                    writer.write(row)
                    progress.update(status)
                    if on_row is not None:
                        on_row(row)
            finally:
                results.close()
    finally:
        writer.close()
        progress.close()
        write_index(out, links)
        if redact:
            maps.write(redact_map)
    if counts["failed"] or counts["timeout"]:
        code = EXIT_BATCH_FAILED
    else:
        code = EXIT_CAUSE if cause_found else EXIT_OK
    return BatchResult(exit_code=code, counts=counts, skipped=len(kept), wall_seconds=time.perf_counter() - started,
                       work_seconds=work, cpu_seconds=cpu, messages=expansion.messages)


def run_batch_cli(args) -> int:
    try:
        result = run_batch(args.inputs, args.out_dir, jobs=args.jobs, scheduler=args.scheduler, resume=args.resume,
                           timeout=args.timeout, fail_on=args.fail_on, quiet=args.quiet,
                           redact=getattr(args, "redact", False), redact_map=getattr(args, "redact_map", None))
    except KeyboardInterrupt:
        print(f"rdsla: interrupted; finished bundles are in {args.out_dir} (rerun with --resume)", file=sys.stderr)
        return 130
    if not args.quiet:
        c = result.counts
        print(f"rdsla batch: {sum(c.values())} bundles: ok {c['ok']} (of which {result.skipped} resumed), "
              f"failed {c['failed']}, timeout {c['timeout']} in {result.wall_seconds:.1f} s; "
              f"index: {Path(args.out_dir) / 'index.html'}", file=sys.stderr)
    return result.exit_code
