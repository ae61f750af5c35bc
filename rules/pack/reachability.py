"""Can the session host talk to its license server, and to Active Directory?
(RDS_LICENSING.md 0 step 5, 1.2 (1131/50283, 1028/50180, 1061/50213), 5 #4 and #18)."""
from __future__ import annotations

from rdsla.core.hostnames import canonical
from rdsla.rules.api import RuleMeta, event_names, events_evidence, fact_evidence, id_list, rule
from rdsla.rules.clock import CLOCK_EVENTS, skew_around

SEED_DIAG = "seed article: 1. Use RD Licensing Diagnoser to check for issues"
MS_PORTS = "https://learn.microsoft.com/troubleshoot/windows-server/networking/service-overview-and-network-port-requirements"


@rule(RuleMeta(
    id="RDSLIC-004", title="License server unreachable", severity="error", kind="cause",
    events=("license_server_unreachable", "license_not_renewed") + CLOCK_EVENTS,
    scope="session_host", requires=("session_host.events",),
    references=(SEED_DIAG, MS_PORTS, "RDS_LICENSING.md 0a, 1.2 (1131/50283, 1028/50180), 3.4 NOT_CONNECTABLE, 5 #4",
                "[MS-GPSB] 2.2.2 Kerberos Policy (MaxClockSkew, 5 minutes by default): clock skew named as evidence"),
    description="The session host could not contact the license server (service down, firewall/RPC, DNS): "
                "1131/50283 or 1028/50180 in the current window and not followed by success (CALs issued, logons "
                "without licensing errors), or connectivity status NOT_CONNECTABLE; corroborated by the license "
                "server's service state and an export's IsLSAvailable. Older events are history (an LS patch "
                "reboot weeks ago says nothing about today). A clock set by more than Kerberos' 5 minutes within a "
                "day of the errors (Kernel-General 1), or a time service not synchronizing (W32Time 36/129/134), on "
                "the session host or the license server is named as the likely reason."))
def unreachable(ctx):
    h = ctx.host
    all_ev = ctx.events(h.name, "rcm", [1131, 1028])
    ev, old = ctx.current(all_ev), ctx.history(all_ev)
    status = h.connectivity_status.value if h.connectivity_status else None
    bad = status is not None and str(status).upper() == "NOT_CONNECTABLE"
    history = ctx.history_line(old)
    if not len(ev) and not bad:
        if not ctx.licensing_log_collected(h) and status is None:
            return [ctx.not_collected(h, "log.system", "log.rcm_admin", summary=(
                f"Not checked for {h.name}: the log its licensing events go to was not collected."))]
        return [ctx.not_detected(history=history)]
    success = ctx.success_after(h, ev["time"].max()) if len(ev) and not bad else []
    live = [f for f in h.ls_available if isinstance(f.value, dict) and f.value.get("available") is True
            and f.value.get("issuing_cals") is not False]
    if live and not bad:
        return [ctx.not_detected(f"{h.name} logged {id_list(ev)}, but at collection {', '.join(str(f.value.get('server')) for f in live)} "
                                 f"answered as available and issuing CALs (FindLicenseServers).")]
    if success:
        return [ctx.not_detected(f"{h.name} logged {id_list(ev)} until {ev['time'].max():%Y-%m-%d %H:%M}, but "
                                 f"licensing worked after that ({success[0].note}): recovered.")]
    evidence = events_evidence(ev, "could not contact the license server")
    if bad:
        evidence += fact_evidence(h.connectivity_status, note="GetTStoLSConnectivityStatus")
    configured = ctx.servers_of(h)
    mentioned = [n for n in event_names(ev) if n != h.name]
    named = [n for n in mentioned if not configured or n in configured]
    # the errors name the server that failed: one no longer configured (an old value still in
    # effect) is the one that could not be contacted, not the configured one
    servers = named or mentioned or configured
    bits = [id_list(ev)] if len(ev) else []
    if bad:
        bits.append("connectivity status NOT_CONNECTABLE")
    for name in servers:          # what the license server itself says (RDS_LICENSING.md 3.4 [S27])
        ls = ctx.profile(name)
        if ls is None:
            continue
        state = ls.license_server.service_state
        if state is not None and str(state.value).lower() == "stopped":
            bits.append(f"the licensing service of {ls.name} is stopped")
            evidence += fact_evidence(state, note="license server service state")
    for f in h.ls_available:         # FindLicenseServers at collection time (rds-lic-svr-chk [S27])
        v = f.value if isinstance(f.value, dict) else {}
        if canonical(v.get("server")) in servers and v.get("available") is False:
            bits.append(f"{canonical(v.get('server'))} reported not available")
            evidence += fact_evidence(f, note="IsLSAvailable: False")
    target = ", ".join(servers) if servers else "its license server"
    clock, clock_evidence = skew_around(ctx, [h.name, *servers], ev)
    skew = (f" At that time {'; '.join(clock)}: Kerberos refuses clocks more than 5 minutes apart, so correct "
            f"the time source (w32tm /query /status, w32tm /resync) before anything else." if clock else "")
    return [ctx.detected(f"{h.name} could not contact {target} ({'; '.join(bits)}) in the {ctx.window.days} days "
                         f"before collection, with no successful licensing since.{skew}", evidence + clock_evidence,
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
