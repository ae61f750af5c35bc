"""The pipeline: bundle -> parsed frames -> host profiles -> findings -> verdict.

Each step is a plain function on plain data (DESIGN.md, "Data flow"). ``ingest`` stops after
the frames (inventory, export); ``analyze`` runs everything.
"""
from __future__ import annotations

import importlib
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Optional

import pandas as pd

from rdsla.analyzer.bundle import Intake, open_bundle
from rdsla.core.errors import ArtifactTimeout
from rdsla.core.facts import COLLECTED_AT
from rdsla.core.needs import Needs, union
from rdsla.core.frames import SCHEMAS, concat_frames, empty_frame, make_frame, string_array
from rdsla.core.hostnames import HostResolver, canonical
from rdsla.core.model import Analysis
from rdsla.parsers import parser_for
from rdsla.parsers.base import ParseOptions, ParseResult, Source, zips_kept_open

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


@dataclass
class Ingested:
    """Frames and ledger of one bundle, before any reasoning."""

    intake: Intake
    frames: dict[str, pd.DataFrame]
    facts: list[dict] = field(default_factory=list)
    event_stats: list[dict] = field(default_factory=list)
    hosts: dict[str, set[str]] = field(default_factory=dict)   # canonical -> aliases


def _on_alarm(signum, frame):
    raise ArtifactTimeout()


def parse_source(source: Source, options: ParseOptions) -> ParseResult:
    """Run the parser of one source; any exception becomes a failed result (never raises).

    The time limit (``--artifact-timeout``) is a SIGALRM timer where one can be set (the main
    thread of a process: the CLI, pool and batch workers); elsewhere (Dask worker threads) the
    batch's per-bundle timeout bounds the work instead."""
    seconds = options.limits.artifact_seconds
    timed = bool(seconds) and HAS_ALARM and threading.current_thread() is threading.main_thread()
    if timed:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return parser_for(source.kind)(source, options)
    except ArtifactTimeout:
        return ParseResult.failed(f"{source.display}: not read: parsing took longer than {seconds} s "
                                  f"(--artifact-timeout)")
    except MemoryError:
        return ParseResult.failed(f"{source.display}: out of memory while parsing")
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the bundle
        return ParseResult.failed(f"{source.display}: parser error {type(exc).__name__}: {exc}")
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def declared_needs() -> Needs:
    """What the rules, the host-profile builder and the report read: the parsers keep exactly that."""
    from rdsla.analyzer import hosts, licensing_path
    from rdsla.reports import timeline_svg
    from rdsla.rules.registry import load_rules
    return union([hosts.NEEDS, licensing_path.NEEDS, timeline_svg.NEEDS, *(r.meta.needs for r in load_rules())])


def ingest(paths: list[str], options: ParseOptions = ParseOptions(), jobs: Optional[int] = None,
           progress: Optional[Callable[[int, int, str], None]] = None) -> Ingested:
    if options.events is None and not options.all_events:
        options = replace(options, events=declared_needs().events)
    if options.registry is None and not options.full_registry:
        options = replace(options, registry=declared_needs().registry)
    with zips_kept_open():
        intake = open_bundle(paths, options.limits)
        results = _parse_all(intake.sources, options, jobs, progress)
    return _assemble(intake, results)


# Binary artifacts go through native decoders (the Rust `evtx`, regipy's construct parsing);
# a hostile file can make one spin without ever returning to Python, where no signal reaches
# it. Those are parsed in worker processes that are killed when they pass --artifact-timeout.
ISOLATED_KINDS = ("evtx", "hive")

# Where no SIGALRM exists (Windows), no timer can stop a text parser either: with a time limit,
# every artifact takes the killable worker path.
HAS_ALARM = hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")


def _isolated(kind: str, options: ParseOptions) -> bool:
    return kind in ISOLATED_KINDS or (not HAS_ALARM and bool(options.limits.artifact_seconds))


