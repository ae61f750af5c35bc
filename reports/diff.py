"""``rdsla diff``: what changed between two analyses of one case (before and after a fix).

:func:`compare` takes two findings documents (the findings.json of :mod:`reports.findings_json`,
as dicts) and returns the diff document (schema ``rdsla.diff/1``), a plain JSON value:

- ``causes``: ``resolved`` (detected before, checked and not detected after), ``new`` (detected
  after only), ``persisting`` (detected on both sides), ``unverified`` (detected before, but the
  after side could not check it: ``not_checked``, or the host is missing from the upload) --
  findings of kind ``cause``, matched by rule id and host; ``symptoms`` likewise.
- ``hosts``: per machine, the configuration that changed: licensing mode, license servers (with
  the source that won, and every candidate), LS certificate, grace period, OS, roles, coverage
  (what was collected and what is missing: the profile's ``coverage`` lists where the
  findings.json has them, else the artifact kinds of the host).
- ``cal_pool``: per license server, CAL version and type: total / issued / available on each side.
- ``events``: per licensing event id (legacy id, all hosts): events per day in the current
  window (``current_days`` before each side's ``as_of``), totals, the hosts that logged it.
- ``remaining`` and ``exit_code``: the causes detected after at or above ``fail_on``; exit 1
  when there is one (DESIGN.md "Contracts": exit codes).

:func:`render_json` and :func:`render_markdown` write it; :mod:`reports.diff_view` the HTML.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Optional

from rdsla.core.model import SEVERITIES, severity_rank
from rdsla.reports.diff_facts import CURRENT_DAYS

SCHEMA = "rdsla.diff/1"
FINDINGS_SCHEMA_PREFIX = "rdsla.findings/"
CATEGORIES = ("resolved", "new", "persisting", "unverified")
CATEGORY_LABELS = {"resolved": "Resolved", "new": "New", "persisting": "Persisting",
                   "unverified": "Not re-checked"}


class NotAFindingsDocument(ValueError):
    """A JSON value that is not a findings.json written by rdsla."""


def check_document(doc: Any, label: str = "") -> dict:
    """``doc`` when it is a findings document (schema ``rdsla.findings/N``), else raise."""
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith(FINDINGS_SCHEMA_PREFIX) \
            or not isinstance(doc.get("findings"), list):
        raise NotAFindingsDocument(f"{label or 'input'}: not a findings.json written by rdsla "
                                   f"(no schema {FINDINGS_SCHEMA_PREFIX}N)")
    return doc


# ------------------------------------------------------------------ compare

def compare(before: dict, after: dict, fail_on: str = "error", labels: tuple[str, str] = ("before", "after")) -> dict:
    """The diff document of two findings documents."""
    if fail_on not in SEVERITIES:
        raise ValueError(f"fail_on: {fail_on!r} is not one of {', '.join(SEVERITIES)}")
    check_document(before, labels[0])
    check_document(after, labels[1])
    causes = _match(before, after, "cause")
    remaining = [c for c in causes["new"] + causes["persisting"]
                 if severity_rank(c["severity"]) >= severity_rank(fail_on)]
    return {
        "schema": SCHEMA,
        "before": _side(before, labels[0]),
        "after": _side(after, labels[1]),
        "fail_on": fail_on,
        "causes": causes,
        "symptoms": _match(before, after, "symptom"),
        "hosts": _hosts(before, after),
        "cal_pool": _cal_pool(before, after),
        "events": _events(before, after),
        "current_days": after.get("current_days") or before.get("current_days") or CURRENT_DAYS,
        "remaining": [{"rule_id": c["rule_id"], "host": c["host"], "severity": c["severity"]} for c in remaining],
        "exit_code": 1 if remaining else 0,
    }


def _side(doc: dict, label: str) -> dict:
    top = (doc.get("root_causes") or [None])[0]
    verdict = doc.get("verdict") or {}
    return {"label": label, "as_of": doc.get("as_of"), "current_days": doc.get("current_days") or CURRENT_DAYS,
            "inputs": list(doc.get("inputs") or []),
            "hosts": [h.get("name") for h in doc.get("hosts") or []],
            "top": {"rule_id": top.get("rule_id"), "host": top.get("host"), "title": top.get("title"),
                    "confidence": top.get("confidence"), "summary": top.get("summary")} if top else None,
            "verdict": verdict.get("state") or ("cause" if top else "no cause"),
            "facts": all(k in doc for k in ("cal_pool", "event_counts"))}


def _key(f: dict) -> tuple:
    return (str(f.get("rule_id") or ""), _host_key(f.get("host")))


def _host_key(name: Optional[str]) -> str:
    return (name or "").upper()


def _detected(doc: dict, kind: str) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for f in doc.get("findings") or []:
        if f.get("state") == "detected" and f.get("kind") == kind:
            key = _key(f)
            if key in out:          # one rule on one host: keep the most severe
                if severity_rank(_severity(f)) <= severity_rank(_severity(out[key])):
                    continue
            out[key] = f
    return out


def _severity(f: dict) -> str:
    s = f.get("severity")
    return s if s in SEVERITIES else "info"


def _states(doc: dict) -> dict[tuple, str]:
    out: dict[tuple, str] = {}
    for f in doc.get("findings") or []:
        key = _key(f)
        state = f.get("state")
        # detected beats not_detected beats not_checked when a rule reports one host twice
        order = {"detected": 2, "not_detected": 1, "not_checked": 0}
        if key not in out or order.get(state, -1) > order.get(out[key], -1):
            out[key] = state
    return out


def _confidence(doc: dict) -> dict[tuple, tuple[int, float]]:
    return {(str(rc.get("rule_id") or ""), _host_key(rc.get("host"))): (i + 1, rc.get("confidence"))
            for i, rc in enumerate(doc.get("root_causes") or [])}


def _match(before: dict, after: dict, kind: str) -> dict[str, list[dict]]:
    b, a = _detected(before, kind), _detected(after, kind)
    after_states = _states(after)
    after_hosts = {_host_key(h.get("name")) for h in after.get("hosts") or []}
    rank_b, rank_a = _confidence(before), _confidence(after)
    out: dict[str, list[dict]] = {c: [] for c in CATEGORIES}
    for key, f in b.items():
        if key in a:
            category = "persisting"
        else:
            state = after_states.get(key)
            host_missing = bool(key[1]) and key[1] not in after_hosts and state is None
            category = "unverified" if state == "not_checked" or host_missing else "resolved"
        g = a.get(key)
        out[category].append(_entry(f, g, rank_b.get(key), rank_a.get(key), after_states.get(key)))
    for key, g in a.items():
        if key not in b:
            out["new"].append(_entry(None, g, None, rank_a.get(key), "detected"))
    for items in out.values():
        items.sort(key=lambda e: (-severity_rank(e["severity"]), e["rule_id"], e["host"] or ""))
    return out


def _entry(before: Optional[dict], after: Optional[dict], rank_b, rank_a, after_state: Optional[str]) -> dict:
    f = after or before
    severity = max((_severity(x) for x in (before, after) if x), key=severity_rank)
    return {"rule_id": f.get("rule_id"), "host": f.get("host"), "title": f.get("title"),
            "severity": severity, "kind": f.get("kind"),
            "before": _finding_side(before, rank_b), "after": _finding_side(after, rank_a),
            "after_state": after_state or "absent"}


def _finding_side(f: Optional[dict], rank) -> Optional[dict]:
    if f is None:
        return None
    return {"summary": f.get("summary") or "", "severity": _severity(f),
            "root_cause_rank": rank[0] if rank else None, "confidence": rank[1] if rank else None,
            "evidence": len(f.get("evidence") or [])}


# ------------------------------------------------------------------ hosts

def _fact_value(fact: Any) -> Any:
    return fact.get("value") if isinstance(fact, dict) else None


def _origin(fact: Any) -> str:
    return str(fact.get("origin") or "") if isinstance(fact, dict) else ""


def _servers(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "(empty)"
    return "" if value is None else str(value)


def _with_origin(text: str, fact: Any) -> str:
    from rdsla.reports.view_format import origin_label
    origin = origin_label(_origin(fact))
    return f"{text} ({origin})" if text and origin else text


def host_config(h: dict, artifacts: Iterable[dict] = ()) -> dict[str, str]:
    """The compared configuration of one host profile (findings.json ``hosts[]``) as text."""
    mode = h.get("licensing_mode")
    mode_text = (h.get("licensing_mode_name") or "").replace("_", " ")
    if mode_text and _fact_value(mode) is not None:
        mode_text = f"{mode_text} ({_fact_value(mode)})"
    ls = h.get("license_servers")
    cands = "; ".join(_with_origin(_servers(_fact_value(c)), c) for c in h.get("license_server_candidates") or [])
    cert = _fact_value(h.get("licensing_certificate"))
    grace = h.get("grace_period") or {}
    days = grace.get("days_left")
    ends = _fact_value(grace.get("ends"))
    grace_bits = []
    if days is not None:
        grace_bits.append(f"{days} day(s) left")
    if ends:
        grace_bits.append(f"ends {str(ends)[:10]}")
    if grace.get("expired_events"):
        grace_bits.append(f"{len(grace['expired_events'])} expiry event(s) cited")
    roles = sorted(k for k, v in (h.get("roles") or {}).items() if _fact_value(v))
    os_v = _fact_value(h.get("os_version")) or _fact_value(h.get("os_product"))
    build = _fact_value(h.get("os_build"))
    coverage_text = _coverage_text(h.get("coverage"))
    if coverage_text is None:
        kinds: dict[str, int] = {}
        for a in artifacts:
            if _host_key(a.get("host")) == _host_key(h.get("name")) and a.get("kind") not in (None, "unknown"):
                kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
        coverage_text = ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "nothing"
    return {
        "licensing mode": _with_origin(mode_text, mode) or "unknown",
        "license servers": _with_origin(_servers(_fact_value(ls)), ls) if ls else "none",
        "license server candidates": cands or "none",
        "LS certificate": "unknown" if cert is None else "present" if cert else "absent",
        "grace period": "; ".join(grace_bits) or "unknown",
        "OS": f"{os_v}{f' build {build}' if build else ''}" if os_v else "unknown",
        "roles": ", ".join(roles) or "unknown",
        "coverage": coverage_text,
    }


def _coverage_text(coverage: Any) -> Optional[str]:
    """A profile's coverage as one comparable line: what was collected and what is missing
    (labels, never file paths or times, which differ between any two uploads); None when the
    record has no such lists."""
    if not isinstance(coverage, dict) or not ("collected" in coverage or "missing" in coverage):
        return None
    collected = ", ".join(str(x) for x in coverage.get("collected") or []) or "nothing"
    missing = ", ".join(str(x) for x in coverage.get("missing") or [])
    return collected + (f"; missing: {missing}" if missing else "")


def _hosts(before: dict, after: dict) -> list[dict]:
    b = {_host_key(h.get("name")): h for h in before.get("hosts") or []}
    a = {_host_key(h.get("name")): h for h in after.get("hosts") or []}
    out = []
    for key in sorted(set(b) | set(a)):
        hb, ha = b.get(key), a.get(key)
        cb = host_config(hb, before.get("artifacts") or []) if hb else None
        ca = host_config(ha, after.get("artifacts") or []) if ha else None
        changes = []
        if cb and ca:
            changes = [{"field": k, "before": cb[k], "after": ca.get(k)} for k in cb if cb[k] != ca.get(k)]
        else:       # a machine in one upload only: one line, its configuration in before / after
            present = cb or ca
            label = f"yes: {present['roles']}, {present['OS']}"
            changes = [{"field": "in the upload", "before": label if cb else "no", "after": label if ca else "no"}]
        out.append({"name": (ha or hb).get("name"),
                    "status": "both" if hb and ha else "before only" if hb else "after only",
                    "changes": changes, "before": cb, "after": ca})
    return out


# ------------------------------------------------------------------ CAL pool

def _pool_key(row: dict) -> tuple:
    return (_host_key(row.get("license_server")), row.get("cal_version") or "", row.get("cal_type") or "")


def _counts(row: Optional[dict]) -> Optional[dict]:
    if row is None:
        return None
    return {k: row.get(k) for k in ("total", "issued", "available", "packs", "builtin", "temporary", "expires")}


def _cal_pool(before: dict, after: dict) -> list[dict]:
    b = {_pool_key(r): r for r in before.get("cal_pool") or []}
    a = {_pool_key(r): r for r in after.get("cal_pool") or []}
    out = []
    for key in sorted(set(b) | set(a)):
        rb, ra = b.get(key), a.get(key)
        r = ra or rb
        cb, ca = _counts(rb), _counts(ra)
        if rb is None:
            change = "added"
        elif ra is None:
            change = "removed"
        else:
            change = "changed" if cb != ca else "same"
        out.append({"license_server": r.get("license_server"), "cal_version": r.get("cal_version"),
                    "cal_type": r.get("cal_type"), "change": change, "before": cb, "after": ca,
                    "delta": {k: _delta(cb, ca, k) for k in ("total", "issued", "available")}})
    return out


def _delta(b: Optional[dict], a: Optional[dict], field: str) -> Optional[int]:
    x, y = (b or {}).get(field), (a or {}).get(field)
    if isinstance(x, int) and isinstance(y, int) and not isinstance(x, bool) and not isinstance(y, bool):
        return y - x
    return None


# ------------------------------------------------------------------ events

def _event_totals(doc: dict) -> dict[tuple, dict]:
    days = doc.get("current_days") or CURRENT_DAYS
    out: dict[tuple, dict] = {}
    for r in doc.get("event_counts") or []:
        key = (int(r["event_id"]), str(r.get("provider") or ""))
        t = out.setdefault(key, {"count": 0, "current": 0, "hosts": set(), "key": r.get("key"), "level": r.get("level"),
                                 "first": None, "last": None, "days": days})
        t["count"] += int(r.get("count") or 0)
        t["current"] += int(r.get("current") or 0)
        if r.get("host"):
            t["hosts"].add(r["host"])
        for field, pick in (("first", min), ("last", max)):
            if r.get(field):
                t[field] = r[field] if t[field] is None else pick(t[field], r[field])
        if r.get("level") is not None and (t["level"] is None or r["level"] < t["level"]):
            t["level"] = r["level"]
    return out


def _events(before: dict, after: dict) -> list[dict]:
    b, a = _event_totals(before), _event_totals(after)
    out = []
    for key in sorted(set(b) | set(a)):
        tb, ta = b.get(key), a.get(key)
        t = ta or tb
        rb = _rate(tb)
        ra = _rate(ta)
        if not (tb and tb["current"]) and ta and ta["current"]:
            change = "new"
        elif tb and tb["current"] and not (ta and ta["current"]):
            change = "stopped"
        elif rb == ra:
            change = "same"
        else:
            change = "up" if (ra or 0) > (rb or 0) else "down"
        out.append({"event_id": key[0], "provider": key[1] or None, "key": t["key"], "level": t["level"],
                    "change": change, "before": _event_side(tb), "after": _event_side(ta)})
    order = {"new": 0, "up": 1, "stopped": 2, "down": 3, "same": 4}
    out.sort(key=lambda e: (order[e["change"]], e["level"] if e["level"] is not None else 9, e["event_id"]))
    return out


def _rate(t: Optional[dict]) -> Optional[float]:
    if not t:
        return 0.0
    return round(t["current"] / t["days"], 2)


def _event_side(t: Optional[dict]) -> Optional[dict]:
    if t is None:
        return None
    return {"count": t["count"], "current": t["current"], "per_day": _rate(t), "hosts": sorted(t["hosts"]),
            "first": t["first"], "last": t["last"]}


# ------------------------------------------------------------------ outputs

def render_json(diff: dict) -> str:
    return json.dumps(diff, indent=2, ensure_ascii=False)


def md(value: Any) -> str:
    """Bundle text as inert inline Markdown (one line): the summary's escaping."""
    from rdsla.reports.markdown import md as escape
    return escape("" if value is None else str(value))


