"""Rank detected causes into root causes, and link symptoms to the causes that explain them.

Score = independent kinds of evidence (configuration, events, reports/exports; each counts
once) + a little for more rows, for evidence from both sides (session host and license server)
and for symptoms the cause explains. A specific cause outranks the general one it refines when
both are detected for related hosts (DESIGN.md, "Ranking between overlapping causes": 005,
007, 008/009 over 006); those relations are the rules' metadata (``RuleMeta.outranks``,
``blocks_licensing``, ``only_blocking_causes``), not tables here. A bundle with no detected
cause has no root cause.
"""
from __future__ import annotations

from functools import lru_cache

from rdsla.core.hostnames import canonical, license_server_names
from rdsla.core.model import Analysis, Finding, RootCause, severity_rank

@lru_cache(maxsize=1)
def relations() -> tuple[dict[str, frozenset[str]], frozenset[str], frozenset[str]]:
    """From the rules' metadata: general cause -> the specific causes that outrank it; the
    causes that do not block licensing; the symptoms that only blocking causes explain."""
    from rdsla.rules.registry import load_rules
    metas = [r.meta for r in load_rules()]
    specifics: dict[str, set[str]] = {}
    for m in metas:
        for general in m.outranks:
            specifics.setdefault(general, set()).add(m.id)
    not_blocking = frozenset(m.id for m in metas if m.kind == "cause" and not m.blocks_licensing)
    blocking_only = frozenset(m.id for m in metas if m.only_blocking_causes)
    return {k: frozenset(v) for k, v in specifics.items()}, not_blocking, blocking_only


CONFIG_ORIGINS = {"group_policy", "deployment", "registry"}
EVENT_ORIGINS = {"event"}


def evidence_kind(ev) -> str:
    """configuration | events | reports: the independent channels evidence comes through."""
    if ev.frame == "registry":
        return "configuration"
    if ev.frame == "events":
        return "events"
    if ev.frame in ("keypacks", "issued"):
        return "reports"
    origin = (ev.detail or {}).get("value_origin") or (ev.locator or {}).get("origin")
    if origin in CONFIG_ORIGINS:
        return "configuration"
    if origin in EVENT_ORIGINS:
        return "events"
    return "reports"


def _evidence_hosts(f: Finding) -> set[str]:
    out = set()
    for ev in f.evidence:
        h = (ev.detail or {}).get("host") or (ev.detail or {}).get("license_server") or (ev.detail or {}).get("computer")
        if isinstance(h, str) and canonical(h):
            out.add(canonical(h))
    return out


KIND_LABELS = {"configuration": "configuration (registry or policy)", "events": "events",
               "reports": "licensing reports or exports"}


def score_factors(f: Finding, n_symptoms: int = 0) -> list[dict]:
    """The terms of :func:`score`, each ``{"effect": "raised" | "lowered", "points", "text"}``:
    what raised the score, and the evidence whose absence kept it lower (0 points: more of it
    would raise it). The score is the sum of the points, so the two cannot disagree."""
    kinds = {evidence_kind(e) for e in f.evidence}
    out = []
    for kind in ("configuration", "events", "reports"):
        if kind in kinds:
            out.append({"effect": "raised", "points": 1.0, "text": f"{KIND_LABELS[kind]} evidence"})
        else:
            out.append({"effect": "lowered", "points": 0.0, "text": f"no {KIND_LABELS[kind]} evidence"})
    extra_rows = max(0, len(f.evidence) - len(kinds))
    if extra_rows:
        out.append({"effect": "raised", "points": 0.25 * min(extra_rows, 4) / 4,
                    "text": f"{extra_rows} more evidence row(s) (up to 4 count)"})
    hosts = _evidence_hosts(f)
    if len(hosts) >= 2:
        out.append({"effect": "raised", "points": 0.5,
                    "text": "evidence from both sides: " + ", ".join(sorted(hosts))})
    else:
        out.append({"effect": "lowered", "points": 0.0, "text": "evidence from one side only (session host or "
                                                                  "license server)"})
    if n_symptoms:
        out.append({"effect": "raised", "points": 0.15 * min(n_symptoms, 2),
                    "text": f"explains {n_symptoms} symptom(s) (up to 2 count)"})
    return out


def score(f: Finding, n_symptoms: int = 0) -> float:
    return float(sum(x["points"] for x in score_factors(f, n_symptoms)))


def confidence(s: float) -> float:
    """The confidence a root cause is stated with: ``1 - 0.5 ** score``, at most 0.97, times 0.8
    when a more specific detected cause outranks it (see :func:`rank`).

    Documented and monotone: the score only grows with evidence (one point per independent kind:
    configuration, events, reports; up to 0.25 for more rows; 0.5 for evidence from both sides;
    0.15 per explained symptom, up to two), so adding evidence never lowers the confidence.
    Calibrated against the sample bundles by ``benchmarks/bench_accuracy.py``, which prints the
    share of right top causes per confidence band (every band at least its lower bound there).
    Causes rest on current evidence only (the rules decide what is current, DESIGN.md "Time")."""
    return round(min(0.97, 1 - 0.5 ** s), 2)


