"""The events frame as ``rdsla export --frame events`` writes it: for Timeline Explorer and
spreadsheets (issue 23 item 9).

Time first and rows in time order (a timeline tool sorts nothing itself on load), the level's
name beside its number (Event Viewer's names: 1 Critical, 2 Error, 3 Warning, 4 and 0
Information, 5 Verbose; learn.microsoft.com "EventLevel"), and what the row means to rdsla:
the event catalog's ``meaning`` and key (``core/data/event_catalog.csv``), empty for events the
catalog does not know (kept only with ``--all-events``). Every schema column is still written.
:func:`kept_line` is the one line on stderr saying how many events were kept of how many read,
so that a filtered export is never taken for the whole log.
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from rdsla.core import catalog

LEVEL_NAMES = {0: "Information", 1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose"}
FIRST = ("time", "level_name", "host", "event_id", "meaning", "catalog_key")


def _entry(row: dict, cache: dict) -> Optional[catalog.CatalogEntry]:
    provider, source_name, event_id = row.get("provider"), row.get("source_name"), row.get("event_id")
    if event_id is None or pd.isna(event_id):
        return None
    provider = None if provider is None or pd.isna(provider) else str(provider)
    source_name = None if source_name is None or pd.isna(source_name) else str(source_name)
    key = (provider, source_name, int(event_id))
    if key not in cache:
        names = [n for n in (provider, source_name) if n]
        # entries without a data condition answer for every record of (provider, id): cached
        conditional = any(e.data_match for n in names for e in catalog.candidates(n, int(event_id)))
        cache[key] = None if conditional else catalog.lookup(provider, int(event_id), None, source_name)
        if conditional:
            cache[key] = "data"
    found = cache[key]
    if found == "data":
        data = row.get("data") if isinstance(row.get("data"), dict) else {}
        return catalog.lookup(provider, int(event_id), data, source_name)
    return found


def events_for_export(events: pd.DataFrame, meanings: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """The events frame for export: time first, sorted by time (then host and record number),
    ``level_name``, ``meaning`` and ``catalog_key`` added. ``meanings`` (from :func:`meanings_of`)
    lets a caller read the catalog on the original rows and export redacted ones."""
    out = events.copy()
    if meanings is None:
        meanings = meanings_of(events)
    out["meaning"] = meanings["meaning"].values
    out["catalog_key"] = meanings["catalog_key"].values
    levels = pd.to_numeric(out["level"], errors="coerce") if "level" in out else pd.Series([], dtype="float")
    out["level_name"] = pd.array([LEVEL_NAMES.get(int(v)) if pd.notna(v) else None for v in levels], dtype="string")
    sort = [c for c in ("time", "host", "record_id") if c in out]
    out = out.sort_values(sort, kind="stable", na_position="last").reset_index(drop=True)
    first = [c for c in FIRST if c in out]
    return out[first + [c for c in out.columns if c not in first]]


def meanings_of(events: pd.DataFrame) -> pd.DataFrame:
    """``meaning`` and ``catalog_key`` of each row of ``events`` (same index)."""
    cache: dict = {}
    meaning, key = [], []
    cols = [c for c in ("provider", "source_name", "event_id", "data") if c in events]
    for row in events[cols].to_dict("records"):
        entry = _entry(row, cache)
        meaning.append(entry.meaning if entry is not None else None)
        key.append(entry.key if entry is not None else None)
    return pd.DataFrame({"meaning": pd.array(meaning, dtype="string"), "catalog_key": pd.array(key, dtype="string")},
                        index=events.index)


def kept_line(events: pd.DataFrame, artifacts: pd.DataFrame, all_events: bool) -> str:
    """``events: kept 169 of 4,438 records read from 6 logs (...)``: the records of the logs
    read (ledger ``records_read`` of the evtx artifacts) against the rows exported."""
    logs = artifacts[artifacts["kind"] == "evtx"] if len(artifacts) and "kind" in artifacts else artifacts.iloc[0:0]
    read = int(pd.to_numeric(logs["records_read"], errors="coerce").fillna(0).sum()) if len(logs) else 0
    kept = len(events)
    what = "--all-events: every event" if all_events else \
        "the licensing events of rdsla's event catalog; --all-events exports every event"
    return f"events: kept {kept:,} of {read:,} records read from {len(logs)} log(s) ({what})"