def _parse_all(sources: list[Source], options: ParseOptions, jobs: Optional[int],
               progress: Optional[Callable[[int, int, str], None]]) -> list[ParseResult]:
    """Parse every source. ``jobs``: None = one worker per core, N = N workers, 0 = all in
    this process (batch workers: the batch parallelizes across bundles and kills a bundle
    that passes its own timeout; no pools inside pools)."""
    results: list[Optional[ParseResult]] = [None] * len(sources)
    counter = [0]

    def finished(i: int, result: ParseResult) -> None:
        results[i] = result
        counter[0] += 1
        if progress:
            progress(counter[0], len(sources), sources[i].display)

    isolated = [i for i, s in enumerate(sources) if _isolated(s.kind, options)] if jobs != 0 else []

    def in_this_process() -> None:
        for i, s in enumerate(sources):
            if results[i] is None and i not in isolated:
                finished(i, parse_source(s, options))

    if isolated:
        workers = min(jobs or os.cpu_count() or 1, len(isolated))
        order = sorted(isolated, key=lambda i: -sources[i].size)        # largest first
        # the text artifacts are parsed here while the workers decode the binary ones
        _parse_isolated(sources, order, options, workers, finished, in_this_process)
    in_this_process()
    return [r for r in results if r is not None]


def _parser_modules(kinds: set[str]) -> list[str]:
    """The modules of the parse functions of these kinds (parsers.FORMATS' parse entries)."""
    from rdsla.parsers import registered_formats
    return sorted({fmt.parse.split(":")[0] for fmt in registered_formats()
                   if fmt.parse and set(fmt.kinds) & kinds})


def _pool_context(kinds: set[str]):
    """The workers' multiprocessing context, with the parsers they will run loaded once: here
    before forking (the workers inherit them), or in the fork server."""
    from rdsla.analyzer import processes     # multiprocessing: imported only when a pool starts
    modules = _parser_modules(kinds)
    ctx = processes.context(preload=modules)
    if ctx.get_start_method() == "fork":
        for name in modules:
            importlib.import_module(name)
    return ctx


def _parse_isolated(sources: list[Source], order: list[int], options: ParseOptions, workers: int,
                    finished: Callable[[int, ParseResult], None],
                    meanwhile: Optional[Callable[[], None]] = None) -> None:
    """Run ``parse_source`` for ``order`` in worker processes, started once for all of them;
    ``meanwhile`` runs here once they are submitted. A task running longer than the artifact
    limit is a failed result; its pool is killed and the rest resubmitted."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    limit = options.limits.artifact_seconds or None
    pending = list(order)
    completed: set[int] = set()
    context = _pool_context({sources[i].kind for i in order})

    def report(i: int, result: ParseResult) -> None:
        completed.add(i)
        finished(i, result)

    while pending:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context)
        futures = {pool.submit(parse_source, sources[i], options): i for i in pending}
        started: dict = {}
        overdue = None
        remaining = set(futures)
        submitted = time.monotonic()
        try:
            if meanwhile is not None:
                meanwhile()
                meanwhile = None
            first = True
            while remaining:
                done, remaining = wait(remaining, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    try:
                        report(i, fut.result())
                    except Exception as exc:  # noqa: BLE001 - a worker killed by a hostile file
                        report(i, ParseResult.failed(f"{sources[i].display}: worker failed: {exc}"))
                now = time.monotonic()
                for fut in remaining:
                    if fut.running():     # running at the first look: counted from the submit
                        started.setdefault(fut, submitted if first else now)
                        if limit and now - started[fut] > limit:
                            overdue = futures[fut]
                first = False
                if overdue is not None:
                    break
        finally:
            if overdue is not None or remaining:
                _kill(pool)
            pool.shutdown(wait=overdue is None and not remaining, cancel_futures=True)
        if overdue is None:
            return
        report(overdue, ParseResult.failed(f"{sources[overdue].display}: not read: parsing took longer than "
                                           f"{limit} s (--artifact-timeout)"))
        pending = [i for i in pending if i not in completed]


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now (a decoder stuck in native code never returns by itself)."""
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            process.kill()
        except OSError:
            pass


