"""Analysis -> plain view-model dicts (strings, numbers, lists) for the report templates.

Every value the templates print is prepared here, so the templates stay dumb and jinja2's
autoescape handles every string from the bundle. Dates are computed at ``analysis.as_of``,
never the wall clock.
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

import numpy as np
import pandas as pd

from rdsla.core.cal_counts import pack_counts, pool_counts
from rdsla.core.model import (LICENSING_MODES, SEVERITIES, Analysis, Evidence, Fact, Finding,
                            HostProfile, severity_rank)

EVENT_ROW_CAP = 2000
EVIDENCE_ROW_CAP = 12     # rows shown per evidence table of one finding

ORIGIN_LABELS = {
    "group_policy": "Group Policy", "deployment": "deployment (RCM / RDMS)", "wmi_export": "WMI export",
    "registry": "registry", "event": "event", "report": "licensing report", "file_name": "file name",
}
ROLE_LABELS = OrderedDict([
    ("session_host", "RD Session Host"), ("licensing", "RD Licensing"),
    ("connection_broker", "RD Connection Broker"), ("gateway", "RD Gateway"), ("web_access", "RD Web Access"),
])
LEVELS = {1: "critical", 2: "error", 3: "warning", 4: "info", 0: "info", 5: "verbose"}
STATE_LABELS = {"detected": "detected", "not_detected": "not detected", "not_checked": "not checked"}
CAL_TYPES = {"per_user": "per user", "per_device": "per device"}
VERSION_LABELS = {"2008R2": "2008 R2", "2012R2": "2012 R2"}


# --- scalar formatting ---------------------------------------------------------------------

def is_missing(value: Any) -> bool:
    if type(value) is str or type(value) is int:
        return False
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return False


def fmt_time(value: Any) -> str:
    """A UTC timestamp as ``YYYY-MM-DD HH:MM:SSZ`` (strings pass through)."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):  # also pd.Timestamp
        if value.tzinfo is not None and value.utcoffset():
            value = value.astimezone(timezone.utc)
        return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
                f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z")
    return str(value)


def text(value: Any) -> str:
    """Any value as display text ('' when missing); never markup."""
    if type(value) is str:
        return value
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return "yes" if value else "no"
    if isinstance(value, (pd.Timestamp, datetime)):
        return fmt_time(value)
    if isinstance(value, dict):
        return "; ".join(f"{text(k)}={text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(text(v) for v in items)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def number(value: Any) -> Optional[int]:
    if type(value) is int:
        return value
    if is_missing(value):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def version_label(label: Any) -> str:
    return VERSION_LABELS.get(text(label), text(label))


def origin_label(origin: Any) -> str:
    return ORIGIN_LABELS.get(text(origin), text(origin))


def confidence_word(confidence: float) -> str:
    return "high" if confidence >= 0.75 else "medium" if confidence >= 0.5 else "low"


def mode_label(value: Any) -> str:
    if is_missing(value):
        return ""
    try:
        return f"{LICENSING_MODES.get(int(value), 'unknown').replace('_', ' ')} ({int(value)})"
    except (TypeError, ValueError):
        return text(value)


def fact_view(fact: Optional[Fact], render=text) -> Optional[dict]:
    if fact is None:
        return None
    return {"value": render(fact.value), "origin": origin_label(fact.origin),
            "sources": sorted({e.source for e in fact.evidence if e.source})}


# --- evidence --------------------------------------------------------------------------------

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


class EventIndex:
    """Looks up cited events in the frame by (source, record_id) to fill missing details."""

    COLUMNS = ("time", "channel", "event_id", "level", "message", "data", "record_id", "source")

    def __init__(self, events: pd.DataFrame, evidence: Iterable[Evidence]):
        wanted = {number(e.locator.get("record_id")) for e in evidence if e.frame == "events"}
        wanted.discard(None)
        self.rows: dict[tuple, dict] = {}
        if wanted and len(events):
            hit = events.loc[events["record_id"].isin(list(wanted)).fillna(False).to_numpy(dtype=bool),
                             list(self.COLUMNS)]
            cols = {c: hit[c].tolist() for c in self.COLUMNS}
            for i in range(len(hit)):
                row = {c: cols[c][i] for c in self.COLUMNS}
                rid = number(row["record_id"])
                self.rows.setdefault((text(row["source"]), rid), row)
                self.rows.setdefault((None, rid), row)

    def get(self, ev: Evidence) -> dict:
        rid = number(ev.locator.get("record_id"))
        return self.rows.get((ev.source, rid)) or self.rows.get((None, rid)) or {}


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
            "source": text(ev.source), "note": text(ev.note)}


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
            "source": text(ev.source), "origin": origin_label(origin), "won": verdict, "note": text(ev.note)}


