"""The local process pool of ``rdsla batch``: long-lived workers, one bundle at a time over a
pipe each, so the parent kills exactly the worker whose bundle overran ``--timeout`` or
notices exactly which bundle killed its worker; workers die with their parent.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import wait as mp_wait
from typing import Callable, Iterator

from rdsla.analyzer import processes
from rdsla.analyzer.batch_task import Task, blank_row, run_task

MAX_TASKS_PER_WORKER = 200          # recycle workers so a slow leak in a parser cannot grow forever
_PRELOAD = ["rdsla.analyzer.pipeline", "rdsla.analyzer.hosts", "rdsla.analyzer.verdict", "rdsla.rules.engine", "rdsla.reports.findings_json"]




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
    return processes.context("forkserver", preload=["rdsla.analyzer.batch_pool", "rdsla.analyzer.batch_task"] + _PRELOAD)


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