def headline(diff: dict) -> str:
    c = diff["causes"]
    n = {k: len(v) for k, v in c.items()}
    bits = [f"{n['resolved']} resolved", f"{n['new']} new", f"{n['persisting']} persisting"]
    if n["unverified"]:
        bits.append(f"{n['unverified']} not re-checked")
    state = ("no cause at or above " + diff["fail_on"] + " remains") if diff["exit_code"] == 0 else \
        f"{len(diff['remaining'])} cause(s) at or above {diff['fail_on']} remain"
    return f"Causes: {', '.join(bits)}; {state}."


def _windows(diff: dict) -> tuple[str, str]:
    """Each side's current window as a note (empty when both are the default CURRENT_DAYS)."""
    days = [diff[side].get("current_days") or CURRENT_DAYS for side in ("before", "after")]
    if days[0] == days[1] == CURRENT_DAYS:
        return "", ""
    return tuple(f", {float(d):g} days current" for d in days)


def render_markdown(diff: dict) -> str:
    wb, wa = _windows(diff)
    out = ["## RDS licensing: before / after", "",
           f"Before: {md(', '.join(diff['before']['inputs']) or diff['before']['label'])} (as of {md(_when(diff['before']['as_of']))}{wb})  ",
           f"After: {md(', '.join(diff['after']['inputs']) or diff['after']['label'])} (as of {md(_when(diff['after']['as_of']))}{wa})",
           "", f"**{md(headline(diff))}**"]
    for category in CATEGORIES:
        items = diff["causes"][category]
        if not items:
            continue
        out += ["", f"**{CATEGORY_LABELS[category]} causes**", ""]
        for e in items:
            side = e["after"] or e["before"]
            out.append(f"- `{e['rule_id']}` {md(e['title'])} on {md(e['host'] or 'the bundle')} ({e['severity']})"
                       + (f": {md(side['summary'])}" if side and side["summary"] else ""))
    sym = diff["symptoms"]
    if any(sym[c] for c in CATEGORIES):
        out += ["", "**Symptoms**", ""]
        for category in CATEGORIES:
            for e in sym[category]:
                out.append(f"- {CATEGORY_LABELS[category].lower()}: `{e['rule_id']}` {md(e['title'])} on {md(e['host'])}")
    changed = [h for h in diff["hosts"] if h["changes"]]
    if changed:
        out += ["", "**Configuration changes**", "", "| Host | Setting | Before | After |", "| --- | --- | --- | --- |"]
        for h in changed:
            for ch in h["changes"]:
                out.append(f"| {md(h['name'])} | {md(ch['field'])} | {md(ch['before'])} | {md(ch['after'])} |")
    pool = [p for p in diff["cal_pool"] if p["change"] != "same"]
    if pool:
        out += ["", "**CAL pool changes**", "", "| License server | CAL | Change | Total | Issued | Available |",
                "| --- | --- | --- | --- | --- | --- |"]
        for p in pool:
            cells = [f"{_count((p['before'] or {}).get(k))} → {_count((p['after'] or {}).get(k))}"
                     for k in ("total", "issued", "available")]
            out.append(f"| {md(p['license_server'])} | {md(pool_label(p))} | {p['change']} | " + " | ".join(cells) + " |")
    events = [e for e in diff["events"] if e["change"] != "same"]
    if events:
        out += ["", "**Licensing event rates (per day, last days before collection)**", "",
                "| Event | Change | Before | After |", "| --- | --- | --- | --- |"]
        for e in events:
            out.append(f"| {e['event_id']} {md((e['key'] or '').replace('_', ' '))} | {e['change']} | {_per_day(e['before'])} | {_per_day(e['after'])} |")
    out += ["", f"_rdsla diff, exit code {diff['exit_code']} (--fail-on {diff['fail_on']})._"]
    return "\n".join(out) + "\n"