def evidence_groups(finding: Finding, analysis: Analysis, index: EventIndex) -> list[dict]:
    """The evidence of one finding as small tables: events, registry, then report rows."""
    host = analysis.host(finding.host) if finding.host else None
    events, registry, other = [], [], OrderedDict()
    cap = EVIDENCE_ROW_CAP
    n_events = n_registry = 0
    for ev in finding.evidence:
        if ev.frame == "events":
            n_events += 1
            if n_events <= cap:
                events.append(event_evidence_row(ev, index))
        elif ev.frame == "registry":
            n_registry += 1
            if n_registry <= cap:
                registry.append(registry_evidence_row(ev, host))
        else:
            other.setdefault(ev.frame, []).append(ev)
    groups = []
    if events:
        groups.append(_group("events", "Events", events, n_events))
    if registry:
        groups.append(_group("registry", "Registry values", registry, n_registry))
    for frame, evs in other.items():
        columns: list[str] = []
        for ev in evs:
            for key in list(ev.locator) + list(ev.detail):
                if key not in columns and not (frame == "keypacks" and key == "unlimited"):
                    columns.append(key)
        rows = [{"cells": [_evidence_cell(frame, ev, c) for c in columns],
                 "source": text(ev.source), "note": text(ev.note)} for ev in evs[:cap]]
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


# --- verdict and findings --------------------------------------------------------------------

def _finding_for(analysis: Analysis, rule_id: str, host: Optional[str]) -> Optional[Finding]:
    best = None
    for f in analysis.findings:
        if f.rule_id == rule_id and f.state == "detected":
            if f.host == host:
                return f
            best = best or f
    return best


def _finding_order(f: Finding) -> tuple:
    state = {"detected": 0, "not_checked": 1, "not_detected": 2}.get(f.state, 3)
    kind = {"cause": 0, "symptom": 1, "info": 2}.get(f.kind, 3)
    sev = -severity_rank(f.severity) if f.severity in SEVERITIES else 0
    return (state, kind, sev, f.rule_id, f.host or "")


def verdict_view(analysis: Analysis) -> dict:
    causes = []
    for rc in analysis.root_causes:
        finding = _finding_for(analysis, rc.rule_id, rc.host)
        causes.append({
            "rule_id": text(rc.rule_id), "host": text(rc.host) or "the bundle", "title": text(rc.title),
            "summary": text(rc.summary) or (text(finding.summary) if finding else ""),
            "confidence": int(round(max(0.0, min(1.0, rc.confidence)) * 100)),
            "confidence_word": confidence_word(rc.confidence),
            "severity": text(finding.severity) if finding else "",
            "remediation": [text(s) for s in (finding.remediation if finding else [])],
            "related_hosts": [text(h) for h in rc.related_hosts],
            "symptoms": [text(s) for s in rc.symptoms],
            "evidence_count": len(finding.evidence) if finding else 0,
        })
    detected = [f for f in analysis.findings if f.state == "detected"]
    symptoms = [{"rule_id": text(f.rule_id), "host": text(f.host) or "the bundle", "title": text(f.title),
                 "severity": text(f.severity), "summary": text(f.summary), "explains": [text(x) for x in f.explains]}
                for f in sorted(detected, key=_finding_order) if f.kind == "symptom"]
    not_checked = sum(1 for f in analysis.findings if f.state == "not_checked")
    return {"top": causes[0] if causes else None, "others": causes[1:], "symptoms": symptoms,
            "not_checked": not_checked, "detected": len(detected)}


