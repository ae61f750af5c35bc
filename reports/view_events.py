"""The events section: the most relevant rows (cited first), capped.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from rdsla.core.model import Analysis
from rdsla.reports.view_evidence import EventIndex
from rdsla.reports.view_format import EVENT_ROW_CAP, LEVELS, is_missing, number, text


def select_events(events: pd.DataFrame, cited: set[tuple], cap: int = EVENT_ROW_CAP) -> pd.DataFrame:
    """The ``cap`` most relevant events: cited as evidence first, then by level, then newest."""
    if len(events) <= cap:
        picked = events
    else:
        is_cited = np.zeros(len(events), dtype=bool)
        if cited:
            rids = {rid for _, rid in cited}
            maybe = events["record_id"].isin(list(rids)).to_numpy(dtype=bool, na_value=False)
            if maybe.any():
                idx = np.flatnonzero(maybe)
                src = events["source"].iloc[idx].fillna("").tolist()
                rid = events["record_id"].iloc[idx].tolist()
                is_cited[idx] = [(s, r) in cited for s, r in zip(src, rid)]
        level = events["level"].to_numpy(dtype="float64", na_value=4.0)
        rank = np.where((level >= 1) & (level <= 3), level, 4.0).astype(np.int8) + np.where(is_cited, 0, 5).astype(np.int8)
        t = events["time"].array.asi8 if hasattr(events["time"].array, "asi8") else events["time"].astype("int64").to_numpy()
        chosen, left = [], cap
        for r in range(10):
            members = np.flatnonzero(rank == r)
            if not len(members):
                continue
            if len(members) > left:
                members = members[np.argpartition(-t[members], left - 1)[:left]]
            chosen.append(members)
            left -= len(members)
            if left == 0:
                break
        picked = events.iloc[np.concatenate(chosen)]
    return picked.sort_values("time", ascending=False, kind="stable", na_position="last")


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
