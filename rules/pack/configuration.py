"""Configuration of the session host: license server and licensing mode, and where they come from.

Both deployment types of the seed article are covered: with a Connection Broker the values
live in ``RCM\\Licensing Core\\LicensingMode`` and ``TermService\\Parameters\\LicenseServers\\
SpecifiedLicenseServers`` (origin ``deployment``); Session Host + Licensing only sets them by
Group Policy (``SOFTWARE\\Policies\\...\\Terminal Services``, origin ``group_policy``), which
wins (RDS_LICENSING.md 2.2 "Precedence").
"""
from __future__ import annotations

from rdsla.core.hostnames import canonical

from rdsla.core.model import LICENSING_MODES
from rdsla.rules.api import (ORIGIN_LABEL, POLICY_KEY, RCM_LICENSING_CORE, SPECIFIED_LS_KEY, RuleMeta,
                       absent_value_evidence, events_evidence, fact_evidence, id_list, rule, servers_of)

SEED = "seed article: Check the RD Licensing configuration"
SEED_CB = "seed article: Configure licensing for an RDS deployment that includes the RD Connection Broker role"
SEED_GP = "seed article: Configure licensing for an RDS deployment that consists of only the RD Session Host role and the RD Licensing role"
MS_MODE = "https://learn.microsoft.com/troubleshoot/windows-server/remote/licensing-mode-not-configured"


def _origin(fact) -> str:
    return ORIGIN_LABEL.get(fact.origin, fact.origin) if fact else "nowhere"


@rule(RuleMeta(
    id="RDSLIC-001", title="No license server specified", severity="error", kind="cause",
    events=("no_license_server_specified",),
    scope="session_host", requires=("session_host.registry", "session_host.events"),
    references=(SEED_CB, SEED_GP, "RDS_LICENSING.md 1.2 (1130/50282), 2.2, 5 #1"),
    description="Neither Group Policy nor the deployment names a license server; event 1130/50282."))
def no_license_server(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "rcm", [1130])
    has_reg = ctx.has_registry(h)
    servers = ctx.servers_of(h)
    if has_reg and servers:
        return [ctx.not_detected(f"{h.name} uses license server(s) {', '.join(servers)} "
                                 f"(from {_origin(h.license_servers)}).")]
    if not has_reg and not len(ev):
        needs = ("session_host.registry",) if ctx.has_events(h.name) else ("session_host.registry", "session_host.events")
        return [ctx.not_checked(*needs)]
    evidence = []
    if has_reg:
        empty = [c for c in h.license_server_candidates if not servers_of(c.value)]
        for c in empty:
            evidence += fact_evidence(c, note=f"empty license-server list from {_origin(c)}")
        if not any(c.origin == "group_policy" for c in h.license_server_candidates):
            evidence.append(absent_value_evidence(ctx, h, POLICY_KEY, "LicenseServers"))
        if not any(c.origin == "deployment" for c in h.license_server_candidates):
            evidence.append(absent_value_evidence(ctx, h, SPECIFIED_LS_KEY, "SpecifiedLicenseServers"))
    evidence += events_evidence(ev, "no license server specified")
    parts = []
    if has_reg:
        parts.append("neither Group Policy (LicenseServers) nor the deployment (SpecifiedLicenseServers) names one")
    if len(ev):
        parts.append(f"it logged {id_list(ev)}")
    return [ctx.detected(f"{h.name} has no license server specified: " + " and ".join(parts) + ".", evidence)]


@rule(RuleMeta(
    id="RDSLIC-002", title="Licensing mode not configured", severity="error", kind="cause",
    events=("licensing_mode_not_configured", "grace_expired_mode_not_configured"),
    scope="session_host", requires=("session_host.registry", "session_host.events"),
    references=(SEED_CB, SEED_GP, MS_MODE, "RDS_LICENSING.md 1.2 (1068/1069), 2.2, 5 #2"),
    description="LicensingMode absent, 5 (not configured) or an admin-only value; events 1068/1069."))