def ticket_text(analysis: Analysis, verdict: dict, findings: list[dict]) -> str:
    """The plain-text summary to paste into a ticket (rendered escaped, never as markup)."""
    lines = [f"RDS licensing analysis (rdsla), as of {fmt_time(analysis.as_of)} ({analysis.as_of_origin})"]
    top = verdict["top"]
    if top is None:
        lines.append("Root cause: none found.")
    else:
        lines.append(f"Root cause: {top['rule_id']} {top['title']} on {top['host']} "
                     f"(confidence {top['confidence']}%, {top['confidence_word']})")
        if top["summary"]:
            lines.append(f"Why: {top['summary']}")
        if top["remediation"]:
            lines.append("Fix:")
            lines.extend(f"  {i}. {step}" for i, step in enumerate(top["remediation"], 1))
        top_finding = next((f for f in findings if f["rule_id"] == top["rule_id"] and f["state"] == "detected"), None)
        if top_finding:
            shown = 0
            for group in top_finding["evidence"]:
                for row in group["rows"]:
                    if shown == 5:
                        break
                    if shown == 0:
                        lines.append("Evidence:")
                    lines.append("  - " + evidence_line(group["kind"], row, group.get("columns")))
                    shown += 1
    for other in verdict["others"]:
        lines.append(f"Also: {other['rule_id']} {other['title']} on {other['host']} ({other['confidence']}%)")
    for s in verdict["symptoms"]:
        lines.append(f"Symptom: {s['rule_id']} {s['title']} on {s['host']}")
    return "\n".join(lines)


def evidence_line(kind: str, row: dict, columns: Optional[list] = None) -> str:
    """One evidence row as one line of plain text."""
    if kind == "events":
        return (f"event {row['event_id']} {row['channel']} {row['time']} (record {row['record_id']}, "
                f"{row['source']}): {row['message']}")
    if kind == "registry":
        won = f", {row['won']}" if row["won"] else ""
        origin = f" [{row['origin']}{won}]" if row["origin"] else ""
        return f"{row['key']}\\{row['value']} = {row['data']} (last write {row['last_write']}, {row['source']}){origin}"
    cells = ", ".join(f"{c}={v}" for c, v in zip(columns or [], row["cells"]))
    return f"report row {cells} ({row['source']})"


def findings_view(analysis: Analysis, index: EventIndex) -> list[dict]:
    out = []
    for i, f in enumerate(sorted(analysis.findings, key=_finding_order)):
        out.append({
            "anchor": f"finding-{i}", "rule_id": text(f.rule_id), "state": text(f.state),
            "state_label": STATE_LABELS.get(f.state, text(f.state)), "severity": text(f.severity),
            "kind": text(f.kind), "title": text(f.title), "host": text(f.host) or "the bundle",
            "summary": text(f.summary), "remediation": [text(s) for s in f.remediation],
            "collect": [text(s) for s in f.collect], "related_hosts": [text(h) for h in f.related_hosts],
            "explains": [text(x) for x in f.explains],
            "evidence": evidence_groups(f, analysis, index) if f.state == "detected" or f.evidence else [],
        })
    return out


# --- hosts -----------------------------------------------------------------------------------

def host_view(host: HostProfile, as_of: datetime) -> dict:
    roles = [ROLE_LABELS.get(r, text(r)) for r, fact in host.roles.items() if fact.value]
    eff_mode, eff_ls = host.licensing_mode, host.license_servers
    mode_candidates = [{"value": mode_label(c.value), "origin": origin_label(c.origin),
                        "sources": sorted({e.source for e in c.evidence}),
                        "won": c is eff_mode}     # the profile's effective value is the winning candidate
                       for c in host.licensing_mode_candidates]
    ls_candidates = [{"value": text(c.value), "origin": origin_label(c.origin),
                      "sources": sorted({e.source for e in c.evidence}),
                      "won": c is eff_ls}
                     for c in host.license_server_candidates]
    gp = host.grace_period
    days_left = gp.days_left(as_of)
    if host.domain_joined is None:
        membership = "unknown"
    else:
        membership = "domain" if host.domain_joined.value else "workgroup"
    ls = host.license_server
    ls_facts = []
    for label, fact, render in (("Activation", ls.activation_status, text), ("Service state", ls.service_state, text),
                                ("Service start type", ls.service_start_type, _start_type),
                                ("Version", ls.version, version_label),
                                ("In Terminal Server License Servers group", ls.in_tsls_group, text),
                                ("License server security group policy", ls.secure_licensing, text),
                                ("DisableWorkgroupAuthEnforcement", ls.disable_workgroup_auth_enforcement, text)):
        if fact is not None:
            ls_facts.append({"label": label, **fact_view(fact, render)})
    return {
        "name": text(host.name), "aliases": sorted(text(a) for a in host.aliases), "fqdn": text(host.fqdn),
        "roles": roles, "os_product": fact_view(host.os_product), "os_version": fact_view(host.os_version, version_label),
        "os_build": fact_view(host.os_build), "membership": membership, "domain": fact_view(host.domain),
        "mode": fact_view(eff_mode, mode_label), "mode_candidates": mode_candidates,
        "license_servers": fact_view(eff_ls), "ls_candidates": ls_candidates,
        "grace_days_left": days_left, "grace_ends": fmt_time(gp.ends.value) if gp.ends else "",
        "grace_ends_origin": origin_label(gp.ends.origin) if gp.ends else "",
        "grace_reported": gp.days_left_reported is not None,
        "grace_expired_events": len(gp.expired_events),
        "certificate": fact_view(host.licensing_certificate),
        "deny_ts_connections": fact_view(host.deny_ts_connections),
        "connectivity": fact_view(host.connectivity_status),
        "ls_facts": ls_facts, "artifact_count": len(host.artifacts),
    }


