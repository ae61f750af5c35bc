"""index.html of a batch: one table for triage, most severe first, sortable and filterable.

Each row names the bundle's verdict (cause, healthy, inconclusive), its top cause with the host
it belongs to, its severity and one-line summary, the detected findings counted per severity
(critical apart), and links the bundle's report (issue 23 item 8). Every value comes from a
summary row, so the index can be rebuilt from summary.jsonl alone (at the end of a run, on
Ctrl-C, after a resume). Bundle names and all row fields are hostile input: jinja2 autoescapes
them, and the page's Content-Security-Policy admits only its own inline style and script, by
sha256 hash.
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

_TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=False, lstrip_blocks=False)

NO_CAUSE = "No root cause found"
SEVERITY_RANK = {"critical": 4, "error": 3, "warning": 2, "info": 1}
# verdicts after the causes: a failed bundle needs someone first, then what could not be decided
_SAFE_HREF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*/report\.html")
STATE_RANK = {"cause": 0, "failed": 1, "timeout": 1, "inconclusive": 2, "healthy": 3}


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def state_of(row: Mapping) -> str:
    """cause | healthy | inconclusive, or the status of a bundle that was not analyzed."""
    if row.get("status") != "ok":
        return str(row.get("status") or "failed")
    if row.get("top_rule_id"):
        return "cause"
    return str(row.get("verdict") or "inconclusive")


def severity_key(row: Mapping) -> tuple:
    """Most severe first: causes by the top cause's severity, then critical, error and warning
    counts and confidence; then failed bundles, inconclusive ones, healthy ones; by name last."""
    return (STATE_RANK.get(state_of(row), 2), -SEVERITY_RANK.get(str(row.get("top_severity") or ""), 0),
            -_num(row.get("findings_critical")), -_num(row.get("findings_error")),
            -_num(row.get("findings_warning")), -_num(row.get("confidence")), str(row.get("bundle") or ""))


def _rows(rows: Iterable[Mapping], links: Mapping[str, str]) -> list[dict]:
    out = []
    for i, row in enumerate(sorted(rows, key=severity_key)):
        r = {k: ("" if v is None else v) for k, v in row.items()}
        r["state"] = state_of(row)
        href = row.get("report") or links.get(row["bundle"])
        # a report path this batch wrote (<folder>/report.html), never a scheme or a path out of the folder
        r["href"] = href if row.get("status") == "ok" and href and _SAFE_HREF.fullmatch(str(href)) else None
        r["order"] = i
        r["severity_rank"] = SEVERITY_RANK.get(str(row.get("top_severity") or ""), 0)
        crit, err = int(_num(row.get("findings_critical"))), int(_num(row.get("findings_error")))
        r["errors_only"] = err - crit if row.get("findings_critical") is not None else err
        out.append(r)
    return out


def render(rows: Iterable[Mapping], links: Optional[Mapping[str, str]] = None,
           generated: Optional[datetime] = None) -> str:
    """``rows``: summary rows; ``links``: bundle name -> relative href of its report.html."""
    rows = list(rows)
    template = _env.get_template("batch_index.html.j2")
    style, script = str(template.module.style()), str(template.module.script())
    states = Counter(state_of(r) for r in rows)
    totals = [(s, states[s]) for s in ("cause", "inconclusive", "healthy", "failed", "timeout") if states[s]]
    causes = Counter((r.get("top_rule_id"), r.get("top_title") or "") for r in rows if state_of(r) == "cause")
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    return template.render(total=len(rows), totals=totals, rows=_rows(rows, links or {}), generated=when,
                           causes=sorted(causes.items(), key=lambda kv: (-kv[1], kv[0][0])), no_cause=NO_CAUSE,
                           style_text=Markup(style), script_text=Markup(script),
                           style_hash=_csp_hash(style), script_hash=_csp_hash(script))