def pool_label(p: dict) -> str:
    version = p.get("cal_version") or ("built-in" if (p.get("after") or p.get("before") or {}).get("builtin") else "unknown")
    return f"{version} {(p.get('cal_type') or 'unknown').replace('_', ' ')}"


def _count(v: Any) -> str:
    return "-" if v is None else str(v)


def _per_day(side: Optional[dict]) -> str:
    if not side:
        return "0/day"
    return f"{side['per_day']:g}/day ({side['current']} recent, {side['count']} in all)"


def _when(iso: Optional[str]) -> str:
    """An ISO time of findings.json as the terminal and Markdown print it: 2024-11-05 10:14 UTC."""
    if not iso:
        return "unknown"
    text = str(iso).replace("T", " ")
    return text[:16] + " UTC" if text.endswith("+00:00") else text


def terminal_summary(diff: dict, outputs: Optional[dict[str, str]] = None) -> str:
    wb, wa = _windows(diff)
    lines = [f"rdsla diff: before as of {_when(diff['before']['as_of'])}{wb}; after as of {_when(diff['after']['as_of'])}{wa}",
             "  " + headline(diff)]
    for category in CATEGORIES:
        for e in diff["causes"][category]:
            lines.append(f"  {CATEGORY_LABELS[category].lower():<15} {e['rule_id']} {e['title']} on "
                         f"{e['host'] or 'the bundle'} ({e['severity']})")
    changed = sum(len(h["changes"]) for h in diff["hosts"])
    if changed:
        lines.append(f"  configuration: {changed} change(s) on "
                     f"{', '.join(h['name'] for h in diff['hosts'] if h['changes'])}")
    for label, path in (outputs or {}).items():
        lines.append(f"  {label}: {path}")
    return "\n".join(lines)
