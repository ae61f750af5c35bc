"""Grace period of the session host (120 days from role install, RDS_LICENSING.md 2.3):
expired, ending soon (measured from the collection time ``analysis.as_of``, never the wall
clock), or reset. Microsoft does not recommend resetting it (RDS_LICENSING.md 2.3 "Reset")."""
from __future__ import annotations

from rdsla.rules.api import POLICY_KEY, RuleMeta, events_evidence, fact_evidence, id_list, rule

SOON_DAYS = 14
GRACE_DAYS = 120


GRACE_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\RCM\\GracePeriod"
TERMSERVICE_LS_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\TermService\\Parameters\\LicenseServers"
RCM_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\RCM"


def _expired_events(ctx, h):
    return ctx.events(h.name, "rcm", [1128, 1069])


def ls_configured(ctx, h):
    """True: some source names a license server; False: none does and the places it would be
    were collected (policy key, TermService key, or a WMI export saying so); None: unknown."""
    if ctx.servers_of(h):
        return True
    if any(c.origin == "wmi_export" for c in h.license_server_candidates):
        return False
    if ctx.collected(h, POLICY_KEY) and ctx.collected(h, TERMSERVICE_LS_KEY):
        return False
    return None


def certificate_present(ctx, h):
    """True/False: the X509 Certificate value under RCM is there / known absent (its key was
    collected, or an export says the host never connected); None: unknown."""
    cert = h.licensing_certificate
    if cert is None or cert.value is None:
        return None
    if cert.value:
        return True
    if cert.origin == "registry" and not ctx.collected(h, RCM_KEY):
        return None
    return False


def working_ls(ctx, h):
    """A license server configured and the session host holding its certificate (it has talked
    to it): the state in which Windows sets the grace value to 0 (RDS_LICENSING.md 0a, [S2];
    [S27]'s 'configured correctly')."""
    conf, cert = ls_configured(ctx, h), certificate_present(ctx, h)
    if conf is False or cert is False:
        return False
    if conf and cert:
        return True
    return None


def _ends_from_1129(ctx, h):
    """End of grace from the newest 1129/50281 (%1 = expiry date), when the profile lacks it."""
    import pandas as pd
    ev = ctx.events(h.name, "rcm", [1129])
    for _, row in ev.iloc[::-1].iterrows():
        data = row.get("data")
        values = list(data.values()) if isinstance(data, dict) else []
        for v in values:
            when = pd.to_datetime(v, utc=True, errors="coerce")
            if not pd.isna(when):
                return when.to_pydatetime(), row
    return None, None


def _days_left(ctx, h):
    gp = h.grace_period
    if gp.days_left_reported is not None:
        return int(gp.days_left_reported.value), fact_evidence(gp.days_left_reported, note="grace days left")
    if gp.ends is not None:
        return gp.days_left(ctx.as_of), fact_evidence(gp.ends, note="grace period end")
    when, row = _ends_from_1129(ctx, h)
    if when is not None:
        from rdsla.rules.api import event_evidence
        return max(0, (when - ctx.as_of).days), [event_evidence(row, "grace period end (%1)")]
    return None, []


@rule(RuleMeta(
    id="RDSLIC-101", title="Grace period expired", severity="critical", kind="symptom",
    only_blocking_causes=True,
    events=("grace_period_expired", "grace_expired_mode_not_configured"),
    scope="session_host", requires=("session_host.events",),
    references=("seed article: Symptoms", "RDS_LICENSING.md 1.2 (1128/50280, 1069), 2.3, 5 #1"),
    description="The 120-day grace period is over and no license server issues CALs: 1128/50280 or 1069 in the "
                "current window, or 0 grace days left without a working license server (none configured, or no "
                "X509 Certificate under RCM). 0 days alone is the normal value of a licensed host (RDS_LICENSING.md 0a)."))
def grace_expired(ctx):
    h = ctx.host
    all_ev = _expired_events(ctx, h)
    ev, old = ctx.current(all_ev), ctx.history(all_ev)
    gp = h.grace_period
    reported = int(gp.days_left_reported.value) if gp.days_left_reported is not None else None
    history = ctx.history_line(old)
    if len(ev):
        evidence = events_evidence(ev, "grace period expired")
        if reported == 0:
            evidence = fact_evidence(gp.days_left_reported, note="grace days left: 0") + evidence
        return [ctx.detected(f"The licensing grace period of {h.name} has expired ({id_list(ev)} in the "
                             f"{ctx.window.days} days before collection); connections are refused until a license "
                             f"server issues CALs.", evidence, related_hosts=ctx.servers_of(h))]
    if reported is not None and reported > 0:
        return [ctx.not_detected(f"{h.name} reports {reported} grace day(s) left.")]
    if reported == 0:
        # 0 is also the value of every licensed host: Windows sets it once a license server is
        # configured (RDS_LICENSING.md 0a). Expired only without a working license server.
        working = working_ls(ctx, h)
        if working is True:
            return [ctx.not_detected(f"{h.name} reports 0 grace days left, the value Windows keeps once a license "
                                     f"server is configured; it has one and holds its certificate.")]
        if working is None:
            return [ctx.not_collected(h, "key.terminal_server", "key.policy", "key.termservice", summary=(
                f"{h.name} reports 0 grace days left, which is normal on a licensed host; whether it has a working "
                f"license server (configured, certificate under RCM) was not collected."))]
        conf, cert = ls_configured(ctx, h), certificate_present(ctx, h)
        why = "no license server is configured" if conf is False else \
            "it holds no license-server certificate (X509 Certificate under RCM): it never got licenses from one"
        evidence = fact_evidence(gp.days_left_reported, note="grace days left: 0")
        if cert is False:
            evidence += fact_evidence(h.licensing_certificate, note="no X509 Certificate value")
        return [ctx.detected(f"The licensing grace period of {h.name} has expired: 0 days left and {why}.",
                             evidence, related_hosts=ctx.servers_of(h))]
    if not ctx.licensing_log_collected(h):
        return [ctx.not_collected(h, "log.system", "log.rcm_admin", "export.grace_period")]
    return [ctx.not_detected(history=history)]


