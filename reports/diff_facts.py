"""Two summaries findings.json carries so that ``rdsla diff`` never re-reads a bundle.

- ``cal_pool``: one row per license server, CAL version and type (the report's CAL pool table,
  the "packs" a support engineer compares): ``license_server``, ``cal_version`` (``2019``...,
  null for built-in packs), ``cal_type``, ``packs``, ``keypack_ids``, ``total`` / ``issued`` /
  ``available`` (a number, ``"unlimited"`` or ``"unknown"``: core.cal_counts' pool sums),
  ``builtin``, ``temporary``, ``expires`` (earliest, ISO), ``issued_rows`` (issued-CAL records).
- ``event_counts``: one row per host, licensing event (legacy id: 50280 counts as 1128) and
  provider: ``host``, ``event_id``, ``provider``, ``key`` (event catalog key), ``level``
  (most severe), ``count``, ``current`` (events in the ``current_days`` before ``as_of``),
  ``first``, ``last`` (ISO). The window is the analysis's ``window_days`` (``analyze --window``,
  default ``CURRENT_DAYS``: DESIGN.md's "current evidence").

Both are plain JSON values, sorted, so two runs of one bundle give identical text.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

import pandas as pd
from rdsla.core import catalog

CURRENT_DAYS = 7


def _iso(value) -> Optional[str]:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return pd.Timestamp(value).isoformat()


def cal_pool(keypacks: pd.DataFrame, issued: Optional[pd.DataFrame] = None, groups: Optional[list] = None) -> list[dict]:
    """The key packs grouped by (license server, CAL version, type), counts as pool sums
    (``reports.view_calpool.pool_groups``, or ``groups`` when already built)."""
    from rdsla.reports.view_calpool import pool_groups
    return [{
        "license_server": g.license_server or None, "cal_version": g.cal_version or None, "cal_type": g.cal_type or None,
        "packs": g.packs, "keypack_ids": g.keypack_ids,
        "total": g.counts.total.to_json(), "issued": g.counts.issued.to_json(), "available": g.counts.available.to_json(),
        "builtin": g.builtin, "temporary": g.temporary, "expires": _iso(g.expires) if g.expires is not None else None,
        "issued_rows": g.issued_rows,
    } for g in (pool_groups(keypacks, issued) if groups is None else groups)]


def event_counts(events: pd.DataFrame, as_of: datetime, current_days: float = CURRENT_DAYS) -> list[dict]:
    """Licensing events per (host, legacy event id, provider): total, current window, first, last.

    Grouped with numpy over the rows; Python runs once per group (the JSON rows)."""
    if events is None or not len(events):
        return []
    import numpy as np
    legacy = events["legacy_event_id"].fillna(events["event_id"])
    rows_kept = np.flatnonzero(legacy.notna().to_numpy(dtype=bool))
    if not len(rows_kept):
        return []
    host = events["host"].fillna("").to_numpy(dtype=object)[rows_kept]
    provider = events["provider"].fillna(events["source_name"]).fillna("").to_numpy(dtype=object)[rows_kept]
    source_name = events["source_name"].fillna("").to_numpy(dtype=object)[rows_kept]
    event_id = legacy.to_numpy(dtype=object)[rows_kept]
    times = events["time"]
    since = pd.Timestamp(as_of) - pd.Timedelta(timedelta(days=current_days))
    now = pd.Timestamp(as_of)
    current = ((times >= since) & (times <= now)).fillna(False).to_numpy(dtype=bool)[rows_kept]
    missing_time = times.isna().to_numpy(dtype=bool)[rows_kept]
    ns = times.to_numpy(dtype="datetime64[ns]").view("int64")[rows_kept]
    level = events["level"].to_numpy(dtype=object, na_value=None)[rows_kept]
    level = np.fromiter((x if x is not None and 1 <= int(x) <= 4 else 9 for x in level.tolist()), dtype=np.int64,
                        count=len(rows_kept))
    codes = _pair(_pair(_codes(host), _codes(event_id)), _codes(provider))
    order = np.argsort(codes, kind="stable")
    groups, first_row = np.unique(codes, return_index=True)
    start = np.searchsorted(codes[order], groups)
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    first = np.minimum.reduceat(np.where(missing_time, big, ns)[order], start)
    last = np.maximum.reduceat(np.where(missing_time, small, ns)[order], start)
    level_min = np.minimum.reduceat(level[order], start)
    count = np.bincount(codes)
    n_current = np.bincount(codes, weights=current).astype(np.int64)
    tz = getattr(times.dt, "tz", None)

    def when(value: int, none: int) -> Optional[str]:
        return None if value == none else pd.Timestamp(int(value), tz="UTC").tz_convert(tz).isoformat() if tz \
            else pd.Timestamp(int(value)).isoformat()
    rows = []
    for g in sorted(groups.tolist(), key=lambda g: (host[first_row[g]], int(event_id[first_row[g]]),
                                                      provider[first_row[g]])):
        i = first_row[g]
        eid, prov = int(event_id[i]), provider[i]
        entry = catalog.lookup(prov, eid, source_name=(source_name[i] or None))
        if entry is None and eid < catalog.MANIFEST_BASE:
            entry = catalog.lookup(prov, eid + catalog.MANIFEST_BASE)
        rows.append({
            "host": host[i] or None, "event_id": eid, "provider": prov or None, "key": entry.key if entry else None,
            "level": int(level_min[g]) if level_min[g] != 9 else None, "count": int(count[g]),
            "current": int(n_current[g]), "first": when(first[g], big), "last": when(last[g], small),
        })
    return rows


def _codes(values):
    """Codes of values in order of first appearance (a missing value is one value)."""
    import numpy as np
    return pd.factorize(values, sort=False, use_na_sentinel=False)[0].astype(np.int64, copy=False)


def _pair(a, b):
    """Codes of the pairs of two code arrays, in order of first appearance."""
    return _codes(a * (int(b.max()) + 1) + b)
