"""findings.json: the machine-readable result of one analysis (schema rdsla.findings/2).

Version 2 (issue 18): ``verdict`` {state: cause | healthy | inconclusive, summary, collect};
``compliance`` repeats the detected findings of kind ``compliance`` (licensing terms broken,
connections work; they never enter ``root_causes``); each finding has ``history`` (older evidence,
never today's cause) and event evidence ``age_days`` / ``current``; hosts carry ``coverage``.

``cal_pool``, ``event_counts`` and ``current_days`` (added for ``rdsla diff``, issue 21) are
described in :mod:`rdsla.reports.diff_facts`. Issue 23: each root cause's ``confidence_factors``
(what raised and lowered it, ``analyzer.verdict.confidence_factors``) and ``ask_customer``, the
ask-list by host (``reports.view_asks``); both additions, no field changes meaning."""
from __future__ import annotations

from rdsla.core.model import Analysis, jsonable
from rdsla.reports.view_format import is_missing

SCHEMA = "rdsla.findings/2"
# Issue 23 (additions, no field changes meaning): ``licensing_paths``, one object per session host
# (``analyzer.licensing_path.LicensingPath.to_dict``), and ``chain`` on the top root cause: the
# causes it explains and their symptoms (``analyzer.verdict.chain``), one chain rather than
# competing causes.


def findings_document(analysis: Analysis) -> dict:
    from rdsla.analyzer.verdict import confidence_factors
    from rdsla.reports.view_asks import asks
    artifacts = analysis.frames["artifacts"]
    doc = {
        "schema": SCHEMA,
        "as_of": analysis.as_of.isoformat(),
        "as_of_origin": analysis.as_of_origin,
        "inputs": list(analysis.inputs),
        "hosts": [h.to_dict(analysis.as_of) for h in analysis.hosts],
        "verdict": dict(analysis.verdict) if analysis.verdict else {},
        "root_causes": [{**rc.to_dict(), "confidence_factors": confidence_factors(analysis, rc)}
                        for rc in analysis.root_causes],
        "compliance": [f.to_dict() for f in analysis.findings if f.state == "detected" and f.kind == "compliance"],
        "findings": [f.to_dict() for f in analysis.findings],
        "licensing_paths": [p.to_dict() for p in analysis.licensing_paths],
        "artifacts": jsonable([{k: None if is_missing(v) else v for k, v in row.items()}
                               for row in artifacts.to_dict("records")]),
        "messages": list(analysis.messages),
        "ask_customer": asks(analysis),
        **_diff_facts(analysis),
    }
    chain = doc["verdict"].pop("chain", None) or []       # a copy of analysis.verdict: shown on the top cause
    if doc["root_causes"]:
        doc["root_causes"][0]["chain"] = chain
    return doc


def _diff_facts(analysis: Analysis) -> dict:
    from rdsla.reports import view_shared
    from rdsla.reports.diff_facts import CURRENT_DAYS, cal_pool, event_counts
    frames = analysis.frames
    days = getattr(analysis, "window_days", None) or CURRENT_DAYS        # analyze --window
    return {"cal_pool": cal_pool(frames["keypacks"], frames["issued"], view_shared.pool_groups(analysis)),
            "event_counts": event_counts(frames["events"], analysis.as_of, days), "current_days": days}


def render(analysis: Analysis) -> str:
    from rdsla.reports.json_text import dumps      # the text of json.dumps(indent=2, ensure_ascii=False)
    return dumps(findings_document(analysis))
