"""rdsla batch with real processes, as a user runs it (issue 22): the CLI in a subprocess.

1. A Dask deployment of separate processes on 127.0.0.1 - ``dask scheduler`` and two ``dask
   worker`` processes (one thread each) - gives the same summary rows as ``--jobs 1``; and when
   one worker process is killed with SIGKILL while it runs a bundle, every bundle still ends with
   exactly one row (ok and equal to ``--jobs 1``, or failed naming the lost worker, without a
   completion marker so that ``--resume`` redoes it), and the exit code is 3 if and only if a
   row failed.
2. ``kill -9`` of the ``rdsla batch`` parent (process pool) mid-run leaves no worker process
   behind, and ``--resume`` ends with the summary of an uninterrupted run without redoing a
   bundle that had finished (its files are untouched) and without counting a half-written
   bundle folder as done.

Every process a test starts is stopped in ``finally`` (terminate, then kill), also on failure.
Both skip cleanly where the ``dask`` command (test 1) or a process table (psutil or /proc) is
missing. Only timing-free columns exist in the summary, so rows are compared whole.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

try:
    import psutil
except ImportError:          # /proc is enough on Linux
    psutil = None

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "sample_data" / "bundles"
TAG = "RDSLA_PROCESS_TEST_TAG"           # marks every process a batch parent starts (inherited)
MAX_BUNDLES = 14        # the 2-minute budget of both tests on 2 cores: an even spread if there are more
HAVE_PROC_TABLE = psutil is not None or Path("/proc/self/stat").exists()

pytestmark = [
    pytest.mark.skipif(not BUNDLES.is_dir(), reason="sample_data/bundles is absent"),
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"),
    pytest.mark.skipif(not HAVE_PROC_TABLE, reason="needs psutil or /proc to find processes by PID"),
]


# ---------------------------------------------------------------- processes

def process_table() -> dict[int, tuple[int, object, bool]]:
    """pid -> (ppid, identity, zombie); identity (start time) tells a reused PID apart."""
    table: dict[int, tuple[int, object, bool]] = {}
    if psutil is not None:
        for p in psutil.process_iter(["ppid", "create_time", "status"]):
            info = p.info
            table[p.pid] = (info["ppid"], info["create_time"], info["status"] == psutil.STATUS_ZOMBIE)
        return table
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()          # after "pid (comm) "
        table[int(entry)] = (int(fields[1]), int(fields[19]), fields[0] == "Z")
    return table


def descendants(pid: int, table=None) -> dict[int, object]:
    """Every living descendant of ``pid`` (pid -> identity)."""
    table = table if table is not None else process_table()
    children: dict[int, list[int]] = {}
    for p, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(p)
    out, todo = {}, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        if p not in out:
            out[p] = table[p][1]
            todo.extend(children.get(p, []))
    return out


def tagged(tag: str) -> set[int]:
    """Processes (not zombies) whose environment carries ``TAG=tag``: all that a batch parent
    started, whoever their parent is now."""
    needle = f"{TAG}={tag}".encode()
    found = set()
    for pid, (_, _, zombie) in process_table().items():
        if zombie or pid == os.getpid():
            continue
        try:
            env = Path("/proc", str(pid), "environ").read_bytes() if psutil is None else \
                "\0".join(f"{k}={v}" for k, v in psutil.Process(pid).environ().items()).encode()
        except (OSError, Exception):  # noqa: BLE001 - gone, or not ours to read
            continue
        if needle in env.split(b"\0"):
            found.add(pid)
    return found


def still_running(procs: dict[int, object]) -> list[int]:
    table = process_table()
    return sorted(p for p, ident in procs.items() if p in table and table[p][1] == ident and not table[p][2])


def wait_gone(procs: dict[int, object], seconds: float, tag: str | None = None) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        left = set(still_running(procs)) | (tagged(tag) if tag else set())
        if not left or time.monotonic() > deadline:
            return sorted(left)
        time.sleep(0.1)


class Started:
    """The processes a test starts; ``stop()`` ends them and whatever they started."""

    def __init__(self):
        self.popens: list[subprocess.Popen] = []
        self.logs = []

    def start(self, argv, log: Path, **kw) -> subprocess.Popen:
        fh = open(log, "wb")
        self.logs.append(fh)
        p = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        self.popens.append(p)
        return p

    def stop(self, grace: float = 5.0) -> list[int]:
        """Terminate every process started and, past ``grace`` seconds, kill it and every
        descendant of theirs still running; returns what is left after that (nothing)."""
        table = process_table()
        family: dict[int, object] = {}
        for p in self.popens:
            family[p.pid] = table.get(p.pid, (None, None))[1]
            family.update(descendants(p.pid, table))
        for p in reversed(self.popens):
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + grace
        for p in reversed(self.popens):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        for pid in wait_gone(family, max(0.5, deadline - time.monotonic())):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for fh in self.logs:
            fh.close()
        return wait_gone(family, 5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- rdsla batch

def rdsla(*args: str) -> list[str]:
    return [sys.executable, "-m", "rdsla", *args]


def run_batch(*args: str, timeout: float = 120, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(rdsla("batch", *args), capture_output=True, text=True, timeout=timeout, env=env)


def summary_lines(out: Path) -> list[dict]:
    path = out / "summary.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass                                # a line being written
    return rows


def one_row_each(out: Path) -> dict[str, dict]:
    """The summary, asserting one row per bundle in summary.jsonl and in summary.csv."""
    rows = summary_lines(out)
    counts = Counter(r["bundle"] for r in rows)
    assert all(n == 1 for n in counts.values()), {b: n for b, n in counts.items() if n != 1}
    csv_rows = (out / "summary.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_rows) == 1 + len(rows), "summary.csv and summary.jsonl disagree"
    return {r["bundle"]: r for r in rows}


def markers(out: Path) -> dict[str, Path]:
    """bundle -> its output folder, for every folder with a completion marker."""
    found = {}
    for marker in out.glob("*/batch.json"):
        found[json.loads(marker.read_text(encoding="utf-8"))["row"]["bundle"]] = marker.parent
    return found


def copy_samples(dest: Path) -> Path:
    """The sample bundles (at most MAX_BUNDLES, evenly spread by name) copied into ``dest``."""
    every = sorted(p for p in BUNDLES.iterdir() if not p.name.startswith("."))
    step = max(1, -(-len(every) // MAX_BUNDLES))
    dest.mkdir(parents=True)
    for b in every[::step]:
        (shutil.copytree if b.is_dir() else shutil.copy2)(b, dest / b.name)
    return dest


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    return copy_samples(tmp_path_factory.mktemp("samples") / "bundles")


@pytest.fixture(scope="module")
def reference(samples, tmp_path_factory):
    """``--jobs 1`` over the sample bundles: the rows everything else is compared with."""
    out = tmp_path_factory.mktemp("reference") / "out"
    proc = run_batch(str(samples), "-o", str(out), "--jobs", "1", "--quiet")
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    rows = one_row_each(out)
    assert len(rows) == len(list(samples.iterdir())) and all(r["status"] == "ok" for r in rows.values())
    return proc.returncode, rows, out


# ---------------------------------------------------------------- 1. a Dask deployment of processes

def _dask_command() -> str:
    """The ``dask`` command of this environment (workers need rdsla installed beside it)."""
    exe = Path(sys.executable).parent / ("dask.exe" if os.name == "nt" else "dask")
    if not exe.exists():
        pytest.skip("the dask command is not installed in this environment (pip install 'rdsla[dask]')")
    pytest.importorskip("distributed")
    return str(exe)


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes (one thread each) on 127.0.0.1,
    started before the ``--jobs 1`` reference runs so that both start-ups overlap; stopped
    (terminate, then kill) at the end, also when a test failed."""
    dask = _dask_command()
    folder = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    # The scheduler gives up on a task whose worker died at once (Dask's default retries it
    # elsewhere 3 times): the killed worker's bundle must then be a failed row naming it.
    env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")
    started = Started()
    try:
        started.start([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                      folder / "scheduler.log", env=env, cwd=folder)
        nannies = [started.start([dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
                                  "--no-dashboard", "--name", f"w{i}", "--memory-limit", "0", "--death-timeout", "60",
                                  "--local-directory", str(folder / f"w{i}")], folder / f"worker{i}.log", cwd=folder)
                   for i in range(2)]
        yield address, nannies
    finally:
        left = started.stop()
    assert not left, f"processes of the test still running after terminate and kill: {left}"


def test_dask_scheduler_and_worker_processes(tmp_path, dask_processes, samples, reference):
    from distributed import Client

    address, nannies = dask_processes

    def executing(dask_worker):
        """Runs on each worker (client.run; a local function travels by value): its PID and
        the bundle tasks it is running right now."""
        import os as _os
        return _os.getpid(), [str(ts.key) for ts in dask_worker.state.executing if str(ts.key).startswith("rdsla-")]

    started = Started()
    try:
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
            _same_rows_then_a_worker_killed(client, address, nannies, started, tmp_path, samples, reference,
                                            executing)
    finally:
        started.stop()


def _same_rows_then_a_worker_killed(client, address, nannies, started, tmp_path, samples, reference,
                                    executing) -> None:
    ref_code, ref_rows, ref_out = reference

    # same rows, same exit code, same files as --jobs 1
    out = tmp_path / "dask"
    proc = run_batch(str(samples), "-o", str(out), "--scheduler", address, "--quiet")
    assert proc.returncode == ref_code, proc.stderr[-3000:]
    assert one_row_each(out) == ref_rows
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ref_out.iterdir())

    # SIGKILL one worker process while it runs a bundle
    out = tmp_path / "killed"
    batch = started.start(rdsla("batch", str(samples), "-o", str(out), "--scheduler", address),
                          tmp_path / "killed.log")
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline and batch.poll() is None:
        for worker_address, (pid, keys) in client.run(executing).items():
            if keys:
                victim = (worker_address, pid, keys)
                break
        else:
            time.sleep(0.02)
    assert victim is not None, "no bundle ever ran on a worker"
    worker_address, pid, keys = victim
    ours = {p for n in nannies for p in descendants(n.pid)} | {n.pid for n in nannies}
    assert pid in ours, f"worker PID {pid} is not a process this test started"
    os.kill(pid, signal.SIGKILL)
    code = batch.wait(timeout=90)
    log = (tmp_path / "killed.log").read_text(errors="replace")
    rows = one_row_each(out)
    assert set(rows) == set(ref_rows), log[-3000:]
    failed = {b: r for b, r in rows.items() if r["status"] != "ok"}
    for bundle, row in rows.items():
        if bundle in failed:
            assert row["status"] == "failed", row
            assert "worker died" in row["error"] and worker_address in row["error"], row
        else:
            assert row == ref_rows[bundle]
    assert code == (3 if failed else ref_code), log[-3000:]
    assert set(markers(out)) == set(rows) - set(failed)      # a failed bundle has no completion marker


