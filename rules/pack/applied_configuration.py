"""A licensing fix made while Remote Desktop Services kept running (RDSLIC-023).

The session host reads its licensing mode and license servers when Remote Desktop Services
starts; a Group Policy or deployment change written later leaves the running service on the old
values, so 1131/1130/1068 go on naming them (RDS_LICENSING.md 0a "A fix made while the session
host keeps running", reasoning from [S2]). The change time is the LastWrite of the key holding the
value (policy key, ``RCM\\Licensing Core``, ``TermService\\Parameters\\LicenseServers``), which
only hives carry; the last start is SCM 7036 for TermService or a boot (EventLog 6009).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from rdsla.core.model import CONFIGURED_MODES
from rdsla.rules.api import ORIGIN_LABEL, RuleMeta, event_names, events_evidence, id_list, rule
from rdsla.core.evidence import rows
from rdsla.rules.helpers import names_in_data, newest, of_catalog_keys

if TYPE_CHECKING:          # pandas is imported where it is used: listing the rules loads none
    import pandas as pd

SEED_GP = "seed article: Configure licensing for an RDS deployment that consists of only the RD Session Host role and the RD Licensing role"
MS_GPUPDATE = "https://learn.microsoft.com/windows-server/administration/windows-commands/gpupdate"
CONFIG_ORIGINS = ("group_policy", "deployment")
SERVICE = "rdsh_service_state"                 # SCM 7036 for Remote Desktop Services (TermService)


def configuration_writes(h) -> tuple[list, bool]:
    """(fact, registry evidence, key LastWrite) of each registry-held licensing setting of ``h``, and
    whether any registry-held setting lacked a key time (a text export: reg export and reg query
    write none)."""
    import pandas as pd
    out, untimed = [], False
    for fact in [*h.licensing_mode_candidates, *h.license_server_candidates]:
        if fact.origin not in CONFIG_ORIGINS:
            continue
        for ev in fact.evidence:
            if ev.frame != "registry":
                continue
            when = (ev.detail or {}).get("last_write")
            if when is None:
                untimed = True
                continue
            out.append((fact, ev, pd.Timestamp(when)))
    return out, untimed


def service_starts(ctx, h) -> pd.DataFrame:
    """Starts of Remote Desktop Services: SCM 7036 '... entered the running state' for TermService,
    and boots (EventLog 6009), after which the service starts again."""
    import pandas as pd
    scm = of_catalog_keys(ctx.events(h.name, "scm", [7036]), (SERVICE,))
    if len(scm):
        def running(r) -> bool:
            data = r.get("data") if isinstance(r.get("data"), dict) else {}
            text = " ".join(str(v) for v in data.values()).lower() + " " + str(r.get("message") or "").lower()
            return "running" in text
        scm = scm[[running(r) for r in rows(scm)]]
    boots = ctx.events(h.name, "other", [6009])
    if len(boots):
        boots = boots[boots["provider"].fillna(boots["source_name"]).fillna("").str.lower() == "eventlog"]
    parts = [df for df in (scm, boots) if len(df)]
    return pd.concat(parts).sort_values("time") if parts else scm


def _system_log_since(ctx, h, when: pd.Timestamp) -> bool:
    """The System log (where SCM and EventLog write) reaches back to ``when``: no start after it
    then means none happened. A hand-built profile (no coverage) counts any System events."""
    import pandas as pd
    if h.coverage is None:
        return ctx.has_events(h.name)
    span = h.coverage.log("System")
    return span is not None and span.first is not None and pd.Timestamp(span.first) <= when


@rule(RuleMeta(
    id="RDSLIC-023", title="Licensing configuration changed but not applied", severity="error", kind="cause",
    outranks=("RDSLIC-004", "RDSLIC-003"),
    events=("license_server_unreachable", "license_server_os_unsupported", "no_license_server_specified",
            "licensing_mode_not_configured", "grace_expired_mode_not_configured", SERVICE, "os_version_at_boot"),
    scope="session_host", requires=("session_host.registry", "session_host.events"),
    references=(SEED_GP, MS_GPUPDATE, "RDS_LICENSING.md 0a (a fix made while the session host keeps running), 1.2 "
                "(1130/50282, 1131/50283, 1068), 2.2"),
    remediation=(
        "Apply the new licensing settings: on the session host run gpupdate /force (for Group Policy values), then "
        "restart Remote Desktop Services (Restart-Service TermService -Force, or restart the server in a maintenance "
        "window; active sessions are disconnected).",
        "Check with RD Licensing Diagnoser (lsdiag.msc) that the session host now names the new license server and "
        "mode, and that no new 1131/50283 or 1130/50282 events name the old values.",
    ),
    description="The policy, RCM\\Licensing Core or LicenseServers key was written after the last start of Remote "
                "Desktop Services (SCM 7036 for TermService, or a boot), and licensing errors in the current window "
                "after that write still name the old values (1131/1132 an old license server, 1130 no server, 1068/"
                "1069 no mode). Needs hive key times: with text exports (.reg, reg query) it is not checked."))
def changed_not_applied(ctx):
    h = ctx.host
    writes, untimed = configuration_writes(h)
    if not writes:
        if untimed:
            return [ctx.not_collected(h, "hive.system", "hive.software", summary=(
                f"Not checked for {h.name}: its licensing settings came from text exports (reg export, reg query), "
                f"which carry no key LastWrite times; whether they changed after Remote Desktop Services last "
                f"started needs the SYSTEM and SOFTWARE hives (reg save)."))]
        return [ctx.not_detected()]
    fact, write_ev, changed = max(writes, key=lambda t: t[2])
    starts = service_starts(ctx, h)
    later = starts[starts["time"] > changed] if len(starts) else starts
    if len(later):
        first = later["time"].min()
        return [ctx.not_detected(f"The licensing settings of {h.name} last changed on {changed:%Y-%m-%d %H:%M} and "
                                 f"Remote Desktop Services started again on {first:%Y-%m-%d %H:%M}: applied.")]
    if not _system_log_since(ctx, h, changed):
        return [ctx.not_collected(h, "log.system", summary=(
            f"Not checked for {h.name}: its licensing settings changed on {changed:%Y-%m-%d %H:%M}, but the System "
            f"log collected does not reach back to then, so whether Remote Desktop Services restarted since is "
            f"unknown."))]
    stale, what = _errors_naming_old_values(ctx, h, changed)
    if not len(stale):
        return [ctx.not_detected(f"The licensing settings of {h.name} changed on {changed:%Y-%m-%d %H:%M}, after the "
                                 f"last start of Remote Desktop Services, but no licensing error since names the old "
                                 f"values.")]
    last_start = starts["time"].max() if len(starts) else None
    key = (write_ev.detail or {}).get("key") or write_ev.locator.get("key")
    evidence = [replace(write_ev, note=f"key written {changed:%Y-%m-%d %H:%M} ({ORIGIN_LABEL.get(fact.origin, fact.origin)})")]
    if last_start is not None:
        evidence += events_evidence(newest(starts, 1), "last start of Remote Desktop Services before the change")
    evidence += events_evidence(stale, "licensing error after the change, naming the old value")
    since = f"last started {last_start:%Y-%m-%d %H:%M}" if last_start is not None else \
        "not restarted in the span of the System log"
    return [ctx.detected(
        f"The licensing settings of {h.name} were changed on {changed:%Y-%m-%d %H:%M} ({key}) but Remote Desktop "
        f"Services was {since} and has not restarted since: {id_list(stale)} after the change still {what}.",
        evidence, related_hosts=ctx.servers_of(h))]


def _errors_naming_old_values(ctx, h, changed: pd.Timestamp) -> tuple[pd.DataFrame, str]:
    """Current licensing errors after ``changed`` that reflect the values before it: a license
    server the host no longer names (1131/1132), no server while one is configured (1130), no
    mode while one is configured (1068/1069)."""
    import pandas as pd
    servers = ctx.servers_of(h)
    picked, what = [], []
    named = ctx.current(ctx.events(h.name, "rcm", [1131, 1132]))
    named = named[named["time"] > changed] if len(named) else named
    if len(named) and servers:
        def names_old_server(data) -> bool:
            names = [n for n in names_in_data([data]) if n != h.name]
            return bool(names) and not set(names) & set(servers)
        old = named[named["data"].map(names_old_server)]
        if len(old):
            picked.append(old)
            what.append(f"name {', '.join(n for n in event_names(old) if n != h.name)} instead of "
                        f"{', '.join(servers)}")
    if servers:
        none = ctx.current(ctx.events(h.name, "rcm", [1130]))
        none = none[none["time"] > changed] if len(none) else none
        if len(none):
            picked.append(none)
            what.append(f"say no license server is specified although {', '.join(servers)} is")
    mode = h.licensing_mode.value if h.licensing_mode is not None else None
    try:
        configured = mode is not None and int(mode) in CONFIGURED_MODES
    except (TypeError, ValueError):
        configured = False
    if configured:
        unset = ctx.current(ctx.events(h.name, "rcm", [1068, 1069]))
        unset = unset[unset["time"] > changed] if len(unset) else unset
        if len(unset):
            picked.append(unset)
            what.append(f"say the licensing mode is not configured although it is {mode}")
    if not picked:
        return ctx.events(h.name, "rcm", [1131]).iloc[0:0], ""
    return pd.concat(picked).sort_values("time"), "; ".join(what)