def _hosts_of(f: Finding) -> set[str]:
    return {h for h in [f.host, *f.related_hosts] if h}


def _related(a: Finding, b: Finding) -> bool:
    ha, hb = _hosts_of(a), _hosts_of(b)
    return not ha or not hb or bool(ha & hb)


def _explains(cause: Finding, symptom: Finding, analysis: Analysis) -> bool:
    _, not_blocking, blocking_only = relations()
    if symptom.rule_id in blocking_only and cause.rule_id in not_blocking:
        return False
    sh = symptom.host
    if sh is None or sh in _hosts_of(cause):
        return True
    profile = analysis.host(sh)
    servers = license_server_names(profile.license_servers.value) \
        if profile is not None and profile.license_servers is not None else []
    return cause.host in servers


def _outranked_by(c: Finding, causes: list[Finding]) -> list[str]:
    """The detected specific causes (for related hosts) that outrank the general cause ``c``."""
    specifics = relations()[0].get(c.rule_id, frozenset())
    return sorted({o.rule_id for o in causes if o.rule_id in specifics and _related(c, o)})


def rank(analysis: Analysis) -> list[RootCause]:
    causes = [f for f in analysis.findings if f.state == "detected" and f.kind == "cause"]
    symptoms = [f for f in analysis.findings if f.state == "detected" and f.kind == "symptom"]
    if not causes:
        for s in symptoms:
            s.explains = []
        return []
    linked: dict[int, list[str]] = {id(c): [] for c in causes}
    for s in symptoms:
        s.explains = []
        for c in causes:
            if _explains(c, s, analysis):
                if c.rule_id not in s.explains:
                    s.explains.append(c.rule_id)
                if s.rule_id not in linked[id(c)]:
                    linked[id(c)].append(s.rule_id)
    scored = []
    for c in causes:
        s = score(c, len(linked[id(c)]))
        demoted = bool(_outranked_by(c, causes))
        scored.append((demoted, -s, -severity_rank(c.severity), c.rule_id, c.host or "", s, c))
    scored.sort(key=lambda t: t[:5])
    out = []
    for demoted, _neg, _sev, _rid, _h, s, c in scored:
        conf = confidence(s) * (0.8 if demoted else 1.0)
        out.append(RootCause(rule_id=c.rule_id, host=c.host, confidence=round(conf, 2), title=c.title,
                             summary=c.summary, score=round(s, 3), related_hosts=list(c.related_hosts),
                             symptoms=list(linked[id(c)])))
    return out


def confidence_factors(analysis: Analysis, rc: RootCause) -> list[dict]:
    """What raised and lowered a root cause's confidence (issue 23 item 7): the terms of its score
    (:func:`score_factors`), the demotion when a more specific cause outranks it, and the cap.
    Computed again from the analysis with the functions :func:`rank` uses, so they agree."""
    causes = [f for f in analysis.findings if f.state == "detected" and f.kind == "cause"]
    finding = next((f for f in causes if f.rule_id == rc.rule_id and f.host == rc.host), None) \
        or next((f for f in causes if f.rule_id == rc.rule_id), None)
    if finding is None:
        return []
    out = score_factors(finding, len(rc.symptoms))
    s = score(finding, len(rc.symptoms))
    if 1 - 0.5 ** s > 0.97:
        out.append({"effect": "lowered", "points": 0.0, "text": "capped at 97%: rdsla never states certainty"})
    above = _outranked_by(finding, causes)
    if above:
        out.append({"effect": "lowered", "points": 0.0,
                    "text": "times 0.8: the more specific " + ", ".join(above) + " outranks it"})
    return [{**x, "points": round(x["points"], 2)} for x in out]


# --- what the verdict says when nothing was found (issue 18 item 5) ----------------------------

