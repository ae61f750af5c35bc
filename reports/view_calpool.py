"""The CAL pool table and the compatibility matrices of the bundle's versions.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional

import pandas as pd
from rdsla.core.cal_counts import PackCounts, pool_counts
from rdsla.core.model import Analysis
from rdsla.reports.view_format import CAL_TYPES, fmt_time, is_missing, text, version_label


@dataclass
class PoolGroup:
    """The key packs of one license server, CAL version and CAL type ('' where the pack does not
    say): what the report's CAL table and findings.json's ``cal_pool`` show of them."""
    license_server: str
    cal_version: str
    cal_type: str
    packs: int
    counts: PackCounts                 # core.cal_counts' pool sums
    builtin: bool
    temporary: bool
    expires: Any                       # the earliest expiry (a Timestamp), None when no pack says
    keypack_ids: list[str]
    status: list[str]
    sources: list[str]
    issued_rows: int                   # issued-CAL records of the same server, version and type


def pool_groups(keypacks: pd.DataFrame, issued: Optional[pd.DataFrame] = None) -> list[PoolGroup]:
    """Key packs grouped by license server, CAL version and type (sorted). Counts are
    core.cal_counts' pool sums (a number, "unlimited" or "unknown", never a null read as either),
    so both views say what the rules saw."""
    if keypacks is None or not len(keypacks):
        return []
    issued_counts: Counter = Counter()
    if issued is not None and len(issued):
        issued_counts.update(zip(*(_filled(issued[c].tolist()) for c in _KEYS)))
    column = {c: keypacks[c].tolist() if c in keypacks else [None] * len(keypacks)
              for c in _KEYS + ("expires", "keypack_id", "status", "source", "builtin", "temporary")}
    members: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(*(_filled(column[c]) for c in _KEYS))):
        members.setdefault(key, []).append(i)
    counted = {c: keypacks[c].tolist() for c in ("unlimited", "total", "issued", "available") if c in keypacks}
    out = []
    for key in sorted(members):
        rows = members[key]
        expires = [v for v in (column["expires"][i] for i in rows) if not is_missing(v)]
        out.append(PoolGroup(
            *key, packs=len(rows), counts=pool_counts({c: v[i] for c, v in counted.items()} for i in rows),
            builtin=_any(column["builtin"], rows), temporary=_any(column["temporary"], rows),
            expires=min(expires) if expires else None,
            keypack_ids=_distinct(column["keypack_id"], rows, str), status=_distinct(column["status"], rows, text),
            sources=_distinct(column["source"], rows, text), issued_rows=issued_counts.get(key, 0)))
    return out


_KEYS = ("license_server", "cal_version", "cal_type")


def _filled(values: list) -> list:
    return ["" if is_missing(v) else v for v in values]


def _any(values: list, rows: list[int]) -> bool:
    return any(not is_missing(values[i]) and bool(values[i]) for i in rows)


def _distinct(values: list, rows: list[int], form) -> list[str]:
    return sorted({form(values[i]) for i in rows if not is_missing(values[i])})


def keypack_rows(keypacks: pd.DataFrame, issued: pd.DataFrame, groups: Optional[list[PoolGroup]] = None) -> list[dict]:
    """The CAL table: one row per :func:`pool_groups` group (``groups`` when already built)."""
    rows = []
    for g in (pool_groups(keypacks, issued) if groups is None else groups):
        counts, ver, typ = g.counts, g.cal_version, g.cal_type
        rows.append({
            "license_server": g.license_server,
            "cal_version": version_label(ver) if ver else ("built-in" if g.builtin else "unknown"),
            "cal_type": CAL_TYPES.get(typ, typ) or "unknown", "packs": g.packs,
            "total": str(counts.total), "issued": str(counts.issued), "available": str(counts.available),
            "exhausted": counts.available.has_free() is False and not g.builtin,
            "flags": ", ".join(x for x, on in (("built-in", g.builtin), ("temporary", g.temporary)) if on),
            "expires": fmt_time(g.expires) if g.expires is not None else "",
            "status": ", ".join(g.status), "sources": g.sources, "issued_rows": g.issued_rows,
        })
    return rows


def bundle_versions(analysis: Analysis) -> dict[str, set[str]]:
    sh, ls = set(), set()
    for h in analysis.hosts:
        os_v = text(h.os_version.value) if h.os_version else ""
        if h.has_role("session_host") and os_v:
            sh.add(os_v)
        if h.has_role("licensing"):
            v = text(h.license_server.version.value) if h.license_server.version else os_v
            if v:
                ls.add(v)
    cal = set()
    for name in ("keypacks", "issued"):
        frame = analysis.frames.get(name)
        if frame is not None and len(frame):
            cal |= {text(v) for v in frame["cal_version"].dropna().unique()}
    return {"session_host": sh, "license_server": ls, "cal": cal}


def compat_document() -> Optional[dict]:
    """The rules' compatibility tables, or None while ``rules.compat`` does not exist."""
    try:
        from rdsla.rules.compat import compat_document as doc
    except ImportError as exc:
        if getattr(exc, "name", None) in ("rdsla.rules.compat",):
            return None
        raise
    return doc()


def matrices_view(analysis: Analysis, doc: Optional[dict]) -> list[dict]:
    if not doc:
        return []
    versions = bundle_versions(analysis)
    out = []
    for key, title, row_label in (("session_host", "Session host accepts CAL", "Session host"),
                                  ("license_server", "License server can issue CAL", "License server")):
        table = doc.get(key) or {}
        cols: list[str] = []
        for row in table.values():
            for c in row:
                if c not in cols:
                    cols.append(c)
        mine_rows, mine_cols = versions[key], versions["cal"]
        rows = []
        for label, row in table.items():
            cells = []
            for c in cols:
                v = row.get(c)
                cells.append({"text": "" if v is None else ("Yes" if v else "No"),
                              "cls": ("yes" if v else "no") if v is not None else "na",
                              "mark": label in mine_rows and c in mine_cols})
            rows.append({"label": version_label(label), "mine": label in mine_rows, "cells": cells})
        out.append({"title": title, "row_label": row_label,
                    "columns": [{"label": version_label(c), "mine": c in mine_cols} for c in cols],
                    "rows": rows, "mine_rows": sorted(version_label(v) for v in mine_rows),
                    "mine_cals": sorted(version_label(v) for v in mine_cols)})
    return out
