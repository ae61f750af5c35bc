"""``rdsla batch``: one analysis per bundle, isolated, with results written as they come.

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

import csv
import io
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Callable, Iterator, Optional

from rdsla.analyzer import processes
from rdsla.analyzer.batch_inputs import Bundle, expand_inputs, inside
from rdsla.analyzer.batch_progress import Progress
from rdsla.analyzer.spreadsheet import safe_cell
from rdsla.parsers.base import ParseOptions

COLUMNS = ("bundle", "status", "hosts", "os", "licensing_mode", "license_servers", "grace_days_left",
           "top_rule_id", "top_title", "confidence", "findings_error", "findings_warning", "error")
SEVERITIES = ("info", "warning", "error", "critical")
MARKER = "batch.json"
MAX_TASKS_PER_WORKER = 200          # recycle workers so a slow leak in a parser cannot grow forever
_PRELOAD = ["rdsla.analyzer.pipeline", "rdsla.analyzer.hosts", "rdsla.analyzer.verdict", "rdsla.rules.engine", "rdsla.reports.findings_json"]


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one bundle (small and picklable)."""

    name: str
    path: str
    key: str
    fingerprint: str
    dir_name: str
    out_dir: str
    options: ParseOptions = field(default_factory=ParseOptions)
    as_of: Optional[datetime] = None
    size: int = 0


@dataclass
class BatchResult:
    exit_code: int
    counts: dict
    skipped: int
    wall_seconds: float
    work_seconds: float             # summed run_task time reported by the workers
    cpu_seconds: float              # summed CPU time of the same (work >> cpu: the machine is contended)
    messages: list


# ---------------------------------------------------------------- the per-bundle function

def blank_row(name: str, status: str, error: str = "") -> dict:
    row = {c: None for c in COLUMNS}
    row.update(bundle=name, status=status, error=error, findings_error=0, findings_warning=0)
    return row


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _value(fact):
    return None if fact is None else getattr(fact, "value", None)


def summary_row(analysis, name: str) -> dict:
    """The compact row of one analysis. OS, mode, servers and grace days describe the session
    hosts (all hosts when no session host is known); ``findings_error`` counts detected
    findings of severity error or critical, ``findings_warning`` those of severity warning."""
    hosts = sorted(analysis.hosts, key=lambda h: h.name)
    rdsh = [h for h in hosts if h.has_role("session_host")] or hosts
    oses = sorted({str(_value(h.os_version) or _value(h.os_product)) for h in rdsh
                   if _value(h.os_version) or _value(h.os_product)})
    modes = sorted({h.mode_name for h in rdsh if h.mode_name})
    servers = sorted({str(s) for h in rdsh for s in (_value(h.license_servers) or [])})
    days = [d for d in (h.grace_period.days_left(analysis.as_of) for h in rdsh) if d is not None]
    detected = [f for f in analysis.findings if f.state == "detected"]
    top = analysis.root_causes[0] if analysis.root_causes else None
    row = blank_row(name, "ok")
    row.update(hosts=";".join(h.name for h in hosts) or None, os=";".join(oses) or None,
               licensing_mode=";".join(modes) or None, license_servers=";".join(servers) or None,
               grace_days_left=min(days) if days else None,
               top_rule_id=top.rule_id if top else None, top_title=top.title if top else None,
               confidence=round(float(top.confidence), 2) if top else None,
               findings_error=sum(f.severity in ("error", "critical") for f in detected),
               findings_warning=sum(f.severity == "warning" for f in detected))
    return row


def _unreadable_reason(analysis) -> Optional[str]:
    """A bundle in which not one file was recognized as an artifact cannot be analyzed: that
    is a failed row (a damaged artifact that was recognized stays a ledger entry)."""
    art = analysis.frames["artifacts"]
    if len(art) and (art["kind"] != "unknown").any():
        return None
    if analysis.messages:
        return "; ".join(analysis.messages)[:500]
    if not len(art):
        return "no file found in the bundle"
    first = art.iloc[0]
    warnings = first["warnings"]
    warn = "; ".join(str(w) for w in warnings) if isinstance(warnings, (list, tuple)) or hasattr(warnings, "tolist") else ""
    return f"no RDS artifact recognized in {len(art)} file(s); first: {first['path']}: {warn}"[:500]


