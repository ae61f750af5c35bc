"""Licensing certificates: the session host's license-server certificate (RCM ``X509
Certificate*`` values) and the client's MSLicensing store (RDS_LICENSING.md 1.2 (1133/50285,
1003, 1004), 2.4, 2.7, 5 #14, #15; seed article Symptoms)."""
from __future__ import annotations

from rdsla.rules.api import RuleMeta, event_names, events_evidence, fact_evidence, id_list, rule

MS_CERT = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/troubleshoot/rdp-error-no-licenses-available"


@rule(RuleMeta(
    id="RDSLIC-014", title="Corrupt session-host licensing certificate", severity="error", kind="cause",
    events=("rdsh_ls_certificate_invalid", "cannot_issue_client_license"),
    scope="session_host", requires=("session_host.events",),
    references=(MS_CERT, "RDS_LICENSING.md 1.2 (1133/50285, 1004), 2.4, 5 #14"),
    description="The certificate the license server issued to the session host is not valid (1133/50285)."))
def bad_rdsh_certificate(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "rcm", [1133])
    if not len(ev):
        return [ctx.not_detected()] if ctx.has_events(h.name) else [ctx.not_checked("session_host.events")]
    evidence = events_evidence(ev, "licensing certificate not valid")
    ev1004 = ctx.events(h.name, "rcm", [1004])
    evidence += events_evidence(ev1004, "cannot issue a client license")
    evidence += fact_evidence(h.licensing_certificate, note="X509 Certificate values under RCM")
    return [ctx.detected(f"The license-server certificate stored on {h.name} is not valid ({id_list(ev)}).",
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
