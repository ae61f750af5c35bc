"""Repeated events as one row (issue 21 item 3): one group per host, event id, message
template and named server, with its count, first and last time, one sample message and the
raw records behind it (capped).

"1131 x270, first 2024-09-21, last 2024-11-05, naming LS-OLD" instead of 270 rows. The
template is the event catalog's message (``%1`` placeholders; events the catalog does not know
are grouped by their whole message); the named server is the value of each parameter the
template names as a server (``license server %1``, ``Session Host server "%3"``). Other
parameters (a client name, a service state) may vary inside a group: the group says how many
different messages it holds and its raw records show them.

Part of the report view model: ``reports.view_evidence`` groups a finding's event evidence,
``reports.view_events`` the events section. Grouping is vectorized over the events frame;
only events whose template names a server have their data read row by row.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Mapping, Optional

import numpy as np
import pandas as pd
from rdsla.reports.view_format import LEVELS, fmt_time, is_missing, number, text

RAW_CAP = 20                 # raw records listed under one group
RAW_TOTAL = 4000             # raw records listed under all groups of the events section
SEP = "\x1f"
_SERVER_PARAM = re.compile(r"server\s+[\"'“]?%(\d+)", re.I)
# severity order of the events frame's level (1 critical ... 4 information, 0 and 5 last)
SEVERITY = {1: 0, 2: 1, 3: 2, 4: 3, 0: 3, 5: 4}


@lru_cache(maxsize=4096)
def template_of(provider: str, source_name: str, event_id: int) -> tuple[Optional[str], tuple[int, ...]]:
    """(catalog message template or None, indexes of the parameters it names as a server)."""
    from rdsla.core import catalog
    entry = None
    for name in (provider, source_name):
        if name:
            found = catalog.candidates(name, event_id)
            if found:
                entry = found[0]
                break
    if entry is None:
        return None, ()
    return entry.message, tuple(sorted({int(m.group(1)) for m in _SERVER_PARAM.finditer(entry.message)}))


def named_server(data, indexes: Iterable[int]) -> str:
    """The values of the server parameters of one record's data (by position), joined."""
    if not indexes or not isinstance(data, dict) and not isinstance(data, Mapping) or not data:
        return ""
    values = list(data.values())
    out = []
    for i in indexes:
        if 0 < i <= len(values) and not is_missing(values[i - 1]) and str(values[i - 1]).strip():
            out.append(str(values[i - 1]).strip())
    return ", ".join(out)


def group_key(host, provider, source_name, event_id, data, message) -> str:
    """The group of one record (a frame row or an evidence detail), as :class:`EventGroups` keys it."""
    eid = number(event_id)
    prov, src = text(provider), text(source_name)
    template, servers = template_of(prov, src, eid) if eid is not None else (None, ())
    server = named_server(data, servers).lower()
    return SEP.join((text(host).upper(), text(eid), (prov or src).lower(), template or "", server,
                     "" if template else text(message)))


