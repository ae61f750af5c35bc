"""Configuration of the session host: license server and licensing mode, and where they come from.

Both deployment types of the seed article are covered: with a Connection Broker the values
live in ``RCM\\Licensing Core\\LicensingMode`` and ``TermService\\Parameters\\LicenseServers\\
SpecifiedLicenseServers`` (origin ``deployment``); Session Host + Licensing only sets them by
Group Policy (``SOFTWARE\\Policies\\...\\Terminal Services``, origin ``group_policy``), which
wins (RDS_LICENSING.md 2.2 "Precedence").
"""
from __future__ import annotations

from rdsla.core.hostnames import canonical

from rdsla.core.coverage import BY_ID
from rdsla.core.model import CONFIGURED_MODES, LICENSING_MODES
from rdsla.rules.api import (ORIGIN_LABEL, POLICY_KEY, RCM_LICENSING_CORE, SPECIFIED_LS_KEY, RuleMeta,
                       absent_value_evidence, event_names, events_evidence, fact_evidence, id_list, rule, servers_of)

SEED = "seed article: Check the RD Licensing configuration"
SEED_CB = "seed article: Configure licensing for an RDS deployment that includes the RD Connection Broker role"
SEED_GP = "seed article: Configure licensing for an RDS deployment that consists of only the RD Session Host role and the RD Licensing role"
MS_MODE = "https://learn.microsoft.com/troubleshoot/windows-server/remote/licensing-mode-not-configured"


def _origin(fact) -> str:
    return ORIGIN_LABEL.get(fact.origin, fact.origin) if fact else "nowhere"


def _missing(ctx, h, *keys_items):
    """The registry items of ``keys_items`` not collected from ``h``."""
    return [i for i in keys_items if not ctx.collected(h, i)]


@rule(RuleMeta(
    id="RDSLIC-001", title="No license server specified", severity="error", kind="cause",
    events=("no_license_server_specified",),
    scope="session_host", requires=("session_host.registry", "session_host.events"),
    references=(SEED_CB, SEED_GP, "RDS_LICENSING.md 0a, 1.2 (1130/50282), 2.2, 5 #1"),
    description="Neither Group Policy nor the deployment names a license server: 1130/50282 in the current window, "
                "or both places collected and empty. A value missing from a key that was not collected is unknown, "
                "not absent (MSRD-Collect exports the policy key only when a policy exists)."))
def no_license_server(ctx):
    h = ctx.host
    all_ev = ctx.events(h.name, "rcm", [1130])
    ev, old = ctx.current(all_ev), ctx.history(all_ev)
    servers = ctx.servers_of(h)
    ctx.history_line(old)               # the findings below carry it as their history line
    if servers:
        return [ctx.not_detected(f"{h.name} uses license server(s) {', '.join(servers)} "
                                 f"(from {_origin(h.license_servers)}).")]
    missing = _missing(ctx, h, "key.policy", "key.termservice")
    if not len(ev) and missing:
        return [ctx.not_collected(h, *missing, summary=(
            f"Whether {h.name} has a license server specified is unknown: "
            + " and ".join(BY_ID[i].label for i in missing) + " not collected (a value of a key that was not "
            "collected is unknown, not absent)."))]
    evidence = []
    if not missing:
        empty = [c for c in h.license_server_candidates if not servers_of(c.value)]
        for c in empty:
            evidence += fact_evidence(c, note=f"empty license-server list from {_origin(c)}")
        if not any(c.origin == "group_policy" for c in h.license_server_candidates):
            evidence.append(absent_value_evidence(ctx, h, POLICY_KEY, "LicenseServers"))
        if not any(c.origin == "deployment" for c in h.license_server_candidates):
            evidence.append(absent_value_evidence(ctx, h, SPECIFIED_LS_KEY, "SpecifiedLicenseServers"))
    evidence = events_evidence(ev, "no license server specified") + evidence
    parts = []
    if len(ev):
        parts.append(f"it logged {id_list(ev)} in the {ctx.window.days} days before collection")
    if not missing:
        parts.append("neither Group Policy (LicenseServers) nor the deployment (SpecifiedLicenseServers) names one")
    return [ctx.detected(f"{h.name} has no license server specified: " + " and ".join(parts) + ".",
                         evidence)]


@rule(RuleMeta(
    id="RDSLIC-002", title="Licensing mode not configured", severity="error", kind="cause",
    events=("licensing_mode_not_configured", "grace_expired_mode_not_configured"),
    scope="session_host", requires=("session_host.registry", "session_host.events"),
    references=(SEED_CB, SEED_GP, MS_MODE, "RDS_LICENSING.md 0a, 1.2 (1068/1069), 2.2, 5 #2"),
    description="LicensingMode absent, 5 (not configured) or an admin-only value: 1068/1069 in the current window, "
                "or the value known (a policy that is not set is known only where the policy key was collected). "
                "Per Device (2), Per User (4) and AAD Per User are configured modes."))