def analyze_one(bundle_path: str, out_dir: str, options: Optional[ParseOptions] = None, *, name: Optional[str] = None,
                dir_name: Optional[str] = None, key: Optional[str] = None, fingerprint: str = "",
                as_of: Optional[datetime] = None) -> dict:
    """Analyze one bundle, write its folder in ``out_dir``, return its summary row plus the
    private ``_causes`` (severities of detected causes, for the exit code)."""
    from rdsla.analyzer.batch_inputs import safe_dir_name
    from rdsla.analyzer.pipeline import analyze
    from rdsla.reports.findings_json import render as render_json

    name = name or bundle_path
    key = key or os.path.realpath(bundle_path)
    analysis = analyze([bundle_path], options or ParseOptions(), as_of=as_of, jobs=0)   # serial: no pool in a pool
    reason = _unreadable_reason(analysis)
    if reason:
        row = blank_row(name, "failed", reason)
        row["_causes"] = []
        return row
    row = summary_row(analysis, name)
    causes = [f.severity for f in analysis.findings if f.state == "detected" and f.kind == "cause"]
    folder = Path(out_dir) / (dir_name or safe_dir_name(name, key))
    folder.mkdir(parents=True, exist_ok=True)
    from rdsla.reports.html import render as render_html
    _atomic_write(folder / "report.html", render_html(analysis))
    _atomic_write(folder / "findings.json", render_json(analysis))
    _atomic_write(folder / MARKER, json.dumps({"schema": "rdsla.batch-bundle/1", "key": key,
                                               "fingerprint": fingerprint, "row": row, "causes": causes},
                                              ensure_ascii=False, indent=1))
    row["_causes"] = causes
    return row


