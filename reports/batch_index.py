"""index.html of a batch: bundles grouped by top root cause, sortable and filterable.

Every value comes from a summary row, so the index can be rebuilt from summary.jsonl alone
(at the end of a run, on Ctrl-C, after a resume). Bundle names and all row fields are hostile
input: jinja2 autoescapes them, and the page's Content-Security-Policy admits only its own
inline style and script, by sha256 hash.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

_TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=False, lstrip_blocks=False)

NO_CAUSE = "No root cause found"


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _groups(rows: Iterable[Mapping], links: Mapping[str, str]) -> list[dict]:
    by: dict[tuple, list[dict]] = {}
    for row in rows:
        r = {k: ("" if v is None else v) for k, v in row.items()}
        r["href"] = links.get(row["bundle"]) if row.get("status") == "ok" else None
        if row.get("status") != "ok":
            key = (2, row.get("status") or "failed", "")
        elif row.get("top_rule_id"):
            key = (0, row["top_rule_id"], row.get("top_title") or "")
        else:
            key = (1, NO_CAUSE, "")
        by.setdefault(key, []).append(r)
    ordered = sorted(by.items(), key=lambda kv: (kv[0][0], -len(kv[1]), kv[0][1]))
    groups = []
    for i, ((rank, ident, title), members) in enumerate(ordered):
        label = f"{ident} {title}".strip() if rank == 0 else (ident if rank == 1 else f"{ident.capitalize()} bundles")
        members.sort(key=lambda r: str(r["bundle"]))
        groups.append({"anchor": f"g{i}", "label": label, "rows": members})
    return groups


def render(rows: Iterable[Mapping], links: Optional[Mapping[str, str]] = None,
           generated: Optional[datetime] = None) -> str:
    """``rows``: summary rows; ``links``: bundle name -> relative href of its report.html."""
    rows = list(rows)
    template = _env.get_template("batch_index.html.j2")
    style, script = str(template.module.style()), str(template.module.script())
    statuses = [r.get("status") for r in rows]
    totals = [(s, statuses.count(s)) for s in ("ok", "failed", "timeout") if statuses.count(s)]
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    return template.render(total=len(rows), totals=totals, groups=_groups(rows, links or {}), generated=when,
                           style_text=Markup(style), script_text=Markup(script),
                           style_hash=_csp_hash(style), script_hash=_csp_hash(script))
