"""The Markdown summary to paste into a ticket: ``render(analysis) -> str``.

Built from the same view model as the HTML report. Every string from the bundle goes through
:func:`md` (one line; Markdown punctuation backslash-escaped; ``<``, ``>``, ``&`` as entities),
so a hostile event field can neither format the ticket nor inject HTML.
"""
from __future__ import annotations

import re

from rdsla.core.model import Analysis
from rdsla.reports.view_evidence import EventIndex
from rdsla.reports.view_findings import findings_view, verdict_view
from rdsla.reports.view_format import fmt_time, text
from rdsla.reports.view_hosts import host_view
from rdsla.reports.view_ingest import artifacts_view

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^(\d*)([#+=.)-])")
_SPACE = re.compile(r"\s+")
EVIDENCE_LINES = 8


def md(value) -> str:
    """Bundle text as inert inline Markdown (single line)."""
    s = _SPACE.sub(" ", text(value)).strip()
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def md_block(value) -> str:
    """Like :func:`md`, for text that starts a line (no heading, quote or list marker)."""
    s = md(value)
    return _LINE_START.sub(r"\1\\\2", s, count=1)


def code(value) -> str:
    """Inline code span for identifiers (rule ids, event ids) that cannot contain backticks."""
    s = _SPACE.sub(" ", text(value)).strip()
    return f"`{s}`" if s and "`" not in s and "<" not in s else md(s)


def render(analysis: Analysis) -> str:
    verdict = verdict_view(analysis)
    index = EventIndex(analysis.frames["events"], [e for f in analysis.findings for e in f.evidence])
    findings = findings_view(analysis, index)
    out: list[str] = []
    top = verdict["top"]
    if top is None and verdict.get("state") == "inconclusive":
        out.append("## RDS licensing: no root cause found; not enough collected")
        out.append("")
        out.append(md_block(verdict["state_summary"]) + " rdsla does not guess: collect these and analyze again.")
        out += ["", "**Collect next**", ""]
        out += [f"- {md(c)}" for c in verdict["collect"]]
    elif top is None:
        out.append("## RDS licensing: no root cause found")
        out.append("")
        out.append(f"No rule found a licensing cause ({verdict['detected']} finding(s) detected, "
                   f"{verdict['not_checked']} not checked).")
    else:
        out.append(f"## RDS licensing root cause: {md(top['title'])}")
        out.append("")
        out.append(f"**{code(top['rule_id'])} on {md(top['host'])}**, confidence {top['confidence']}% "
                   f"({top['confidence_word']})" + (f", severity {md(top['severity'])}" if top["severity"] else ""))
        if top["related_hosts"]:
            out.append(f"Related hosts: {', '.join(md(h) for h in top['related_hosts'])}")
        if top["summary"]:
            out += ["", md_block(top["summary"])]
        top_finding = next((f for f in findings if f["rule_id"] == top["rule_id"] and f["state"] == "detected"
                            and f["host"] == top["host"]), None)
        if top_finding and top_finding.get("history"):
            out += ["", f"History: {md(top_finding['history'])}"]
        if top["remediation"]:
            out += ["", "**Fix**", ""]
            out += [f"{i}. {md(step)}" for i, step in enumerate(top["remediation"], 1)]
        finding = next((f for f in findings if f["rule_id"] == top["rule_id"] and f["state"] == "detected"
                        and f["host"] == top["host"]), None) or \
            next((f for f in findings if f["rule_id"] == top["rule_id"] and f["state"] == "detected"), None)
        lines = []
        for group in (finding["evidence"] if finding else []):
            for row in group["rows"]:
                lines.append("- " + _evidence(group, row))
        if lines:
            out += ["", "**Evidence**", ""]
            out += lines[:EVIDENCE_LINES]
            if len(lines) > EVIDENCE_LINES:
                out.append(f"- … and {len(lines) - EVIDENCE_LINES} more (see the HTML report)")
    if verdict["others"]:
        out += ["", "**Other causes**", ""]
        out += [f"- {code(c['rule_id'])} {md(c['title'])} on {md(c['host'])} ({c['confidence']}%)" for c in verdict["others"]]
    if verdict.get("compliance"):
        out += ["", "**Compliance** (licensing terms; connections are not refused for these)", ""]
        out += [f"- {code(c['rule_id'])} {md(c['title'])} on {md(c['host'])} ({md(c['severity'])}): {md(c['summary'])}"
                for c in verdict["compliance"]]
    if verdict["symptoms"]:
        out += ["", "**Symptoms**", ""]
        out += [f"- {code(s['rule_id'])} {md(s['title'])} on {md(s['host'])}" for s in verdict["symptoms"]]
    if analysis.hosts:
        out += ["", "**Hosts**", "", "| Host | Roles | OS | Mode | License servers | Grace days left |",
                "| --- | --- | --- | --- | --- | --- |"]
        for h in analysis.hosts:
            hv = host_view(h, analysis.as_of)
            mode = f"{hv['mode']['value']} ({hv['mode']['origin']})" if hv["mode"] else "unknown"
            ls = f"{hv['license_servers']['value']} ({hv['license_servers']['origin']})" if hv["license_servers"] else "none"
            os_v = hv["os_version"]["value"] if hv["os_version"] else "unknown"
            days = "unknown" if hv["grace_days_left"] is None else str(hv["grace_days_left"])
            out.append(f"| {md(hv['name'])} | {md(', '.join(hv['roles']) or 'unknown')} | {md(os_v)} | {md(mode)} "
                       f"| {md(ls)} | {days} |")
    collect = [f for f in findings if f["state"] == "not_checked" and f["collect"]]
    if collect:
        out += ["", "**Not checked: collect next**", ""]
        for f in collect:
            out.append(f"- {code(f['rule_id'])} {md(f['title'])}: " + "; ".join(md(c) for c in f["collect"]))
    art = artifacts_view(analysis.frames["artifacts"])
    bad = [a for a in art if a["status"] not in ("ok", "") or a["records_lost"]]
    out += ["", f"_{len(art)} file(s) read, {len(bad)} with problems; as of {fmt_time(analysis.as_of)} "
                f"({md(analysis.as_of_origin)}); rdsla offline analysis._"]
    return "\n".join(out) + "\n"


def _evidence(group: dict, row: dict) -> str:
    if group["kind"] == "events":
        if row.get("count", 1) > 1:        # a group of repeated events (reports.view_event_groups)
            server = f", naming {md(row['server'])}" if row.get("server") else ""
            return (f"event {code(row['event_id'])} x{row['count']} {md(row['channel'])}, first {md(row['first'])}, "
                    f"last {md(row['last'])}{server}, in {md(row['source'])}: {md(row['message'])}")
        return (f"event {code(row['event_id'])} {md(row['channel'])} at {md(row['time'])}, record "
                f"{md(row['record_id'])} in {md(row['source'])}: {md(row['message'])}")
    if group["kind"] == "registry":
        extra = f" — {md(row['origin'])}" + (f", {md(row['won'])}" if row["won"] else "") if row["origin"] else ""
        return (f"registry {md(row['key'])} value {md(row['value'])} = {md(row['data'])} "
                f"(last write {md(row['last_write'])}, {md(row['source'])}){extra}")
    cells = ", ".join(f"{md(c)}={md(v)}" for c, v in zip(group["columns"], row["cells"]))
    return f"report row {cells} ({md(row['source'])})"