# ---------------------------------------------------------------- 2. kill -9 of the batch parent

# An EVTX file on which the Rust decoder spins in native code (tests/fuzz/corpus): a batch worker
# stuck in it is only ever stopped by its parent (--timeout), so it shows whether workers outlive
# a parent killed with -9.
HUNG_EVTX = REPO / "tests" / "fuzz" / "corpus" / "evtx" / "c0e175735348.bin"


def _by_name(rows: dict[str, dict]) -> dict[str, dict]:
    """Rows keyed by the bundle's file name (the copies live in another folder, so the report
    folder's suffix, a digest of the input's path, differs too)."""
    def report(path):
        return re.sub(r"-[0-9a-f]{10}/", "/", path) if isinstance(path, str) else path
    return {Path(b).name: dict(r, bundle=Path(b).name, report=report(r.get("report"))) for b, r in rows.items()}


def test_kill_9_parent_leaves_no_worker_and_resume_completes(tmp_path, reference):
    ref_code, ref_rows, _ = reference
    expected = _by_name(ref_rows)
    inp = copy_samples(tmp_path / "in")
    hung = inp / "hung-worker"                   # largest bundle: it starts first and stays running
    if HUNG_EVTX.exists():
        hung.mkdir()
        shutil.copy2(HUNG_EVTX, hung / "System.evtx")
        (hung / "padding.bin").write_bytes(b"\0" * (4 << 20))
    out = tmp_path / "out"
    tag = uuid.uuid4().hex
    started = Started()
    parent = None
    try:
        parent = started.start(rdsla("batch", str(inp), "-o", str(out), "--jobs", "2"), tmp_path / "killed.log",
                               env=dict(os.environ, **{TAG: tag}), start_new_session=True)
        deadline = time.monotonic() + 60
        while len(summary_lines(out)) < 3 and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        family = descendants(parent.pid)         # forkserver, its workers, the resource tracker
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert parent.returncode == -signal.SIGKILL, "the batch ended before it could be killed"
        assert len(family) >= 2, f"expected the pool's worker processes below the parent: {family}"
        left = wait_gone(family, 15, tag)
        assert not left, f"processes of the killed batch still running 15 s after the kill: {left}"

        at_kill = summary_lines(out)
        assert 1 <= len(at_kill) < len(expected), f"{len(at_kill)} rows when killed: the kill came too late"
        for name, row in _by_name({r["bundle"]: r for r in at_kill}).items():
            assert row == expected[name]
        folders = markers(out)
        finished = {r["bundle"] for r in at_kill if r["status"] == "ok"}
        assert finished <= set(folders)

        # a bundle folder left half-written (truncated report, no completion marker: what a
        # worker killed between its writes leaves) is not counted as done
        half = sorted(finished)[0]
        (folders[half] / "batch.json").unlink()
        (folders[half] / "report.html").write_text("<html>half", encoding="utf-8")
        done = finished - {half}
        stamps = {b: {f.name: (f.stat().st_ino, f.stat().st_mtime_ns) for f in folders[b].iterdir()} for b in done}
        complete = len(folders) - 1

        if hung.exists():
            shutil.rmtree(hung)                  # the engineer sets the poison bundle aside
        proc = run_batch(str(inp), "-o", str(out), "--jobs", "2", "--resume")
        assert f"resume: {complete} bundle(s) already complete, {len(expected) - complete} to analyze" in proc.stderr, \
            proc.stderr[-3000:]
        assert proc.returncode == ref_code, proc.stderr[-3000:]
        assert _by_name(one_row_each(out)) == expected
        for b in done:                           # finished bundles were not redone
            assert {f.name: (f.stat().st_ino, f.stat().st_mtime_ns) for f in folders[b].iterdir()} == stamps[b], b
        assert (folders[half] / "batch.json").exists()
        assert (folders[half] / "report.html").read_text(encoding="utf-8") != "<html>half"
    finally:
        started.stop()
        if parent is not None:
            try:
                os.killpg(parent.pid, signal.SIGKILL)    # whatever its session still holds (on failure)
            except OSError:
                pass
