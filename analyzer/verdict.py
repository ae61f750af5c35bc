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


def score(f: Finding, n_symptoms: int = 0) -> float:
    kinds = {evidence_kind(e) for e in f.evidence}
    s = float(len(kinds))
    extra_rows = max(0, len(f.evidence) - len(kinds))
    s += 0.25 * min(extra_rows, 4) / 4
    if len(_evidence_hosts(f)) >= 2:
        s += 0.5
    s += 0.15 * min(n_symptoms, 2)
    return s


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
        specifics = relations()[0].get(c.rule_id, frozenset())
        demoted = any(o.rule_id in specifics and _related(c, o) for o in causes)
        scored.append((demoted, -s, -severity_rank(c.severity), c.rule_id, c.host or "", s, c))
    scored.sort(key=lambda t: t[:5])
    out = []
    for demoted, _neg, _sev, _rid, _h, s, c in scored:
        conf = confidence(s) * (0.8 if demoted else 1.0)
        out.append(RootCause(rule_id=c.rule_id, host=c.host, confidence=round(conf, 2), title=c.title,
                             summary=c.summary, score=round(s, 3), related_hosts=list(c.related_hosts),
                             symptoms=list(linked[id(c)])))
    return out


# --- what the verdict says when nothing was found (issue 18 item 5) ----------------------------

def conclude(analysis: Analysis) -> dict:
    """``{"state": cause | healthy | inconclusive, "summary", "collect"}`` (DESIGN.md "healthy vs
    inconclusive"): healthy only when no cause was found *and* the checks that matter could run
    (each session host's licensing configuration and licensing log, each license server's key packs
    or log); else inconclusive, with the collect-next list. Never a guess."""
    if analysis.root_causes:
        top = analysis.root_causes[0]
        return {"state": "cause", "collect": [],
                "summary": f"{top.rule_id} {top.title} on {top.host or 'the bundle'} "
                           f"(confidence {top.confidence:.0%})."}
    collect = missing_inputs(analysis)
    compliance = [f for f in analysis.findings if f.state == "detected" and f.kind == "compliance"]
    extra = f" {len(compliance)} compliance finding(s): licensing terms, not connections." if compliance else ""
    if collect:
        return {"state": "inconclusive", "collect": collect,
                "summary": "No cause found; not enough collected to rule one out (" + f"{len(collect)} input(s) "
                           "missing, see collect next)." + extra}
    return {"state": "healthy", "collect": [],
            "summary": "No cause found; the session hosts' configuration and licensing logs and the license "
                       "servers' packs or logs were all checked." + extra}


def missing_inputs(analysis: Analysis) -> list[str]:
    """Collect-next lines ('HOST: what: command') for the inputs that matter and were not
    collected (core.coverage); a profile without recorded coverage counts as collected."""
    from rdsla.core.coverage import POLICY_KEY, TERMSERVICE_KEY, TS_KEY, collect_line
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
        version = str(h.os_version.value) if h.os_version is not None else ""
        log = "log.rcm_admin" if version in ("2019", "2022", "2025") else "log.system"
        if not cov.has(log) and not (not version and (cov.has("log.system") or cov.has("log.rcm_admin"))):
            out.append(collect_line(h.name, log))
    for ls in lss:
        cov = ls.coverage
        if cov is None and (ls.artifacts or ls.roles):
            continue
        if cov is None or not (cov.has("export.keypacks") or cov.has("log.system") or cov.has("log.lic_operational")):
            out.append(collect_line(ls.name, "export.keypacks"))
    return list(dict.fromkeys(out))
