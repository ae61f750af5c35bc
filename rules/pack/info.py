"""What the session host sees, benign license-server noise, and how complete the bundle is
(RDS_LICENSING.md 1.2, 1.3 (44, 16), 3.6, 5 #20)."""
from __future__ import annotations

from rdsla.core.model import Evidence
from rdsla.core.evidence import event_evidence, rows
from rdsla.rules.api import COLLECT, RuleMeta, events_evidence, id_list, rule
from rdsla.rules.helpers import newest_rows
from rdsla.rules.api import license_servers as _lss, session_hosts as _shs

SH_ERRORS = (1003, 1004, 1011, 1028, 1043, 1061, 1068, 1069, 1128, 1130, 1131, 1132, 1133)


@rule(RuleMeta(
    id="RDSLIC-103", title="Licensing errors seen by the session host", severity="warning", kind="symptom",
    events=("client_license_invalid", "cannot_issue_client_license", "temporary_license_expired",
            "license_not_renewed", "rdsh_not_in_endpoint_group", "ad_user_license_lookup_failed",
            "licensing_mode_not_configured", "grace_expired_mode_not_configured", "grace_period_expired",
            "no_license_server_specified", "license_server_unreachable", "license_server_os_unsupported",
            "rdsh_ls_certificate_invalid"),
    scope="session_host", requires=("session_host.events",),
    references=("seed article: Symptoms", "RDS_LICENSING.md 1.2"),
    description="RCM licensing warnings/errors logged by the session host in the current window (both ID forms); "
                "older ones are history."))
def sh_errors(ctx):
    h = ctx.host
    all_ev = ctx.events(h.name, "rcm", SH_ERRORS)
    ev, old = ctx.current(all_ev), ctx.history(all_ev)
    history = ctx.history_line(old)
    if not len(ev):
        if not ctx.has_events(h.name):
            return [ctx.not_collected(h, "log.system", "log.rcm_admin")]
        return [ctx.not_detected(history=history)]
    evidence, by_id = [], {}
    for r in rows(ev):                  # the two newest of each legacy id, ids ascending
        if r["_legacy"] is not None:
            by_id.setdefault(r["_legacy"], []).append(r)
    for legacy in sorted(by_id):
        evidence += [event_evidence(r, "licensing event") for r in newest_rows(by_id[legacy], 2)]
    return [ctx.detected(f"{h.name} logged {len(ev)} licensing event(s) in the {ctx.window.days} days before "
                         f"collection: {id_list(ev)}.", evidence, related_hosts=ctx.servers_of(h))]


@rule(RuleMeta(
    id="RDSLIC-201", title="Benign license-server noise (44, 16)", severity="info", kind="info",
    events=("ls_database_error_benign", "ls_cal_return_failed"),
    scope="license_server", requires=("license_server.events",),
    references=("https://learn.microsoft.com/troubleshoot/windows-server/remote/event-44-rds-licensing-server",
                "RDS_LICENSING.md 1.3 (16, 44), 5 #20"),
    description="Event 44 (ESE -1316) and 16 (expired CAL not returned) are benign; they are not the cause."))
def benign_noise(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "ls", [44, 16])
    if not len(ev):
        return [ctx.not_detected()] if ctx.has_events(h.name) else [ctx.not_checked("license_server.events")]
    return [ctx.detected(f"License server {h.name} logged {id_list(ev)}: benign, not a cause.",
                         events_evidence(ev, "benign"))]


@rule(RuleMeta(
    id="RDSLIC-203", title="Bundle incomplete for a full diagnosis", severity="info", kind="info",
    scope="bundle", references=("RDS_LICENSING.md 0, 3.6",),
    description="Lists what is missing (session host registry/logs, license server logs/reports) or damaged."))
def incomplete(ctx):
    from rdsla.rules.api import Context
    missing, collect, evidence = [], [], []
    shs, lss = _shs(ctx.bundle), _lss(ctx.bundle)

    def probe(host):
        return Context(ctx.bundle, ctx.meta, host)

    if not shs:
        missing.append("no session host")
        collect += [COLLECT["session_host.registry"], COLLECT["session_host.events"]]
    for h in shs:
        c = probe(h)
        if not c.has_registry(h):
            missing.append(f"{h.name}: registry")
            collect.append(f"{h.name}: " + COLLECT["session_host.registry"])
        if not c.has_events(h.name):
            missing.append(f"{h.name}: event logs")
            collect.append(f"{h.name}: " + COLLECT["session_host.events"])
    if not lss:
        missing.append("no license server")
        collect += [COLLECT["license_server.events"], COLLECT["license_server.reports"]]
    for h in lss:
        c = probe(h)
        if not c.has_events(h.name):
            missing.append(f"{h.name}: license server logs")
            collect.append(f"{h.name}: " + COLLECT["license_server.events"])
        if not c.has_reports(h):
            missing.append(f"{h.name}: key pack / issued license reports")
            collect.append(f"{h.name}: " + COLLECT["license_server.reports"])
    art = ctx.frame("artifacts")
    if len(art):
        for idx, r in art.iterrows():
            lost = r.get("records_lost")
            bad = str(r.get("status") or "").lower() in ("failed", "refused", "partial", "damaged")
            if bad or (lost is not None and not _na(lost) and int(lost) > 0):
                missing.append(f"{r['path']}: {r.get('status')}" + (f", {int(lost)} record(s) lost" if not _na(lost) and int(lost) else ""))
                evidence.append(Evidence(frame="artifacts", source=str(r["path"]), locator={"row": int(idx)},
                                         detail={"kind": r.get("kind"), "status": r.get("status"),
                                                 "records_lost": None if _na(lost) else int(lost),
                                                 "warnings": r.get("warnings")}))
    if not missing:
        return [ctx.not_detected()]
    f = ctx.detected("Bundle incomplete: " + "; ".join(missing) + ".", evidence,
                     remediation=["Collect: " + c for c in collect] or None)
    f.collect = collect
    return [f]


def _na(x) -> bool:
    try:
        import pandas as pd
        return x is None or bool(pd.isna(x))
    except (TypeError, ValueError):
        return False
