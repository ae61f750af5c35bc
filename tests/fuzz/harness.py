"""The properties every parser must keep on any input (DESIGN.md "Trust boundary"):

* no unhandled exception - the module's ``parse`` is called directly (a raise is a bug even
  though ``analyzer.pipeline.parse_source`` would turn it into a failed result), then through
  ``parse_source`` (whose "parser error" warning would betray a caught exception);
* every failure is reported: a result that is not ``ok`` carries warnings, and each names the
  file or a position in it (line, chunk, record, offset, key ...);
* bounded time per input (a generous robustness bound, not a speed test);
* bounded memory: the tracemalloc peak of the Python heap stays under a bound relative to the
  input size (native allocations of the Rust decoder are not seen by tracemalloc).
"""
from __future__ import annotations

import importlib
import os
import re
import time
import traceback
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from rdsla.analyzer.bundle import open_bundle
from rdsla.core.limits import Limits
from rdsla.analyzer.pipeline import parse_source
from rdsla.parsers.base import ParseOptions, ParseResult, Source

MODULES = {"evtx": "rdsla.parsers.evtx", "hive": "rdsla.parsers.registry", "reg_export": "rdsla.parsers.registry",
           "reg_query": "rdsla.parsers.registry", "licensing_csv": "rdsla.parsers.licensing",
           "licensing_html": "rdsla.parsers.licensing", "licensing_text": "rdsla.parsers.licensing",
           "system_info": "rdsla.parsers.systeminfo"}
TIME_LIMIT = float(os.environ.get("RDSLA_FUZZ_TIME_LIMIT", "20"))   # seconds per call
MEM_BASE = 64 << 20                                                   # bytes
MEM_FACTOR = 64                                                       # x input size
POSITION = re.compile(r"\bline \d|\bchunk|\brecord|\boffset|\bposition|\bbyte|\bcell|\bheader|\bbase block|"
                      r"\bkey|\brow|\bcolumn|\bat \d|\\|\bhbin|\bsignature|\btemplate|\bsubstitution|\bfile\b|"
                      r"\bempty\b|\btruncated|\bsequence number", re.I)
STATUSES = {"ok", "partial", "failed"}
# Small limits, as the bundle would pass them with --max-file-size 16M: Source.read_bytes
# currently reserves its whole limit up front (see corpus/test_corpus.py), which would hide every
# other memory finding behind a 2 GiB peak with the default limits.
FUZZ_LIMITS = Limits(max_file_bytes=16 << 20, max_total_bytes=64 << 20, max_members=2000)


@dataclass
class Outcome:
    problems: list[str] = field(default_factory=list)
    result: Optional[ParseResult] = None
    seconds: float = 0.0
    peak: int = 0
    unpositioned: list[str] = field(default_factory=list)    # warnings naming neither file nor position

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_function(kind: str):
    return importlib.import_module(MODULES[kind]).parse


def _check_result(result, display: str, where: str, out: Outcome) -> None:
    if not isinstance(result, ParseResult):
        out.problems.append(f"{where}: returned {type(result).__name__}, not a ParseResult")
        return
    if result.status not in STATUSES:
        out.problems.append(f"{where}: status {result.status!r}")
    if result.status != "ok" and not result.warnings:
        out.problems.append(f"{where}: status {result.status} without a warning")
    if not (isinstance(result.records_read, int) and isinstance(result.records_lost, int)
            and result.records_read >= 0 and result.records_lost >= 0):
        out.problems.append(f"{where}: records_read/lost {result.records_read!r}/{result.records_lost!r}")
    for name, frame in result.frames.items():
        if frame is not None and not isinstance(frame, pd.DataFrame):
            out.problems.append(f"{where}: frame {name} is a {type(frame).__name__}")
    for w in result.warnings:
        if not isinstance(w, str):
            out.problems.append(f"{where}: warning {w!r} is not a string")
        elif "parser error" in w or "worker failed" in w:
            out.problems.append(f"{where}: {w}")
    if result.status != "ok":
        for w in result.warnings:
            if isinstance(w, str) and display not in w and not POSITION.search(w):
                out.unpositioned.append(w)


