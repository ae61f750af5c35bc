"""The Markdown summary to paste into a ticket: ``render(analysis) -> str``.

Built from the same view model as the HTML report. Every string from the bundle goes through
:func:`md` (one line; Markdown punctuation, ``<``, ``>`` and ``&`` backslash-escaped), so a hostile
event field can neither format the ticket nor inject HTML, and the plain text shows no entity
escapes (``&lt;``): CommonMark shows a backslash-escaped ``<`` as ``<`` and never starts a tag or
entity with it.
"""
from __future__ import annotations

import re

from rdsla.core.model import Analysis
from rdsla.reports import view_shared
from rdsla.reports.view_findings import findings_view
from rdsla.reports.view_format import fmt_time, text
from rdsla.reports.view_hosts import host_view
from rdsla.reports.view_paths import chain_view, paths_view, report_verdict
from rdsla.reports.view_asks import asks_and_skipped

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~<>&])")
_LINE_START = re.compile(r"^(\d*)([#+=.)-])")
_SPACE = re.compile(r"\s+")
EVIDENCE_LINES = 8


def md(value) -> str:
    """Bundle text as inert inline Markdown (single line)."""
    s = _SPACE.sub(" ", text(value)).strip()
    return _MD_SPECIAL.sub(r"\\\1", s)


def md_block(value) -> str:
    """Like :func:`md`, for text that starts a line (no heading, quote or list marker)."""
    s = md(value)
    return _LINE_START.sub(r"\1\\\2", s, count=1)


def code(value) -> str:
    """Inline code span for identifiers (rule ids, event ids) that cannot contain backticks."""
    s = _SPACE.sub(" ", text(value)).strip()
    return f"`{s}`" if s and "`" not in s and "<" not in s else md(s)


def _paths(analysis: Analysis) -> list[str]:
    """The cause chain and the licensing path per session host (issue 23 items 2 and 4)."""
    out: list[str] = []
    chain = chain_view(analysis)
    if len(chain) > 1:
        out += ["", "**Chain** (one cause leading to the next, not competing causes)", ""]
        out += [f"{i}. {code(c['rule_id'])} {md(c['title'])} on {md(c['host'])}" + (" (symptom)" if c["kind"] == "symptom" else "")
                for i, c in enumerate(chain, 1)]
    rows = paths_view(analysis)
    if rows:
        out += ["", "**Licensing path per session host**", "",
                "| Session host | License server | From | " + " | ".join(c["label"] for c in rows[0]["cells"]) + " | Path |",
                "| --- | --- | --- | " + " | ".join("---" for _ in rows[0]["cells"]) + " | --- |"]
        for r in rows:
            cells = " | ".join(c["symbol"] + (f" {md(r['cals'])}" if c["step"] == "cals_ok" and r["cals"] else "")
                               for c in r["cells"])
            out.append(f"| {md(r['host'])} | {md(r['license_server'])} | {md(r['source'])}, {md(r['mode'])} | {cells} "
                       f"| {r['ok_symbol']} |")
        notes = [f"{md(r['host'])} {c['label'].lower()} {c['symbol']}: {md(c['note'])}"
                 for r in rows for c in r["cells"] if c["value"] != "yes" and c["note"]]
        if notes:
            out += [""] + [f"- {n}" for n in notes]
    return out


