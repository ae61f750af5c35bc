"""The licensing path of each session host as the report shows it: a table (✓ / ✗ / ? per step,
the evidence in a tooltip and an expandable row), lines for the ticket, the Markdown summary and
the terminal, and the verdict's cause chain. The paths are computed once by
``analyzer.licensing_path`` (issue 23 item 2); this module only formats them."""
from __future__ import annotations

from rdsla.analyzer.licensing_path import MODE_LABELS, SOURCE_LABELS
from rdsla.core.model import Analysis
from rdsla.reports.view_evidence import short_source
from rdsla.reports.view_format import text

STEPS = (("configured", "Configured"), ("reachable", "Reachable"), ("ls_running", "Running"),
         ("ls_activated", "Activated"), ("cals_ok", "CALs"))
SYMBOL = {True: "✓", False: "✗", None: "?"}
WORD = {True: "yes", False: "no", None: "unknown"}


def _evidence_line(e) -> str:
    d = e.detail or {}
    if e.frame == "events":
        what = f"event {d.get('event_id', '')} {d.get('time', '')}"
    elif e.frame == "registry":
        what = f"{d.get('key', '')}\\{d.get('value', '')} = {d.get('data', '')}"
    else:
        what = ", ".join(f"{k}={v}" for k, v in list(d.items())[:4] if v not in (None, ""))
    source = short_source(e.source or "")
    return " ".join(x for x in (what, f"({source})" if source else "", e.note) if x)


def paths_view(analysis: Analysis) -> list[dict]:
    """One row per session host: cells with symbol, word, note and evidence lines."""
    rows = []
    for p in analysis.licensing_paths:
        cells = []
        for name, label in STEPS:
            step = getattr(p, name)
            value = step.value
            cells.append({"step": name, "label": label, "value": WORD[value], "symbol": SYMBOL[value],
                          "note": text(step.note), "evidence": [text(_evidence_line(e)) for e in step.evidence[:5]]})
        rows.append({"host": text(p.host), "license_server": text(p.license_server) or ("none" if p.source == "none" else "unknown"),
                     "source": SOURCE_LABELS.get(p.source, text(p.source)) if p.source else "unknown", "mode": MODE_LABELS.get(p.mode or "", text(p.mode)) or "mode unknown",
                     "cells": cells, "ok": WORD[p.ok], "ok_symbol": SYMBOL[p.ok],
                     "cals": f"{p.free} of {p.total} free" if p.free is not None and p.total is not None else ""})
    return rows


ASCII = {"yes": "yes", "no": "NO", "unknown": "?"}
VERDICT = {"yes": "ok", "no": "fails", "unknown": "unknown"}


def paths_lines(analysis: Analysis, ascii_only: bool = False) -> list[str]:
    """Plain text, one line per session host: 'RDSH01 -> LS01 (Group Policy, Per User):
    configured ✓, reachable ✓, running ✓, activated ✓, cals ✓ (38 of 50 free): path ok'.
    ``ascii_only`` (the terminal, whose code page may lack ✓): yes / NO / ?."""
    out = []
    for row in paths_view(analysis):
        steps = ", ".join(f"{c['label'].lower()} {ASCII[c['value']] if ascii_only else c['symbol']}"
                          for c in row["cells"])
        cals = f" ({row['cals']})" if row["cals"] else ""
        out.append(f"{row['host']} -> {row['license_server']} ({row['source']}, {row['mode']}): {steps}{cals}: "
                   f"path {VERDICT[row['ok']]}")
    return out


def chain_view(analysis: Analysis) -> list[dict]:
    """The top cause and what it explains (``verdict.chain``), as links for the templates."""
    chain = (analysis.verdict or {}).get("chain") or []
    return [{"rule_id": text(c.get("rule_id")), "host": text(c.get("host")) or "the bundle",
             "title": text(c.get("title")), "kind": text(c.get("kind"))} for c in chain]


def chain_line(analysis: Analysis) -> str:
    """'RDSLIC-003 on RDSH01 -> RDSLIC-004 on RDSH01 -> symptoms RDSLIC-101, RDSLIC-103'."""
    links = chain_view(analysis)
    causes = [f"{c['rule_id']} {c['title']} on {c['host']}" for c in links if c["kind"] == "cause"]
    symptoms = [f"{c['rule_id']} on {c['host']}" for c in links if c["kind"] == "symptom"]
    if len(causes) < 2 and not symptoms:
        return ""
    return " -> ".join(causes + ([f"symptoms {', '.join(symptoms)}"] if symptoms else []))


def chained(analysis: Analysis) -> set[tuple[str, str]]:
    """(rule id, host) of the causes in the chain after the top one: shown in the chain, not as
    competing causes."""
    return {(c["rule_id"], c["host"]) for c in chain_view(analysis)[1:] if c["kind"] == "cause"}


def report_verdict(analysis: Analysis) -> dict:
    """The verdict as the HTML report and the Markdown summary show it (``view_findings.verdict_view``):
    the other causes without those the cause chain shows."""
    from rdsla.reports.view_findings import verdict_view
    verdict = verdict_view(analysis)
    links = chained(analysis)
    verdict["others"] = [c for c in verdict["others"] if (c["rule_id"], c["host"]) not in links]
    return verdict