def _assemble(intake: Intake, results: list[ParseResult]) -> Ingested:
    resolver = HostResolver()
    artifact_hosts: list[Optional[str]] = []
    named: dict[str, set[str]] = {}            # folder -> machines its files name in their content
    for source, result in zip(intake.sources, results):
        host = None
        if result.computers:
            for name in result.computers:
                resolver.add(name)
            host = canonical(Counter(result.computers).most_common(1)[0][0])
            named.setdefault(_folder(source), set()).add(host)
        elif source.host_hint and source.hint_origin != "folder name":
            host = resolver.add(source.host_hint)
        artifact_hosts.append(host)
    # A file that names no machine (a per-key reg export, TSLSMembership.txt) and whose name gives
    # none: the machine every other file of its folder names, else the folder's name (MSRD-Results-<HOST>)
    for i, (source, result) in enumerate(zip(intake.sources, results)):
        if artifact_hosts[i] is None:
            siblings = named.get(_folder(source), set())
            if len(siblings) == 1:
                artifact_hosts[i] = resolver.add(next(iter(siblings)))
            elif source.host_hint:
                artifact_hosts[i] = resolver.add(source.host_hint)

    parts = {name: _Parts() for name in ("events", "registry", "keypacks", "issued")}
    ledger_rows = []
    facts: list[dict] = []
    stats: list[dict] = []
    for source, result, host in zip(intake.sources, results, artifact_hosts):
        for name, frame in result.frames.items():
            if frame is None or not len(frame):
                continue
            frame = _conform(name, frame)
            part = parts[name]
            part.frames.append(frame)
            part.sources += [source.display] * len(frame)
            if name == "events":
                names = _canonical_or(frame.get("computer"), host)
                part.columns.setdefault("host", []).extend(names if isinstance(names, list) else [names] * len(frame))
            elif name == "registry":
                part.columns.setdefault("host", []).extend([host] * len(frame))
            elif name in ("keypacks", "issued"):
                servers = _canonical_or(frame.get("license_server"), host)
                part.columns.setdefault("license_server", []).extend(servers)
                for value in set(servers) - {None}:
                    resolver.add(value)
        for fact in result.facts:
            fact = dict(fact)
            fact.setdefault("source", source.display)
            fact["host"] = canonical(fact.get("host")) or host
            if fact["host"]:
                resolver.add(fact["host"])
            facts.append(fact)
        for stat in result.event_stats:
            stats.append({"source": source.display, "host": host, **stat})
        ledger_rows.append({"path": source.display, "kind": source.kind, "host": host, "status": result.status,
                            "records_read": result.records_read, "records_lost": result.records_lost,
                            "warnings": list(result.warnings), "size": source.size})
    ledger_rows.extend(entry.to_row() for entry in intake.ledger)
    frames = {name: part.frame(name) for name, part in parts.items()}
    frames["issued"] = join_issued_to_keypacks(frames["issued"], frames["keypacks"])
    frames["artifacts"] = make_frame("artifacts", ledger_rows) if ledger_rows else empty_frame("artifacts")
    return Ingested(intake=intake, frames=frames, facts=facts, event_stats=stats, hosts=resolver.aliases)


def _conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in its schema: as it is when every column already has the schema's dtype
    (the parsers build theirs through core.frames), else through make_frame."""
    schema = SCHEMAS[name]
    columns = list(frame.columns)
    if columns == list(schema) and all(str(d) == dtype for d, dtype in zip(frame.dtypes.tolist(), schema.values())):
        return frame if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 \
            and frame.index.step == 1 else frame.reset_index(drop=True)
    if all(col in frame.columns and str(frame[col].dtype) == dtype for col, dtype in schema.items()):
        return frame[list(schema)].reset_index(drop=True)
    return make_frame(name, frame)


@dataclass
class _Parts:
    """One frame's parts from every artifact, and the columns the pipeline sets on them (the
    artifact's name as ``source``, the canonical machine names): set once on the whole frame."""

    frames: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    columns: dict = field(default_factory=dict)

    def frame(self, name: str) -> pd.DataFrame:
        if not self.frames:
            return empty_frame(name)
        frame = concat_frames(name, self.frames) if len(self.frames) > 1 else self.frames[0].copy(deep=False)
        frame["source"] = string_array(self.sources)
        for col, values in self.columns.items():
            frame[col] = string_array(values)
        return frame


def _folder(source: Source) -> str:
    return source.display.replace("\\", "/").rsplit("/", 1)[0]


def _canonical_or(names: Optional[pd.Series], default: Optional[str]) -> list:
    """Canonical machine names of a column (NA and unnamed rows take ``default``)."""
    if names is None:
        return default
    known: dict = {}
    out = []
    for n in names.astype(object):
        if n is pd.NA or n is None:
            out.append(default)
            continue
        name = known.get(n, known)
        if name is known:
            name = known[n] = canonical(n) or default
        out.append(name)
    return out


