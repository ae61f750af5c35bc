"""``rdsla batch --scheduler``: the same per-bundle task on a Dask cluster (workers need rdsla
installed and the inputs and OUTDIR at the same paths).
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Callable, Iterator

from rdsla.analyzer.batch_task import Task, blank_row, run_task

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


def require_dask():
    """The ``dask`` and ``distributed`` modules. Dask is the ``dask`` extra: without it
    ``--scheduler`` is a usage error, raised before anything is written."""
    try:
        import dask
        import distributed
    except ImportError as exc:
        from rdsla.core.errors import UsageError
        raise UsageError("--scheduler needs Dask: pip install \"rdsla[dask]\"") from exc
    return dask, distributed


def dask_results(tasks: list[Task], scheduler: str, jobs: int, timeout: float,
                 worker: Callable[[Task], dict] = run_task) -> Iterator[tuple[Task, dict]]:
    dask, distributed = require_dask()
    Client, LocalCluster, wait = distributed.Client, distributed.LocalCluster, distributed.wait
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
