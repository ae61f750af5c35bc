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
from rdsla.core.cal_counts import pool_counts

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


def cal_pool(keypacks: pd.DataFrame, issued: Optional[pd.DataFrame] = None) -> list[dict]:
    """The key packs grouped by (license server, CAL version, type), counts as pool sums."""
    if keypacks is None or not len(keypacks):
        return []
    issued_counts: dict[tuple, int] = {}
    if issued is not None and len(issued):
        grp = issued.groupby([issued["license_server"].fillna(""), issued["cal_version"].fillna(""),
                              issued["cal_type"].fillna("")], dropna=False).size()
        issued_counts = {k: int(v) for k, v in grp.items()}
    kp = keypacks.assign(_ls=keypacks["license_server"].fillna(""), _ver=keypacks["cal_version"].fillna(""),
                         _type=keypacks["cal_type"].fillna(""))
    rows = []
    for (ls, ver, typ), g in kp.groupby(["_ls", "_ver", "_type"], sort=True):
        counts = pool_counts(g)
        expires = g["expires"].dropna()
        rows.append({
            "license_server": ls or None, "cal_version": ver or None, "cal_type": typ or None, "packs": len(g),
            "keypack_ids": sorted({str(k) for k in g["keypack_id"].dropna()}),
            "total": counts.total.to_json(), "issued": counts.issued.to_json(),
            "available": counts.available.to_json(),
            "builtin": bool(g["builtin"].fillna(False).any()), "temporary": bool(g["temporary"].fillna(False).any()),
            "expires": _iso(expires.min()) if len(expires) else None,
            "issued_rows": issued_counts.get((ls, ver, typ), 0),
        })
    return rows


def event_counts(events: pd.DataFrame, as_of: datetime, current_days: float = CURRENT_DAYS) -> list[dict]:
    """Licensing events per (host, legacy event id, provider): total, current window, first, last."""
    if events is None or not len(events):
        return []
    provider = events["provider"].fillna(events["source_name"]).fillna("")
    legacy = events["legacy_event_id"].fillna(events["event_id"])
    frame = pd.DataFrame({"host": events["host"].fillna(""), "event_id": legacy, "provider": provider,
                          "source_name": events["source_name"].fillna(""), "level": events["level"],
                          "time": events["time"]})
    frame = frame[frame["event_id"].notna()]
    since = pd.Timestamp(as_of) - pd.Timedelta(timedelta(days=current_days))
    now = pd.Timestamp(as_of)
    frame = frame.assign(_current=(frame["time"] >= since) & (frame["time"] <= now))
    rows = []
    for (host, eid, prov), g in frame.groupby(["host", "event_id", "provider"], sort=True):
        eid = int(eid)
        entry = catalog.lookup(prov, eid, source_name=(g["source_name"].iloc[0] or None))
        if entry is None and eid < catalog.MANIFEST_BASE:
            entry = catalog.lookup(prov, eid + catalog.MANIFEST_BASE)
        levels = [int(x) for x in g["level"].dropna() if 1 <= int(x) <= 4]
        times = g["time"].dropna()
        rows.append({
            "host": host or None, "event_id": eid, "provider": prov or None, "key": entry.key if entry else None,
            "level": min(levels) if levels else None, "count": int(len(g)),
            "current": int(g["_current"].fillna(False).sum()),
            "first": _iso(times.min()) if len(times) else None, "last": _iso(times.max()) if len(times) else None,
        })
    return rows
