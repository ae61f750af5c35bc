"""Evidence tables of a finding: event, registry and report rows, grouped by kind.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Optional

import numpy as np
import pandas as pd
from rdsla.core.cal_counts import pack_counts
from rdsla.core.model import Analysis, Evidence, Fact, Finding, HostProfile
from rdsla.reports.view_format import (
    EVIDENCE_ROW_CAP,
    LEVELS,
    fmt_time,
    is_missing,
    number,
    origin_label,
    text,
)


def short_source(path: str) -> str:
    """A source's file name without its folders (issue 23 item 6): evidence cells show
    ``RDSH01_System.evtx #1234``; the full path is the cell's tooltip and in the ingest section.
    A zip member keeps its member name; a path of folders only stays whole."""
    p = text(path).rstrip("/\\")
    name = p.replace("\\", "/").rsplit("/", 1)[-1]
    return name or p


def registry_origin(key: str) -> str:
    """Which configuration source a registry key belongs to (Group Policy or deployment)."""
    k = key.lower()
    if "\\policies\\" in k:
        return "group_policy"
    if "licensing core" in k or "termservice\\parameters\\licenseservers" in k:
        return "deployment"
    return ""


def _effective_for(host: Optional[HostProfile], value_name: str) -> Optional[Fact]:
    if host is None:
        return None
    name = value_name.lower()
    if name == "licensingmode":
        return host.licensing_mode
    if name in ("licenseservers", "specifiedlicenseservers"):
        return host.license_servers
    return None


def cited_records(evidence: Iterable[Evidence]) -> frozenset:
    """(source, record_id) of the event evidence: what :class:`EventIndex` looks up."""
    return frozenset((text(e.source), number(e.locator.get("record_id"))) for e in evidence if e.frame == "events")


class EventIndex:
    """Looks up cited events in the frame by (source, record_id) to fill missing details."""

    COLUMNS = ("time", "channel", "event_id", "level", "message", "data", "record_id", "source")

    def __init__(self, events: pd.DataFrame, evidence: Iterable[Evidence]):
        self._events, self._groups = events, None
        self._cited = set(cited_records(evidence))
        wanted = {rid for _, rid in self._cited}
        wanted.discard(None)
        self.rows: dict[tuple, dict] = {}
        if wanted and len(events):
            at = np.flatnonzero(events["record_id"].isin(list(wanted)).fillna(False).to_numpy(dtype=bool))
            cols = {c: events[c].take(at).tolist() for c in self.COLUMNS}
            for i in range(len(at)):
                row = {c: cols[c][i] for c in self.COLUMNS}
                rid = number(row["record_id"])
                self.rows.setdefault((text(row["source"]), rid), row)
                self.rows.setdefault((None, rid), row)

    def get(self, ev: Evidence) -> dict:
        rid = number(ev.locator.get("record_id"))
        return self.rows.get((ev.source, rid)) or self.rows.get((None, rid)) or {}

    def groups(self):
        """The events frame grouped (``reports.view_event_groups``), built once per report."""
        if self._groups is None:
            from rdsla.reports.view_event_groups import EventGroups
            self._groups = EventGroups(self._events, self._cited)
        return self._groups


def event_evidence_row(ev: Evidence, index: EventIndex) -> dict:
    d, row = ev.detail, index.get(ev)

    def pick(name, *alts):
        for key in (name,) + alts:
            if not is_missing(d.get(key)) and d.get(key) != "":
                return d.get(key)
        return row.get(name)
    level = number(pick("level"))
    return {"time": fmt_time(pick("time")), "channel": text(pick("channel")), "event_id": text(pick("event_id")),
            "level": LEVELS.get(level, text(d.get("level", ""))) if level is not None else text(d.get("level", "")),
            "message": text(pick("message")) or text(row.get("data")),
            "record_id": text(pick("record_id") if not is_missing(pick("record_id")) else ev.locator.get("record_id")),
            "source": text(ev.source), "source_short": short_source(ev.source), "note": text(ev.note)}


def registry_evidence_row(ev: Evidence, host: Optional[HostProfile]) -> dict:
    d, loc = ev.detail, ev.locator
    key = text(d.get("key") or loc.get("key"))
    value = text(d.get("value") or loc.get("value"))
    origin = text(d.get("origin")) or registry_origin(key)
    won = d.get("won")
    effective = _effective_for(host, value)
    if won is None and origin in ("group_policy", "deployment") and effective is not None:
        won = effective.origin == origin
    if won is None:
        verdict = ""
    elif won:
        verdict = "in effect"
    else:
        verdict = f"overridden by {origin_label(effective.origin)}" if effective is not None else "overridden"
    return {"key": key, "value": value, "data": text(d.get("data")), "last_write": fmt_time(d.get("last_write")),
            "source": text(ev.source), "source_short": short_source(ev.source), "origin": origin_label(origin),
            "won": verdict, "note": text(ev.note)}


def evidence_groups(finding: Finding, analysis: Analysis, index: EventIndex) -> list[dict]:
    """The evidence of one finding as small tables: events, registry, then report rows."""
    host = analysis.host(finding.host) if finding.host else None
    events, registry, other = [], [], OrderedDict()
    cap = EVIDENCE_ROW_CAP
    n_registry = 0
    event_evidence = [ev for ev in finding.evidence if ev.frame == "events"]
    if event_evidence:       # one row per host, id, template and named server (view_event_groups)
        from rdsla.reports.view_event_groups import evidence_rows
        events = evidence_rows(event_evidence, index, lambda ev: event_evidence_row(ev, index))
    n_events = len(events)
    for ev in finding.evidence:
        if ev.frame == "events":
            continue
        elif ev.frame == "registry":
            n_registry += 1
            if n_registry <= cap:
                registry.append(registry_evidence_row(ev, host))
        else:
            other.setdefault(ev.frame, []).append(ev)
    groups = []
    if events:
        groups.append(_group("events", "Events", events[:cap], n_events))
    if registry:
        groups.append(_group("registry", "Registry values", registry, n_registry))
    for frame, evs in other.items():
        columns: list[str] = []
        for ev in evs:
            for key in list(ev.locator) + list(ev.detail):
                if key not in columns and not (frame == "keypacks" and key == "unlimited"):
                    columns.append(key)
        rows = [{"cells": [_evidence_cell(frame, ev, c) for c in columns],
                 "source": text(ev.source), "source_short": short_source(ev.source), "note": text(ev.note)}
                for ev in evs[:cap]]
        group = _group("report", f"Report rows ({text(frame)})", rows, len(evs))
        group["columns"] = [text(c) for c in columns]
        groups.append(group)
    return groups


def _evidence_cell(frame: str, ev: Evidence, column: str) -> str:
    """One cell of a report-row evidence table; a key pack's counts read as the CAL table reads
    them (a number, "unlimited" or "unknown"; the ``unlimited`` flag is folded into them)."""
    if frame == "keypacks" and column in ("total", "issued", "available") and column in ev.detail:
        return str(getattr(pack_counts(ev.detail), column))
    return text(ev.detail.get(column, ev.locator.get(column)))


def _group(kind: str, title: str, rows: list, total: Optional[int] = None) -> dict:
    total = len(rows) if total is None else total
    return {"kind": kind, "title": title, "rows": rows[:EVIDENCE_ROW_CAP], "total": total,
            "omitted": max(0, total - EVIDENCE_ROW_CAP)}
