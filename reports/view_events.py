"""The events section: the most relevant rows (cited first), capped.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

import pandas as pd
from rdsla.core.model import Analysis
from rdsla.reports.view_evidence import EventIndex
from rdsla.reports.view_format import EVENT_ROW_CAP, number, text


def events_view(events: pd.DataFrame, cited: set[tuple], cap: int = EVENT_ROW_CAP, groups=None) -> dict:
    """The events section: one row per group of repeated events (``reports.view_event_groups``:
    host, id, message template, named server; count, first and last time, a sample message, the
    raw records under it), the ``cap`` most relevant groups (any cited record first, then the
    most severe, then the newest)."""
    from rdsla.reports.view_event_groups import EventGroups, section_rows
    groups = groups if groups is not None else EventGroups(events, cited)
    rows, left_out = section_rows(groups, cap)
    total = len(events)
    shown = sum(r["count"] for r in rows)
    return {"rows": rows, "total": total, "shown": shown, "omitted": total - shown, "cap": cap,
            "groups": len(groups), "groups_shown": len(rows), "groups_omitted": left_out}


def cited_events(analysis: Analysis, index: EventIndex) -> set[tuple]:
    cited = set()
    for f in analysis.findings:
        for ev in f.evidence:
            if ev.frame == "events":
                rid = number(ev.locator.get("record_id"))
                if rid is not None:
                    cited.add((text(ev.source), rid))
    return cited
