"""Analysis -> plain view-model dicts (strings, numbers, lists) for the report templates.

Every value the templates print is prepared here, so the templates stay dumb and jinja2's
autoescape handles every string from the bundle. Dates are computed at ``analysis.as_of``,
never the wall clock.
"""
from __future__ import annotations

from rdsla.core.model import Analysis
from rdsla.reports import view_shared
from rdsla.reports.view_format import EVENT_ROW_CAP, fmt_time, text
from rdsla.reports.view_findings import findings_view, ticket_text
from rdsla.reports.view_hosts import host_view
from rdsla.reports.view_calpool import compat_document, keypack_rows, matrices_view
from rdsla.reports.view_asks import asks_and_skipped, asks_text
from rdsla.reports.view_events import cited_events, events_view
from rdsla.reports.view_paths import chain_line, chain_view, paths_lines, paths_view, report_verdict


def build(analysis: Analysis, event_cap: int = EVENT_ROW_CAP) -> dict:
    """The full view model of one analysis."""
    from rdsla.reports import timeline_svg

    index = view_shared.event_index(analysis)       # also the Markdown summary's
    verdict = report_verdict(analysis)
    findings = findings_view(analysis, index)
    doc = compat_document()
    artifacts = view_shared.artifacts(analysis)       # also the Markdown summary's
    asks, not_asked = asks_and_skipped(analysis)
    counts = {}
    for f in findings:
        counts[f["state"]] = counts.get(f["state"], 0) + 1
    return {
        "as_of": fmt_time(analysis.as_of), "as_of_origin": text(analysis.as_of_origin),
        "inputs": [text(p) for p in analysis.inputs], "messages": [text(m) for m in analysis.messages],
        "verdict": verdict, "ticket": _with_paths(ticket_text(analysis, verdict, findings), analysis),
        "paths": paths_view(analysis), "chain": chain_view(analysis),
        "findings": findings, "finding_counts": counts,
        "hosts": [host_view(h, analysis.as_of) for h in analysis.hosts],
        "keypacks": keypack_rows(analysis.frames["keypacks"], analysis.frames["issued"],
                                 view_shared.pool_groups(analysis)),
        "issued_total": len(analysis.frames["issued"]),
        "compat_available": doc is not None, "matrices": matrices_view(analysis, doc),
        "timeline": timeline_svg.layout(analysis),
        "artifacts": artifacts,
        "records_lost": sum(a["records_lost"] for a in artifacts),
        "not_checked": [f for f in findings if f["state"] == "not_checked"],
        "asks": asks, "asks_text": asks_text(asks), "not_asked": not_asked,
        "events": events_view(analysis.frames["events"], cited_events(analysis, index), event_cap, index.groups()),
    }


def _with_paths(ticket: str, analysis: Analysis) -> str:
    """The ticket text with the licensing path per session host after its first lines."""
    lines = paths_lines(analysis)
    if not lines:
        return ticket
    rows = ticket.split("\n")
    at = next((i for i, r in enumerate(rows) if i and r.startswith(("Evidence:", "Also:", "Symptom:", "Compliance:",
                                                                     "Ask"))), len(rows))
    verdict = analysis.verdict or {}
    state = {"healthy": [f"Verdict: {verdict.get('summary', '')}"],
             "inconclusive": [f"Verdict: inconclusive. {verdict.get('summary', '')}"]}.get(verdict.get("state"), [])
    chain = chain_line(analysis)
    return "\n".join([*rows[:at], *state, *([f"Chain: {chain}"] if chain else []), "Licensing path per session host:",
                      *(f"  {x}" for x in lines), *rows[at:]])
