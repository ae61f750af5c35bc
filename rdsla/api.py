"""The Python API: ``rdsla.analyze`` and ``rdsla.read``, for notebooks, scripts and the CLI itself.

::

    import rdsla
    result = rdsla.analyze("customer-upload.zip", as_of="2024-11-05T10:15:00Z")
    result.root_causes[0].rule_id            # 'RDSLIC-007'
    result.frames["events"]                  # pandas DataFrame, columns of core.frames.SCHEMAS
    result.to_html("case-12345/")            # case-12345/report.html

    reading = rdsla.read("customer-upload.zip")   # frames and ledger only, no rules
    reading.frames["registry"]
    reading.analyze(as_of=None)              # the same Result as rdsla.analyze

``rdsla analyze|hosts|inventory|export`` run through these same functions; the CLI keeps only
its argument parsing, terminal output and exit codes. Layer: above the pipeline and the
reports, beside batch, below the CLI (pyproject.toml's import-linter contract).

Importing this module is cheap (pandas and the pipeline load on the first call), so the CLI can
import it at start-up without slowing ``rdsla --version``.

Errors: an option the API does not know is a ``TypeError`` naming it; a bad value, a call in
which not one path could be opened, or an output inside an input folder is an
:class:`ArgumentError` -- a ``ValueError`` for scripts and a ``UsageError`` (exit 2) for the CLI.
Damaged or unreadable artifacts inside a bundle are never errors: they are rows of the
``artifacts`` frame (the ledger).
"""
from __future__ import annotations

import os
from dataclasses import fields
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Union

from rdsla.core.errors import UsageError
from rdsla.core.limits import Limits

if TYPE_CHECKING:                                   # pandas and the pipeline load on first use
    import pandas as pd

    from rdsla.analyzer.pipeline import Ingested
    from rdsla.core.model import Analysis, Finding, HostProfile, RootCause
    from rdsla.parsers.base import ParseOptions

__all__ = ["analyze", "read", "Result", "Reading", "ArgumentError", "Limits", "FRAMES",
           "check_output", "output_path", "parse_time"]

PathArg = Union[str, "os.PathLike[str]"]
Progress = Callable[[int, int, str], None]

FRAMES = ("events", "registry", "keypacks", "issued", "artifacts")
EVTX_BACKENDS = ("rust", "python")

# The CLI's common options with Python names (README "Usage"); anything else is a TypeError.
OPTIONS = {
    "all_events": False,          # --all-events: keep every event, not only those the rules use
    "evtx_backend": "rust",       # --evtx-backend rust|python
    "full_registry": False,       # --full-registry: walk whole hives instead of the known keys
    "jobs": None,                 # --jobs N: parser processes (None: one per core; 0: in this process)
    "limits": None,               # --max-file-size ... : a Limits, or a mapping of Limits field names
    "progress": None,             # callable(done, total, artifact name), called as artifacts finish
    "skim": True,                 # False: decode every record of every log, also of those whose channel
                                  # holds no declared event (counted from record headers otherwise)
}


class ArgumentError(UsageError, ValueError):
    """A call with a wrong argument: a bad option value, not one path that could be opened
    (``messages`` says why for each), or an output inside an input folder."""

    def __init__(self, message: str, messages: Iterable[str] = ()):
        super().__init__(message)
        self.messages = list(messages)


# ------------------------------------------------------------------ entry points

def analyze(paths: Union[PathArg, Iterable[PathArg]], as_of: Union[datetime, str, None] = None,
            window: Optional[float] = None, **options: Any) -> "Result":
    """Read the bundle(s) at ``paths`` and run the whole analysis: host profiles, rules, verdict.

    ``paths``: one folder, zip or file, or a list of them (one call may hold several machines).
    ``as_of``: "now" for grace-period and expiry math (datetime or ISO text, naive = UTC); by
    default the collection time (newest event, registry write or export time).
    ``window``: days before the collection time in which an event is current evidence (default
    7); older events are history.
    ``options``: ``all_events``, ``evtx_backend``, ``full_registry``, ``jobs``, ``limits``,
    ``progress`` (see :data:`OPTIONS`)."""
    when = parse_time(as_of) if as_of is not None else None   # a bad time fails before any parsing
    window = check_window(window)
    return read(paths, **options).analyze(when, window=window)


def read(paths: Union[PathArg, Iterable[PathArg]], **options: Any) -> "Reading":
    """Read the bundle(s) into frames and the artifact ledger, without host profiles or rules.

    Same ``paths`` and ``options`` as :func:`analyze`; ``.analyze(as_of)`` on the result runs
    the rules on what was read, without reading it again."""
    from rdsla.analyzer.pipeline import ingest

    inputs = _paths(paths)
    parse_options, jobs, progress = _parse_options(options)
    ingested = ingest(inputs, parse_options, jobs, progress)
    if ingested.intake.inputs_opened == 0:
        reasons = list(ingested.intake.messages)
        raise ArgumentError("not one PATH could be opened" + (f" ({'; '.join(reasons)})" if reasons else ""),
                            reasons)
    return Reading(inputs, ingested)


# ------------------------------------------------------------------ results