def conclude(analysis: Analysis) -> dict:
    """``{"state": cause | healthy | inconclusive, "summary", "collect", "chain"}`` (DESIGN.md
    "healthy vs inconclusive"): healthy only when no cause was found, the checks that matter could
    run (each session host's licensing configuration and licensing log, each license server's key
    packs or log) *and* every session host's licensing path (``analysis.licensing_paths``) is
    established; the summary then says why, per session host. Else inconclusive, naming what is
    missing or unknown, with the collect-next list. Never a guess. ``chain``: the top cause and the
    causes and symptoms it explains (:func:`chain`)."""
    if analysis.root_causes:
        top = analysis.root_causes[0]
        return {"state": "cause", "collect": [], "chain": chain(analysis),
                "summary": f"{top.rule_id} {top.title} on {top.host or 'the bundle'} "
                           f"(confidence {top.confidence:.0%})."}
    collect = missing_inputs(analysis)
    compliance = [f for f in analysis.findings if f.state == "detected" and f.kind == "compliance"]
    extra = f" {len(compliance)} compliance finding(s): licensing terms, not connections." if compliance else ""
    paths = list(analysis.licensing_paths or [])
    open_paths = [p for p in paths if p.ok is not True]
    if collect:
        missing = "; ".join(dict.fromkeys(": ".join(c.split(": ")[:2]) for c in collect))
        return {"state": "inconclusive", "collect": collect, "chain": [],
                "summary": f"No cause found, but not enough collected to rule one out: missing {missing}." + extra}
    if open_paths:
        return {"state": "inconclusive", "collect": [], "chain": [],
                "summary": "No cause found, but the licensing path is not established: "
                           + "; ".join(p.why_unknown() for p in open_paths) + "." + extra}
    why = "; ".join(p.why_healthy(analysis.window_days) for p in paths)
    return {"state": "healthy", "collect": [], "chain": [],
            "summary": (f"Healthy: {why}." if why else "No cause found; the session hosts' configuration and "
                        "licensing logs and the license servers' packs or logs were all checked.") + extra}


def chain(analysis: Analysis) -> list[dict]:
    """The top cause and what it explains, as one chain instead of competing causes: the detected
    causes it outranks (``RuleMeta.outranks``, for related hosts), what those outrank in turn
    (003 -> 004), then the symptoms any of them explains (-> 101, 103). Each link:
    ``{rule_id, host, title, kind}``."""
    if not analysis.root_causes:
        return []
    specifics, _, _ = relations()
    outranks: dict[str, set[str]] = {}
    for general, specific in specifics.items():
        for s in specific:
            outranks.setdefault(s, set()).add(general)
    causes = {(rc.rule_id, rc.host): rc for rc in analysis.root_causes}
    findings = {(f.rule_id, f.host): f for f in analysis.findings if f.state == "detected" and f.kind == "cause"}
    top = analysis.root_causes[0]
    links = [top]
    seen = {(top.rule_id, top.host)}
    i = 0
    while i < len(links):
        cur = links[i]
        cur_f = findings.get((cur.rule_id, cur.host))
        for key, rc in causes.items():
            f = findings.get(key)
            if key in seen or rc.rule_id not in outranks.get(cur.rule_id, ()):
                continue
            if cur_f is not None and f is not None and not _related(cur_f, f):
                continue
            links.append(rc)
            seen.add(key)
        i += 1
    out = [{"rule_id": rc.rule_id, "host": rc.host, "title": rc.title, "kind": "cause"} for rc in links]
    symptoms = [s for rc in links for s in rc.symptoms]
    by_rule = {}
    for f in analysis.findings:
        if f.state == "detected" and f.kind == "symptom" and f.rule_id in symptoms:
            by_rule.setdefault(f.rule_id, f)
    for rule_id in dict.fromkeys(symptoms):
        f = by_rule.get(rule_id)
        out.append({"rule_id": rule_id, "host": f.host if f else None, "title": f.title if f else "",
                    "kind": "symptom"})
    return out


def missing_inputs(analysis: Analysis) -> list[str]:
    """Collect-next lines ('HOST: what: command') for the inputs that matter and were not
    collected (core.coverage); a profile without recorded coverage counts as collected."""
    from rdsla.core.coverage import POLICY_KEY, TERMSERVICE_KEY, TS_KEY, collect_line, licensing_log_items
    out: list[str] = []
    shs = [h for h in analysis.hosts if h.has_role("session_host")]
    named = {n for h in shs for n in license_server_names(h.license_servers.value if h.license_servers else None)}
    lss = [h for h in analysis.hosts if h.has_role("licensing") or h.name in named]
    if not shs:
        out.append("a session host: its SYSTEM and SOFTWARE hives and System / RemoteConnectionManager logs "
                   "(MSRD-Collect on the session host)")
    for h in shs:
        cov = h.coverage
        if cov is None:
            continue
        for item, key in (("key.policy", POLICY_KEY), ("key.terminal_server", TS_KEY), ("key.termservice", TERMSERVICE_KEY)):
            if not cov.registry(key):
                out.append(collect_line(h.name, item))
        logs = licensing_log_items(str(h.os_version.value) if h.os_version is not None else "")
        if not any(cov.has(log) for log in logs):
            out.append(collect_line(h.name, logs[0]))
    for ls in lss:
        cov = ls.coverage
        if cov is None and (ls.artifacts or ls.roles):
            continue
        if cov is None or not (cov.has("export.keypacks") or cov.has("log.system") or cov.has("log.lic_operational")):
            out.append(collect_line(ls.name, "export.keypacks"))
    return list(dict.fromkeys(out))
