"""Grace period of the session host (120 days from role install, RDS_LICENSING.md 2.3):
expired, ending soon (measured from the collection time ``analysis.as_of``, never the wall
clock), or reset. Microsoft does not recommend resetting it (RDS_LICENSING.md 2.3 "Reset")."""
from __future__ import annotations

import pandas as pd

from rdsla.rules.api import RuleMeta, events_evidence, fact_evidence, id_list, rule

SOON_DAYS = 14
GRACE_DAYS = 120


def _expired_events(ctx, h):
    return ctx.events(h.name, "rcm", [1128, 1069])


def _ends_from_1129(ctx, h):
    """End of grace from the newest 1129/50281 (%1 = expiry date), when the profile lacks it."""
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
    description="The 120-day grace period is over and no license server issued CALs (1128/50280, 1069)."))
def grace_expired(ctx):
    h = ctx.host
    ev = _expired_events(ctx, h)
    gp = h.grace_period
    reported = int(gp.days_left_reported.value) if gp.days_left_reported is not None else None
    if reported is not None and reported > 0:
        return [ctx.not_detected(f"{h.name} reports {reported} grace day(s) left.")]
    if reported != 0 and not len(ev) and not gp.expired_events:
        return [ctx.not_detected()] if ctx.has_events(h.name) else [ctx.not_checked("session_host.events")]
    evidence = fact_evidence(gp.days_left_reported, note="grace days left: 0") if reported == 0 else []
    evidence += events_evidence(ev, "grace period expired")
    if not len(ev):
        evidence += list(gp.expired_events[:5])
    bits = (["0 grace days left"] if reported == 0 else []) + ([id_list(ev)] if len(ev) else [])
    return [ctx.detected(f"The licensing grace period of {h.name} has expired ({'; '.join(bits) or 'expiry events'}); "
                         f"connections are refused until a license server issues CALs.", evidence,
                         related_hosts=ctx.servers_of(h))]


@rule(RuleMeta(
    id="RDSLIC-102", title="Grace period ends within 14 days", severity="warning", kind="symptom",
    only_blocking_causes=True,
    events=("grace_period_expiring",),
    scope="session_host", requires=("session_host.events",),
    references=("RDS_LICENSING.md 1.2 (1129/50281), 2.3",),
    description="Grace days left at the collection time (not the wall clock) are 14 or fewer."))
def grace_ending(ctx):
    h = ctx.host
    days, evidence = _days_left(ctx, h)
    if days is None:
        return [ctx.not_detected()] if ctx.has_events(h.name) or ctx.has_registry(h) else \
            [ctx.not_checked("session_host.events")]
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
                "although expiry events were logged."))
def grace_reset(ctx):
    h = ctx.host
    gp = h.grace_period
    ev = _expired_events(ctx, h)
    if not len(ev):
        return [ctx.not_detected()] if ctx.has_events(h.name) else [ctx.not_checked("session_host.events")]
    last_expiry = ev["time"].max()
    written = gp.key_last_write
    reported = int(gp.days_left_reported.value) if gp.days_left_reported is not None else None
    rewritten = written is not None and pd.Timestamp(written) > last_expiry
    if not rewritten and not (reported is not None and reported > 0):
        if written is None and reported is None:
            return [ctx.not_checked("session_host.registry")]
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