class Reading:
    """What :func:`read` returns: the frames of a bundle, before any reasoning.

    ``frames``: dict of pandas DataFrames ``events``, ``registry``, ``keypacks``, ``issued``,
    ``artifacts`` (columns: ``rdsla.core.frames.SCHEMAS``); ``artifacts`` (the ledger: every
    file seen, its kind, host, status, records read and lost, warnings); ``host_aliases``
    (machine name -> other spellings seen); ``messages`` (inputs that could not be opened);
    ``inputs``; ``analyze(as_of=None)``."""

    def __init__(self, inputs: list[str], ingested: "Ingested"):
        self.inputs = list(inputs)
        self._ingested = ingested

    @property
    def frames(self) -> dict[str, "pd.DataFrame"]:
        return self._ingested.frames

    @property
    def artifacts(self) -> "pd.DataFrame":
        return self._ingested.frames["artifacts"]

    @property
    def host_aliases(self) -> dict[str, list[str]]:
        return {name: sorted(aliases) for name, aliases in sorted(self._ingested.hosts.items())}

    @property
    def messages(self) -> list[str]:
        return list(self._ingested.intake.messages)

    @property
    def input_dirs(self) -> list[str]:
        """The input folders (resolved): rdsla never writes inside them."""
        return list(self._ingested.intake.input_dirs)

    def check_output(self, path: Optional[PathArg]) -> None:
        """Raise :class:`ArgumentError` when ``path`` is inside (or is) an input folder."""
        check_output(path, self.input_dirs)

    def analyze(self, as_of: Union[datetime, str, None] = None, window: Optional[float] = None) -> "Result":
        """Host profiles, rules and verdict on the frames read (see :func:`analyze`)."""
        from rdsla.analyzer.pipeline import reason

        when = parse_time(as_of) if as_of is not None else None
        return Result(reason(self._ingested, self.inputs, when, window_days=check_window(window)), self.input_dirs)

    def __repr__(self) -> str:
        return (f"<rdsla.Reading {_count(len(self._ingested.hosts), 'host')}, {_count(len(self.artifacts), 'artifact')}, "
                f"{_count(len(self.frames['events']), 'event')}, {_count(len(self.frames['registry']), 'registry value')}>")


class Result:
    """What :func:`analyze` returns: one analysis of one upload.

    ``frames`` (as :class:`Reading`), ``hosts`` (one ``HostProfile`` per machine, every value
    with its origin and evidence), ``findings`` (every rule's outcome: ``state`` detected /
    not_detected / not_checked), ``root_causes`` (ranked, most likely first; empty when none
    was found), ``as_of`` and ``as_of_origin``, ``messages``; ``to_html``, ``to_json``,
    ``to_markdown`` write what ``rdsla analyze -o / --json / --md`` write. ``analysis`` is the
    underlying ``rdsla.core.model.Analysis``."""

    def __init__(self, analysis: "Analysis", input_dirs: Iterable[str] = ()):
        self.analysis = analysis
        self.input_dirs = list(input_dirs)

    frames = property(lambda self: self.analysis.frames, doc="dict of DataFrames: events, registry, keypacks, issued, artifacts")
    hosts = property(lambda self: self.analysis.hosts, doc="list of HostProfile, one per machine")
    findings = property(lambda self: self.analysis.findings, doc="list of Finding, every rule's outcome")
    root_causes = property(lambda self: self.analysis.root_causes, doc="list of RootCause, most likely first")
    as_of = property(lambda self: self.analysis.as_of, doc="'now' of the analysis (tz-aware UTC)")
    as_of_origin = property(lambda self: self.analysis.as_of_origin, doc="where as_of came from")
    messages = property(lambda self: self.analysis.messages, doc="run-level messages (inputs not opened ...)")
    inputs = property(lambda self: self.analysis.inputs, doc="the paths analyzed")

    @property
    def artifacts(self) -> "pd.DataFrame":
        return self.analysis.frames["artifacts"]

    @property
    def detected(self) -> list["Finding"]:
        """The findings whose rule detected something (causes, symptoms, compliance, info)."""
        return [f for f in self.analysis.findings if f.state == "detected"]

    def host(self, name: str) -> Optional["HostProfile"]:
        return self.analysis.host(name)

    def check_output(self, path: Optional[PathArg]) -> None:
        """Raise :class:`ArgumentError` when ``path`` is inside (or is) an input folder."""
        check_output(path, self.input_dirs)

    def to_html(self, path: Optional[PathArg] = None) -> Union[Path, str]:
        """The self-contained HTML report. With ``path`` (a file, or a folder: an existing one or
        one written with a trailing ``/``, then ``report.html`` in it) write it and return the
        file's path; without, return the text."""
        from rdsla.reports.html import render
        return self._emit(path, "report.html", render)

    def to_json(self, path: Optional[PathArg] = None) -> Union[Path, str]:
        """findings.json (schema ``rdsla.findings/2``); a folder gets ``findings.json``."""
        from rdsla.reports.findings_json import render
        return self._emit(path, "findings.json", render)

    def to_markdown(self, path: Optional[PathArg] = None) -> Union[Path, str]:
        """The Markdown summary for a ticket; a folder gets ``summary.md``."""
        from rdsla.reports.markdown import render
        return self._emit(path, "summary.md", render)

    def _emit(self, path: Optional[PathArg], default_name: str, render: Callable[["Analysis"], str]) -> Union[Path, str]:
        if path is None:
            return render(self.analysis)
        target = output_path(path, default_name)
        self.check_output(target)
        text = render(self.analysis)
        write_text(target, text)
        return Path(target)

    def __repr__(self) -> str:
        a = self.analysis
        if a.root_causes:
            top = a.root_causes[0]
            cause = f"top cause {top.rule_id} on {top.host or 'the bundle'} ({top.confidence:.0%})"
        else:
            cause = "no root cause"
        return (f"<rdsla.Result {_count(len(a.hosts), 'host')}, {_count(len(self.artifacts), 'artifact')}, "
                f"{cause}; as of {a.as_of:%Y-%m-%d %H:%M} UTC>")


