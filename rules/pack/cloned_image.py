"""A session host deployed from an image whose licensing grace period had already run (RDSLIC-024).

The 120-day grace period starts when the RD Session Host role is installed (RDS_LICENSING.md 2.3);
its timebomb lives in ``RCM\\GracePeriod``. Sysprep gives a machine deployed from an image a new
``InstallDate`` (``SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion``) but keeps the image's
GracePeriod key, so a host a few days old reports 1128/50280 "grace period has expired" when no
license server serves it yet. The fix is the image's, not the grace key's: Microsoft does not
recommend resetting the grace period (RDS_LICENSING.md 2.3 "Reset").
"""
from __future__ import annotations

from datetime import timedelta

from rdsla.rules.api import RuleMeta, events_evidence, fact_evidence, id_list, rule
from rdsla.rules.pack.grace_period import GRACE_DAYS, working_ls

SEED_CB = "seed article: Configure licensing for an RDS deployment that includes the RD Connection Broker role"
MS_GRACE = "https://learn.microsoft.com/troubleshoot/windows-server/remote/troubleshoot-rds-licensing-guidance"
# a key written within a day of setup is setup's own write, not the image's
SAME_INSTALL = timedelta(days=1)


@rule(RuleMeta(
    id="RDSLIC-024", title="Session host cloned from an image whose grace period had run", severity="error",
    kind="cause", outranks=("RDSLIC-001", "RDSLIC-101"),
    events=("grace_period_expired", "grace_expired_mode_not_configured"),
    scope="session_host", requires=("session_host.registry", "session_host.events"),
    references=(SEED_CB, MS_GRACE, "RDS_LICENSING.md 0a (grace), 1.2 (1128/50280), 2.3 (GracePeriod, Reset)"),
    remediation=(
        "Give this host a working license server now: specify the license server and licensing mode (Server Manager "
        "> Deployment Properties > RD Licensing with a Connection Broker, or the Group Policy 'Use the specified "
        "Remote Desktop license servers' and 'Set the Remote Desktop licensing mode'), then gpupdate /force and "
        "restart Remote Desktop Services; the grace period no longer matters once a license server issues CALs.",
        "Fix the image: configure RD licensing (license server and mode, e.g. by the domain GPO that reaches the OU "
        "of new hosts) before the image is captured or before the first user signs in, so that hosts deployed from "
        "it never depend on the image's grace period; rebuild the image if its RD Session Host role was installed "
        "more than 120 days ago.",
        "Pooled hosts: redeploy them from the corrected image (or add them to the deployment so that the broker "
        "sets licensing) rather than repairing each one.",
        "Do not delete the GracePeriod registry key to buy time: Microsoft does not recommend resetting the grace "
        "period and it does not fix licensing.",
    ),
    description="The host is younger than its grace period: 1128/50280 (grace expired) in the current window, less "
                "than 120 days after the host's InstallDate (or SystemInfo's install date), or the GracePeriod key "
                "written before InstallDate (the image's timebomb); and no working license server (none configured, "
                "or no license-server certificate under RCM). Without current expiry events, a GracePeriod key "
                "older than InstallDate is a warning."))
def cloned_image(ctx):
    import pandas as pd

    h = ctx.host
    installed = h.os_install_date
    local = installed is None and h.install_date_local is not None and h.install_date_local.value is not None
    if local:      # SystemInfo states it in the machine's local time: hours off at most, against 120 days
        installed = h.install_date_local
    if installed is None or installed.value is None:
        if ctx.collected(h, "hive.software"):
            return [ctx.not_detected(f"{h.name} has no InstallDate value.")]
        return [ctx.not_collected(h, "hive.software", summary=(
            f"Not checked for {h.name}: its installation date (SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion "
            f"InstallDate) was not collected, nor MSRD-Collect's SystemInfo.txt."))]
    install = pd.Timestamp(installed.value)
    install = install.tz_localize("UTC") if install.tzinfo is None else install.tz_convert("UTC")
    if working_ls(ctx, h) is True:
        return [ctx.not_detected(f"{h.name} has a working license server (configured, certificate present): the "
                                 f"grace period no longer matters.")]
    all_ev = ctx.events(h.name, "rcm", [1128, 1069])
    ev = ctx.current(all_ev)
    ctx.history_line(ctx.history(all_ev))
    young = pd.Timedelta(days=GRACE_DAYS)          # expired sooner than a new installation's grace period
    early = ev[(ev["time"] >= install) & (ev["time"] < install + young)] if len(ev) else ev
    since = all_ev[(all_ev["time"] >= install) & (all_ev["time"] < install + young)] if len(early) else early
    written = h.grace_period.key_last_write
    before = written is not None and pd.Timestamp(written) < install - SAME_INSTALL
    if not len(early) and not before:
        return [ctx.not_detected()]
    evidence = fact_evidence(installed, note=f"installed {install:%Y-%m-%d}" + (
        " (SystemInfo, the machine's local time)" if local else " (InstallDate)"))
    bits = []
    if len(early):
        first = since["time"].min()
        bits.append(f"its grace period was reported expired ({id_list(early)} in the {ctx.window.days} days before "
                    f"collection) from {first:%Y-%m-%d}, "
                    f"{(first - install).days} day(s) after it was installed on {install:%Y-%m-%d}, not the "
                    f"{GRACE_DAYS} days a new installation has")
        evidence += events_evidence(early, "grace period expired soon after installation")
    if before:
        bits.append(f"its GracePeriod key was written on {pd.Timestamp(written):%Y-%m-%d}, "
                    f"{(install - pd.Timestamp(written)).days} day(s) before this installation: the image's timebomb")
        from rdsla.core.model import Evidence
        evidence.append(Evidence(frame="registry", source="", locator={
            "key": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\RCM\\GracePeriod"},
            detail={"last_write": written}, note="GracePeriod key older than the installation"))
    conf = working_ls(ctx, h)
    why = "and no license server serves it" if conf is False else "and no working license server is known for it"
    severity = None if len(early) else "warning"
    return [ctx.detected(f"{h.name} was deployed from an image whose grace period had already run: "
                         + "; ".join(bits) + f", {why}.", evidence, related_hosts=ctx.servers_of(h),
                         severity=severity)]