@rule(RuleMeta(
    id="RDSLIC-102", title="Grace period ends within 14 days", severity="warning", kind="symptom",
    only_blocking_causes=True,
    events=("grace_period_expiring",),
    scope="session_host", requires=("session_host.events",),
    references=("RDS_LICENSING.md 1.2 (1129/50281), 2.3",),
    description="Grace days left at the collection time (not the wall clock) are 14 or fewer; skipped where a license "
                "server is configured and its certificate present (configuring one rewrites the grace value); the "
                "GracePeriod key time is known from hives only (text exports carry none)."))
def grace_ending(ctx):
    h = ctx.host
    if working_ls(ctx, h) is True:
        return [ctx.not_detected(f"{h.name} has a license server configured and holds its certificate: the grace "
                                 f"period no longer applies (configuring a license server rewrites the grace value).")]
    days, evidence = _days_left(ctx, h)
    if days is None:
        if ctx.collected(h, GRACE_KEY) and h.grace_period.key_last_write is None:
            return [ctx.not_collected(h, "hive.system", "export.grace_period", summary=(
                f"The grace period end of {h.name} is unknown: its GracePeriod key came from a text export, which "
                f"carries no key times, and no GetGracePeriodDays output or 1129/50281 event was collected."))]
        return [ctx.not_detected()] if ctx.licensing_log_collected(h) or ctx.collected(h, GRACE_KEY) else \
            [ctx.not_collected(h, "log.system", "log.rcm_admin", "export.grace_period")]
    if days == 0 or days > SOON_DAYS:
        return [ctx.not_detected(f"{days} grace day(s) left at {ctx.as_of:%Y-%m-%d}.")]
    return [ctx.detected(f"The grace period of {h.name} ends in {days} day(s) after the collection time "
                         f"({ctx.as_of:%Y-%m-%d}).", evidence, related_hosts=ctx.servers_of(h))]


@rule(RuleMeta(
    id="RDSLIC-202", title="Grace period was reset", severity="info", kind="info",
    events=("grace_period_expired", "grace_expired_mode_not_configured"),
    scope="session_host", requires=("session_host.registry", "session_host.events"),
    references=("RDS_LICENSING.md 2.3 Reset",),
    description="The GracePeriod key was rewritten after the grace period had expired, or days are left "
                "although expiry events were logged, on a host without a working license server (configuring one "
                "rewrites the value: that is a fix, not a reset)."))
def grace_reset(ctx):
    import pandas as pd
    h = ctx.host
    gp = h.grace_period
    ev = _expired_events(ctx, h)
    if not len(ev):
        return [ctx.not_detected()] if ctx.has_events(h.name) else [ctx.not_checked("session_host.events")]
    last_expiry = ev["time"].max()
    written = gp.key_last_write
    reported = int(gp.days_left_reported.value) if gp.days_left_reported is not None else None
    if working_ls(ctx, h) is True:
        return [ctx.not_detected(f"The grace value of {h.name} changed after its last expiry event "
                                 f"({last_expiry:%Y-%m-%d}) because a license server was configured (it holds that "
                                 f"server's certificate): licensing was fixed, not the grace period reset.")]
    rewritten = written is not None and pd.Timestamp(written) > last_expiry
    if not rewritten and not (reported is not None and reported > 0):
        if written is None and reported is None:
            return [ctx.not_collected(h, "hive.system", "export.grace_period", summary=(
                f"Not checked for {h.name}: its GracePeriod key time is unknown (text exports carry no key times) "
                f"and no GetGracePeriodDays output was collected."))]
        return [ctx.not_detected()]
    evidence = events_evidence(ev, "grace period had expired")
    if rewritten:
        from rdsla.core.model import Evidence
        evidence.append(Evidence(frame="registry", source="", locator={
            "key": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\RCM\\GracePeriod"},
            detail={"last_write": written}, note="GracePeriod key written after the expiry"))
    if reported:
        evidence += fact_evidence(gp.days_left_reported, note="grace days left")
    when = f"the GracePeriod key was written on {pd.Timestamp(written):%Y-%m-%d}" if rewritten else \
        f"{reported} grace day(s) are reported"
    return [ctx.detected(f"The grace period of {h.name} was reset: it expired ({id_list(ev)}, last on "
                         f"{last_expiry:%Y-%m-%d}) but {when}.", evidence)]