def mode_not_configured(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "rcm", [1068, 1069])
    has_reg = ctx.has_registry(h)
    mode = h.licensing_mode.value if h.licensing_mode is not None else None
    if has_reg and mode is not None and int(mode) in (2, 4):
        return [ctx.not_detected(f"{h.name} licensing mode is {LICENSING_MODES[int(mode)]} "
                                 f"(from {_origin(h.licensing_mode)}).")]
    if not has_reg and not len(ev):
        needs = ("session_host.registry",) if ctx.has_events(h.name) else ("session_host.registry", "session_host.events")
        return [ctx.not_checked(*needs)]
    evidence = []
    if has_reg:
        if h.licensing_mode is not None:
            evidence += fact_evidence(h.licensing_mode, note="effective licensing mode", winner=True)
        else:
            evidence.append(absent_value_evidence(ctx, h, POLICY_KEY, "LicensingMode"))
            evidence.append(absent_value_evidence(ctx, h, RCM_LICENSING_CORE, "LicensingMode"))
    evidence += events_evidence(ev, "licensing mode not configured")
    if mode is None:
        state = "is not set anywhere" if has_reg else "is unknown (no registry)"
    else:
        state = f"is {int(mode)} ({LICENSING_MODES.get(int(mode), 'unknown')}), not Per User (4) or Per Device (2)"
    extra = f"; it logged {id_list(ev)}" if len(ev) else ""
    return [ctx.detected(f"The licensing mode of {h.name} {state}{extra}.", evidence)]


@rule(RuleMeta(
    id="RDSLIC-003", title="Group Policy overrides the deployment with different values", severity="error",
    outranks=("RDSLIC-004", "RDSLIC-001"),
    kind="cause", scope="session_host", requires=("session_host.registry",),
    references=(SEED_CB, SEED_GP, "RDS_LICENSING.md 2.2 Precedence, 5 #3"),
    description="Policy LicenseServers/LicensingMode differ from the RCM/deployment values; the policy wins "
                "and Server Manager changes have no effect."))
def gpo_overrides(ctx):
    h = ctx.host
    if not ctx.has_registry(h):
        return [ctx.not_checked("session_host.registry")]
    diffs, evidence = [], []
    related = []

    def pick(cands, origin):
        return next((c for c in cands if c.origin == origin and c.value is not None), None)

    # Only a deployment that chose something can be overridden: an unset deployment (mode 5,
    # no servers) is the normal state of a Group-Policy-only server (seed article, no broker).
    gp_ls, dep_ls = pick(h.license_server_candidates, "group_policy"), pick(h.license_server_candidates, "deployment")
    if gp_ls and dep_ls and servers_of(dep_ls.value) and \
            {canonical(s) for s in servers_of(gp_ls.value)} != {canonical(s) for s in servers_of(dep_ls.value)}:
        diffs.append(f"license servers {', '.join(servers_of(gp_ls.value)) or '(empty)'} by Group Policy vs "
                     f"{', '.join(servers_of(dep_ls.value)) or '(empty)'} by the deployment")
        evidence += fact_evidence(gp_ls, note="Group Policy value (wins)", winner=True)
        evidence += fact_evidence(dep_ls, note="deployment value (ignored)", winner=False)
        related += servers_of(gp_ls.value) + servers_of(dep_ls.value)
    gp_m, dep_m = pick(h.licensing_mode_candidates, "group_policy"), pick(h.licensing_mode_candidates, "deployment")
    if gp_m and dep_m and int(dep_m.value) in (2, 4) and int(gp_m.value) != int(dep_m.value):
        name = lambda v: LICENSING_MODES.get(int(v), str(v))  # noqa: E731
        diffs.append(f"licensing mode {name(gp_m.value)} by Group Policy vs {name(dep_m.value)} by the deployment")
        evidence += fact_evidence(gp_m, note="Group Policy value (wins)", winner=True)
        evidence += fact_evidence(dep_m, note="deployment value (ignored)", winner=False)
    if not diffs:
        return [ctx.not_detected()]
    brokers = [p.name for p in ctx.analysis.hosts if p.has_role("connection_broker") and p.name != h.name]
    return [ctx.detected(f"Group Policy on {h.name} overrides the deployment: " + "; ".join(diffs)
                         + " (the policy wins; changes in Server Manager have no effect).", evidence,
                         related_hosts=brokers)]
