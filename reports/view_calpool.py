"""The CAL pool table and the compatibility matrices of the bundle's versions.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

from typing import Optional

import pandas as pd
from rdsla.core.cal_counts import pool_counts
from rdsla.core.model import Analysis
from rdsla.reports.view_format import CAL_TYPES, fmt_time, text, version_label


def keypack_rows(keypacks: pd.DataFrame, issued: pd.DataFrame) -> list[dict]:
    """Key packs grouped by license server, CAL version and type. Counts are core.cal_counts'
    pool sums (a number, "unlimited" or "unknown", never a null read as either), so the table
    says what the rules saw."""
    if not len(keypacks):
        return []
    issued_counts: dict[tuple, int] = {}
    if len(issued):
        grp = issued.groupby([issued["license_server"].fillna(""), issued["cal_version"].fillna(""),
                              issued["cal_type"].fillna("")], dropna=False).size()
        issued_counts = {k: int(v) for k, v in grp.items()}
    rows = []
    kp = keypacks.assign(_ls=keypacks["license_server"].fillna(""), _ver=keypacks["cal_version"].fillna(""),
                         _type=keypacks["cal_type"].fillna(""))
    for (ls, ver, typ), g in kp.groupby(["_ls", "_ver", "_type"], sort=True):
        counts = pool_counts(g)
        builtin = bool(g["builtin"].fillna(False).any())
        temporary = bool(g["temporary"].fillna(False).any())
        expires = g["expires"].dropna()
        rows.append({
            "license_server": ls, "cal_version": version_label(ver) if ver else ("built-in" if builtin else "unknown"),
            "cal_type": CAL_TYPES.get(typ, typ) or "unknown", "packs": len(g),
            "total": str(counts.total), "issued": str(counts.issued), "available": str(counts.available),
            "exhausted": counts.available.has_free() is False and not builtin,
            "flags": ", ".join(x for x, on in (("built-in", builtin), ("temporary", temporary)) if on),
            "expires": fmt_time(expires.min()) if len(expires) else "",
            "status": ", ".join(sorted({text(s) for s in g["status"].dropna()})),
            "sources": sorted({text(s) for s in g["source"].dropna()}),
            "issued_rows": issued_counts.get((ls, ver, typ), 0),
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