class EventGroups:
    """The events frame grouped; ``cited`` holds (source, record_id) of evidence events."""

    def __init__(self, events: pd.DataFrame, cited: Optional[set] = None):
        self.cited = cited or set()
        n = len(events)
        self.keys: list[str] = []
        self.stats: list[dict] = []
        self._by_record: dict = {}
        self._gid_of_key: dict = {}
        if not n:
            self.gid = np.zeros(0, dtype=np.int64)
            return
        # Codes per column, then per combination (first appearance order, as groupby(sort=False)
        # numbers groups): numpy over the rows, Python only over distinct values, groups and the
        # rows whose template names a server.
        host = _Text(events["host"])
        host_upper = [h.upper() for h in host.values]
        host_c = _factorize(np.array(host_upper, dtype=object))[0][host.codes]
        prov, src_name = _Text(events["provider"]), _Text(events["source_name"])
        eid = _Ints(events["event_id"])
        combo_c = _combine(_combine(prov.codes, src_name.codes), eid.codes)
        info = [template_of(prov[i], src_name[i], eid[i]) if eid[i] is not None else (None, ())
                for i in _first_rows(combo_c).tolist()]
        # the named server: read row by row only where the template names one
        server_c = np.zeros(n, dtype=np.int64)
        server_u = [""]
        need = np.flatnonzero(np.array([bool(idx) for _, idx in info], dtype=bool)[combo_c])
        data = events["data"].to_numpy(dtype=object)
        if len(need):
            seen: dict = {"": 0}
            for i in need.tolist():
                d = data[i]
                idx = info[combo_c[i]][1]
                if type(d) is dict and len(idx) == 1 and 0 < idx[0] <= len(d):      # the common case, fast
                    v = list(d.values())[idx[0] - 1]
                    value = v.strip() if type(v) is str else named_server(d, idx)
                else:
                    value = named_server(d, idx)
                k = value.lower()
                code = seen.get(k)
                if code is None:
                    code = seen[k] = len(server_u)
                    server_u.append(value)
                server_c[i] = code
        message = _Text(events["message"])
        msg_c = message.codes
        no_template = np.array([not template for template, _ in info], dtype=bool)[combo_c]
        msgkey_c = np.where(no_template, msg_c, -1)
        gid = _combine(_combine(_combine(host_c, combo_c), server_c), msgkey_c + 1)
        self.gid = gid
        n_groups = int(gid.max()) + 1
        # cited records: (source, record_id) of evidence
        rid = _Ints(events["record_id"])
        source = _Text(events["source"])
        cited_mask = np.zeros(n, dtype=bool)
        if self.cited:
            rids = {r for _, r in self.cited if r is not None}
            maybe = np.flatnonzero(rid.series.isin(list(rids)).fillna(False).to_numpy(dtype=bool))
            for i in maybe.tolist():
                key = (source[i], rid[i])
                if key in self.cited:
                    cited_mask[i] = True
                    self._by_record[key] = int(gid[i])
        self.cited_mask = cited_mask
        times = events["time"]
        t = times.array.asi8 if hasattr(times.array, "asi8") else times.astype("int64").to_numpy()
        t = np.where(times.isna().to_numpy(), np.iinfo(np.int64).min, t)
        self._t = t
        level = _Ints(events["level"])
        sev = np.full(n, 3, dtype=np.int64)          # SEVERITY; a level it does not name reads as information
        for value, rank in SEVERITY.items():
            sev[(level.values == value) & ~level.missing] = rank
        # records of each group, cited first then newest: positions order_rows[start[g]:end[g]]
        self.order_rows = np.lexsort((-t, ~cited_mask, gid))
        ordered = gid[self.order_rows]
        self._start = np.searchsorted(ordered, np.arange(n_groups), "left")
        self._end = np.searchsorted(ordered, np.arange(n_groups), "right")
        count = np.bincount(gid, minlength=n_groups)
        cited_n = np.bincount(gid, weights=cited_mask, minlength=n_groups).astype(np.int64)
        t_sorted, sev_sorted = t[self.order_rows], sev[self.order_rows]
        t_min = np.minimum.reduceat(t_sorted, self._start)
        t_max = np.maximum.reduceat(t_sorted, self._start)
        sev_min = np.minimum.reduceat(sev_sorted, self._start)
        pairs = np.unique(gid * (int(msg_c.max()) + 1) + msg_c)
        variants = np.bincount(pairs // (int(msg_c.max()) + 1), minlength=n_groups)
        # the newest record of each group (the last of equal times in frame order)
        by_time = np.lexsort((np.arange(n), t, gid))
        newest_rows = by_time[np.searchsorted(gid[by_time], np.arange(n_groups), "right") - 1]
        channel = _Text(events["channel"])
        self._cols = {"record_id": rid, "channel": channel, "message": message, "data": data, "source": source}
        for g in range(n_groups):
            i = int(newest_rows[g])
            template, _ = info[combo_c[i]]
            event_id = text(eid[i])
            server = server_u[server_c[i]]
            key = SEP.join((host_upper[host.codes[i]], event_id, (prov[i] or src_name[i]).lower(), template or "",
                            server.lower(), "" if template else message[i]))
            self.keys.append(key)
            self._gid_of_key[key] = g
            severity = int(sev_min[g])
            self.stats.append({
                "gid": g, "host": host[i], "event_id": event_id, "count": int(count[g]),
                "first": _when(t_min[g]), "last": _when(t_max[g]), "severity": severity,
                "level": _level(level[i], severity), "cited": int(cited_n[g]), "variants": int(variants[g]),
                "message": message[i] or text(data[i])[:500], "channel": channel[i],
                "source": source[i], "record_id": rid[i],
                "server": server, "template": template or "", "t_max": int(t_max[g]),
            })

    def __len__(self) -> int:
        return len(self.stats)

    def group_of(self, source: str, record_id) -> Optional[int]:
        """The group of a cited record."""
        return self._by_record.get((source, number(record_id)))

    def group_of_key(self, key: str) -> Optional[int]:
        return self._gid_of_key.get(key) if self.keys else None

    def raw(self, gid: int, cap: int = RAW_CAP) -> list[dict]:
        """The group's records, cited first then newest, at most ``cap``."""
        idx = self.order_rows[self._start[gid]:min(self._end[gid], self._start[gid] + cap)]
        c = self._cols
        return [{"time": fmt_time(_when(self._t[i])), "record_id": text(c["record_id"][i]),
                 "channel": c["channel"][i], "message": c["message"][i] or text(c["data"][i])[:500],
                 "source": c["source"][i], "cited": bool(self.cited_mask[i]), "note": ""} for i in idx.tolist()]


class _Text:
    """A text column as codes and distinct values; a missing value reads as '' (as ``fillna('')``)."""

    __slots__ = ("codes", "values")

    def __init__(self, series: pd.Series):
        if not isinstance(series.dtype, pd.StringDtype):
            series = series.astype("string")
        codes, uniques = pd.factorize(series, sort=False)          # pyarrow's dictionary encoding
        self.values = list(uniques)
        codes = codes.astype(np.int64, copy=False)
        missing = codes < 0
        if missing.any():
            if "" not in self.values:
                self.values.append("")
            codes = np.where(missing, self.values.index(""), codes)
        self.codes = codes

    def __getitem__(self, i) -> str:
        return self.values[self.codes[i]]


class _Ints:
    """An integer column (Int64) as values, a missing mask and codes (missing: its own code)."""

    __slots__ = ("codes", "missing", "series", "values")

    def __init__(self, series: pd.Series):
        self.series = series.astype("Int64")
        self.missing = self.series.isna().to_numpy(dtype=bool)
        self.values = self.series.to_numpy(dtype=np.int64, na_value=0)
        self.codes = np.where(self.missing, 0, _factorize(self.values)[0] + 1)

    def __getitem__(self, i) -> Optional[int]:
        return None if self.missing[i] else int(self.values[i])


def _factorize(values: np.ndarray) -> tuple[np.ndarray, list]:
    """(codes in order of first appearance, the distinct values); a missing value is one value."""
    codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), list(uniques)


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Codes of the pairs (a, b) of two code arrays, in order of first appearance."""
    return _factorize(a * (int(b.max()) + 1) + b)[0]


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """The first row of each code (codes numbered in order of first appearance)."""
    return np.unique(codes, return_index=True)[1]


def _when(ns: int):
    return None if ns == np.iinfo(np.int64).min else pd.Timestamp(int(ns), tz="UTC")


def _level(level, severity: int) -> str:
    lv = number(level)
    name = {0: "critical", 1: "error", 2: "warning"}.get(severity)
    return name or LEVELS.get(lv, "info")


def span(first, last, count: int) -> str:
    """"2024-09-21 10:15:00Z" or "2024-09-21 10:15:00Z – 2024-11-05 06:15:00Z"."""
    a, b = fmt_time(first), fmt_time(last)
    return a if count <= 1 or a == b else f"{a} – {b}"


def evidence_rows(evidence: list, index, row_of) -> list[dict]:
    """A finding's event evidence as one row per group, in the order the rule cited them.

    ``index``: the report's ``EventIndex`` (its :meth:`groups` over the whole events frame, so
    a row counts every event of its group in the bundle, not only the cited ones); ``row_of``:
    ``Evidence -> dict``, the single-record row (``view_evidence.event_evidence_row``)."""
    groups: EventGroups = index.groups()
    order: list = []
    members: dict = {}
    for ev in evidence:
        d = {**index.get(ev), **{k: v for k, v in ev.detail.items() if not is_missing(v) and v != ""}}
        gid = groups.group_of(ev.source, ev.locator.get("record_id"))
        if gid is None:
            key = group_key(d.get("host"), d.get("provider"), d.get("source_name"), d.get("event_id"), d.get("data"),
                            d.get("message"))
            gid = groups.group_of_key(key)
            gid = ("k", key) if gid is None else gid
        if gid not in members:
            order.append(gid)
            members[gid] = []
        members[gid].append(row_of(ev))
    out = []
    for gid in order:
        rows = members[gid]
        latest = max(rows, key=lambda r: r["time"])
        notes = list(dict.fromkeys(r["note"] for r in rows if r["note"]))
        if isinstance(gid, tuple):               # not in the events frame: the cited records are all we know
            times = sorted(r["time"] for r in rows if r["time"])
            count, first, last, server, variants = len(rows), times[0] if times else "", times[-1] if times else "", "", \
                len({r["message"] for r in rows})
        else:
            s = groups.stats[gid]
            count, first, last, server, variants = s["count"], s["first"], s["last"], s["server"], s["variants"]
        out.append({**latest, "time": span(first, last, count), "first": fmt_time(first), "last": fmt_time(last),
                    "count": count, "cited": len(rows), "server": server, "variants": variants,
                    "note": "; ".join(notes), "raw": sorted(rows, key=lambda r: r["time"], reverse=True)[:RAW_CAP],
                    "raw_omitted": max(0, len(rows) - RAW_CAP)})
    return out


def section_rows(groups: EventGroups, cap: int) -> tuple[list[dict], int]:
    """The events section: the ``cap`` most relevant groups (any cited record first, then the
    most severe, then the newest), shown newest first; and how many groups were left out."""
    stats = groups.stats
    ranked = sorted(stats, key=lambda s: (s["cited"] == 0, s["severity"], -s["t_max"], s["gid"]))[:cap]
    ranked.sort(key=lambda s: (-s["t_max"], s["gid"]))
    per_group = max(3, min(RAW_CAP, RAW_TOTAL // max(1, len(ranked))))
    rows = []
    for s in ranked:
        raw = groups.raw(s["gid"], per_group) if s["count"] > 1 else []
        rows.append({
            "time": fmt_time(s["last"]), "span": span(s["first"], s["last"], s["count"]), "first": fmt_time(s["first"]),
            "last": fmt_time(s["last"]), "host": s["host"], "channel": s["channel"], "event_id": s["event_id"],
            "level": s["level"], "level_key": str(s["severity"]), "count": s["count"], "cited": s["cited"] > 0,
            "cited_count": s["cited"], "message": s["message"], "server": s["server"], "variants": s["variants"],
            "record_id": text(s["record_id"]), "source": s["source"], "raw": raw,
            "raw_omitted": max(0, s["count"] - len(raw)) if raw else 0,
        })
    return rows, max(0, len(stats) - len(ranked))
