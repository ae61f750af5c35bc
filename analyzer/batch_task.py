"""The per-bundle work of ``rdsla batch``: :func:`run_task` around :func:`analyze_one`, run
unchanged by the local pool and by Dask; it writes the bundle's outputs and its completion
marker atomically and returns one compact summary row, never frames.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from rdsla.parsers.base import ParseOptions

COLUMNS = ("bundle", "status", "hosts", "os", "licensing_mode", "license_servers", "grace_days_left",
           "top_rule_id", "top_title", "confidence", "findings_error", "findings_warning", "error",
           # for triage (issue 23 item 8): the top cause's host, severity and one-line summary, critical
           # and info findings counted apart (findings_error keeps counting error or critical), the
           # verdict state, and the bundle's report.html relative to the batch's output folder
           "top_host", "top_severity", "top_summary", "findings_critical", "findings_info", "verdict", "report")
SEVERITIES = ("info", "warning", "error", "critical")
MARKER = "batch.json"


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
    redact: bool = False            # --redact: outputs rendered from the redacted analysis




def blank_row(name: str, status: str, error: str = "") -> dict:
    row = {c: None for c in COLUMNS}
    row.update(bundle=name, status=status, error=error, findings_error=0, findings_warning=0, findings_critical=0,
               findings_info=0)
    return row


def atomic_write(path: Path, text: str) -> None:
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
    top_finding = next((f for f in detected if top and f.rule_id == top.rule_id and f.host == top.host), None) \
        or next((f for f in detected if top and f.rule_id == top.rule_id), None)
    verdict = getattr(analysis, "verdict", None) or {}
    row.update(top_host=top.host if top else None, top_summary=top.summary if top else None,
               top_severity=top_finding.severity if top_finding else None,
               findings_critical=sum(f.severity == "critical" for f in detected),
               findings_info=sum(f.severity == "info" for f in detected),
               verdict=verdict.get("state") if isinstance(verdict, dict) else None)
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
                as_of: Optional[datetime] = None, redact: bool = False) -> dict:
    """Analyze one bundle, write its folder in ``out_dir``, return its summary row plus the
    private ``_causes`` (severities of detected causes, for the exit code) and, with ``redact``,
    ``_redaction`` (the bundle's pseudonym map, for --redact-map; never written here)."""
    from rdsla.analyzer.batch_inputs import safe_dir_name
    from rdsla.analyzer.pipeline import analyze
    from rdsla.reports.findings_json import render as render_json

    name = name or bundle_path
    key = key or os.path.realpath(bundle_path)
    analysis = analyze([bundle_path], options or ParseOptions(), as_of=as_of, jobs=0)   # serial: no pool in a pool
    redaction = None
    if redact:
        from rdsla.core.redact import Redactor
        redactor = Redactor().alias(bundle_path, name)       # the input path names the customer too
        analysis = redactor.analysis(analysis)
        redaction = redactor.mapping()
    reason = _unreadable_reason(analysis)
    if reason:
        row = blank_row(name, "failed", reason)
        row["_causes"] = []
        if redact:
            row["_redaction"] = redaction
        return row
    row = summary_row(analysis, name)
    causes = [f.severity for f in analysis.findings if f.state == "detected" and f.kind == "cause"]
    folder = Path(out_dir) / (dir_name or safe_dir_name(name, key))
    folder.mkdir(parents=True, exist_ok=True)
    row["report"] = f"{folder.name}/report.html"
    from rdsla.reports.html import render as render_html
    atomic_write(folder / "report.html", render_html(analysis))
    atomic_write(folder / "findings.json", render_json(analysis))
    atomic_write(folder / MARKER, json.dumps({"schema": "rdsla.batch-bundle/1", "key": key,
                                               "fingerprint": fingerprint, "row": row, "causes": causes},
                                              ensure_ascii=False, indent=1))
    row["_causes"] = causes
    if redact:
        row["_redaction"] = redaction
    return row


def run_task(task: Task) -> dict:
    """The function workers run (pool and Dask): never raises, always a row."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        row = analyze_one(task.path, task.out_dir, task.options, name=task.name, dir_name=task.dir_name,
                          key=task.key, fingerprint=task.fingerprint, as_of=task.as_of, redact=task.redact)
    except MemoryError:
        row = blank_row(task.name, "failed", "out of memory")
    except Exception as exc:  # noqa: BLE001 - one bundle's failure is its row, not the batch's
        row = blank_row(task.name, "failed", f"{type(exc).__name__}: {exc}"[:500])
    row["_seconds"] = time.perf_counter() - started
    row["_cpu"] = time.process_time() - cpu
    return row
