"""Can the session host talk to its license server, and to Active Directory?
(RDS_LICENSING.md 0 step 5, 1.2 (1131/50283, 1028/50180, 1061/50213), 5 #4 and #18)."""
from __future__ import annotations

from rdsla.rules.api import RuleMeta, event_names, events_evidence, fact_evidence, id_list, rule

SEED_DIAG = "seed article: 1. Use RD Licensing Diagnoser to check for issues"
MS_PORTS = "https://learn.microsoft.com/troubleshoot/windows-server/networking/service-overview-and-network-port-requirements"


@rule(RuleMeta(
    id="RDSLIC-004", title="License server unreachable", severity="error", kind="cause",
    events=("license_server_unreachable", "license_not_renewed"),
    scope="session_host", requires=("session_host.events",),
    references=(SEED_DIAG, MS_PORTS, "RDS_LICENSING.md 1.2 (1131/50283, 1028/50180), 3.4 NOT_CONNECTABLE, 5 #4"),
    description="The session host could not contact the license server (service down, firewall/RPC, DNS)."))
def unreachable(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "rcm", [1131, 1028])
    status = h.connectivity_status.value if h.connectivity_status else None
    bad = status is not None and str(status).upper() == "NOT_CONNECTABLE"
    if not len(ev) and not bad:
        if not ctx.has_events(h.name) and status is None:
            return [ctx.not_checked("session_host.events")]
        return [ctx.not_detected()]
    evidence = events_evidence(ev, "could not contact the license server")
    if bad:
        evidence += fact_evidence(h.connectivity_status, note="GetTStoLSConnectivityStatus")
    configured = ctx.servers_of(h)
    named = [n for n in event_names(ev) if n != h.name and (not configured or n in configured)]
    servers = named or configured
    bits = [id_list(ev)] if len(ev) else []
    if bad:
        bits.append("connectivity status NOT_CONNECTABLE")
    target = ", ".join(servers) if servers else "its license server"
    return [ctx.detected(f"{h.name} could not contact {target} ({'; '.join(bits)}).", evidence,
                         related_hosts=servers)]


@rule(RuleMeta(
    id="RDSLIC-018", title="Per-user CAL lookup in Active Directory failed", severity="warning", kind="cause",
    blocks_licensing=False,
    events=("ad_user_license_lookup_failed",),
    scope="session_host", requires=("session_host.events",),
    references=("RDS_LICENSING.md 1.2 (1061/50213), 5 #18",),
    description="The session host could not read users' licensing information from AD (event 1061/50213)."))
def ad_lookup_failed(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "rcm", [1061])
    if not len(ev):
        return [ctx.not_detected()] if ctx.has_events(h.name) else [ctx.not_checked("session_host.events")]
    return [ctx.detected(f"{h.name} could not retrieve users' licensing information from Active Directory "
                         f"({id_list(ev)}).", events_evidence(ev, "AD lookup failed"))]