def mode_not_configured(ctx):
    h = ctx.host
    all_ev = ctx.events(h.name, "rcm", [1068, 1069])
    ev, old = ctx.current(all_ev), ctx.history(all_ev)
    ctx.history_line(old)               # the findings below carry it as their history line
    configured = [c for c in h.licensing_mode_candidates if _mode(c) in CONFIGURED_MODES]
    if configured:
        # a policy can only choose a mode: a configured value anywhere is in effect or overridden by another one
        mode = _mode(h.licensing_mode) if _mode(h.licensing_mode) in CONFIGURED_MODES else _mode(configured[0])
        return [ctx.not_detected(f"{h.name} licensing mode is {LICENSING_MODES[mode]} "
                                 f"(from {_origin(h.licensing_mode if _mode(h.licensing_mode) == mode else configured[0])})."
                                 f"")]
    missing = _missing(ctx, h, "key.policy", "key.terminal_server")
    if not len(ev) and missing:
        return [ctx.not_collected(h, *missing, summary=(
            f"Whether the licensing mode of {h.name} is configured is unknown: "
            + " and ".join(BY_ID[i].label for i in missing) + " not collected."))]
    mode = _mode(h.licensing_mode)
    evidence = events_evidence(ev, "licensing mode not configured")
    if h.licensing_mode is not None:
        evidence += fact_evidence(h.licensing_mode, note="effective licensing mode", winner=True)
    elif not missing:
        evidence.append(absent_value_evidence(ctx, h, POLICY_KEY, "LicensingMode"))
        evidence.append(absent_value_evidence(ctx, h, RCM_LICENSING_CORE, "LicensingMode"))
    if mode is None:
        state = "is not set anywhere" if not missing else "is unknown"
    else:
        state = f"is {mode} ({LICENSING_MODES.get(mode, 'unknown')}), not Per User (4) or Per Device (2)"
    extra = f"; it logged {id_list(ev)}" if len(ev) else ""
    return [ctx.detected(f"The licensing mode of {h.name} {state}{extra}.", evidence)]


def _mode(fact):
    try:
        return int(fact.value) if fact is not None and fact.value is not None else None
    except (TypeError, ValueError):
        return None


@rule(RuleMeta(
    id="RDSLIC-003", title="Group Policy overrides the deployment with different values", severity="error",
    outranks=("RDSLIC-004", "RDSLIC-001"),
    events=("license_server_unreachable", "license_server_os_unsupported"),
    kind="cause", scope="session_host", requires=("session_host.registry",),
    references=(SEED_CB, SEED_GP, "RDS_LICENSING.md 0a, 2.2 Precedence, 5 #3"),
    description="Policy LicenseServers/LicensingMode differ from the RCM/deployment values; the policy wins "
                "and Server Manager changes have no effect. A cause only with impact: current 1131/1132 naming the "
                "policy's license server, that server lacking the role, activation or CALs, or the policy's mode not "
                "matching its CALs; else information (harmless while the policy's values work)."))
def gpo_overrides(ctx):
    h = ctx.host
    if not ctx.collected(h, "key.policy"):
        return [ctx.not_collected(h, "key.policy")]
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
    if gp_m and dep_m and _mode(dep_m) in (2, 4) and _mode(gp_m) != _mode(dep_m):
        name = lambda v: LICENSING_MODES.get(int(v), str(v))  # noqa: E731
        diffs.append(f"licensing mode {name(gp_m.value)} by Group Policy vs {name(dep_m.value)} by the deployment")
        evidence += fact_evidence(gp_m, note="Group Policy value (wins)", winner=True)
        evidence += fact_evidence(dep_m, note="deployment value (ignored)", winner=False)
    if not diffs:
        return [ctx.not_detected()]
    brokers = [p.name for p in ctx.analysis.hosts if p.has_role("connection_broker") and p.name != h.name]
    impact, impact_evidence = _policy_impact(ctx, h, servers_of(gp_ls.value) if gp_ls else ctx.servers_of(h),
                                             gp_m or h.licensing_mode)
    text = (f"Group Policy on {h.name} overrides the deployment: " + "; ".join(diffs)
            + " (the policy wins; changes in Server Manager have no effect)")
    if impact:
        return [ctx.detected(text + ", and the policy's values fail: " + "; ".join(impact) + ".",
                             evidence + impact_evidence, related_hosts=brokers + related)]
    return [ctx.detected(text + ". The policy's values work (no error names its license server, which has the role, "
                         "activation and CALs of its mode): information, not a cause.", evidence,
                         related_hosts=brokers, kind="info", severity="info")]


def _policy_impact(ctx, h, policy_servers, mode_fact):
    """What goes wrong with the policy's values: (reasons, evidence)."""
    from rdsla.rules.pack.cal_pool import TYPE_LABEL
    reasons, evidence = [], []
    ev = ctx.current(ctx.events(h.name, "rcm", [1131, 1132]))
    named = [n for n in event_names(ev) if n in policy_servers]
    if named:
        hit = ev[[any(canonical(v) in named for v in (d or {}).values() if isinstance(v, str))
                  for d in ev["data"]]]
        reasons.append(f"{id_list(hit)} name {', '.join(named)} in the {ctx.window.days} days before collection")
        evidence += events_evidence(hit, "error naming the policy's license server")
    mode = LICENSING_MODES.get(_mode(mode_fact)) if mode_fact is not None else None
    for name in policy_servers:
        ls = ctx.profile(name)
        if ls is None:
            continue
        role = ls.roles.get("licensing")
        if role is not None and role.value is False:
            reasons.append(f"{ls.name} does not run the RD Licensing role")
            evidence += fact_evidence(role, note="RD Licensing role not installed")
        act = ls.license_server.activation_status
        if act is not None and act.value == "not_activated":
            reasons.append(f"{ls.name} is not activated")
            evidence += fact_evidence(act, note="activation status")
        perm = ctx.purchased_keypacks(ls.name)
        if len(perm) and mode in TYPE_LABEL and not (perm["cal_type"] == mode).any():
            reasons.append(f"{ls.name} holds no {TYPE_LABEL[mode]} CALs for the policy's {TYPE_LABEL[mode]} mode")
            from rdsla.rules.api import keypack_evidence
            evidence += [keypack_evidence(r, "installed pack, other type") for _, r in perm.head(3).iterrows()]
    return reasons, evidence
