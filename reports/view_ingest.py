"""What was read: one row per artifact with status, counts and warnings.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

import pandas as pd
from rdsla.reports.view_format import is_missing, number, text


def artifacts_view(artifacts: pd.DataFrame) -> list[dict]:
    rows = []
    for r in artifacts.to_dict("records"):
        warnings = r.get("warnings")
        if is_missing(warnings) or warnings is None:
            warnings = []
        elif isinstance(warnings, str):
            warnings = [warnings]
        rows.append({"path": text(r.get("path")), "kind": text(r.get("kind")), "host": text(r.get("host")),
                     "status": text(r.get("status")), "records_read": number(r.get("records_read")) or 0,
                     "records_lost": number(r.get("records_lost")) or 0,
                     "warnings": [text(w) for w in list(warnings)]})
    rows.sort(key=lambda a: (a["status"] == "ok", a["path"]))
    return rows
