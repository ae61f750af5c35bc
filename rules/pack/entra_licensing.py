"""Entra ID (Azure AD) Per User licensing failing on the session host (RDSLIC-026).

Newer builds log 50214/50215 ("unable to retrieve users licensing information from AAD") and
50216 ("unable to validate RDS license") on the Entra ID licensing path (RDS_LICENSING.md 1.2,
[S20]). The mode that selects it, "AAD Per User" in the newer ADMX, has no number Microsoft
confirms (2.2: 6 is the value seen with it, core.model.LICENSING_MODES), so the finding says
which evidence it used and stays a warning when the mode is not that value.
"""
from __future__ import annotations

from rdsla.core.model import LICENSING_MODES
from rdsla.rules.api import ORIGIN_LABEL, RuleMeta, events_evidence, fact_evidence, id_list, rule

AAD_PER_USER = next(k for k, v in LICENSING_MODES.items() if v == "aad_per_user")
MS_EVENTS = "https://learn.microsoft.com/troubleshoot/windows-server/remote/troubleshoot-rds-licensing-guidance"


def _mode(fact):
    try:
        return int(fact.value) if fact is not None and fact.value is not None else None
    except (TypeError, ValueError):
        return None


@rule(RuleMeta(
    id="RDSLIC-026", title="Entra ID (AAD) Per User licensing failing", severity="error", kind="cause",
    events=("aad_user_license_lookup_failed", "rds_license_validation_failed"),
    scope="session_host", requires=("session_host.registry", "session_host.events"),
    references=(MS_EVENTS, "RDS_LICENSING.md 1.2 (50214-50216), 2.2 (AAD Per User: value not confirmed)"),
    remediation=(
        "On the session host check that it is joined to Microsoft Entra ID and has a valid device token "
        "(dsregcmd /status: AzureAdJoined YES, AzureAdPrt YES for the signed-in user) and that it reaches the "
        "Entra ID endpoints (proxy, firewall).",
        "Check that the users connecting hold the licence the 'AAD Per User' mode expects; users without it are "
        "refused.",
        "If the host is not Entra ID joined, or the mode was chosen by mistake, set the licensing mode to Per User "
        "or Per Device with a license server (Group Policy 'Set the Remote Desktop licensing mode'), then "
        "gpupdate /force and restart Remote Desktop Services.",
    ),
    description="RCM 50214/50215 (AAD licensing lookup failed) or 50216 (RDS license validation failed) in the current "
                "window. An error when the licensing mode is the value 'AAD Per User' is seen with (6, not confirmed "
                "by Microsoft); a warning naming the mode evidence otherwise (the events alone show the Entra ID path "
                "was tried). No events: not detected."))
def aad_per_user_failing(ctx):
    h = ctx.host
    all_ev = ctx.events(h.name, "rcm", [1062, 1063, 1064])
    ev, old = ctx.current(all_ev), ctx.history(all_ev)
    ctx.history_line(old)
    if not len(ev):
        if not ctx.licensing_log_collected(h):
            return [ctx.not_collected(h, "log.rcm_admin", summary=(
                f"Not checked for {h.name}: the RemoteConnectionManager/Admin log (where 50214-50216 are written) "
                f"was not collected."))]
        return [ctx.not_detected()]
    mode = _mode(h.licensing_mode)
    evidence = events_evidence(ev, "Entra ID licensing failed")
    if mode == AAD_PER_USER:
        evidence = fact_evidence(h.licensing_mode, note=f"licensing mode {mode} (AAD Per User)", winner=True) + evidence
        origin = ORIGIN_LABEL.get(h.licensing_mode.origin, h.licensing_mode.origin)
        return [ctx.detected(f"{h.name} licenses users through Entra ID (licensing mode {mode}, 'AAD Per User', from "
                             f"{origin}) and that path fails: {id_list(ev)} in the {ctx.window.days} days before "
                             f"collection.", evidence)]
    if mode is None:
        used = "its licensing mode is unknown (not collected)"
    else:
        used = f"its licensing mode is {mode} ({LICENSING_MODES.get(mode, 'unknown')}), not {AAD_PER_USER}"
        evidence = fact_evidence(h.licensing_mode, note=f"licensing mode {mode}", winner=True) + evidence
    return [ctx.detected(f"{h.name} logged {id_list(ev)} (Entra ID licensing lookup or validation failed) in the "
                         f"{ctx.window.days} days before collection; {used}, so whether the host is meant to license "
                         f"through Entra ID rests on these events only ('AAD Per User' has no number Microsoft "
                         f"confirms).", evidence, severity="warning")]
