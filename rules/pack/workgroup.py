"""Domain membership: Per User in a workgroup, workgroup authentication after CVE-2024-38099,
and licensing across domains or forests (seed article "Make sure that you're using the
appropriate type of RDS CAL"; RDS_LICENSING.md 5 #10, #11, #17; KB 2473823)."""
from __future__ import annotations

from rdsla.rules.api import RuleMeta, events_evidence, fact_evidence, id_list, rule

SEED_TYPE = "seed article: 3. Make sure that you're using the appropriate type of RDS CAL"
MS_WG = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/rds-license-session-hosts (CVE-2024-38099)"
MS_XD = "https://learn.microsoft.com/troubleshoot/windows-server/remote/set-up-remote-desktop-licensing-across-domains-forests-workgroups"


def _truthy(fact) -> bool:
    if fact is None or fact.value is None:
        return False
    try:
        return int(fact.value) != 0
    except (TypeError, ValueError):
        return str(fact.value).strip().lower() in ("true", "yes")


@rule(RuleMeta(
    id="RDSLIC-010", title="Per User licensing mode in a workgroup", severity="error", kind="cause",
    scope="session_host", requires=("session_host.registry",),
    references=(SEED_TYPE, "seed article: Configure licensing ... Connection Broker role (note)", "RDS_LICENSING.md 5 #10"),
    description="Per User CALs are not permitted on workgroup servers; use Per Device."))
def per_user_in_workgroup(ctx):
    h = ctx.host
    if h.domain_joined is None or h.domain_joined.value is None or h.licensing_mode is None:
        return [ctx.not_checked("session_host.registry")]
    if h.domain_joined.value or h.mode_name != "per_user":
        return [ctx.not_detected()]
    ev = fact_evidence(h.domain_joined, note="not joined to a domain") + \
        fact_evidence(h.licensing_mode, note="Per User mode (effective)", winner=True)
    return [ctx.detected(f"{h.name} is in a workgroup but uses Per User licensing; Per User CALs are not "
                         f"permitted there.", ev, related_hosts=ctx.servers_of(h))]


@rule(RuleMeta(
    id="RDSLIC-011", title="Workgroup authentication enforcement (CVE-2024-38099)", severity="error", kind="cause",
    outranks=("RDSLIC-004",),
    events=("license_server_unreachable", "license_not_renewed"),
    scope="session_host", requires=("session_host.registry", "session_host.events", "license_server.registry"),
    references=(MS_WG, "RDS_LICENSING.md 2.6, 5 #11"),
    description="After the 2024 update a workgroup session host needs non-anonymous credentials on the "
                "license server; connection fails with 1131/50283 or status BUT_ACCESS_DENIED."))
def workgroup_auth(ctx):
    h = ctx.host
    if h.domain_joined is None or h.domain_joined.value is None:
        return [ctx.not_checked("session_host.registry")]
    if h.domain_joined.value:
        return [ctx.not_detected()]
    ev = ctx.events(h.name, "rcm", [1131, 1028])
    status = h.connectivity_status.value if h.connectivity_status else None
    denied = status is not None and str(status).upper() in ("BUT_ACCESS_DENIED", "NOT_CONNECTABLE")
    if not len(ev) and not denied:
        if not ctx.has_events(h.name) and status is None:
            return [ctx.not_checked("session_host.events")]
        return [ctx.not_detected()]
    lss = ctx.servers_for(h)
    disabled = [ls for ls in lss if _truthy(ls.license_server.disable_workgroup_auth_enforcement)]
    if lss and len(disabled) == len(lss):
        return [ctx.not_detected("Enforcement is disabled on the license server (DisableWorkgroupAuthEnforcement=1).")]
    evidence = fact_evidence(h.domain_joined, note="session host in a workgroup")
    if denied:
        evidence += fact_evidence(h.connectivity_status, note="connectivity status")
    evidence += events_evidence(ev, "cannot contact the license server")
    for ls in lss:
        evidence += fact_evidence(ls.license_server.disable_workgroup_auth_enforcement,
                                  note="DisableWorkgroupAuthEnforcement not set to 1")
    bits = [id_list(ev)] if len(ev) else []
    if denied:
        bits.append(f"connectivity status {status}")
    names = ctx.servers_of(h) or [ls.name for ls in lss]
    return [ctx.detected(f"{h.name} is a workgroup session host and cannot authenticate to the license server "
                         f"({'; '.join(bits)}): since CVE-2024-38099 it needs non-anonymous credentials.",
                         evidence, related_hosts=names)]


def _domain_key(fact):
    if fact is None or not fact.value:
        return None
    return str(fact.value).strip().lower().split(".")[0]


@rule(RuleMeta(
    id="RDSLIC-017", title="License server in another domain or forest without trust", severity="error",
    events=("grace_period_expired", "license_server_unreachable", "license_not_renewed",
            "ad_user_license_lookup_failed", "ls_ad_update_failed"),
    kind="cause", scope="session_host", requires=("session_host.registry", "license_server.registry"),
    references=(MS_XD, "RDS_LICENSING.md 5 #17"),
    description="Session host and license server are in different domains and licensing fails; needs a "
                "two-way trust and TS License Servers membership in each domain."))
def cross_domain(ctx):
    h = ctx.host
    lss = [ls for ls in ctx.servers_for(h) if ls.name != h.name]
    mine = _domain_key(h.domain)
    if mine is None:
        return [ctx.not_checked("session_host.registry")]
    if not lss or all(ls.domain is None for ls in lss):
        return [ctx.not_checked("license_server.registry")]
    other = [ls for ls in lss if _domain_key(ls.domain) and _domain_key(ls.domain) != mine
             and (ls.domain_joined is None or ls.domain_joined.value is not False)
             and (h.domain_joined is None or h.domain_joined.value is not False)]
    if not other:
        return [ctx.not_detected()]
    failures = ctx.events(h.name, "rcm", [1128, 1131, 1028, 1061])
    ls_fail = [ctx.events(ls.name, "ls", [4105]) for ls in other]
    if not len(failures) and not any(len(x) for x in ls_fail):
        return [ctx.not_detected(f"{h.name} and {', '.join(ls.name for ls in other)} are in different domains, "
                                 f"but no licensing failure was logged (a trust is probably in place).")]
    evidence = fact_evidence(h.domain, note=f"domain of {h.name}")
    for ls in other:
        evidence += fact_evidence(ls.domain, note=f"domain of {ls.name}")
    evidence += events_evidence(failures, "licensing failure on the session host")
    for x in ls_fail:
        evidence += events_evidence(x, "license server cannot update AD")
    return [ctx.detected(f"{h.name} (domain {h.domain.value}) uses license server "
                         f"{', '.join(f'{ls.name} (domain {ls.domain.value})' for ls in other)} in another domain, "
                         f"and licensing fails ({id_list(failures) or 'event 4105 on the license server'}); "
                         f"this needs a two-way trust.", evidence, related_hosts=[ls.name for ls in other])]
