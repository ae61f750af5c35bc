"""The verdict (root causes first), the findings list and the ticket text.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

from typing import Optional

from rdsla.core.model import SEVERITIES, Analysis, Finding, severity_rank
from rdsla.reports.view_evidence import EventIndex, evidence_groups
from rdsla.reports.view_format import STATE_LABELS, confidence_word, fmt_time, text


def _finding_for(analysis: Analysis, rule_id: str, host: Optional[str]) -> Optional[Finding]:
    best = None
    for f in analysis.findings:
        if f.rule_id == rule_id and f.state == "detected":
            if f.host == host:
                return f
            best = best or f
    return best


def _finding_order(f: Finding) -> tuple:
    state = {"detected": 0, "not_checked": 1, "not_detected": 2}.get(f.state, 3)
    kind = {"cause": 0, "symptom": 1, "compliance": 2, "info": 3}.get(f.kind, 4)
    sev = -severity_rank(f.severity) if f.severity in SEVERITIES else 0
    return (state, kind, sev, f.rule_id, f.host or "")


def _factors_view(analysis: Analysis, rc) -> list[dict]:
    """What raised and lowered the confidence (analyzer.verdict.confidence_factors), for the badge."""
    from rdsla.analyzer.verdict import confidence_factors
    return [{"effect": text(x["effect"]), "text": text(x["text"]),
             "points": (f"+{x['points']:g}" if x["points"] else "") if x["effect"] == "raised" else ""}
            for x in confidence_factors(analysis, rc)]


def verdict_view(analysis: Analysis) -> dict:
    causes = []
    for rc in analysis.root_causes:
        finding = _finding_for(analysis, rc.rule_id, rc.host)
        causes.append({
            "rule_id": text(rc.rule_id), "host": text(rc.host) or "the bundle", "title": text(rc.title),
            "summary": text(rc.summary) or (text(finding.summary) if finding else ""),
            "confidence": int(round(max(0.0, min(1.0, rc.confidence)) * 100)),
            "confidence_word": confidence_word(rc.confidence),
            "severity": text(finding.severity) if finding else "",
            "remediation": [text(s) for s in (finding.remediation if finding else [])],
            "related_hosts": [text(h) for h in rc.related_hosts],
            "symptoms": [text(s) for s in rc.symptoms],
            "evidence_count": len(finding.evidence) if finding else 0,
            "factors": _factors_view(analysis, rc),
        })
    detected = [f for f in analysis.findings if f.state == "detected"]
    symptoms = [{"rule_id": text(f.rule_id), "host": text(f.host) or "the bundle", "title": text(f.title),
                 "severity": text(f.severity), "summary": text(f.summary), "explains": [text(x) for x in f.explains]}
                for f in sorted(detected, key=_finding_order) if f.kind == "symptom"]
    not_checked = sum(1 for f in analysis.findings if f.state == "not_checked")
    compliance = [{"rule_id": text(f.rule_id), "host": text(f.host) or "the bundle", "title": text(f.title),
                   "severity": text(f.severity), "summary": text(f.summary),
                   "remediation": [text(s) for s in f.remediation], "history": text(f.history)}
                  for f in sorted(detected, key=_finding_order) if f.kind == "compliance"]
    conclusion = analysis.verdict or {}
    return {"top": causes[0] if causes else None, "others": causes[1:], "symptoms": symptoms,
            "not_checked": not_checked, "detected": len(detected), "compliance": compliance,
            "state": text(conclusion.get("state") or ("cause" if causes else "healthy")),
            "state_summary": text(conclusion.get("summary") or ""),
            "collect": [text(c) for c in conclusion.get("collect") or []]}


def ticket_text(analysis: Analysis, verdict: dict, findings: list[dict]) -> str:
    """The plain-text summary to paste into a ticket (rendered escaped, never as markup)."""
    lines = [f"RDS licensing analysis (rdsla), as of {fmt_time(analysis.as_of)} ({analysis.as_of_origin})"]
    top = verdict["top"]
    if top is None:
        lines.append("Root cause: none found." + (" Not enough collected to rule one out; collect next:"
                                                  if verdict.get("state") == "inconclusive" else ""))
        lines.extend(f"  - {c}" for c in verdict.get("collect") or [])
    else:
        lines.append(f"Root cause: {top['rule_id']} {top['title']} on {top['host']} "
                     f"(confidence {top['confidence']}%, {top['confidence_word']})")
        if top["summary"]:
            lines.append(f"Why: {top['summary']}")
        if top["remediation"]:
            lines.append("Fix:")
            lines.extend(f"  {i}. {step}" for i, step in enumerate(top["remediation"], 1))
        top_finding = next((f for f in findings if f["rule_id"] == top["rule_id"] and f["state"] == "detected"), None)
        if top_finding:
            shown = 0
            for group in top_finding["evidence"]:
                for row in group["rows"]:
                    if shown == 5:
                        break
                    if shown == 0:
                        lines.append("Evidence:")
                    lines.append("  - " + evidence_line(group["kind"], row, group.get("columns")))
                    shown += 1
    for other in verdict["others"]:
        lines.append(f"Also: {other['rule_id']} {other['title']} on {other['host']} ({other['confidence']}%)")
    for s in verdict["symptoms"]:
        lines.append(f"Symptom: {s['rule_id']} {s['title']} on {s['host']}")
    for c in verdict.get("compliance") or []:
        lines.append(f"Compliance: {c['rule_id']} {c['title']} on {c['host']} ({c['severity']})")
    return "\n".join(lines)


def evidence_line(kind: str, row: dict, columns: Optional[list] = None) -> str:
    """One evidence row as one line of plain text."""
    if kind == "events":
        if row.get("count", 1) > 1:        # a group of repeated events (reports.view_event_groups)
            server = f", naming {row['server']}" if row.get("server") else ""
            return (f"event {row['event_id']} x{row['count']} {row['channel']}, first {row['first']}, last {row['last']}"
                    f"{server} ({source_cell(row, record=False)}): {row['message']}")
        return f"event {row['event_id']} {row['channel']} {row['time']} ({source_cell(row)}): {row['message']}"
    if kind == "registry":
        won = f", {row['won']}" if row["won"] else ""
        origin = f" [{row['origin']}{won}]" if row["origin"] else ""
        written = f"last write {row['last_write']}, " if row["last_write"] else ""
        return f"{row['key']}\\{row['value']} = {row['data']} ({written}{source_cell(row)}){origin}"
    cells = ", ".join(f"{c}={v}" for c, v in zip(columns or [], row["cells"]) if v != "")
    return f"report row {cells} ({source_cell(row)})"


def source_cell(row: dict, record: bool = True) -> str:
    """``file name #record`` (issue 23 item 6): the evidence row's short source, the full path is in
    the ingest section (a group of repeated events names its file only: its records differ)."""
    name = row.get("source_short") or row.get("source") or "the bundle"
    record = row.get("record_id") if record else None
    return f"{name} #{record}" if record else name


def findings_view(analysis: Analysis, index: EventIndex, evidence_for=None) -> list[dict]:
    """Every finding, detected first; ``evidence_for(finding)`` says which get their evidence
    tables (all by default; the Markdown summary shows only the top cause's)."""
    out = []
    for i, f in enumerate(sorted(analysis.findings, key=_finding_order)):
        out.append({
            "anchor": f"finding-{i}", "rule_id": text(f.rule_id), "state": text(f.state),
            "state_label": STATE_LABELS.get(f.state, text(f.state)), "severity": text(f.severity),
            "kind": text(f.kind), "title": text(f.title), "host": text(f.host) or "the bundle",
            "summary": text(f.summary), "remediation": [text(s) for s in f.remediation],
            "collect": [text(s) for s in f.collect], "related_hosts": [text(h) for h in f.related_hosts],
            "explains": [text(x) for x in f.explains], "history": text(f.history),
            "evidence": evidence_groups(f, analysis, index)
            if (f.state == "detected" or f.evidence) and (evidence_for is None or evidence_for(f)) else [],
        })
    return out