# ------------------------------------------------------------------ shared with the CLI

def check_output(path: Optional[PathArg], input_dirs: Iterable[str]) -> None:
    """rdsla never writes into its input: refuse an output that is, or is inside, an input
    folder (``input_dirs`` resolved, as ``Intake.input_dirs``). Writing next to an input zip or
    file is fine."""
    if not path:
        return
    target = Path(path).resolve()
    for d in input_dirs:
        if target == Path(d) or Path(d) in target.parents:
            raise ArgumentError(f"{os.fspath(path)}: refusing to write inside the input folder {d} "
                                "(rdsla never writes into its input)")


def output_path(path: Optional[PathArg], default_name: str) -> Optional[str]:
    """An existing folder given as an output file, or a path ending in a separator
    (``case-12345/``, made when missing), means ``default_name`` in it."""
    if path is None or path == "":
        return None
    path = os.fsdecode(os.fspath(path))
    if path.endswith(("/", os.sep)) or Path(path).is_dir():
        return str(Path(path) / default_name)
    return path


def write_text(path: PathArg, text: str) -> None:
    """Write UTF-8 text, creating missing parent folders (OSError as it comes)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def parse_time(value: Union[datetime, date, str]) -> datetime:
    """``as_of`` as a tz-aware UTC-comparable datetime: a datetime (pandas Timestamps too), a
    date (its midnight) or ISO text (``2024-11-05T10:15:00Z``); naive values are UTC."""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ArgumentError(f"not an ISO time: {value!r} (e.g. 2024-05-01T12:00:00Z)") from None
    elif isinstance(value, datetime):
        when = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    elif isinstance(value, date):
        when = datetime.combine(value, time())
    else:
        raise TypeError(f"as_of: expected a datetime or ISO text, not {type(value).__name__}")
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# ------------------------------------------------------------------ option handling

def _paths(paths: Union[PathArg, Iterable[PathArg]]) -> list[str]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    try:
        items = list(paths)
    except TypeError:
        raise TypeError(f"paths: expected a path or a list of paths, not {type(paths).__name__}") from None
    out = []
    for p in items:
        if not isinstance(p, (str, bytes, os.PathLike)):
            raise TypeError(f"paths: expected a path, not {type(p).__name__}: {p!r}")
        out.append(os.fsdecode(os.fspath(p)))
    if not out:
        raise ArgumentError("no path given")
    return out


def _parse_options(options: Mapping[str, Any]) -> tuple["ParseOptions", Optional[int], Optional[Progress]]:
    from rdsla.parsers.base import ParseOptions

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                        f"(known: {', '.join(OPTIONS)}, and as_of for analyze)")
    o = {**OPTIONS, **options}
    if o["evtx_backend"] not in EVTX_BACKENDS:
        raise ArgumentError(f"evtx_backend: {o['evtx_backend']!r} is not one of {', '.join(EVTX_BACKENDS)}")
    jobs = o["jobs"]
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0):
        raise ArgumentError(f"jobs: {jobs!r} is not a number of processes (None: one per core, 0: in this process)")
    if o["progress"] is not None and not callable(o["progress"]):
        raise TypeError("progress: expected a callable(done, total, name)")
    return (ParseOptions(all_events=bool(o["all_events"]), evtx_backend=o["evtx_backend"],
                         full_registry=bool(o["full_registry"]), limits=_limits(o["limits"]),
                         skim=bool(o["skim"])),
            jobs, o["progress"])


def _limits(value: Union[Limits, Mapping[str, int], None]) -> Limits:
    if value is None:
        return Limits()
    if isinstance(value, Limits):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"limits: expected a rdsla.api.Limits or a mapping of its fields, not {type(value).__name__}")
    names = [f.name for f in fields(Limits)]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise TypeError(f"limits: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                        f"(known: {', '.join(names)})")
    for name, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ArgumentError(f"limits: {name}={v!r} is not a non-negative integer")
    return Limits(**value)


def check_window(value: Optional[float]) -> Optional[float]:
    """``window`` (days before the collection time that count as current): a positive number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ArgumentError(f"window: {value!r} is not a positive number of days")
    return float(value)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
