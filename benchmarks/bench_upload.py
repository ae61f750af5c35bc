"""A whole ``rdsla analyze`` of a realistic upload against bare decoding of its logs (issue 20).

    python benchmarks/bench_upload.py [--runs 3] [--skip-small] [--skip-startup] [--skip-evtx] [--plain-install]

Builds, in a temporary folder (never in the repository), from the real files of
../shared/realdata/evtx:

- the large upload (~600 MB): 4 hosts, each in ``MSRD-Results-<HOST>/`` with one System log, 20
  archived Security logs (``Archive-Security-*.evtx``) and the RDS logs (RCM Operational and
  Admin, LSM Operational, RdpCoreTS Operational);
- the small upload (~180 MB): the same hosts with System, Security + 3 archived Security and
  the RDS logs, the shape of the 174 MB upload measured in the issue.

Hosts 2-4 are the same logs with the machine names changed (same length, chunk checksums
recomputed), so the upload holds four machines as a real one would.

Then, in one run, alternating R times: bare single-thread ``records_json()`` over every EVTX
of the upload (a fresh process each run, iteration only) and ``rdsla analyze UPLOAD -o
report.html --json findings.json --quiet`` as a whole process (wall time; peak memory of
its process tree sampled every 20 ms: summed RSS, summed PSS = the physical memory the
run holds, shared pages counted once, and the largest single process). Prints medians and
spreads, the ratio bare / analyze (target >= 1.5x on the large upload, peak < 400 MB), the
per-stage split of one analysis run stage by stage in a fresh process, the start-up times
of ``rdsla --version``, ``rules --json``, ``compat --json`` (target < 0.2 s, no pandas) and
``analyze`` of a sample bundle (target < 0.8 s), and the issue 4 in-process ratios on the
real System.evtx (rdsla's parse against bare iteration in one process) so regressions show.
Timings on a shared machine are noisy: compare ratios measured in the same run, and the CPU
seconds printed beside every wall time (all processes of the run, from getrusage of the
children): when other load shares the cores, wall grows and CPU does not.

Every measured process runs as an installed rdsla does: with its bytecode cached (pip compiles
an installed package; a checkout under PYTHONDONTWRITEBYTECODE=1 compiles every rdsla module
from source in every process, ~0.3 s). The cache is a temporary PYTHONPYCACHEPREFIX, warmed by
one untimed run of each command, so nothing is written into the checkout.

``--plain-install`` measures rdsla as users run it: this tree's wheel installed by a plain ``pip
install`` (no extras: no pyarrow, so pandas keeps strings as Python objects) in a temporary venv,
every process started outside the checkout. Without it, the interpreter running this script.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("RDSLA_SHARED", REPO.parent / "shared")) / "realdata" / "evtx"
PY = sys.executable
CWD = REPO                      # where the measured processes start (a plain install runs from elsewhere)
ENV = dict(os.environ)          # the measured processes' environment (main() sets the bytecode cache)

PREFIX = "Srv2012R2_StolenSzechuan_"
SYSTEM = PREFIX + "System.evtx"
SECURITY = PREFIX + "Security.evtx"
RDS_LOGS = {
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx":
        PREFIX + "TerminalServices-RemoteConnectionManager%4Operational.evtx",
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Admin.evtx":
        PREFIX + "TerminalServices-RemoteConnectionManager%4Admin.evtx",
    "Microsoft-Windows-TerminalServices-LocalSessionManager%4Operational.evtx":
        PREFIX + "TerminalServices-LocalSessionManager%4Operational.evtx",
    "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx":
        PREFIX + "RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
}
# the machine names in those logs, and same-length replacements for hosts 2-4
NAMES = ("CITADEL-DC01", "WIN-E0PO207ERMD", "WIN-HRJHA99CCDO")
HOSTS = ("CITADEL-DC01", "CITADEL-DC02", "CITADEL-DC03", "CITADEL-DC04")


# ------------------------------------------------------------------ building the uploads

def renamed(data: bytes, n: int) -> bytes:
    """The log with every machine name (UTF-16) given host number ``n``'s variant, and every
    chunk's checksums recomputed (the names have the same length: nothing else moves)."""
    if n == 0:
        return data
    out = bytearray(data)
    for name in NAMES:
        new = (name[:-2] + f"{n + 1:02d}") if name[-2:].isdigit() else (name[:-1] + "WXYZ"[n])
        old_b, new_b = name.encode("utf-16-le"), new.encode("utf-16-le")
        start = 0
        while True:
            i = out.find(old_b, start)
            if i < 0:
                break
            out[i:i + len(old_b)] = new_b
            start = i + len(new_b)
    for off in range(0x1000, len(out) - 0x10000 + 1, 0x10000):
        if out[off:off + 8] != b"ElfChnk\x00":
            continue
        free = struct.unpack_from("<I", out, off + 48)[0]
        if 0x200 <= free <= 0x10000:
            struct.pack_into("<I", out, off + 52, zlib.crc32(out[off + 0x200:off + free]))
        crc = zlib.crc32(out[off + 128:off + 0x200], zlib.crc32(out[off:off + 120]))
        struct.pack_into("<I", out, off + 124, crc)
    return bytes(out)