def join_issued_to_keypacks(issued: pd.DataFrame, keypacks: pd.DataFrame) -> pd.DataFrame:
    """Issued CALs name their key pack; collectors write packs and issued licenses to separate
    files (MSRD-Collect ``_rdls_LicenseKeyPacks.html`` / ``_rdls_IssuedLicenses.html``), so the
    CAL version and type of an issued license come from its pack across files."""
    if not len(issued) or not len(keypacks):
        return issued
    if not (issued["cal_version"].isna().any() or issued["cal_type"].isna().any()):
        return issued                           # every license names its CAL already
    lookup: dict = {}               # (server, pack) -> (version, type) of its first row naming a pack
    for ls, kp, ver, typ in zip(keypacks["license_server"], keypacks["keypack_id"], keypacks["cal_version"],
                                keypacks["cal_type"]):
        if not pd.isna(kp):
            lookup.setdefault((ls, kp), (ver, typ))
    out = issued.copy(deep=False)
    for col, i in (("cal_version", 0), ("cal_type", 1)):
        filled = [cur if not pd.isna(cur) else lookup.get((ls, kp), (pd.NA, pd.NA))[i]
                  for cur, ls, kp in zip(out[col], out["license_server"], out["keypack_id"])]
        out[col] = string_array([None if v is pd.NA else v for v in filled])
    return out


def collection_time(frames: dict[str, pd.DataFrame], as_of: Optional[datetime],
                    facts: list[dict] = ()) -> tuple[datetime, str]:
    """"Now" for an offline bundle: the newest event record (of any kind, not only the kept
    ones), hive write or export time, never the wall clock unless the bundle has no timestamp
    at all (and then say so)."""
    if as_of is not None:
        return (as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)), "--as-of"
    candidates = []
    for fact in facts:
        if fact.get("name") == COLLECTED_AT and isinstance(fact.get("value"), datetime):
            when = pd.Timestamp(fact["value"])
            when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
            candidates.append((when, "newest event" if fact.get("origin") == "evtx" else "export time"))
    ev = frames["events"]
    if len(ev) and ev["time"].notna().any():
        candidates.append((ev["time"].max(), "newest event"))
    reg = frames["registry"]
    if len(reg) and reg["last_write"].notna().any():
        candidates.append((reg["last_write"].max(), "newest registry write"))
    if candidates:
        when, origin = max(candidates, key=lambda c: c[0])
        return when.to_pydatetime(), origin
    return datetime.now(timezone.utc), "wall clock (the bundle holds no timestamp)"


def analyze(paths: list[str], options: ParseOptions = ParseOptions(), as_of: Optional[datetime] = None,
            jobs: Optional[int] = None, progress: Optional[Callable[[int, int, str], None]] = None) -> Analysis:
    started = time.perf_counter()
    ingested = ingest(paths, options, jobs, progress)
    return reason(ingested, paths, as_of, started)


def reason(ingested: Ingested, paths: list[str], as_of: Optional[datetime] = None,
           started: Optional[float] = None, window_days: Optional[float] = None) -> Analysis:
    """Profiles, rules and verdict. ``window_days``: how far before the collection time an
    event still counts as current (``--window``, default 7; DESIGN.md "Time")."""
    from rdsla.analyzer.hosts import build_profiles
    from rdsla.analyzer import specific_fix
    from rdsla.analyzer.licensing_path import licensing_paths
    from rdsla.analyzer.verdict import conclude, rank
    from rdsla.rules.context import Bundle
    from rdsla.rules.engine import run_rules

    when, origin = collection_time(ingested.frames, as_of, ingested.facts)
    analysis = Analysis(inputs=list(paths), as_of=when, as_of_origin=origin, frames=ingested.frames,
                        event_stats=ingested.event_stats, messages=list(ingested.intake.messages))
    if window_days is not None:
        analysis.window_days = float(window_days)
    analysis.hosts = build_profiles(ingested.frames, ingested.facts, ingested.hosts, when)
    bundle = Bundle(analysis)             # per-analysis event indexes, built once for rules and paths
    analysis.findings = run_rules(analysis, bundle=bundle)
    analysis.root_causes = rank(analysis)
    analysis.licensing_paths = licensing_paths(analysis, bundle)
    specific_fix.apply(analysis)
    analysis.verdict = conclude(analysis)
    return analysis