def run_task(task: Task) -> dict:
    """The function workers run (pool and Dask): never raises, always a row."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        row = analyze_one(task.path, task.out_dir, task.options, name=task.name, dir_name=task.dir_name,
                          key=task.key, fingerprint=task.fingerprint, as_of=task.as_of)
    except MemoryError:
        row = blank_row(task.name, "failed", "out of memory")
    except Exception as exc:  # noqa: BLE001 - one bundle's failure is its row, not the batch's
        row = blank_row(task.name, "failed", f"{type(exc).__name__}: {exc}"[:500])
    row["_seconds"] = time.perf_counter() - started
    row["_cpu"] = time.process_time() - cpu
    return row


# ---------------------------------------------------------------- local process pool

def _exit_with_parent(sentinel) -> None:
    try:
        mp_wait([sentinel])
    finally:
        os._exit(1)


def _die_with_parent() -> None:
    """A worker whose parent is gone (``kill -9``, the OOM killer) stops at once, also in the
    middle of a bundle: nobody would read its row, and a bundle stuck in a native decoder would
    keep it running forever. What it wrote is never taken for done (the marker is written last).

    Two ways, because a decoder spinning in native code may hold the GIL: on Linux the kernel
    kills the worker when its parent process ends (``PR_SET_PDEATHSIG``); elsewhere a thread
    waits on the parent's sentinel. Under ``forkserver`` the parent is the fork server, which
    ends with the batch parent once no child holds its liveness pipe: a worker starts no
    processes, so it lets go of its inherited copy."""
    ppid = os.getppid()
    try:
        from multiprocessing import forkserver
        server = getattr(forkserver, "_forkserver", None)
        fd = getattr(server, "_forkserver_alive_fd", None)
        if fd is not None:
            os.close(fd)
            server._forkserver_alive_fd = None
    except Exception:  # noqa: BLE001 - best effort: the thread below still watches
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0 and os.getppid() != ppid:   # 1 = PR_SET_PDEATHSIG
                os._exit(1)                                 # the parent died before the call
        except (OSError, AttributeError):
            pass
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True,
                         name="rdsla-batch-parent-watch").start()


def _worker_main(conn, worker: Callable[[Task], dict]) -> None:
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent handles Ctrl-C and stops us
    _die_with_parent()
    for module in _PRELOAD:
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - a missing optional layer shows up in the rows instead
            pass
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = worker(task)
        except BaseException as exc:  # noqa: BLE001
            result = blank_row(task.name, "failed", f"{type(exc).__name__}: {exc}"[:500])
        conn.send(result)


def _context():
    return processes.context("forkserver", preload=["rdsla.analyzer.batch"] + _PRELOAD)


class _Slot:
    def __init__(self, ctx, worker):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, worker), daemon=True, name="rdsla-batch-worker")
        self.proc.start()
        child.close()
        self.ready, self.task, self.deadline, self.count = False, None, 0.0, 0

    def stop(self, kill: bool = False) -> None:
        if not kill and self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                kill = True
        if kill and self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=None if kill else 5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _died(proc) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            return f"worker died (killed by {signal.Signals(-code).name})"
        except ValueError:
            return f"worker died (signal {-code})"
    return f"worker died (exit code {code})"


def pool_results(tasks: list[Task], jobs: int, timeout: float,
                 worker: Callable[[Task], dict] = run_task) -> Iterator[tuple[Task, dict]]:
    ctx = _context()
    pending = deque(tasks)
    slots = [_Slot(ctx, worker) for _ in range(max(1, min(jobs, len(tasks))))]
    startup_failures = 0
    try:
        while pending or any(s.task for s in slots):
            now = time.monotonic()
            for s in slots:
                if s.ready and s.task is None and pending:
                    s.task = pending.popleft()
                    s.deadline = now + timeout
                    s.conn.send(s.task)
            busy = [s.deadline - now for s in slots if s.task]
            ready = mp_wait([s.conn for s in slots] + [s.proc.sentinel for s in slots],
                            timeout=max(0.0, min(busy + [1.0])))
            for i, s in enumerate(slots):
                outcome = None
                if s.conn in ready or s.proc.sentinel in ready:
                    try:
                        if s.conn.poll():
                            msg = s.conn.recv()
                            if msg == "ready":
                                s.ready = True
                            else:
                                outcome = msg
                        elif not s.proc.is_alive():
                            raise EOFError
                    except (EOFError, OSError):
                        s.proc.join()
                        if s.task is None:
                            startup_failures += 1
                            if startup_failures > 3 * len(slots):
                                raise RuntimeError(f"batch workers cannot start: {_died(s.proc)}")
                        else:
                            outcome = blank_row(s.task.name, "failed", _died(s.proc))
                        task = s.task
                        s.stop(kill=True)
                        slots[i] = _Slot(ctx, worker)
                        if outcome is not None:
                            yield task, outcome
                        continue
                if outcome is not None:
                    task, s.task = s.task, None
                    s.count += 1
                    if s.count >= MAX_TASKS_PER_WORKER:
                        s.stop()
                        slots[i] = _Slot(ctx, worker)
                    yield task, outcome
                elif s.task is not None and time.monotonic() > s.deadline:
                    task = s.task
                    s.stop(kill=True)
                    slots[i] = _Slot(ctx, worker)
                    yield task, blank_row(task.name, "timeout", f"analysis exceeded --timeout {timeout:g} s; worker stopped")
    finally:
        for s in slots:
            s.stop(kill=bool(s.task) or bool(pending))


# ---------------------------------------------------------------- Dask

_TOPIC = "rdsla-batch-start"


def _dask_task(worker: Callable[[Task], dict], task: Task, key: str) -> dict:
    """Runs on a Dask worker: tell the client when the bundle really starts (its --timeout
    counts from there, not from a wait in a queue), then do the same work as the pool."""
    try:
        from distributed import get_worker
        get_worker().log_event(_TOPIC, key)
    except Exception:  # noqa: BLE001 - no start event only means the deadline counts from submission
        pass
    return worker(task)


def dask_results(tasks: list[Task], scheduler: str, jobs: int, timeout: float,
                 worker: Callable[[Task], dict] = run_task) -> Iterator[tuple[Task, dict]]:
    try:
        import dask
        from distributed import Client, LocalCluster, wait
    except ImportError as exc:
        from rdsla.core.errors import UsageError
        raise UsageError("--scheduler needs Dask: pip install \"rdsla[dask]\"") from exc
    cluster = None
    if scheduler == "local":
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                                   dashboard_address=None, host="127.0.0.1", silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        client = Client(scheduler, timeout=30)
    started: dict[str, float] = {}
    client.subscribe_topic(_TOPIC, lambda event: started.setdefault(event[1], time.monotonic()))
    pending, inflight = deque(tasks), {}
    try:
        capacity, checked = 1, 0.0
        while pending or inflight:
            now = time.monotonic()
            if now - checked > 2.0:
                capacity, checked = max(1, sum(client.nthreads().values())), now
            while pending and len(inflight) < 2 * capacity:      # one queued per thread hides the round trip
                task = pending.popleft()
                key = f"rdsla-{task.dir_name}-{time.monotonic_ns()}"
                fut = client.submit(_dask_task, worker, task, key, pure=False, key=key)
                inflight[fut] = (task, key, now)
            try:
                done, _ = wait(list(inflight), timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for fut in done:
                task, key, _ = inflight.pop(fut)
                started.pop(key, None)
                if fut.status == "finished":
                    row = fut.result()
                else:
                    exc = fut.exception()
                    kind = type(exc).__name__
                    reason = "worker died" if kind == "KilledWorker" else kind
                    row = blank_row(task.name, "failed", f"{reason}: {exc}"[:500])
                fut.release()
                yield task, row
            now = time.monotonic()
            for fut, (task, key, submitted) in list(inflight.items()):
                # without a start event (an old worker, a lost message) count from submission, doubled
                begun = started.get(key)
                overdue = now > begun + timeout if begun is not None else now > submitted + 2 * timeout
                if overdue and not fut.done():
                    inflight.pop(fut)
                    started.pop(key, None)
                    _dask_stop(client, fut)
                    yield task, blank_row(task.name, "timeout", f"analysis exceeded --timeout {timeout:g} s; task cancelled")
    finally:
        for fut in inflight:
            fut.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_stop(client, fut) -> None:
    try:
        holders = [w for w, keys in client.processing().items() if fut.key in keys]
        fut.cancel()
        if holders:
            client.restart_workers(holders)
    except Exception:  # noqa: BLE001 - best effort: the row is already a timeout
        pass


# ---------------------------------------------------------------- outputs

class SummaryWriter:
    """summary.jsonl + summary.csv, appended and flushed row by row."""

    def __init__(self, out_dir: Path, initial: list[dict]):
        self.jsonl_path, self.csv_path = out_dir / "summary.jsonl", out_dir / "summary.csv"
        _atomic_write(self.jsonl_path, "".join(self._json(r) for r in initial))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows([safe_cell(r.get(c)) for c in COLUMNS] for r in initial)
        _atomic_write(self.csv_path, buf.getvalue())
        self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")
        self._csv_fh = open(self.csv_path, "a", encoding="utf-8", newline="")
        self._csv = csv.writer(self._csv_fh, lineterminator="\n")

    @staticmethod
    def _json(row: dict) -> str:
        return json.dumps({c: row.get(c) for c in COLUMNS}, ensure_ascii=False) + "\n"

    def write(self, row: dict) -> None:
        self._jsonl.write(self._json(row))
        self._jsonl.flush()
        self._csv.writerow([safe_cell(row.get(c)) for c in COLUMNS])
        self._csv_fh.flush()

    def close(self) -> None:
        self._jsonl.close()
        self._csv_fh.close()


def read_summary(out_dir: Path) -> Iterator[dict]:
    path = out_dir / "summary.jsonl"
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue        # a line cut by a crash


def write_index(out_dir: Path, links: dict) -> None:
    from rdsla.reports.batch_index import render
    _atomic_write(out_dir / "index.html", render(read_summary(out_dir), links))


def completed(out_dir: Path, bundle: Bundle) -> Optional[dict]:
    """The marker of a complete, still valid result of ``bundle``, or None."""
    folder = out_dir / bundle.dir_name
    try:
        meta = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (meta.get("key") != bundle.key or meta.get("fingerprint") != bundle.fingerprint
            or (meta.get("row") or {}).get("status") != "ok"):
        return None
    if not ((folder / "report.html").is_file() and (folder / "findings.json").is_file()):
        return None
    return meta


# ---------------------------------------------------------------- the run

def run_batch(inputs: list[str], out_dir: str, *, options: Optional[ParseOptions] = None, jobs: Optional[int] = None,
              scheduler: Optional[str] = None, resume: bool = False, timeout: float = 900.0, fail_on: str = "error",
              quiet: bool = False, as_of: Optional[datetime] = None, worker: Callable[[Task], dict] = run_task,
              stream=None, on_row: Optional[Callable[[dict], None]] = None) -> BatchResult:
    from rdsla.core.errors import EXIT_BATCH_FAILED, EXIT_CAUSE, EXIT_OK, UsageError

    started = time.perf_counter()
    stream = stream if stream is not None else sys.stderr
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs must be at least 1")
    expansion = expand_inputs(inputs)
    if expansion.opened == 0:
        raise UsageError("not one INPUT could be opened: " + "; ".join(expansion.messages))
    out = Path(out_dir)
    for d in expansion.input_dirs:
        if inside(str(out), d):
            raise UsageError(f"{out_dir}: refusing to write inside the input folder {d} (rdsla never writes into its input)")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    if not quiet:
        for m in expansion.messages:
            print(f"rdsla: {m}", file=stream)

    threshold = SEVERITIES.index(fail_on)
    bundles = sorted(expansion.bundles, key=lambda b: (-b.size, b.name))
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
                  out_dir=str(out), options=options, as_of=as_of, size=b.size) for b in todo]
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
    if counts["failed"] or counts["timeout"]:
        code = EXIT_BATCH_FAILED
    else:
        code = EXIT_CAUSE if cause_found else EXIT_OK
    return BatchResult(exit_code=code, counts=counts, skipped=len(kept), wall_seconds=time.perf_counter() - started,
                       work_seconds=work, cpu_seconds=cpu, messages=expansion.messages)


def run_batch_cli(args) -> int:
    try:
        result = run_batch(args.inputs, args.out_dir, jobs=args.jobs, scheduler=args.scheduler, resume=args.resume,
                           timeout=args.timeout, fail_on=args.fail_on, quiet=args.quiet)
    except KeyboardInterrupt:
        print(f"rdsla: interrupted; finished bundles are in {args.out_dir} (rerun with --resume)", file=sys.stderr)
        return 130
    if not args.quiet:
        c = result.counts
        print(f"rdsla batch: {sum(c.values())} bundles: ok {c['ok']} (of which {result.skipped} resumed), "
              f"failed {c['failed']}, timeout {c['timeout']} in {result.wall_seconds:.1f} s; "
              f"index: {Path(args.out_dir) / 'index.html'}", file=sys.stderr)
    return result.exit_code
