"""The before/after page of ``rdsla diff``: view model and self-contained HTML.

Renders ``templates/diff.html.j2`` with the report's jinja2 environment (autoescape, strict
undefined) and the report's stylesheet plus ``static/diff.css``, inline and pinned by hash in the
same Content-Security-Policy as the report; the page needs no script (``script-src 'none'``).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

from markupsafe import Markup

from rdsla.reports.diff import CATEGORIES, CATEGORY_LABELS, _when, headline, pool_label

CATEGORY_NOTES = {
    "resolved": "detected before; checked after and not detected",
    "new": "detected after only",
    "persisting": "detected before and after",
    "unverified": "detected before; the after upload could not check it (data missing): collect again",
}
LEVELS = {1: "critical", 2: "error", 3: "warning", 4: "info"}


@lru_cache(maxsize=1)
def assets() -> tuple[str, str]:
    """(css, csp): the report's stylesheet and the diff's, with the policy pinning them."""
    from rdsla.reports.html import policy, static_text
    css = static_text("report.css") + "\n" + static_text("diff.css")
    return css, policy(css)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _pct(confidence: Optional[float]) -> str:
    return "" if confidence is None else f"{round(float(confidence) * 100)}%"


def _cause(e: dict) -> dict:
    def side(s: Optional[dict]) -> Optional[dict]:
        if not s:
            return None
        rank = f"root cause #{s['root_cause_rank']} ({_pct(s['confidence'])})" if s.get("root_cause_rank") else ""
        return {"summary": _text(s.get("summary")), "rank": rank, "severity": _text(s.get("severity"))}
    return {"rule_id": _text(e["rule_id"]), "title": _text(e["title"]), "host": _text(e["host"]) or "the bundle",
            "severity": _text(e["severity"]), "before": side(e["before"]), "after": side(e["after"]),
            "after_state": _text(e["after_state"]).replace("_", " ")}


def _side(s: dict) -> dict:
    top = s.get("top")
    return {"label": _text(s["label"]), "as_of": _when(s.get("as_of")), "days": _days(s.get("current_days")),
            "inputs": [_text(p) for p in s.get("inputs") or []], "hosts": [_text(h) for h in s.get("hosts") or []],
            "top": (f"{top['rule_id']} {_text(top.get('title'))} on {_text(top.get('host')) or 'the bundle'}"
                    if top else "no root cause found"),
            "facts": bool(s.get("facts"))}


def _days(v: Any) -> str:
    """A window in days as typed (7, 2.5); 7 for documents that predate per-side windows."""
    return f"{float(v):g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "7"


def _count(v: Any) -> str:
    return "–" if v is None else _text(v)


def build(diff: dict) -> dict:
    causes = {c: [_cause(e) for e in diff["causes"][c]] for c in CATEGORIES}
    symptoms = [{"category": CATEGORY_LABELS[c], "key": c, **_cause(e)} for c in CATEGORIES for e in diff["symptoms"][c]]
    hosts = []
    for h in diff["hosts"]:
        hosts.append({"name": _text(h["name"]), "status": h["status"],
                      "changes": [{"field": _text(ch["field"]), "before": _text(ch["before"]), "after": _text(ch["after"])}
                                  for ch in h["changes"]],
                      "unchanged": [{"field": k, "value": _text(v)} for k, v in (h["after"] or h["before"] or {}).items()
                                    if h["status"] != "both" or h["before"].get(k) == v]})
    pool = []
    for p in diff["cal_pool"]:
        row = {"license_server": _text(p["license_server"]), "cal": pool_label(p), "change": p["change"], "cells": []}
        for k in ("total", "issued", "available"):
            b, a = (p["before"] or {}).get(k), (p["after"] or {}).get(k)
            d = p["delta"].get(k)
            row["cells"].append({"before": _count(b) if p["before"] else "–", "after": _count(a) if p["after"] else "–",
                                 "delta": "" if not d else f"{d:+d}", "changed": b != a})
        pool.append(row)
    events = []
    for e in diff["events"]:
        def side(s):
            if not s:
                return {"per_day": "0", "current": 0, "count": 0, "hosts": "", "last": ""}
            return {"per_day": _text(s["per_day"]), "current": s["current"], "count": s["count"],
                    "hosts": ", ".join(_text(h) for h in s["hosts"]), "last": _text(s.get("last"))[:16].replace("T", " ")}
        events.append({"event_id": _text(e["event_id"]), "key": _text(e["key"]).replace("_", " "),
                       "provider": _text(e["provider"]), "level": LEVELS.get(e["level"], "info"),
                       "change": e["change"], "before": side(e["before"]), "after": side(e["after"])})
    counts = {c: len(diff["causes"][c]) for c in CATEGORIES}
    return {
        "headline": headline(diff), "exit_code": diff["exit_code"], "fail_on": diff["fail_on"],
        "remaining": [f"{r['rule_id']} on {r['host'] or 'the bundle'} ({r['severity']})" for r in diff["remaining"]],
        "before": _side(diff["before"]), "after": _side(diff["after"]),
        "categories": [{"key": c, "label": CATEGORY_LABELS[c], "note": CATEGORY_NOTES[c], "entries": causes[c],
                        "count": counts[c]} for c in CATEGORIES],
        "counts": counts, "symptoms": symptoms, "hosts": hosts,
        "hosts_changed": sum(1 for h in hosts if h["changes"]),
        "cal_pool": pool, "pool_changed": sum(1 for p in pool if p["change"] != "same"),
        "events": events, "current_days": diff.get("current_days", 7),
    }


def render_html(diff: dict, view: Optional[dict] = None) -> str:
    from rdsla import __version__
    from rdsla.reports.html import environment
    css, csp = assets()
    template = environment().get_template("diff.html.j2")
    return template.render(v=view if view is not None else build(diff), css=Markup(css), csp=csp, version=__version__)