def _start_type(value: Any) -> str:
    names = {2: "automatic", 3: "manual", 4: "disabled"}
    n = number(value)
    return f"{names[n]} ({n})" if n in names else text(value)


# --- CAL pool and compatibility --------------------------------------------------------------

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


# --- ingest health ----------------------------------------------------------------------------

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


# --- relevant events --------------------------------------------------------------------------

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


def events_view(events: pd.DataFrame, cited: set[tuple], cap: int = EVENT_ROW_CAP) -> dict:
    picked = select_events(events, cited, cap)
    rows = []
    cols = {c: picked[c].tolist() for c in ("host", "channel", "provider", "source_name", "event_id", "level",
                                            "record_id", "message", "data", "source")}
    times = picked["time"].dt.strftime("%Y-%m-%d %H:%M:%SZ").fillna("").tolist()
    for i in range(len(picked)):
        level = number(cols["level"][i])
        message = text(cols["message"][i])
        data = cols["data"][i]
        data_text = text(data) if isinstance(data, dict) else text(data) if not is_missing(data) else ""
        rid = number(cols["record_id"][i])
        rows.append({
            "time": times[i],
            "host": text(cols["host"][i]), "channel": text(cols["channel"][i]),
            "provider": text(cols["provider"][i]) or text(cols["source_name"][i]),
            "event_id": text(number(cols["event_id"][i])), "level": LEVELS.get(level, "info"),
            "level_key": str(level if level is not None else 4),
            "message": message if message else data_text[:500],
            "data": data_text[:500] if message else "",
            "record_id": text(rid), "source": text(cols["source"][i]),
            "cited": (text(cols["source"][i]), rid) in cited,
        })
    total = len(events)
    return {"rows": rows, "total": total, "shown": len(rows), "omitted": total - len(rows), "cap": cap}


def cited_events(analysis: Analysis, index: EventIndex) -> set[tuple]:
    cited = set()
    for f in analysis.findings:
        for ev in f.evidence:
            if ev.frame == "events":
                rid = number(ev.locator.get("record_id"))
                if rid is not None:
                    cited.add((text(ev.source), rid))
    return cited


# --- the whole report ------------------------------------------------------------------------

def build(analysis: Analysis, event_cap: int = EVENT_ROW_CAP) -> dict:
    """The full view model of one analysis."""
    from rdsla.reports import timeline_svg

    all_evidence = [ev for f in analysis.findings for ev in f.evidence]
    index = EventIndex(analysis.frames["events"], all_evidence)
    verdict = verdict_view(analysis)
    findings = findings_view(analysis, index)
    doc = compat_document()
    art = analysis.frames["artifacts"]
    artifacts = artifacts_view(art)
    counts = {}
    for f in findings:
        counts[f["state"]] = counts.get(f["state"], 0) + 1
    return {
        "as_of": fmt_time(analysis.as_of), "as_of_origin": text(analysis.as_of_origin),
        "inputs": [text(p) for p in analysis.inputs], "messages": [text(m) for m in analysis.messages],
        "verdict": verdict, "ticket": ticket_text(analysis, verdict, findings),
        "findings": findings, "finding_counts": counts,
        "hosts": [host_view(h, analysis.as_of) for h in analysis.hosts],
        "keypacks": keypack_rows(analysis.frames["keypacks"], analysis.frames["issued"]),
        "issued_total": len(analysis.frames["issued"]),
        "compat_available": doc is not None, "matrices": matrices_view(analysis, doc),
        "timeline": timeline_svg.layout(analysis),
        "artifacts": artifacts,
        "records_lost": sum(a["records_lost"] for a in artifacts),
        "not_checked": [f for f in findings if f["state"] == "not_checked"],
        "events": events_view(analysis.frames["events"], cited_events(analysis, index), event_cap),
    }