def build(root: Path, archived: int, current_security: bool) -> Path:
    root.mkdir(parents=True)
    for n, host in enumerate(HOSTS):
        folder = root / f"MSRD-Results-{host}" / "EventLogs"
        folder.mkdir(parents=True)
        system = renamed((REALDATA / SYSTEM).read_bytes(), n)
        (folder / f"{host}_System.evtx").write_bytes(system)
        security = renamed((REALDATA / SECURITY).read_bytes(), n)
        if current_security:
            (folder / f"{host}_Security.evtx").write_bytes(security)
        for i in range(archived):
            (folder / f"{host}_Archive-Security-2020-09-{1 + i % 28:02d}-{i:02d}-00-00-000.evtx").write_bytes(security)
        for target, name in RDS_LOGS.items():
            (folder / f"{host}_{target}").write_bytes(renamed((REALDATA / name).read_bytes(), n))
    return root


def size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


# ------------------------------------------------------------------ measuring

BARE = r"""
import sys, time, json, pathlib, evtx
files = sorted(str(p) for p in pathlib.Path(sys.argv[1]).rglob("*.evtx"))
t0, c0 = time.perf_counter(), time.process_time()
n = 0
for f in files:
    for _ in evtx.PyEvtxParser(f, number_of_threads=1).records_json():
        n += 1
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "records": n,
                  "files": len(files)}))
"""


def bare(upload: Path) -> dict:
    out = subprocess.run([PY, "-c", BARE, str(upload)], capture_output=True, text=True, check=True, cwd=REPO,
                         env=ENV)
    return json.loads(out.stdout)


class Peak:
    """Peak memory of a process tree, sampled every ``interval`` s (psutil)."""

    def __init__(self, pid: int, interval: float = 0.02):
        import psutil
        self.root = psutil.Process(pid)
        self.rss = self.pss = self.single = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        import psutil
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            rss = pss = single = 0
            for p in procs:
                try:
                    info = p.memory_full_info()
                except psutil.Error:
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
                single = max(single, info.rss)
            self.rss = max(self.rss, rss / 2**20)
            self.pss = max(self.pss, pss / 2**20)
            self.single = max(self.single, single / 2**20)
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def whole_process(argv: list[str], memory: bool = False) -> dict:
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=CWD, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    peak = Peak(proc.pid) if memory else None
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if peak:
        peak.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}\n{err.decode()[-2000:]}")
    out = {"wall": wall, "cpu": cpu}
    if peak:
        out.update(rss=peak.rss, pss=peak.pss, single=peak.single)
    return out


def analyze_argv(upload: Path, out: Path) -> list[str]:
    return [PY, "-m", "rdsla", "analyze", str(upload), "-o", str(out / "report.html"),
            "--json", str(out / "findings.json"), "--quiet"]


STAGES = r"""
import json, resource, sys, time
def now():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.perf_counter(), s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime)
t = [("start", now())]
from rdsla.analyzer import pipeline
from rdsla.parsers.base import ParseOptions
from dataclasses import replace
t.append(("imports", now()))
needs = pipeline.declared_needs()
options = ParseOptions(events=needs.events, registry=needs.registry)
intake = pipeline.open_bundle([sys.argv[1]], options.limits)
t.append(("intake (find and sniff artifacts)", now()))
results = pipeline._parse_all(intake.sources, options, None, None)
t.append(("parse (workers; a small upload here)", now()))
ingested = pipeline._assemble(intake, results)
t.append(("assemble frames", now()))
analysis = pipeline.reason(ingested, [sys.argv[1]])
t.append(("reason (profiles, rules, verdict)", now()))
from rdsla.reports import findings_json, html
t.append(("report imports", now()))
html.render(analysis)
findings_json.render(analysis)
t.append(("render (html, json)", now()))
print(json.dumps([(name, *[t[i + 1][1][k] - t[i][1][k] for k in range(3)]) for i, (name, _) in enumerate(t[1:])]))
"""


def stages(upload: Path) -> list:
    out = subprocess.run([PY, "-c", STAGES, str(upload)], capture_output=True, text=True, check=True, cwd=CWD,
                         env=ENV)
    return json.loads(out.stdout)


def spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"median {med:.3f} s (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"


def bench_upload(label: str, upload: Path, runs: int, target: bool) -> None:
    evtx_files = list(upload.rglob("*.evtx"))
    print(f"\n== {label}: {size_mb(upload):.0f} MB, {len(evtx_files)} EVTX files, {len(HOSTS)} hosts")
    bares, analyses = [], []
    with tempfile.TemporaryDirectory(prefix="rdsla-bench-out-") as out:
        whole_process(analyze_argv(upload, Path(out)))          # untimed: fills the bytecode cache
        for _ in range(runs):
            bares.append(bare(upload))
            analyses.append(whole_process(analyze_argv(upload, Path(out)), memory=True))
    b = [r["wall"] for r in bares]
    a = [r["wall"] for r in analyses]
    ratios = [x / y for x, y in zip(b, a)]
    print(f"bare records_json(), 1 thread, {bares[0]['records']:,} records: {spread(b)}; "
          f"CPU median {statistics.median(r['cpu'] for r in bares):.3f} s")
    print(f"rdsla analyze (whole process):  {spread(a)}; "
          f"CPU (all processes) median {statistics.median(r['cpu'] for r in analyses):.3f} s")
    print(f"ratio bare / analyze: median of runs {statistics.median(ratios):.2f}x "
          f"(runs: {', '.join(f'{r:.2f}' for r in ratios)}); ratio of medians "
          f"{statistics.median(b) / statistics.median(a):.2f}x" + ("  (target >= 1.5x)" if target else ""))
    print(f"CPU seconds bare / analyze (all processes): {statistics.median(r['cpu'] for r in bares) / statistics.median(r['cpu'] for r in analyses):.2f}x "
          f"(with the cores to itself, analyze's wall is about its CPU / 2 plus what runs in one process only: "
          f"see the split below)")
    pss = [r["pss"] for r in analyses]
    print(f"peak memory of the analyze process tree: PSS {max(pss):.0f} MB (median {statistics.median(pss):.0f}), "
          f"summed RSS {max(r['rss'] for r in analyses):.0f} MB, largest process RSS "
          f"{max(r['single'] for r in analyses):.0f} MB" + ("  (target < 400 MB)" if target else ""))
    split = stages(upload)
    total = sum(s[1] for s in split)
    print(f"per-stage split (one run stage by stage in a fresh process, {total:.2f} s wall, "
          f"{sum(s[2] for s in split):.2f} s CPU here, {sum(s[3] for s in split):.2f} s CPU in worker processes):")
    for name, secs, cpu, children in split:
        print(f"  {name:<36} {secs:7.3f} s  {secs / total:5.0%}   CPU {cpu:6.3f} s" +
              (f" + workers {children:6.3f} s" if children else ""))
    # on idle cores the parse stage takes its workers' CPU spread over them (or the parent's
    # own share of it, if larger); every other stage runs in this one process
    workers = min(os.cpu_count() or 1, len(evtx_files))
    serial = sum(cpu for name, _, cpu, _ in split if not name.startswith("parse"))
    parse = max(sum(children for *_, children in split) / workers,
                sum(cpu for name, _, cpu, _ in split if name.startswith("parse")))
    print(f"  projected wall on {workers} idle cores (from the CPU above, not measured): {serial + parse:.2f} s "
          f"= {serial:.2f} s in one process + {parse:.2f} s parsing; bare decoding's CPU / this: "
          f"{statistics.median(r['cpu'] for r in bares) / (serial + parse):.2f}x")


def plain_install(where: Path) -> str:
    """A venv in ``where`` holding this tree's wheel and its required dependencies only; its python."""
    wheels, venv = where / "wheel", where / "venv"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(wheels), str(REPO)],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", *map(str, wheels.glob("*.whl"))], check=True,
                   capture_output=True)
    return python