def render(analysis: Analysis) -> str:
    verdict = report_verdict(analysis)
    top = verdict["top"]
    top_rule = top["rule_id"] if top else None
    # the evidence tables of the top cause's findings only: the summary shows no other
    findings = findings_view(analysis, view_shared.event_index(analysis),
                             evidence_for=lambda f: f.state == "detected" and text(f.rule_id) == top_rule)
    out: list[str] = []
    if top is None and verdict.get("state") == "inconclusive":
        out.append("## RDS licensing: no root cause found; not enough collected")
        out.append("")
        out.append(md_block(verdict["state_summary"]) + " rdsla does not guess: collect what is asked below and "
                                                        "analyze again.")
    elif top is None:
        out.append("## RDS licensing: no root cause found")
        out.append("")
        out.append(md_block(verdict["state_summary"]))
        out.append("")
        out.append(f"No rule found a licensing cause ({verdict['detected']} finding(s) detected, "
                   f"{verdict['not_checked']} not checked).")
    else:
        out.append(f"## RDS licensing root cause: {md(top['title'])}")
        out.append("")
        out.append(f"**{code(top['rule_id'])} on {md(top['host'])}**, confidence {top['confidence']}% "
                   f"({top['confidence_word']})" + (f", severity {md(top['severity'])}" if top["severity"] else ""))
        raised = [f"{md(x['text'])} ({x['points']})" for x in top.get("factors") or [] if x["effect"] == "raised"]
        lowered = [md(x["text"]) for x in top.get("factors") or [] if x["effect"] == "lowered"]
        if raised or lowered:
            out.append("Confidence raised by: " + ("; ".join(raised) or "nothing") +
                       (". Lowered by: " + "; ".join(lowered) if lowered else "") + ".")
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
    out += _paths(analysis)
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
            mode = f"{hv['mode']['value']} ({hv['mode']['origin']})" if hv["mode"] else hv["mode_absent"]
            ls = f"{hv['license_servers']['value']} ({hv['license_servers']['origin']})" if hv["license_servers"] \
                else hv["ls_absent"]
            os_v = hv["os_version"]["value"] if hv["os_version"] else "unknown"
            days = str(hv["grace_days_left"]) if hv["grace_days_left"] is not None else hv["grace_absent"]
            out.append(f"| {md(hv['name'])} | {md(', '.join(hv['roles']) or 'unknown')} | {md(os_v)} | {md(mode)} "
                       f"| {md(ls)} | {days} |")
        out.append("")
        out.append("_none: collected and not set; unknown: not collected or not stated; —: does not apply (not a "
                   "session host)._")
    asks, skipped = asks_and_skipped(analysis)
    if asks:
        out += ["", "**Ask the customer for**", ""]
        for g in asks:
            out.append(f"- on {md(g['host'])}:")
            for i in g["items"]:
                why = " (needed to conclude)" if i["needed"] else \
                    f" (for more checks: {', '.join(code(r) for r in i['rules'])})" if i["rules"] else ""
                out.append(f"  - {md(i['label'])}{why}" + (f": {code(i['command'])}" if i["command"] else "")
                           + (f" ({md(i['note'])})" if i.get("note") else ""))
    if skipped:
        out += ["", "Not asked from: " + "; ".join(f"{md(x['host'])} ({md(x['reason'])})" for x in skipped) + "."]
    art = view_shared.artifacts(analysis)
    bad = [a for a in art if a["status"] not in ("ok", "") or a["records_lost"]]
    out += ["", f"_{len(art)} file(s) read, {len(bad)} with problems; as of {fmt_time(analysis.as_of)} "
                f"({md(analysis.as_of_origin)}); rdsla offline analysis._"]
    return "\n".join(out) + "\n"


def _source(row: dict, record: bool = True) -> str:
    """``file name #record``; the full path is in the HTML report's ingest section."""
    name = md(row.get("source_short") or row.get("source") or "the bundle")
    return f"{name} #{md(row['record_id'])}" if record and row.get("record_id") else name


def _evidence(group: dict, row: dict) -> str:
    if group["kind"] == "events":
        if row.get("count", 1) > 1:        # a group of repeated events (reports.view_event_groups)
            server = f", naming {md(row['server'])}" if row.get("server") else ""
            return (f"event {code(row['event_id'])} x{row['count']} {md(row['channel'])}, first {md(row['first'])}, "
                    f"last {md(row['last'])}{server}, in {_source(row, record=False)}: {md(row['message'])}")
        return (f"event {code(row['event_id'])} {md(row['channel'])} at {md(row['time'])}, in {_source(row)}: "
                f"{md(row['message'])}")
    if group["kind"] == "registry":
        extra = f" — {md(row['origin'])}" + (f", {md(row['won'])}" if row["won"] else "") if row["origin"] else ""
        written = f"last write {md(row['last_write'])}, " if row["last_write"] else ""
        data = md(row["data"]) if row["data"] != "" else "(empty)"
        return f"registry {md(row['key'])} value {md(row['value'])} = {data} ({written}{_source(row)}){extra}"
    cells = ", ".join(f"{md(c)}={md(v)}" for c, v in zip(group["columns"], row["cells"]) if v != "")
    return f"report row {cells} ({_source(row)})"

