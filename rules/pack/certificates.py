"""Licensing certificates: the session host's license-server certificate (RCM ``X509
Certificate*`` values) and the client's MSLicensing store (RDS_LICENSING.md 1.2 (1133/50285,
1003, 1004), 2.4, 2.7, 5 #14, #15; seed article Symptoms)."""
from __future__ import annotations

from rdsla.rules.api import RuleMeta, event_names, events_evidence, fact_evidence, id_list, rule

MS_CERT = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/troubleshoot/rdp-error-no-licenses-available"


@rule(RuleMeta(
    id="RDSLIC-014", title="Corrupt session-host licensing certificate", severity="error", kind="cause",
    events=("rdsh_ls_certificate_invalid", "cannot_issue_client_license", "rdp_protocol_error"),
    scope="session_host", requires=("session_host.events",),
    references=(MS_CERT, "RDS_LICENSING.md 1.2 (1133/50285, 1004), 1.4 (X.224), 2.4, 5 #14"),
    description="The certificate the license server issued to the session host is not valid: current 1133/50285, "
                "or current 1004 with TermDD 50 (X.224 protocol errors) while the X509 Certificate values are "
                "present. Without any X509 Certificate after the grace period the host never reached a license "
                "server: that is no corrupt certificate."))
def bad_rdsh_certificate(ctx):
    h = ctx.host
    ev = ctx.current(ctx.events(h.name, "rcm", [1133]))
    ev1004 = ctx.current(ctx.events(h.name, "rcm", [1004]))
    termdd = ctx.current(ctx.events(h.name, "other", [50]))
    cert = h.licensing_certificate
    absent = cert is not None and cert.value is False
    if absent:
        gp = h.grace_period
        over = (gp.days_left_reported is not None and int(gp.days_left_reported.value) == 0) or gp.expired_events
        note = " after the grace period: it never reached a license server (no certificate to be corrupt)" if over else ""
        return [ctx.not_detected(f"{h.name} holds no X509 Certificate under RCM{note}.")]
    pair = len(ev1004) and len(termdd)
    if not len(ev) and not pair:
        if not ctx.licensing_log_collected(h):
            return [ctx.not_collected(h, "log.system", "log.rcm_admin")]
        return [ctx.not_detected()]
    evidence = events_evidence(ev, "licensing certificate not valid")
    evidence += events_evidence(ev1004, "cannot issue a client license")
    evidence += events_evidence(termdd, "X.224 protocol error")
    evidence += fact_evidence(cert, note="X509 Certificate values under RCM")
    bits = [id_list(x) for x in (ev, ev1004, termdd) if len(x)]
    return [ctx.detected(f"The license-server certificate stored on {h.name} is not valid ({'; '.join(bits)}).",
                         evidence, related_hosts=ctx.servers_of(h))]


@rule(RuleMeta(
    id="RDSLIC-015", title="Corrupt client license store", severity="warning", kind="cause",
    blocks_licensing=False,
    events=("client_license_invalid",),
    scope="session_host", requires=("session_host.events",),
    references=("RDS_LICENSING.md 1.2 (1003), 2.7, 5 #15",),
    description="A client presented an invalid license (1003): its MSLicensing store is damaged."))
def bad_client_store(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "rcm", [1003])
    if not len(ev):
        return [ctx.not_detected()] if ctx.has_events(h.name) else [ctx.not_checked("session_host.events")]
    clients = [c for c in event_names(ev) if c != h.name]
    who = ", ".join(clients) if clients else "a client"
    # The fix is on the client, which is rarely in the bundle: the host named is the session
    # host that saw it, the clients are the related machines.
    return [ctx.detected(f"{who} presented an invalid license to {h.name} ({id_list(ev)}); the client's "
                         f"MSLicensing store is damaged.", events_evidence(ev, "client license invalid"),
                         related_hosts=clients)]