def check_bytes(kind: str, data: bytes, workdir: Path, name: str = "fuzzed.bin",
                backend: str = "rust", measure_memory: bool = True, via_pipeline: bool = True) -> Outcome:
    """Write ``data`` to ``workdir/name`` and check every property for one parser call."""
    path = Path(workdir) / name
    path.write_bytes(data)
    display = f"fuzz/{name}"
    source = Source(display=display, chain=(str(path),), size=len(data), kind=kind,
                    max_bytes=FUZZ_LIMITS.max_file_bytes)
    options = ParseOptions(evtx_backend=backend, limits=FUZZ_LIMITS)
    out = Outcome()
    parse = parse_function(kind)
    if measure_memory:
        tracemalloc.start()
    t0 = time.monotonic()
    try:
        result = parse(source, options)
    except BaseException as exc:  # noqa: BLE001 - a raise of any kind is what we look for
        if isinstance(exc, KeyboardInterrupt):
            raise
        result = None
        out.problems.append(f"{MODULES[kind]}.parse raised {type(exc).__name__}: {exc}\n"
                            + "".join(traceback.format_exception(exc)[-6:]))
    finally:
        out.seconds = time.monotonic() - t0
        if measure_memory:
            out.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    if result is not None:
        _check_result(result, display, f"{MODULES[kind]}.parse", out)
        out.result = result
    limit = TIME_LIMIT * (2 if measure_memory else 1)
    if out.seconds > limit:
        out.problems.append(f"took {out.seconds:.1f} s (bound {limit:.0f} s)")
    bound = MEM_BASE + MEM_FACTOR * len(data)
    if measure_memory and out.peak > bound:
        out.problems.append(f"tracemalloc peak {out.peak:,} bytes for {len(data):,} input bytes (bound {bound:,})")
    if via_pipeline:
        t0 = time.monotonic()
        again = parse_source(source, options)
        took = time.monotonic() - t0
        _check_result(again, display, "parse_source", out)
        if took > TIME_LIMIT:
            out.problems.append(f"parse_source took {took:.1f} s (bound {TIME_LIMIT:.0f} s)")
    return out


def check_zip(data: bytes, workdir: Path, name: str = "fuzzed.zip", limits: Optional[Limits] = None,
              parse: bool = True) -> Outcome:
    """A (mutated) zip through ``open_bundle`` and every source it yields through ``parse_source``."""
    path = Path(workdir) / name
    path.write_bytes(data)
    limits = limits or FUZZ_LIMITS
    out = Outcome()
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        intake = open_bundle([str(path)], limits)
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        out.problems.append(f"open_bundle raised {type(exc).__name__}: {exc}\n"
                            + "".join(traceback.format_exception(exc)[-6:]))
        intake = None
    finally:
        out.seconds = time.monotonic() - t0
        out.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if out.seconds > TIME_LIMIT:
        out.problems.append(f"open_bundle took {out.seconds:.1f} s")
    bound = MEM_BASE + MEM_FACTOR * len(data) + 2 * limits.max_file_bytes
    if out.peak > bound:
        out.problems.append(f"open_bundle tracemalloc peak {out.peak:,} bytes (bound {bound:,})")
    if intake is None:
        return out
    if not intake.sources and not intake.ledger:
        out.problems.append("open_bundle: the zip left neither a source nor a ledger entry")
    for entry in intake.ledger:
        if not entry.warnings:
            out.problems.append(f"ledger entry {entry.path!r} without a reason")
        if not entry.path.startswith(name):
            out.problems.append(f"ledger entry {entry.path!r} does not name the zip")
    if parse:
        options = ParseOptions(limits=limits)
        for src in intake.sources:
            t0 = time.monotonic()
            res = parse_source(src, options)
            took = time.monotonic() - t0
            _check_result(res, src.display, f"parse_source({src.display})", out)
            if took > TIME_LIMIT:
                out.problems.append(f"parse_source({src.display}) took {took:.1f} s")
    leftovers = sorted(p.name for p in Path(workdir).iterdir() if p.name != name)
    if leftovers:
        out.problems.append(f"files appeared beside the zip: {leftovers}")
    return out