def bench_startup(runs: int) -> None:
    print("\n== start-up (whole process)")
    bundle = REPO / "sample_data" / "bundles" / "gpo-overrides-deployment.zip"
    with tempfile.TemporaryDirectory(prefix="rdsla-bench-out-") as out:
        cases = [("rdsla --version", [PY, "-m", "rdsla", "--version"], 0.2),
                 ("rdsla rules --json", [PY, "-m", "rdsla", "rules", "--json"], 0.2),
                 ("rdsla compat --json", [PY, "-m", "rdsla", "compat", "--json"], 0.2),
                 (f"rdsla analyze {bundle.name}", [PY, "-m", "rdsla", "analyze", str(bundle), "-o",
                                                   f"{out}/r.html", "--json", f"{out}/f.json", "--quiet"], 0.8)]
        python = [whole_process([PY, "-c", "pass"])["wall"] for _ in range(runs)]
        print(f"  {'python -c pass (the floor)':<44} {spread(python)}")
        for label, argv, limit in cases:
            whole_process(argv)                     # untimed: fills the bytecode cache
            # analyze of a sample bundle: at least 10 runs (bench_analyze_small.py compares it with the pool)
            measured = [whole_process(argv) for _ in range(max(runs, 10) if label.startswith("rdsla analyze") else runs)]
            walls = [m["wall"] for m in measured]
            cpus = [m["cpu"] for m in measured]
            check = PY, "-c", ("import sys, runpy; sys.argv = " + repr(["rdsla", *argv[3:]]) +
                               "\ntry:\n    runpy.run_module('rdsla', run_name='__main__')\nexcept SystemExit:\n    pass\n"
                               "print('pandas' in sys.modules, file=sys.stderr)")
            pandas = subprocess.run(list(check), capture_output=True, text=True, cwd=CWD, check=False,
                                    env=ENV).stderr.strip().splitlines()[-1:]
            print(f"  {label:<44} {spread(walls)}  (target < {limit} s; pandas imported: {pandas[0] if pandas else '?'})")
            print(f"  {'':<44} CPU {spread(cpus)}")


EVTX_RATIOS = r"""
import json, os, sys, time, evtx
from rdsla.parsers.base import ParseOptions, Source
from rdsla.parsers.evtx import parse
from rdsla.analyzer.pipeline import declared_needs
path = sys.argv[1]
src = Source(display=path, chain=(path,), size=os.path.getsize(path), kind="evtx")
events = declared_needs().events
parse(src, ParseOptions(all_events=True))            # the same warm-up as bench_evtx.py
def bare():
    for _ in evtx.PyEvtxParser(path).records_json():
        pass
runs = {"bare": bare, "default": lambda: parse(src, ParseOptions(events=events)),
        "all_events": lambda: parse(src, ParseOptions(all_events=True))}
best = {}
for _ in range(4):
    for name, fn in runs.items():
        t = time.perf_counter(); fn(); s = time.perf_counter() - t
        best[name] = min(best.get(name, s), s)
print(json.dumps(best))
"""


def bench_evtx_ratios() -> None:
    path = REALDATA / SYSTEM
    out = subprocess.run([PY, "-c", EVTX_RATIOS, str(path)], capture_output=True, text=True, check=True, cwd=CWD,
                         env=ENV)
    best = json.loads(out.stdout)
    print(f"\n== issue 4 in-process ratios on {path.name} (best of 4 in one process; retired targets 0.8x / 0.3x, "
          f"last measured 0.52x / 0.27x)")
    print(f"  bare records_json {best['bare']:.3f} s, rdsla default {best['default']:.3f} s, "
          f"--all-events {best['all_events']:.3f} s")
    print(f"  default / bare {best['bare'] / best['default']:.2f}x; all-events / bare "
          f"{best['bare'] / best['all_events']:.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="alternating bare/analyze runs per upload (default 3)")
    ap.add_argument("--skip-small", action="store_true")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--skip-evtx", action="store_true")
    ap.add_argument("--keep", type=Path, help="build the uploads here and keep them (reused when present)")
    ap.add_argument("--plain-install", action="store_true",
                    help="measure the wheel installed without extras in a temporary venv (as users install)")
    args = ap.parse_args()
    if not (REALDATA / SYSTEM).is_file():
        print(f"{REALDATA} is absent: nothing to measure")
        return 0
    print(f"rdsla bench_upload: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    pycache = tempfile.TemporaryDirectory(prefix="rdsla-bench-pycache-")
    if args.plain_install:
        global PY, CWD
        PY, CWD = plain_install(Path(pycache.name)), Path(pycache.name)
        print(f"measured: the wheel installed without extras ({PY})")
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    ENV["PYTHONPYCACHEPREFIX"] = pycache.name
    tmp = None
    if args.keep:
        root = args.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="rdsla-bench-upload-")
        root = Path(tmp.name)
    try:
        large, small = root / "upload-600mb", root / "upload-174mb"
        if not args.skip_large:
            if not large.exists():
                build(large, archived=20, current_security=False)
            bench_upload("large upload", large, args.runs, target=True)
        if not args.skip_small:
            if not small.exists():
                build(small, archived=3, current_security=True)
            bench_upload("174 MB upload (issue 20's measurement)", small, args.runs, target=False)
        if not args.skip_startup:
            bench_startup(max(args.runs, 5))
        if not args.skip_evtx:
            bench_evtx_ratios()
    finally:
        if tmp is not None:
            tmp.cleanup()
        pycache.cleanup()
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
